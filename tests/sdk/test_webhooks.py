"""The SDK's webhook verifier against the gateway's own signer and the Standard Webhooks reference library."""

from __future__ import annotations

import base64
import hmac
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openplatform.webhooks import InMemoryReplayCache, Reason, WebhookEvent, WebhookVerificationError, verify
from standardwebhooks import Webhook

from partners.webhooks.models import (
    Delivery,
    DeliveryState,
    OutboxMessage,
    OutgoingRequest,
    Subscription,
    SubscriptionStatus,
)
from partners.webhooks.ports import WebhookStore
from partners.webhooks.service import Claim, WebhookService
from partners.webhooks.signing import WebhookSecret, headers
from partners.webhooks.url_guard import UrlPolicy
from sandbox.clock import FrozenClock

NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
EMITTED_AT = datetime(2026, 11, 21, 11, 58, 30, 250_000, tzinfo=UTC)
SECRET = WebhookSecret(bytes(range(32)))
NEW_SECRET = WebhookSecret(bytes(range(100, 132)))
WHSEC = SECRET.reveal()
MESSAGE_ID = "evt_0123456789abcdef0123"
PAYLOAD: dict[str, Any] = {"order_id": "ord_42", "status": "filled", "quantity": 3, "price": "101.25"}
MESSAGE = OutboxMessage(
    id=MESSAGE_ID, type="order.filled", partner_id="ptn_1", payload=PAYLOAD, created_at=EMITTED_AT
)
BODY = MESSAGE.body()

# https://www.standardwebhooks.com, the reference libraries' test vector.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def clock(at: datetime = NOW) -> Callable[[], datetime]:
    return lambda: at


def signed(
    body: bytes = BODY, *, at: datetime = NOW, keys: tuple[WebhookSecret, ...] = (SECRET,)
) -> dict[str, str]:
    """The headers the gateway's signer puts on one attempt."""
    return headers(keys, MESSAGE_ID, int(at.timestamp()), body)


def gateway_request(subscription: Subscription, at: datetime = NOW) -> OutgoingRequest:
    """The request the gateway's webhook service sends for `MESSAGE` at `at`."""
    delivery = Delivery(
        id="whd_1",
        subscription_id=subscription.id,
        client_id=subscription.client_id,
        partner_id=subscription.partner_id,
        message_id=MESSAGE.id,
        event_type=MESSAGE.type,
        body=MESSAGE.body(),
        state=DeliveryState.PENDING,
        attempts=0,
        last_status_code=None,
        last_error=None,
        next_attempt_at=at,
        created_at=at,
        updated_at=at,
    )
    # `request` reads only the claim and the clock; the store is never touched.
    service = WebhookService(store=cast("WebhookStore", object()), clock=FrozenClock(at), policy=UrlPolicy())
    return service.request(Claim(delivery, subscription))


def subscription(*, previous: WebhookSecret | None = None) -> Subscription:
    return Subscription(
        id="whs_1",
        partner_id="ptn_1",
        client_id="cli_1",
        url="https://partner.example.com/hooks",
        event_types=("order.*",),
        status=SubscriptionStatus.ACTIVE,
        secret=NEW_SECRET if previous else SECRET,
        previous_secret=previous,
        previous_secret_expires_at=NOW + timedelta(hours=24) if previous else None,
        created_at=NOW - timedelta(days=1),
        updated_at=NOW,
    )


