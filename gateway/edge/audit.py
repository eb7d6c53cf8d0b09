"""Every state-changing call leaves a record in the environment's hash-chained audit log: who,
what, when and how it ended. Chained after the response has gone out (ADR 0004)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from gateway.domain.audit.chain import AuditEntry, AuditRecord, ChainHead
from gateway.domain.clock import Clock
from gateway.domain.environment import Environment
from gateway.edge.idempotency import UNSAFE_METHODS
from gateway.edge.principal import Principal

log = logging.getLogger("gateway.audit")


class AuditLog(Protocol):
    def append_many(self, entries: Sequence[AuditEntry]) -> list[AuditRecord]: ...
    def records(self, *, after: int = 0, limit: int | None = None) -> Iterator[AuditRecord]: ...
    def head(self) -> ChainHead | None: ...


class AuditTrail:
    """One environment's trail as a worker sees it: entries are chained in batches, a few
    milliseconds after their responses, in one transaction per batch; reads flush first."""

    def __init__(self, log: AuditLog, *, max_batch: int = 200, delay_seconds: float = 0.01) -> None:
        self.log = log
        self.max_batch = max_batch
        self.delay_seconds = delay_seconds
        self._pending: list[AuditEntry] = []
        # The loop a flush is scheduled on. A flush scheduled on a loop that has since stopped never
        # runs, so a flush is pending only if it is pending on the loop that serves this entry.
        self._scheduled_on: asyncio.AbstractEventLoop | None = None

    def add(self, entry: AuditEntry) -> None:
        self._pending.append(entry)
        loop = asyncio.get_running_loop()
        if len(self._pending) >= self.max_batch:
            self.flush()
        elif self._scheduled_on is not loop:
            self._scheduled_on = loop
            loop.call_later(self.delay_seconds, self._scheduled_flush)

    def _scheduled_flush(self) -> None:
        self._scheduled_on = None
        try:
            self.flush()
        except Exception:
            # Kept pending, retried with the next batch or at shutdown; never dropped in silence.
            log.exception("audit flush failed; %d entries wait for the next attempt", len(self._pending))

    def flush(self) -> None:
        batch, self._pending = self._pending, []
        try:
            self.log.append_many(batch)
        except Exception:
            self._pending = batch + self._pending
            raise

    def records(self, *, after: int = 0, limit: int | None = None) -> Iterator[AuditRecord]:
        self.flush()
        return self.log.records(after=after, limit=limit)

    def head(self) -> ChainHead | None:
        self.flush()
        return self.log.head()


class AuditMiddleware:
    def __init__(self, app: ASGIApp, *, trails: dict[Environment, AuditTrail], clock: Clock) -> None:
        self.app = app
        self.trails = trails
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in UNSAFE_METHODS:  # type: ignore[typeddict-item]
            await self.app(scope, receive, send)
            return
        status = 500
        replayed = False

        async def observe(message: Message) -> None:
            nonlocal status, replayed
            if message["type"] == "http.response.start":
                status = message["status"]
                replayed = any(name == b"idempotent-replayed" for name, _ in message.get("headers", ()))
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            self._append(scope, status, replayed)

    def _append(self, scope: Scope, status: int, replayed: bool) -> None:
        state: dict[str, Any] = scope["state"]
        principal = state.get("principal")
        handler: Any = scope["route_handler"]
        details: dict[str, object] = {"operation": handler.operation_id or handler.handler_name}
        if isinstance(principal, Principal):
            actor = principal.client_id
            details["partner_id"] = principal.partner_id
        else:
            actor = str(state.get("actor", "anonymous"))
        if replayed:
            details["idempotent_replay"] = True
        if "object_id" in state:
            details["object_id"] = state["object_id"]
        entry = AuditEntry(
            occurred_at=self.clock.now(),
            actor=actor,
            action=f"{scope['method']} {scope.get('path_template', scope['path'])}",  # type: ignore[typeddict-item]
            resource=scope["path"],
            outcome=status,
            request_id=str(state.get("request_id", "")),
            details=details,
        )
        self.trails[state["environment"]].add(entry)
