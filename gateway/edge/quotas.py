"""Business quotas of a plan and pilot caps of a partner (ADR 0012), counted with `limits` in the
rate limiter's storage: `memory://` in one process, Redis when several workers share the load.

Rule table (pinned by tests/api/test_quotas.py and tests/e2e/test_quotas_two_workers.py):

| Quota | Counted per | Window | Cost of one charge |
| --- | --- | --- | --- |
| `orders_per_minute` | app, environment | moving, 60 s | 1 |
| `notional_per_day` | app, environment | fixed, the clock's UTC day | notional in CNY cents, rounded up |
| `points_per_day` | app, environment | fixed, the clock's UTC day | points |
| `pilot_daily_notional` | partner, all its apps | fixed, UTC day | notional in cents of the caps' currency |
| `pilot_daily_points` | partner, all its apps | fixed, the UTC day | points |
| `pilot_customers` | partner, all its apps | for the whole pilot | a customer not served before |

- Pilot caps apply to a partner in stage `pilot` with caps set, in production only: the sandbox is
  synthetic and bounded by the sandbox plan.
- An order's notional is what placement would trade: the amount of a fund subscription, otherwise
  quantity x (limit price, or the reference price for a market order), in the instrument's currency,
  converted with the reference FX of the day. Buys and sells both count. A charge is made before the
  trading service runs its checks, so an order the service then refuses still used its charge (the
  quota bounds attempts, exactly). A placement that replays a `client_order_id` returns the first order
  and is not charged; an order for an unknown instrument is not charged (the service refuses it).
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
from decimal import ROUND_CEILING, Decimal
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
from gateway.domain.money import Currency
from gateway.domain.trading.service import OrderRequest, TradingService
from gateway.edge.principal import Principal
from partners.models import PartnerStage, PilotCaps

QUOTA_CURRENCY: Final = Currency.CNY  # plans count notional in CNY
CENTS: Final = 100
PILOT_CUSTOMERS_TTL_SECONDS: Final = 400 * 24 * 3600  # longer than any pilot; refreshed on each new customer
KNOWN_CUSTOMERS_MAX: Final = 100_000


class QuotaExceededError(HTTPException):
    """A business quota or pilot cap refused the call (`problems.py` maps it to `quota-exceeded`)."""

    status_code = 429


class FxRates(Protocol):
    def fx_rate(self, base: Currency, quote: Currency, moment: datetime) -> Decimal: ...


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
class Window:
    """One quota as one charge meets it."""

    quota: str
    item: RateLimitItem
    keys: tuple[str, ...]
    cost: int
    moving: bool
    unit: str  # what RateLimit-* headers and the problem count in
    scale: int = 1  # cost units per unit (cents per currency unit)
    scope: str = "app"


class BusinessQuotas:
    def __init__(
        self,
        storage: Storage,
        namespace: str,
        *,
        clock: Clock,
        fx: FxRates,
        customers: PilotCustomers,
        placed: dict[Environment, PlacedOrders],
    ) -> None:
        self.storage = storage
        self.namespace = namespace
        self.clock = clock
        self.fx = fx
        self.customers = customers
        self.placed = placed
        self.moving = MovingWindowRateLimiter(storage)
        self.fixed = FixedWindowRateLimiter(storage)
        self._known: set[tuple[str, str]] = set()  # (partner, customer) pairs this worker saw admitted

    # -- charges -------------------------------------------------------------------------------

    async def charge_order(self, principal: Principal, notional: Decimal, currency: str) -> None:
        """Charge one order of `notional` in `currency` to the app's plan and the partner's pilot caps."""
        now = self.clock.now()
        plan = principal.client.plan
        day = now.date().isoformat()
        cents = self._cents(notional, currency, QUOTA_CURRENCY, now)
        windows = [
            Window(
                "notional_per_day",
                RateLimitItemPerDay(_cents_of(plan.notional_per_day)),
                self._app_key(principal, "notional", day),
                cents,
                moving=False,
                unit=QUOTA_CURRENCY.value,
                scale=CENTS,
            )
        ]
        caps = self.pilot_caps(principal)
        if caps is not None:
            windows.append(
                Window(
                    "pilot_daily_notional",
                    RateLimitItemPerDay(_cents_of(caps.daily_notional)),
                    self._partner_key(principal, "notional", day),
                    self._cents(notional, currency, Currency(caps.currency), now),
                    moving=False,
                    unit=caps.currency,
                    scale=CENTS,
                    scope="partner",
                )
            )
        windows.append(
            Window(
                "orders_per_minute",
                RateLimitItemPerMinute(plan.orders_per_minute),
                self._app_key(principal, "orders"),
                1,
                moving=True,
                unit="orders",
            )
        )
        await self._charge(windows, now)

    async def charge_points(self, principal: Principal, points: int) -> None:
        """Charge a conversion of `points` to the app's plan and the partner's pilot caps."""
        if points <= 0:
            return
        now = self.clock.now()
        day = now.date().isoformat()
        windows = [
            Window(
                "points_per_day",
                RateLimitItemPerDay(principal.client.plan.points_per_day),
                self._app_key(principal, "points", day),
                points,
                moving=False,
                unit="points",
            )
        ]
        caps = self.pilot_caps(principal)
        if caps is not None:
            windows.append(
                Window(
                    "pilot_daily_points",
                    RateLimitItemPerDay(caps.daily_points),
                    self._partner_key(principal, "points", day),
                    points,
                    moving=False,
                    unit="points",
                    scope="partner",
                )
            )
        await self._charge(windows, now)

    async def charge_placement(
        self, principal: Principal, trading: TradingService, request: OrderRequest
    ) -> None:
        """The placeOrder hook: the order's notional as placement would trade it, unless it is a replay."""
        if principal.consent is None:
            return  # no customer, no order: the route refuses the call
        placed = self.placed.get(principal.environment)
        if placed is not None and placed.placed(principal.client_id, request.client_order_id):
            return  # a replay returns the first order: charged once, when it was placed
        try:
            instrument = trading.catalogue.get(request.instrument_id)
        except NotFoundError:
            return  # the trading service refuses an unknown instrument; nothing to charge
        if request.amount is not None:
            notional = request.amount
        else:
            price = request.limit_price or trading.prices.reference_price(instrument, self.clock.now())
            notional = (request.quantity or Decimal(0)) * price
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
        partner = principal.client.partner
        if principal.environment is not Environment.PRODUCTION or partner.stage is not PartnerStage.PILOT:
            return None
        return partner.pilot_caps

    # -- windows -------------------------------------------------------------------------------

    async def _charge(self, windows: Sequence[Window], now: datetime) -> None:
        # Callers list the one moving window last: its refusal stores nothing, so it needs no undo.
        for window in windows:  # cheap refusal while a window is full: nothing is stored
            if not await self._strategy(window).test(window.item, *window.keys, cost=window.cost):
                raise await self._refusal(window, now)
        taken: list[Window] = []
        for window in windows:
            if await self._strategy(window).hit(window.item, *window.keys, cost=window.cost):
                taken.append(window)
                continue
            if not window.moving:
                taken.append(window)  # a fixed window kept the increment it refused
            for done in taken:
                await self.storage.incr(
                    done.item.key_for(*done.keys), done.item.get_expiry(), amount=-done.cost
                )
            raise await self._refusal(window, now)

    def _strategy(self, window: Window) -> MovingWindowRateLimiter | FixedWindowRateLimiter:
        return self.moving if window.moving else self.fixed

    async def _refusal(self, window: Window, now: datetime) -> QuotaExceededError:
        if window.moving:
            stats = await self.moving.get_window_stats(window.item, *window.keys)
            remaining = max(0, stats.remaining)
            reset = max(1, math.ceil(stats.reset_time - time.time()))
        else:
            used = await self.storage.get(window.item.key_for(*window.keys))
            remaining = max(0, window.item.amount - used)
            midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
            reset = max(1, math.ceil((midnight - now).total_seconds()))
        limit_units = window.item.amount // window.scale
        whose = "the partner's pilot cap" if window.scope == "partner" else "this app's plan quota"
        return QuotaExceededError(
            detail=f"{whose} `{window.quota}` of {limit_units} {window.unit} is exhausted",
            headers={
                "Retry-After": str(reset),
                "RateLimit-Limit": str(limit_units),
                "RateLimit-Remaining": str(remaining // window.scale),
                "RateLimit-Reset": str(reset),
            },
            extra={
                "quota": window.quota,
                "scope": window.scope,
                "unit": window.unit,
                "limit": _units(window.item.amount, window.scale),
                "remaining": _units(remaining, window.scale),
                "requested": _units(window.cost, window.scale),
            },
        )

    def _cents(self, amount: Decimal, currency: str, target: Currency, now: datetime) -> int:
        rate = self.fx.fx_rate(Currency(currency), target, now)
        return int((amount * rate * CENTS).to_integral_value(rounding=ROUND_CEILING))

    def _app_key(self, principal: Principal, *parts: str) -> tuple[str, ...]:
        return (self.namespace, principal.environment.value, "app", principal.client_id, *parts)

    def _partner_key(self, principal: Principal, *parts: str) -> tuple[str, ...]:
        return (self.namespace, principal.environment.value, "partner", principal.partner_id, *parts)


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


def _cents_of(amount: Decimal) -> int:
    return int((amount * CENTS).to_integral_value(rounding=ROUND_CEILING))


def _units(value: int, scale: int) -> str | int:
    """Counts as integers; money as an exact decimal string (cents back to currency units)."""
    if scale == 1:
        return value
    return str((Decimal(value) / scale).quantize(Decimal("0.01")))