def refused(reason: Reason, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(WebhookVerificationError) as caught:
        verify(*args, **kwargs)
    assert caught.value.reason == reason


# -- what the gateway delivers -------------------------------------------------------------------


def test_a_request_of_the_gateway_verifies_into_its_event() -> None:
    request = gateway_request(subscription())
    event = verify(request.body, request.headers, WHSEC, now=clock())
    assert event == WebhookEvent(
        id=MESSAGE_ID,
        type="order.filled",
        timestamp=EMITTED_AT,
        data=PAYLOAD,
        raw={"type": "order.filled", "timestamp": "2026-11-21T11:58:30.250000+00:00", "data": PAYLOAD},
    )


def test_the_event_is_frozen() -> None:
    event = verify(BODY, signed(), WHSEC, now=clock())
    with pytest.raises(AttributeError):
        event.type = "order.cancelled"  # type: ignore[misc]


def test_header_names_are_case_insensitive_and_a_text_body_verifies() -> None:
    upper = {name.upper(): value for name, value in signed().items()}
    assert verify(BODY.decode(), upper, WHSEC, now=clock()).id == MESSAGE_ID


def test_a_message_signed_by_the_reference_library_verifies() -> None:
    text = BODY.decode()
    signature = Webhook(WHSEC).sign(MESSAGE_ID, NOW, text)
    sent = {**signed(), "webhook-signature": signature}
    assert verify(text, sent, WHSEC, now=clock()).data == PAYLOAD


def test_the_spec_vector_passes_the_signature_check() -> None:
    sent = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }
    at = datetime.fromtimestamp(SPEC_TIMESTAMP, UTC)
    # The vector's body is not an event of the gateway: refused only once the signature has held.
    refused("malformed", SPEC_BODY, sent, SPEC_SECRET, now=clock(at))
    refused("bad_signature", SPEC_BODY, sent, WHSEC, now=clock(at))


# -- secret rotation -----------------------------------------------------------------------------


def test_during_a_rotation_the_gateway_signs_with_both_secrets() -> None:
    request = gateway_request(subscription(previous=SECRET))
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secrets in (NEW_SECRET.reveal(), WHSEC, [WHSEC, NEW_SECRET.reveal()]):
        assert verify(request.body, request.headers, secrets, now=clock()).id == MESSAGE_ID


def test_a_receiver_holding_both_secrets_accepts_a_message_signed_with_either() -> None:
    both = [NEW_SECRET.reveal(), WHSEC]
    for key in (SECRET, NEW_SECRET):
        assert verify(BODY, signed(keys=(key,)), both, now=clock()).type == "order.filled"
    refused("bad_signature", BODY, signed(keys=(WebhookSecret(bytes(32)),)), both, now=clock())


# -- timestamps ----------------------------------------------------------------------------------


def test_the_tolerance_holds_to_the_second_in_both_directions() -> None:
    for at in (NOW - timedelta(minutes=5), NOW + timedelta(minutes=5)):
        assert verify(BODY, signed(at=at), WHSEC, now=clock()).id == MESSAGE_ID
    refused("stale_timestamp", BODY, signed(at=NOW - timedelta(minutes=5, seconds=1)), WHSEC, now=clock())
    refused("future_timestamp", BODY, signed(at=NOW + timedelta(minutes=5, seconds=1)), WHSEC, now=clock())


def test_the_tolerance_can_be_narrowed() -> None:
    late = signed(at=NOW - timedelta(seconds=31))
    refused("stale_timestamp", BODY, late, WHSEC, tolerance=timedelta(seconds=30), now=clock())


def test_a_gateway_request_older_than_the_tolerance_is_stale() -> None:
    request = gateway_request(subscription(), at=NOW - timedelta(hours=1))
    refused("stale_timestamp", request.body, request.headers, WHSEC, now=clock())


@pytest.mark.parametrize(
    "timestamp", ["soon", "1.7e9", "-1763726400", "+1763726400", " 1763726400", "1_763_726_400"]
)
def test_a_timestamp_that_is_not_a_count_of_seconds_is_malformed(timestamp: str) -> None:
    refused("malformed", BODY, {**signed(), "webhook-timestamp": timestamp}, WHSEC, now=clock())


def test_a_naive_clock_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify(BODY, signed(), WHSEC, now=lambda: NOW.replace(tzinfo=None))


# -- replays -------------------------------------------------------------------------------------


def test_the_same_delivery_twice_is_a_replay() -> None:
    cache = InMemoryReplayCache(now=clock())
    sent = signed()
    assert verify(BODY, sent, WHSEC, replay_cache=cache, now=clock()).id == MESSAGE_ID
    refused("replayed", BODY, sent, WHSEC, replay_cache=cache, now=clock())


