"""Standard Webhooks signing, checked against the spec's published vector and the reference library."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks import Webhook, WebhookVerificationError

from partners.webhooks.signing import WebhookSecret, headers, sign, signature_header, verify

# https://www.standardwebhooks.com, the reference libraries' test vector.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_spec_vector() -> None:
    secret = WebhookSecret.parse(SPEC_SECRET)
    assert sign(secret, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE
    assert verify(secret, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY, SPEC_SIGNATURE)
    assert not verify(secret, SPEC_ID, SPEC_TIMESTAMP + 1, SPEC_BODY, SPEC_SIGNATURE)


def test_the_reference_library_signs_the_same() -> None:
    moment = datetime.fromtimestamp(SPEC_TIMESTAMP, UTC)
    assert Webhook(SPEC_SECRET).sign(SPEC_ID, moment, SPEC_BODY.decode()) == SPEC_SIGNATURE


def test_generated_secrets_are_whsec_base64_of_32_random_bytes() -> None:
    first, second = WebhookSecret.generate(), WebhookSecret.generate()
    text = first.reveal()
    assert text.startswith("whsec_")
    assert len(base64.b64decode(text.removeprefix("whsec_"))) == 32
    assert first != second
    assert WebhookSecret.parse(text) == first


def test_secrets_never_show_in_repr_str_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    secret = WebhookSecret.generate()
    raw = secret.reveal().removeprefix("whsec_")
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("subscription secret %s %r", secret, secret)
    assert raw not in caplog.text
    assert raw not in f"{secret} {secret!r}"
    assert "****" in repr(secret)


def test_secret_sizes_are_bounded() -> None:
    with pytest.raises(ValueError, match="24 to 64"):
        WebhookSecret(b"short")
    with pytest.raises(ValueError, match="whsec_"):
        WebhookSecret.parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")


def test_rotation_header_carries_both_signatures_and_either_receiver_verifies() -> None:
    new, old = WebhookSecret.generate(), WebhookSecret.generate()
    now = datetime.now(UTC)
    body = json.dumps({"type": "order.filled", "timestamp": now.isoformat(), "data": {}}).encode()
    signed = headers([new, old], "evt_1", int(now.timestamp()), body)
    assert len(signed["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        assert Webhook(secret.reveal()).verify(body, signed) is not None
    with pytest.raises(WebhookVerificationError):
        Webhook(WebhookSecret.generate().reveal()).verify(body, signed)


def test_the_library_refuses_a_stale_or_future_timestamp() -> None:
    secret = WebhookSecret.generate()
    body = b'{"type":"order.filled","timestamp":"x","data":{}}'
    for skew in (timedelta(minutes=-6), timedelta(minutes=6)):
        moment = int((datetime.now(UTC) + skew).timestamp())
        with pytest.raises(WebhookVerificationError, match=r"too (old|new)"):
            Webhook(secret.reveal()).verify(body, headers([secret], "evt_1", moment, body))


def test_a_tampered_body_fails() -> None:
    secret = WebhookSecret.generate()
    moment = int(datetime.now(UTC).timestamp())
    signed = headers([secret], "evt_1", moment, b'{"a":1}')
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(secret.reveal()).verify(b'{"a":2}', signed)


def test_signing_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="at least one secret"):
        signature_header([], "evt_1", 1, b"{}")


@settings(max_examples=50, deadline=None, derandomize=True)
@given(
    key=st.binary(min_size=24, max_size=64),
    message_id=st.from_regex(r"^[a-z]{3}_[0-9a-f]{1,20}$", fullmatch=True),
    body=st.binary(max_size=200).map(lambda b: b.hex().encode()),
)
def test_any_secret_and_body_verify_with_the_reference_library(
    key: bytes, message_id: str, body: bytes
) -> None:
    secret = WebhookSecret(key)
    moment = int(datetime.now(UTC).timestamp())
    Webhook(secret.reveal()).verify(body, headers([secret], message_id, moment, body), json_parse=False)
