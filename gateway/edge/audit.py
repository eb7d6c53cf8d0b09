"""Every state-changing call leaves a record in the environment's hash-chained audit log: who,
what, when and how it ended. Appended after the response has gone out."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from gateway.domain.audit.chain import AuditEntry, AuditRecord
from gateway.domain.clock import Clock
from gateway.domain.environment import Environment
from gateway.edge.idempotency import UNSAFE_METHODS
from gateway.edge.principal import Principal

log = logging.getLogger("gateway.audit")


class AuditLog(Protocol):
    def append(self, entry: AuditEntry) -> AuditRecord: ...


class AuditMiddleware:
    def __init__(self, app: ASGIApp, *, logs: dict[Environment, AuditLog], clock: Clock) -> None:
        self.app = app
        self.logs = logs
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
        try:
            self.logs[state["environment"]].append(entry)
        except Exception:
            # The response is already out; losing the record silently would be worse than a loud log.
            log.exception("audit append failed for request %s", entry.request_id)
            raise
