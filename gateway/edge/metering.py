"""Usage metering per app, day, API version and operation (ADR 0012; rules in partners/usage.py).

The middleware only adds to a per-worker buffer once the answer has gone out; a periodic job and the
shutdown add the buffer to the environment's database, and reads add it first, like the AuditTrail.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import date
from typing import Any, Protocol

from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from gateway.domain.clock import Clock
from gateway.domain.environment import Environment
from gateway.edge.principal import Principal
from partners.usage import Tally, UsageCount, UsageKey, api_version_of, outcome


class UsageStore(Protocol):
    def add(self, batch: Mapping[UsageKey, Tally]) -> None: ...
    def daily(self, client_id: str, since: date, until: date) -> list[UsageCount]: ...
    def by_app(
        self, since: date, until: date, *, partner_id: str | None = None, client_id: str | None = None
    ) -> list[tuple[str, str, UsageCount]]: ...


class UsageMeter:
    """One environment's usage as a worker sees it: counts buffered in memory, added to the store
    by `flush()` (a periodic job, the shutdown, and every read). The lock guards the buffer between
    the event loop, which records, and the job's thread, which flushes."""

    def __init__(self, store: UsageStore) -> None:
        self.store = store
        self._pending: dict[UsageKey, Tally] = {}
        self._lock = threading.Lock()

    def record(self, key: UsageKey, tally: Tally) -> None:
        with self._lock:
            self._pending[key] = self._pending.get(key, Tally()) + tally

    def flush(self) -> None:
        """Write the buffer now; on failure it is kept (merged with newer counts) for the next try."""
        with self._lock:
            batch, self._pending = self._pending, {}
        try:
            self.store.add(batch)
        except Exception:
            with self._lock:
                for key, tally in batch.items():
                    self._pending[key] = self._pending.get(key, Tally()) + tally
            raise

    def daily(self, client_id: str, since: date, until: date) -> list[UsageCount]:
        """One app's counts from `since` to `until`, both included (this worker's buffer first)."""
        self.flush()
        return self.store.daily(client_id, since, until)

    def by_app(
        self, since: date, until: date, *, partner_id: str | None = None, client_id: str | None = None
    ) -> list[tuple[str, str, UsageCount]]:
        self.flush()
        return self.store.by_app(since, until, partner_id=partner_id, client_id=client_id)


class UsageMiddleware:
    """Counts every call that passed authentication, including the rate limiter's 429s (it sits
    between the authentication and the rate limit middleware, so their refusals pass through it)."""

    def __init__(self, app: ASGIApp, *, meters: dict[Environment, UsageMeter], clock: Clock) -> None:
        self.app = app
        self.meters = meters
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 0

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observe)
        except HTTPException as exc:  # answered further out, by the app's exception handler
            status = status or exc.status_code
            raise
        except BaseException:
            status = status or 500
            raise
        finally:
            self._record(scope, status or 500)

    def _record(self, scope: Scope, status: int) -> None:
        state: dict[str, Any] = scope["state"]
        principal = state.get("principal")
        if not isinstance(principal, Principal):
            return  # not authenticated: no app to count it for
        handler: Any = scope["route_handler"]
        operation = handler.operation_id if isinstance(handler.operation_id, str) else handler.handler_name
        template: str = scope.get("path_template", scope["path"])
        key = UsageKey(
            client_id=principal.client_id,
            partner_id=principal.partner_id,
            day=self.clock.now().date(),
            api_version=api_version_of(template),
            operation=operation,
        )
        self.meters[state["environment"]].record(key, outcome(status))
