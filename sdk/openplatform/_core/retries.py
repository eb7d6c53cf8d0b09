"""When to try again and how long to wait: exponential backoff with full jitter, `Retry-After` first."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

# 408, 429 and 5xx say "later"; a 409 is retried only when it says the same Idempotency-Key is
# still running: any other conflict (a state or a duplicate) answers the same on every retry.
RETRY_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})
RETRY_CONFLICTS: Final = frozenset({"idempotency-in-progress"})
MAX_RETRY_AFTER: Final = 60.0  # a server asking for longer is treated as "not now": the call fails


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times to retry and how to space the attempts."""

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        ceiling = min(self.max_delay, self.initial_delay * 2 ** (retry - 1))
        return rng.uniform(ceiling / 2, ceiling)  # jitter keeps a crowd of clients from retrying together


def retryable(status: int, slug: str | None) -> bool:
    if status == 409:
        return slug in RETRY_CONFLICTS
    return status in RETRY_STATUSES


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: delay-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