def test_a_retry_of_the_gateway_is_not_a_replay() -> None:
    cache = InMemoryReplayCache(now=clock())
    first = gateway_request(subscription(), at=NOW - timedelta(seconds=5))
    retry = gateway_request(subscription(), at=NOW)  # same webhook-id, fresh timestamp and signature
    assert first.headers["webhook-id"] == retry.headers["webhook-id"]
    for request in (first, retry):
        assert verify(request.body, request.headers, WHSEC, replay_cache=cache, now=clock()).id
    refused("replayed", retry.body, retry.headers, WHSEC, replay_cache=cache, now=clock())


def test_a_forged_message_does_not_take_the_place_of_the_real_one() -> None:
    cache = InMemoryReplayCache(now=clock())
    sent = signed()
    refused("bad_signature", BODY + b" ", sent, WHSEC, replay_cache=cache, now=clock())
    assert len(cache) == 0
    assert verify(BODY, sent, WHSEC, replay_cache=cache, now=clock()).id == MESSAGE_ID


def test_the_cache_forgets_a_delivery_once_it_would_be_stale() -> None:
    moment = FrozenClock(NOW)
    cache = InMemoryReplayCache(now=moment.now)
    verify(BODY, signed(), WHSEC, replay_cache=cache, now=moment.now)
    assert len(cache) == 1
    moment.advance(timedelta(minutes=5))
    assert len(cache) == 1  # still inside the tolerance: a replay now would pass the timestamp check
    moment.advance(timedelta(seconds=1))
    assert len(cache) == 0
    refused("stale_timestamp", BODY, signed(), WHSEC, replay_cache=cache, now=moment.now)


def test_the_cache_is_bounded_and_drops_the_entry_closest_to_expiry() -> None:
    cache = InMemoryReplayCache(max_entries=2, now=clock())
    assert cache.remember("late", NOW + timedelta(minutes=4))
    assert cache.remember("early", NOW + timedelta(minutes=1))
    assert cache.remember("latest", NOW + timedelta(minutes=5))
    assert len(cache) == 2
    assert not cache.remember("late", NOW + timedelta(minutes=4))
    assert not cache.remember("latest", NOW + timedelta(minutes=5))
    assert cache.remember("early", NOW + timedelta(minutes=1))  # forgotten to make room
    with pytest.raises(ValueError, match="max_entries"):
        InMemoryReplayCache(max_entries=0)


def test_concurrent_deliveries_of_one_message_pass_once() -> None:
    cache = InMemoryReplayCache(now=clock())
    sent = signed()
    start = threading.Barrier(16)
    reasons: list[str] = []

    def receive() -> None:
        start.wait()
        try:
            verify(BODY, sent, WHSEC, replay_cache=cache, now=clock())
            reasons.append("accepted")
        except WebhookVerificationError as exc:
            reasons.append(exc.reason)

    threads = [threading.Thread(target=receive) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(reasons) == ["accepted"] + ["replayed"] * 15


# -- forgeries and broken messages ---------------------------------------------------------------


def test_one_changed_byte_of_the_body_is_a_forgery() -> None:
    forged = bytearray(BODY)
    forged[BODY.index(b"ord_42") + 4] ^= 0x01
    refused("bad_signature", bytes(forged), signed(), WHSEC, now=clock())


def test_a_message_signed_with_another_secret_is_a_forgery() -> None:
    refused("bad_signature", BODY, signed(), NEW_SECRET.reveal(), now=clock())


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_or_empty_header_is_refused(name: str) -> None:
    without = {key: value for key, value in signed().items() if key != name}
    refused("missing_header", BODY, without, WHSEC, now=clock())
    refused("missing_header", BODY, {**signed(), name: ""}, WHSEC, now=clock())


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    "signature",
    [
        "v1",
        "v1,",
        ",c2lnbmF0dXJl",
        "v1,not base64!",
        "v1,%%%%",
        f"v1,{_b64(bytes(16))}",  # base64, but not the size of an HMAC-SHA256
        f"v1,{_b64(bytes(32))} garbage",
    ],
)
def test_a_malformed_signature_is_refused(signature: str) -> None:
    refused("malformed", BODY, {**signed(), "webhook-signature": signature}, WHSEC, now=clock())


