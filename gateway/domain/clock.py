"""Time comes from an injected clock, so every rule that depends on it can be tested to the second."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol, runtime_checkable


# Handlers receive it by type (`NamedDependency`), and Litestar checks the instance against it.
@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current time, timezone-aware in UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)
