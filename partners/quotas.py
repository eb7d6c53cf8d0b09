"""Business quotas of a plan and pilot caps of a partner (ADR 0012): which quotas a charge meets,
what it costs in each, and the order notional it is charged for.

Rule table (pinned by tests/gateway/edge/test_quotas.py and test_quotas_two_workers.py there):

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
- How the edge counts a charge and answers a refusal: gateway/edge/quotas.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from enum import Enum
from typing import Final

from gateway.domain.environment import Environment
from gateway.domain.money import Currency
from gateway.domain.trading.models import OrderRequest

from partners.models import Partner, PartnerStage, PilotCaps, Plan

QUOTA_CURRENCY: Final = Currency.CNY  # plans count notional in CNY
CENTS: Final = 100


class Window(Enum):
    MINUTE = "minute"  # a moving window of 60 s
    DAY = "day"  # a fixed window: the clock's UTC day


class CountedPer(Enum):
    APP = "app"  # counted per app (client id)
    PARTNER = "partner"  # counted for all the partner's apps


@dataclass(frozen=True, slots=True)
class Quota:
    """One quota as one charge meets it: its limit and the charge's cost, in the same units."""

    name: str
    limit: int
    window: Window
    scope: CountedPer
    counter: str  # what is counted: "orders", "notional" or "points"
    cost: int
    unit: str  # what RateLimit-* headers and the problem count in
    scale: int = 1  # cost units per unit (cents per currency unit)


def pilot_caps(partner: Partner, environment: Environment) -> PilotCaps | None:
    """Caps bind a partner in pilot, in production only: the sandbox is bounded by its plan."""
    if environment is not Environment.PRODUCTION or partner.stage is not PartnerStage.PILOT:
        return None
    return partner.pilot_caps


def order_quotas(plan: Plan, caps: PilotCaps | None, cents_in: dict[Currency, int]) -> list[Quota]:
    """The quotas one order meets; `cents_in` is its notional in cents of each quota's currency.

    The one moving window comes last: its refusal stores nothing, so it needs no undo.
    """
    quotas = [
        Quota(
            "notional_per_day",
            cents_of(plan.notional_per_day),
            Window.DAY,
            CountedPer.APP,
            "notional",
            cents_in[QUOTA_CURRENCY],
            QUOTA_CURRENCY.value,
            scale=CENTS,
        )
    ]
    if caps is not None:
        quotas.append(
            Quota(
                "pilot_daily_notional",
                cents_of(caps.daily_notional),
                Window.DAY,
                CountedPer.PARTNER,
                "notional",
                cents_in[Currency(caps.currency)],
                caps.currency,
                scale=CENTS,
            )
        )
    quotas.append(
        Quota(
            "orders_per_minute", plan.orders_per_minute, Window.MINUTE, CountedPer.APP, "orders", 1, "orders"
        )
    )
    return quotas


def quota_currencies(caps: PilotCaps | None) -> set[Currency]:
    """The currencies an order's notional must be counted in."""
    return {QUOTA_CURRENCY} | ({Currency(caps.currency)} if caps is not None else set())


def points_quotas(plan: Plan, caps: PilotCaps | None, points: int) -> list[Quota]:
    """The quotas one conversion of `points` meets."""
    quotas = [
        Quota(
            "points_per_day",
            plan.points_per_day,
            Window.DAY,
            CountedPer.APP,
            "points",
            points,
            "points",
        )
    ]
    if caps is not None:
        quotas.append(
            Quota(
                "pilot_daily_points",
                caps.daily_points,
                Window.DAY,
                CountedPer.PARTNER,
                "points",
                points,
                "points",
            )
        )
    return quotas


def order_notional(request: OrderRequest, reference_price: Callable[[], Decimal]) -> Decimal:
    """What placement would trade: a subscription's amount, else quantity x (limit or reference) price."""
    if request.amount is not None:
        return request.amount
    return (request.quantity or Decimal(0)) * (request.limit_price or reference_price())


def cents_of(amount: Decimal) -> int:
    """Money as whole cents, rounded up: a quota never counts less than was traded."""
    return int((amount * CENTS).to_integral_value(rounding=ROUND_CEILING))


def units(value: int, scale: int) -> str | int:
    """Counts as integers; money as an exact decimal string (cents back to currency units)."""
    if scale == 1:
        return value
    return str((Decimal(value) / scale).quantize(Decimal("0.01")))
