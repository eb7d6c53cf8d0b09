"""Business quotas and pilot caps (the rules: partners/quotas.py), counted with `limits` in the rate
limiter's storage: `memory://` in one process, Redis when several workers share the load.

- A charge refused by one window consumes none: every window is `test()`ed first; then the fixed
  windows are hit in order and the moving window last (its refusal stores nothing). A fixed window
  stores its increment even when it refuses, so a refusal takes back its own increment and those of
  the windows hit before it. Exactness under concurrency comes from the storage's atomic hit: a
  charge is admitted only if its own increment ends within the limit, so the limit is never exceeded.
  While a refusal is being taken back, a concurrent charge may be refused that would have fitted
  (under-admission only, for microseconds).
- A refusal is a 429 `quota-exceeded` problem naming the quota, with Retry-After and RateLimit-*
  headers in the quota's unit (orders, points, whole currency units). The customer cap is not a
  matter of time: it is a 403 `quota-exceeded` problem without Retry-After.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Protocol

import redis
from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Receive, Scope, Send

from gateway.domain.clock import Clock
from gateway.domain.environment import Environment
from gateway.domain.errors import NotFoundError
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.ports import PriceSource
from gateway.domain.money import Currency
from gateway.domain.trading.models import OrderRequest
from gateway.edge.principal import Principal
from partners.models import PilotCaps
from partners.quotas import (
    CountedPer,
    Quota,
    Window,
    cents_of,
    order_notional,
    order_quotas,
    pilot_caps,
    points_quotas,
    quota_currencies,
    units,
)

PILOT_CUSTOMERS_TTL_SECONDS: Final = 400 * 24 * 3600  # longer than any pilot; refreshed on each new customer
KNOWN_CUSTOMERS_MAX: Final = 100_000


class QuotaExceededError(HTTPException):
    """A business quota or pilot cap refused the call (`problems.py` maps it to `quota-exceeded`)."""

    status_code = 429


class PlacedOrders(Protocol):
    def placed(self, client_id: str, client_order_id: str) -> bool: ...


class PilotCustomers(Protocol):
    def admit(self, key: str, customer_id: str, cap: int) -> bool:
        """Add the customer to the set under `key` if it is there already or the set has room."""
        ...


class MemoryPilotCustomers:
    """One process: the check and the add run without an await between them (and under a lock for
    threads), so they are one step. Settings refuse several workers without Redis."""

    def __init__(self) -> None:
        self._sets: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def admit(self, key: str, customer_id: str, cap: int) -> bool:
        with self._lock:
            served = self._sets.setdefault(key, set())
            if customer_id in served:
                return True
            if len(served) >= cap:
                return False
            served.add(customer_id)
            return True


# Atomic in Redis: a script runs alone, so two workers can never both take the last place.
ADMIT_CUSTOMER_LUA: Final = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then
    return 1
end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then
    return 0
end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


class RedisPilotCustomers:
    def __init__(self, client: redis.Redis) -> None:
        self._script: Any = client.register_script(ADMIT_CUSTOMER_LUA)

    def admit(self, key: str, customer_id: str, cap: int) -> bool:
        return bool(self._script(keys=[key], args=[customer_id, cap, PILOT_CUSTOMERS_TTL_SECONDS]))


@dataclass(frozen=True, slots=True)
class Counter:
    """One quota as the storage counts it."""

    quota: Quota
    item: RateLimitItem
    keys: tuple[str, ...]

    @property
    def moving(self) -> bool:
        return self.quota.window is Window.MINUTE


class BusinessQuotas:
    def __init__(
        self,
        storage: Storage,
        namespace: str,
        *,
        clock: Clock,
        catalogue: Catalogue,
        prices: PriceSource,
        customers: PilotCustomers,
        placed: dict[Environment, PlacedOrders],
    ) -> None:
        self.storage = storage
        self.namespace = namespace
        self.clock = clock
        self.catalogue = catalogue
        self.prices = prices  # reference prices and FX, as the trading service sees them
        self.customers = customers
        self.placed = placed
        self.moving = MovingWindowRateLimiter(storage)
        self.fixed = FixedWindowRateLimiter(storage)
        self._known: set[tuple[str, str]] = set()  # (partner, customer) pairs this worker saw admitted

    # -- charges -------------------------------------------------------------------------------

    async def charge_order(self, principal: Principal, notional: Decimal, currency: str) -> None:
        """Charge one order of `notional` in `currency` to the app's plan and the partner's pilot caps."""
        now = self.clock.now()
        caps = self.pilot_caps(principal)
        cents_in = {target: self._cents(notional, currency, target, now) for target in quota_currencies(caps)}
        quotas = order_quotas(principal.client.plan, caps, cents_in)
        await self._charge([self._counter(principal, quota, now) for quota in quotas], now)

    async def charge_points(self, principal: Principal, points: int) -> None:
        """Charge a conversion of `points` to the app's plan and the partner's pilot caps."""
        if points <= 0:
            return
        now = self.clock.now()
        quotas = points_quotas(principal.client.plan, self.pilot_caps(principal), points)
        await self._charge([self._counter(principal, quota, now) for quota in quotas], now)

    async def charge_placement(self, principal: Principal, request: OrderRequest) -> None:
        """The placeOrder hook: the order's notional as placement would trade it, unless it is a replay."""
        if principal.consent is None:
            return  # no customer, no order: the route refuses the call
        placed = self.placed.get(principal.environment)
        if placed is not None and placed.placed(principal.client_id, request.client_order_id):
            return  # a replay returns the first order: charged once, when it was placed
        try:
            instrument = self.catalogue.get(request.instrument_id)
        except NotFoundError:
            return  # the trading service refuses an unknown instrument; nothing to charge
        notional = order_notional(request, lambda: self.prices.reference_price(instrument, self.clock.now()))
        await self.charge_order(principal, notional, instrument.currency.value)

    def admit_customer(self, principal: Principal) -> None:
        """The pilot's customer cap, on every delegated call: at most `customers` distinct customers."""
        customer_id = principal.customer_id
        caps = self.pilot_caps(principal)
        if customer_id is None or caps is None:
            return
        pair = (principal.partner_id, customer_id)
        if pair in self._known:  # admitted once, admitted for the pilot: the set never shrinks
            return
        key = f"{self.namespace}:{principal.environment.value}:pilot-customers:{principal.partner_id}"
        if not self.customers.admit(key, customer_id, caps.customers):
            raise QuotaExceededError(
                status_code=403,
                detail=(
                    f"the partner's pilot serves at most {caps.customers} customers; "
                    "this customer would be one more"
                ),
                extra={
                    "quota": "pilot_customers",
                    "limit": caps.customers,
                    "unit": "customers",
                    "scope": "partner",
                },
            )
        if len(self._known) >= KNOWN_CUSTOMERS_MAX:
            self._known.clear()
        self._known.add(pair)

    @staticmethod
    def pilot_caps(principal: Principal) -> PilotCaps | None:
        return pilot_caps(principal.client.partner, principal.environment)

    # -- windows -------------------------------------------------------------------------------

    def _counter(self, principal: Principal, quota: Quota, now: datetime) -> Counter:
        owner = principal.client_id if quota.scope is CountedPer.APP else principal.partner_id
        keys = (self.namespace, principal.environment.value, quota.scope.value, owner, quota.counter)
        if quota.window is Window.MINUTE:
            return Counter(quota, RateLimitItemPerMinute(quota.limit), keys)
        return Counter(quota, RateLimitItemPerDay(quota.limit), (*keys, now.date().isoformat()))

    async def _charge(self, windows: Sequence[Counter], now: datetime) -> None:
        # The rules list the one moving window last: its refusal stores nothing, so it needs no undo.
        for window in windows:  # cheap refusal while a window is full: nothing is stored
            if not await self._strategy(window).test(window.item, *window.keys, cost=window.quota.cost):
                raise await self._refusal(window, now)
        taken: list[Counter] = []
        for window in windows:
            if await self._strategy(window).hit(window.item, *window.keys, cost=window.quota.cost):
                taken.append(window)
                continue
            if not window.moving:
                taken.append(window)  # a fixed window kept the increment it refused
            for done in taken:
                await self.storage.incr(
                    done.item.key_for(*done.keys), done.item.get_expiry(), amount=-done.quota.cost
                )
            raise await self._refusal(window, now)

    def _strategy(self, window: Counter) -> MovingWindowRateLimiter | FixedWindowRateLimiter:
        return self.moving if window.moving else self.fixed

    async def _refusal(self, window: Counter, now: datetime) -> QuotaExceededError:
        quota = window.quota
        if window.moving:
            stats = await self.moving.get_window_stats(window.item, *window.keys)
            remaining = max(0, stats.remaining)
            reset = max(1, math.ceil(stats.reset_time - time.time()))
        else:
            used = await self.storage.get(window.item.key_for(*window.keys))
            remaining = max(0, window.item.amount - used)
            midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
            reset = max(1, math.ceil((midnight - now).total_seconds()))
        limit_units = window.item.amount // quota.scale
        whose = "the partner's pilot cap" if quota.scope is CountedPer.PARTNER else "this app's plan quota"
        return QuotaExceededError(
            detail=f"{whose} `{quota.name}` of {limit_units} {quota.unit} is exhausted",
            headers={
                "Retry-After": str(reset),
                "RateLimit-Limit": str(limit_units),
                "RateLimit-Remaining": str(remaining // quota.scale),
                "RateLimit-Reset": str(reset),
            },
            extra={
                "quota": quota.name,
                "scope": quota.scope.value,
                "unit": quota.unit,
                "limit": units(window.item.amount, quota.scale),
                "remaining": units(remaining, quota.scale),
                "requested": units(quota.cost, quota.scale),
            },
        )

    def _cents(self, amount: Decimal, currency: str, target: Currency, now: datetime) -> int:
        return cents_of(amount * self.prices.fx_rate(Currency(currency), target, now))


class PilotCustomerMiddleware:
    """The pilot's customer cap on every delegated call, next to the rate limiter."""

    def __init__(self, app: ASGIApp, *, quotas: BusinessQuotas) -> None:
        self.app = app
        self.quotas = quotas

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal: Any = scope["state"].get("principal")
        if isinstance(principal, Principal) and principal.consent is not None:
            self.quotas.admit_customer(principal)
        await self.app(scope, receive, send)
