"""When a failed delivery is tried again: exponential backoff with full jitter.

Rule table (ADR 0010):
| attempt n failed | ceiling                          | next try after                     |
| 1, 2, 3, ...     | min(cap, base * 2 ** (n - 1))    | uniform(floor, ceiling) (full jitter) |
with base 5 s, cap 1 h and floor 1 s; after `max_attempts` failed attempts the delivery is dead.
Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter") spreads the retries of many
deliveries that failed together; the floor keeps a retry from landing in the same poll.
The random source is injected: the same source gives the same schedule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class Backoff:
    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(hours=1)
    floor: timedelta = timedelta(seconds=1)
    max_attempts: int = 8

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not timedelta(0) < self.floor <= self.base <= self.cap:
            raise ValueError("backoff needs 0 < floor <= base <= cap")

    def ceiling(self, failed_attempts: int) -> timedelta:
        """The longest wait after `failed_attempts` failures (1-based)."""
        if failed_attempts < 1:
            raise ValueError("failed_attempts is 1-based")
        doubling: int = min(failed_attempts - 1, 32)  # 2 ** 32 * 5 s is far beyond any cap
        grown: timedelta = self.base * (1 << doubling)
        return min(self.cap, grown)

    def delay(self, failed_attempts: int, random: Callable[[], float]) -> timedelta:
        """Full jitter: a uniform draw between the floor and the ceiling."""
        draw = min(max(random(), 0.0), 1.0)
        ceiling = self.ceiling(failed_attempts)
        return max(self.floor, ceiling * draw)

    def exhausted(self, failed_attempts: int) -> bool:
        return failed_attempts >= self.max_attempts
