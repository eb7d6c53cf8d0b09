"""Verify the gateway's webhook deliveries the Standard Webhooks way and decode their events."""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import hmac
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal, Protocol

import msgspec

from openplatform._core.errors import OpenPlatformError

__all__ = [
    "DEFAULT_TOLERANCE",
    "InMemoryReplayCache",
    "Reason",
    "ReplayCache",
    "WebhookEvent",
    "WebhookVerificationError",
    "verify",
]

# Standard Webhooks, "Webhook metadata": the three headers of every message.
ID_HEADER: Final = "webhook-id"
TIMESTAMP_HEADER: Final = "webhook-timestamp"
SIGNATURE_HEADER: Final = "webhook-signature"
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 (a prefix, not a secret)
SIGNATURE_VERSION: Final = "v1"  # Standard Webhooks "Signature scheme": symmetric HMAC-SHA256
SIGNATURE_BYTES: Final = 32  # the size of an HMAC-SHA256 digest
# Standard Webhooks "Verifying webhook authenticity": a few minutes either way of the receiver's clock.
DEFAULT_TOLERANCE: Final = timedelta(minutes=5)
# Seconds since the epoch, ASCII digits only: `int()` would also take "+1", " 1" or "1_0", which would
# let a changed header name the same moment.
_TIMESTAMP: Final = re.compile(r"[0-9]{1,19}")

Reason = Literal[
    "missing_header", "stale_timestamp", "future_timestamp", "bad_signature", "replayed", "malformed"
]


class WebhookVerificationError(OpenPlatformError):
    """The delivery is not proven to come from the gateway, or not fresh; `reason` names the rule."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason


class WebhookEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One verified delivery: `id` is its `webhook-id`, the rest comes from the signed body."""

    id: str  # the outbox event id, the same on every retry and redelivery: an idempotency key
    type: str
    timestamp: datetime  # when the gateway emitted the event (not when this attempt was sent)
    data: dict[str, Any]
    raw: dict[str, Any]  # the whole body, members this SDK does not know yet included


class _Envelope(msgspec.Struct):
    """The body the gateway signs: `{"data": ..., "timestamp": ..., "type": ...}`."""

    type: Annotated[str, msgspec.Meta(min_length=1)]
    timestamp: Annotated[datetime, msgspec.Meta(tz=True)]
    data: dict[str, Any]


class ReplayCache(Protocol):
    """Where verified deliveries are remembered until they could no longer pass the timestamp check."""

    def remember(self, key: str, expires_at: datetime) -> bool:
        """Record `key` until `expires_at` included; False when it is already recorded (a replay)."""
        ...


class InMemoryReplayCache:
    """A thread-safe `ReplayCache` for one process, holding at most `max_entries` deliveries."""

    def __init__(self, max_entries: int = 10_000, *, now: Callable[[], datetime] | None = None) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._now = now or _utc_now
        self._lock = threading.Lock()
        self._expiry: dict[str, datetime] = {}
        self._queue: list[tuple[datetime, str]] = []  # a heap, soonest expiry first; same keys as _expiry

    def remember(self, key: str, expires_at: datetime) -> bool:
        """Record `key` until `expires_at` included; False when it is already recorded (a replay)."""
        with self._lock:
            self._forget_expired(_aware(self._now()))
            if key in self._expiry:
                return False
            if len(self._expiry) >= self._max_entries:
                # Only verified deliveries get here, so the cache fills with the gateway's own traffic:
                # the entry dropped is the one closest to being refused as stale anyway.
                _, oldest = heapq.heappop(self._queue)
                del self._expiry[oldest]
            self._expiry[key] = expires_at
            heapq.heappush(self._queue, (expires_at, key))
            return True

    def __len__(self) -> int:
        """How many deliveries are remembered now."""
        with self._lock:
            self._forget_expired(_aware(self._now()))
            return len(self._expiry)

    def _forget_expired(self, now: datetime) -> None:
        """Drop every entry whose delivery would now fail the timestamp check."""
        while self._queue and self._queue[0][0] < now:  # at `expires_at` itself it still passes
            _, key = heapq.heappop(self._queue)
            del self._expiry[key]


