"""Jobs the server runs beside requests in every worker: each is safe to run twice at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta

log = logging.getLogger("gateway.background")


class PeriodicTask:
    """Runs `action` every `every` in the server's event loop; a failure is logged and retried."""

    def __init__(self, name: str, action: Callable[[], object], every: timedelta) -> None:
        self.name = name
        self.action = action
        self.every = every
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._stopping = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Wait for a run in progress to finish (its thread cannot be cancelled), then stop."""
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                # A thread: the jobs use the synchronous database layer and must not block requests.
                await asyncio.to_thread(self.action)
            except Exception:
                log.exception("%s failed; retrying in %s", self.name, self.every)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.every.total_seconds())
