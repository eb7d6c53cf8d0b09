"""Sandbox calls for a persona on a test clock run in the clock's time (sandbox/clocks.py).

It sits innermost, after authentication: tokens, proofs, rate limits and idempotency records keep
the present; the handler and the services it calls see the clock's time."""

from __future__ import annotations

from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send

from gateway.domain.environment import Environment
from gateway.edge.principal import Principal
from sandbox.clocks import TestClocks


class TestClockMiddleware:
    def __init__(self, app: ASGIApp, *, clocks: TestClocks | None) -> None:
        self.app = app
        self.clocks = clocks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state: dict[str, Any] = scope.get("state", {})
        principal = state.get("principal")
        if (
            self.clocks is None
            or not isinstance(principal, Principal)
            or principal.environment is not Environment.SANDBOX
            or principal.customer_id is None
        ):
            await self.app(scope, receive, send)
            return
        with self.clocks.bound_to(principal.customer_id):
            await self.app(scope, receive, send)