def verify(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    *,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    replay_cache: ReplayCache | None = None,
    now: Callable[[], datetime] | None = None,
) -> WebhookEvent:
    """The event of one delivery, once its signature, its age and (with a cache) its novelty hold."""
    if tolerance < timedelta(0):
        raise ValueError("tolerance must not be negative")
    keys = _keys(secret)
    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    named = {name.lower(): value for name, value in headers.items()}  # HTTP names are case-insensitive
    message_id = _header(named, ID_HEADER)
    timestamp = _header(named, TIMESTAMP_HEADER)
    signatures = _signatures(_header(named, SIGNATURE_HEADER))
    if _TIMESTAMP.fullmatch(timestamp) is None:
        raise WebhookVerificationError("malformed", f"{TIMESTAMP_HEADER} is not a count of seconds")
    sent_at = int(timestamp)
    moment = _aware((now or _utc_now)()).timestamp()
    # Standard Webhooks "Verifying webhook authenticity": refuse timestamps outside the tolerance,
    # in either direction, so that a captured message cannot be sent again later.
    if sent_at < moment - tolerance.total_seconds():
        raise WebhookVerificationError("stale_timestamp", f"{TIMESTAMP_HEADER} is older than the tolerance")
    if sent_at > moment + tolerance.total_seconds():
        raise WebhookVerificationError("future_timestamp", f"{TIMESTAMP_HEADER} is newer than the tolerance")
    # Standard Webhooks "Signature scheme": HMAC-SHA256 over `{id}.{timestamp}.{body}`, the timestamp
    # exactly as the header carries it.
    content = f"{message_id}.{timestamp}.".encode() + body
    matched = False
    for key in keys:
        expected = hmac.new(key, content, hashlib.sha256).digest()
        for candidate in signatures:
            # Constant time, and every pair is compared: how long this takes says nothing about
            # which signature or secret came closest.
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise WebhookVerificationError("bad_signature", "no signature matches the given secrets")
    event = _event(message_id, body)
    # Remembered only once proven genuine, so a forged message cannot block the real one. The key is
    # the id and the timestamp: the gateway retries a failed delivery with the same id and a fresh
    # timestamp (and signature), which must pass; a replay repeats both.
    expires_at = datetime.fromtimestamp(sent_at, UTC) + tolerance
    if replay_cache is not None and not replay_cache.remember(f"{message_id}.{timestamp}", expires_at):
        raise WebhookVerificationError("replayed", "this delivery was verified before")
    return event


def _keys(secret: str | Sequence[str]) -> tuple[bytes, ...]:
    """The HMAC keys of the `whsec_` secrets (two while a rotation lasts)."""
    texts = (secret,) if isinstance(secret, str) else tuple(secret)
    if not texts:
        raise ValueError("name at least one webhook secret")
    keys = []
    for text in texts:
        encoded = text.removeprefix(SECRET_PREFIX)
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except binascii.Error:
            raise ValueError("a webhook secret is whsec_ followed by base64") from None
        if not key:
            raise ValueError("a webhook secret must not be empty")
        keys.append(key)
    return tuple(keys)


def _header(headers: Mapping[str, str], name: str) -> str:
    """The value of one required header; an empty value counts as missing."""
    value = headers.get(name)
    if not value:
        raise WebhookVerificationError("missing_header", f"the {name} header is missing")
    return value


def _signatures(header: str) -> list[bytes]:
    """The `v1` digests of a `webhook-signature` header."""
    digests = []
    # Standard Webhooks "Signature scheme": space-delimited `version,signature` pairs; a receiver skips
    # versions it does not verify (`v1a` is the asymmetric scheme).
    for entry in header.split():
        version, comma, signature = entry.partition(",")
        if not (version and comma and signature):
            raise WebhookVerificationError("malformed", f"{SIGNATURE_HEADER} has an entry without a version")
        if version != SIGNATURE_VERSION:
            continue
        try:
            digest = base64.b64decode(signature, validate=True)
        except binascii.Error:
            raise WebhookVerificationError(
                "malformed", f"{SIGNATURE_HEADER} has a non-base64 value"
            ) from None
        if len(digest) != SIGNATURE_BYTES:
            raise WebhookVerificationError("malformed", f"{SIGNATURE_HEADER} has a value of the wrong size")
        digests.append(digest)
    return digests


def _event(message_id: str, body: bytes) -> WebhookEvent:
    """The typed event of a verified body."""
    try:
        raw = msgspec.json.decode(body)
        if not isinstance(raw, dict):
            raise WebhookVerificationError("malformed", "the body is not a JSON object")
        envelope = msgspec.convert(raw, _Envelope)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise WebhookVerificationError("malformed", f"the body is not a webhook event: {exc}") from None
    return WebhookEvent(
        id=message_id, type=envelope.type, timestamp=envelope.timestamp, data=envelope.data, raw=raw
    )


def _aware(moment: datetime) -> datetime:
    """`moment`, refused when it has no timezone (its epoch seconds would depend on the host)."""
    if moment.tzinfo is None:
        raise ValueError("now() must return a timezone-aware datetime")
    return moment


def _utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)
