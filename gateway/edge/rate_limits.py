"""Per-app rate limits from the app's plan, with the `limits` moving window (exact under
concurrency: the memory storage locks, the Redis storage runs one Lua script per hit)."""

from __future__ import annotations

import math
import time
from functools import lru_cache
from typing import Any, Final

from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from limits.aio.strategies import RateLimiter as RateLimiter_
from litestar.exceptions import TooManyRequestsException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from gateway.domain.environment import Environment
from gateway.edge.principal import Principal


@lru_cache(maxsize=256)
def plan_limits(rate_limits: tuple[str, ...]) -> tuple[RateLimitItem, ...]:
    return tuple(item for spec in rate_limits for item in parse_many(spec))


# Rates (per second, per minute) use the moving window: exact at any instant. Quotas (per hour and
# longer) use a fixed window: a counter per period, where a moving window would store one entry per
# request (millions a day for a busy app).
QUOTA_WINDOW_SECONDS: Final = 3600


class RateLimiter:
    def __init__(self, storage: Storage, namespace: str) -> None:
        self.storage = storage
        self.namespace = namespace
        self.moving = MovingWindowRateLimiter(storage)
        self.fixed = FixedWindowRateLimiter(storage)

    def strategy(self, item: RateLimitItem) -> RateLimiter_:
        return self.fixed if item.get_expiry() >= QUOTA_WINDOW_SECONDS else self.moving

    async def admit(self, principal: Principal) -> list[tuple[bytes, bytes]]:
        """Count one request against every window of the plan; raise 429 when one is full.

        The headers report the plan's first (shortest) window; a refusal reports the full one.
        """
        key = (self.namespace, principal.environment.value, principal.client_id)
        items = plan_limits(principal.client.plan.rate_limits)
        for item in items:
            if not await self.strategy(item).hit(item, *key):
                limit, _, reset = await self._stats(item, key)
                raise TooManyRequestsException(
                    detail=f"rate limit of {item} for this app's plan is exhausted",
                    headers={
                        "Retry-After": str(reset),
                        "RateLimit-Limit": str(limit),
                        "RateLimit-Remaining": "0",
                        "RateLimit-Reset": str(reset),
                    },
                )
        if not items:
            return []
        limit, remaining, reset = await self._stats(items[0], key)
        return [
            (b"ratelimit-limit", str(limit).encode()),
            (b"ratelimit-remaining", str(remaining).encode()),
            (b"ratelimit-reset", str(reset).encode()),
        ]

    async def _stats(self, item: RateLimitItem, key: tuple[str, str, str]) -> tuple[int, int, int]:
        stats = await self.strategy(item).get_window_stats(item, *key)
        return item.amount, stats.remaining, max(1, math.ceil(stats.reset_time - time.time()))


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
            if message["type"] == "http.response.start":  # a quota's own RateLimit-* (ADR 0012) win
                own = {name.lower() for name, _ in message.get("headers", ())}
                message["headers"] = [*message.get("headers", ()), *(h for h in headers if h[0] not in own)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class LoginThrottle:
    """Sign-in attempts per username and per address (moving window): slows password guessing
    before the lockout, and spraying one password over many usernames."""

    PER_USERNAME: Final = parse_many("10/minute")[0]
    PER_ADDRESS: Final = parse_many("30/minute")[0]

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter

    async def admit(self, environment: Environment, username: str, address: str) -> bool:
        key = (self.limiter.namespace, environment.value, "login")
        by_user = await self.limiter.moving.hit(self.PER_USERNAME, *key, "user", username)
        by_address = await self.limiter.moving.hit(self.PER_ADDRESS, *key, "address", address)
        return by_user and by_address