def test_signatures_of_other_schemes_are_skipped() -> None:
    genuine = signed()["webhook-signature"]
    asymmetric = f"v1a,{_b64(bytes(64))}"
    refused("bad_signature", BODY, {**signed(), "webhook-signature": asymmetric}, WHSEC, now=clock())
    both = {**signed(), "webhook-signature": f"{asymmetric} {genuine}"}
    assert verify(BODY, both, WHSEC, now=clock()).id == MESSAGE_ID


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"type": "order.filled", "data": {}}',
        b'{"type": "order.filled", "timestamp": "2026-11-21T11:58:30", "data": {}}',
        b'{"type": "", "timestamp": "2026-11-21T11:58:30+00:00", "data": {}}',
        b'{"type": "order.filled", "timestamp": "2026-11-21T11:58:30+00:00", "data": []}',
        b"\xff\xfe",
    ],
)
def test_a_signed_body_that_is_not_an_event_is_malformed(body: bytes) -> None:
    refused("malformed", body, signed(body), WHSEC, now=clock())


def test_members_the_sdk_does_not_know_are_kept_in_raw() -> None:
    body = msgspec.json.encode({**msgspec.json.decode(BODY), "livemode": False})
    event = verify(body, signed(body), WHSEC, now=clock())
    assert event.raw["livemode"] is False
    assert event.data == PAYLOAD


@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_", []])
def test_an_unusable_secret_is_a_configuration_mistake(secret: str | list[str]) -> None:
    with pytest.raises(ValueError, match="secret"):
        verify(BODY, signed(), secret, now=clock())


# -- constant time -------------------------------------------------------------------------------


def test_signatures_are_compared_by_compare_digest_and_every_pair_is_compared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = hmac.compare_digest
    calls: list[tuple[bytes, bytes]] = []

    def recording(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    request = gateway_request(subscription(previous=SECRET))
    verify(request.body, request.headers, [NEW_SECRET.reveal(), WHSEC], now=clock())
    assert len(calls) == 4  # 2 secrets x 2 signatures, no early exit
    assert all(len(a) == len(b) == 32 for a, b in calls)


def test_a_forgery_passes_when_compare_digest_says_it_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: True)
    assert verify(BODY, signed(keys=(NEW_SECRET,)), WHSEC, now=clock()).id == MESSAGE_ID


def test_a_genuine_message_fails_when_compare_digest_says_it_does_not_match(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: False)
    refused("bad_signature", BODY, signed(), WHSEC, now=clock())


# -- any changed byte is refused -----------------------------------------------------------------


@pytest.mark.slow
@settings(max_examples=100, derandomize=True, deadline=None)
@given(
    part=st.sampled_from(["body", "webhook-id", "webhook-timestamp"]),
    position=st.integers(min_value=0),
    # ASCII digits as often as any byte: a changed digit keeps the timestamp well-formed.
    byte=st.one_of(st.integers(min_value=0x30, max_value=0x39), st.integers(min_value=0, max_value=255)),
)
def test_any_changed_byte_of_body_id_or_timestamp_is_refused(part: str, position: int, byte: int) -> None:
    sent = signed()
    body = BODY
    # Header values as HTTP servers hand them to Python: latin-1 text of the bytes received.
    original = body if part == "body" else sent[part].encode("latin-1")
    index = position % len(original)
    if original[index] == byte:
        byte ^= 0xFF
    changed = original[:index] + bytes([byte]) + original[index + 1 :]
    if part == "body":
        body = changed
    else:
        sent = {**sent, part: changed.decode("latin-1")}
    with pytest.raises(WebhookVerificationError):
        verify(body, sent, WHSEC, replay_cache=InMemoryReplayCache(now=clock()), now=clock())


# -- packaging -----------------------------------------------------------------------------------


def test_the_sdk_module_imports_nothing_of_the_gateway() -> None:
    probe = (
        "import sys, openplatform.webhooks; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'gateway', 'partners', 'sandbox'}))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
