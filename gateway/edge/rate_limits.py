"""Per-app rate limits from the app's plan, with the `limits` moving window (exact under
concurrency: the memory storage locks, the Redis storage runs one Lua script per hit)."""

from __future__ import annotations

import math
import time
from functools import lru_cache
from typing import Any

from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from litestar.exceptions import TooManyRequestsException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from gateway.edge.principal import Principal


@lru_cache(maxsize=256)
def plan_limits(rate_limits: tuple[str, ...]) -> tuple[RateLimitItem, ...]:
    return tuple(item for spec in rate_limits for item in parse_many(spec))


class RateLimiter:
    def __init__(self, storage: Storage, namespace: str) -> None:
        self.storage = storage
        self.namespace = namespace
        self.strategy = MovingWindowRateLimiter(storage)

    async def admit(self, principal: Principal) -> list[tuple[bytes, bytes]]:
        """Count one request against every window of the plan; raise 429 when one is full."""
        key = (self.namespace, principal.environment.value, principal.client_id)
        tightest: tuple[int, int, int] | None = None
        for item in plan_limits(principal.client.plan.rate_limits):
            admitted = await self.strategy.hit(item, *key)
            stats = await self.strategy.get_window_stats(item, *key)
            reset = max(0, math.ceil(stats.reset_time - time.time()))
            if not admitted:
                raise TooManyRequestsException(
                    detail=f"rate limit of {item} for this app's plan is exhausted",
                    headers={
                        "Retry-After": str(max(reset, 1)),
                        "RateLimit-Limit": str(item.amount),
                        "RateLimit-Remaining": "0",
                        "RateLimit-Reset": str(max(reset, 1)),
                    },
                )
            if tightest is None or stats.remaining < tightest[1]:
                tightest = (item.amount, stats.remaining, reset)
        if tightest is None:
            return []
        limit, remaining, reset = tightest
        return [
            (b"ratelimit-limit", str(limit).encode()),
            (b"ratelimit-remaining", str(remaining).encode()),
            (b"ratelimit-reset", str(int(reset)).encode()),
        ]


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal: Any = scope["state"].get("principal")
        if not isinstance(principal, Principal):
            await self.app(scope, receive, send)
            return
        headers = await self.limiter.admit(principal)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
