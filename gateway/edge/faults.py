"""Named crash points for the kill -9 tests: a worker configured to crash at a point dies there.

`GATEWAY_CRASH_AT=order_committed` (or `conversion_committed`) makes the worker SIGKILL itself after
an order's (a points conversion's) transaction committed and before its response leaves, as a
power cut would (ENGINEERING.md, "crashes"). With the setting empty, the default, `reached` does
nothing.
"""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger("gateway.faults")


class FaultPoints:
    def __init__(self, crash_at: frozenset[str]) -> None:
        self._crash_at = crash_at
        if crash_at:
            log.warning("crash points armed: %s", ", ".join(sorted(crash_at)))

    def reached(self, point: str) -> None:
        if point in self._crash_at:
            os.kill(os.getpid(), signal.SIGKILL)
