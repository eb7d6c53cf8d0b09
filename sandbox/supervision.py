"""The supervisor's view of the sandbox: each partner's sandbox cohort over a period, and its caps.

Rules (pinned by tests/sandbox/test_supervision.py; docs/sandbox/supervision.md explains them):
- Period: whole UTC days, `first` to `last` both included; by default the 30 days that end today
  (the platform's clock); at most 366 days; `first` not after `last`.
- A partner's cohort is what its sandbox apps did: the calls metered to them, the consents, orders
  and points conversions they made, the webhook deliveries to them, and the surveillance alerts
  that name one of its orders.
- A thing counts on the UTC day of its own timestamp (a persona on a test clock acts on the clock's
  days); calls count on the day the usage meter counted them.
- Calls, errors and throttled calls are the usage counters (partners/usage.py): every metered call;
  the 4xx/5xx answers other than 429; the 429s.
- Customers served: the distinct customers of the partner's orders, points conversions and
  consents (once a customer answered) of the day, or of the period.
- An order's notional is what placement would trade, the rule of the plans' notional quota
  (partners.quotas.order_notional): a subscription's amount, otherwise quantity x (limit price, or
  the reference price at placement for a market order or a redemption), in the order's currency.
- Exposure of a day: the notional of the day's orders, rejected ones excepted (they traded
  nothing), each converted to CNY with the reference FX at its placement and rounded half up to
  the cent, then summed; buys and sells both count.
- Caps (`SANDBOX_CAPS`), per partner over all its sandbox apps: at most 50 distinct customers a
  day, and at most 1,000,000.00 CNY of exposure a day.
- A breach is a day above a cap: the cap, the day, the limit, the value and the excess. Reaching a
  cap exactly is no breach.
- Complaints: the platform keeps no complaints records, so the report says "not recorded", never 0.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, Protocol, TypeVar

from gateway.domain.clock import Clock
from gateway.domain.consent.models import ConsentStatus
from gateway.domain.errors import RuleViolationError
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Instrument
from gateway.domain.money import CENT, Currency
from gateway.domain.points.models import ConversionState
from gateway.domain.trading.models import OrderStatus
from partners.models import Partner
from partners.usage import MAX_RANGE_DAYS, Tally, UsageCount

K = TypeVar("K")
_DAY: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # what fromisoformat reads, and only that
DEFAULT_DAYS: Final = 30
EXPOSURE_CURRENCY: Final = Currency.CNY
COMPLAINTS_NOT_RECORDED: Final = (
    "not recorded: the platform keeps no complaints records yet, so none can be counted"
)
# What an order puts at risk unless the venue refused it outright.
NO_EXPOSURE: Final = frozenset({OrderStatus.REJECTED.value})


class InvalidPeriodError(RuleViolationError):
    """The period is not one the report covers: a malformed day, `from` after `to`, or over 366 days."""


@dataclass(frozen=True, slots=True)
class SandboxCaps:
    """What one partner may do in the sandbox per UTC day, over all its sandbox apps."""

    daily_customers: int
    daily_exposure: Decimal  # in EXPOSURE_CURRENCY

    @property
    def currency(self) -> Currency:
        return EXPOSURE_CURRENCY


# The sandbox is for building against synthetic personas, not for running a business in: a cohort
# larger than a pilot's or a book the size of a real desk's is worth a supervisor's look.
SANDBOX_CAPS: Final = SandboxCaps(daily_customers=50, daily_exposure=Decimal("1000000.00"))
CUSTOMERS_CAP: Final = "daily_customers"
EXPOSURE_CAP: Final = "daily_exposure"


@dataclass(frozen=True, slots=True)
class Period:
    """UTC days from `first` to `last`, both included."""

    first: date
    last: date

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    @property
    def start(self) -> datetime:
        """The first moment of the period."""
        return datetime.combine(self.first, time(0), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first moment after the period."""
        return datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=UTC)


def parse_day(value: str | None, name: str) -> date | None:
    """A day written YYYY-MM-DD, or None when it is not given; `name` is the field it came in."""
    if value is None:
        return None
    try:
        if not _DAY.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidPeriodError(f"`{name}` must be a date as YYYY-MM-DD", field=name) from None


def period_of(today: date, first: date | None, last: date | None) -> Period:
    """The period the rule table describes: `last` defaults to today, `first` to 29 days before it."""
    end = last or today
    start = first or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise InvalidPeriodError("`from` must be on or before `to`", field="from")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise InvalidPeriodError(f"a report covers at most {MAX_RANGE_DAYS} days", field="from")
    return Period(start, end)


# -- what the sandbox's records say (the ports' answers) ----------------------------------------


@dataclass(frozen=True, slots=True)
class ConsentFact:
    partner_id: str
    created_at: datetime
    status: str
    customer_id: str | None  # None until a customer answers


@dataclass(frozen=True, slots=True)
class OrderFact:
    partner_id: str
    created_at: datetime
    customer_id: str
    instrument_id: str
    order_type: str
    status: str
    currency: str
    quantity: Decimal | None
    amount: Decimal | None
    limit_price: Decimal | None


@dataclass(frozen=True, slots=True)
class ConversionFact:
    partner_id: str
    created_at: datetime
    customer_id: str
    state: str
    points: int


@dataclass(frozen=True, slots=True)
class AlertFact:
    created_at: datetime
    rule: str
    severity: str
    partner_ids: frozenset[str]  # the partners whose orders the alert names


@dataclass(frozen=True, slots=True)
class DeliveryCount:
    partner_id: str
    state: str
    deliveries: int


class CohortRecords(Protocol):
    """The sandbox's records of what partners did from `start` (included) to `end` (excluded); all
    partners' when `partner_id` is None."""

    def consents(self, start: datetime, end: datetime, partner_id: str | None) -> list[ConsentFact]: ...
    def orders(self, start: datetime, end: datetime, partner_id: str | None) -> list[OrderFact]: ...
    def conversions(self, start: datetime, end: datetime, partner_id: str | None) -> list[ConversionFact]: ...
    def alerts(self, start: datetime, end: datetime, partner_id: str | None) -> list[AlertFact]: ...
    def deliveries(self, start: datetime, end: datetime, partner_id: str | None) -> list[DeliveryCount]: ...


class UsageSource(Protocol):
    """The sandbox's usage counters (gateway.edge.metering.UsageMeter answers with its buffer added)."""

    def by_app(
        self, since: date, until: date, *, partner_id: str | None = None, client_id: str | None = None
    ) -> list[tuple[str, str, UsageCount]]: ...


class PartnerDirectory(Protocol):
    """The production registry, where partners and their stages live."""

    def partner(self, partner_id: str) -> Partner:
        """The partner; a NotFoundError when there is none."""
        ...

    def list_partners(self) -> list[Partner]: ...


class Pricing(Protocol):
    """The sandbox's deterministic reference prices and FX (sandbox.prices.PriceFeed)."""

    def reference_price(self, instrument: Instrument, moment: datetime) -> Decimal: ...
    def fx_rate(self, base: Currency, quote: Currency, moment: datetime) -> Decimal: ...


# -- the report ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayActivity:
    day: date
    calls: int
    errors: int
    throttled: int
    orders: int
    exposure: Decimal  # in EXPOSURE_CURRENCY
    customers: int


@dataclass(frozen=True, slots=True)
class OrderLine:
    """The period's orders of one status in one currency, and their notional in that currency."""

    status: str
    currency: str
    orders: int
    notional: Decimal


@dataclass(frozen=True, slots=True)
class ConversionLine:
    state: str
    conversions: int
    points: int


@dataclass(frozen=True, slots=True)
class AlertLine:
    rule: str
    severity: str
    alerts: int


@dataclass(frozen=True, slots=True)
class WebhookOutcomes:
    deliveries: int
    failed: int  # the last attempt failed, another one is scheduled
    dead: int  # out of attempts


@dataclass(frozen=True, slots=True)
class Breach:
    """A day above a cap, by `excess`."""

    cap: str
    day: date
    limit: Decimal
    value: Decimal
    unit: str  # "customers" or the exposure's currency

    @property
    def excess(self) -> Decimal:
        return self.value - self.limit


@dataclass(frozen=True, slots=True)
class CohortReport:
    partner_id: str
    partner_name: str | None  # None when the registry no longer knows the partner
    stage: str | None
    period: Period
    calls: Tally
    consents: Mapping[str, int]  # by status, every status listed
    orders: tuple[OrderLine, ...]
    conversions: tuple[ConversionLine, ...]  # by state, every state listed
    alerts: tuple[AlertLine, ...]
    webhooks: WebhookOutcomes
    customers: int  # distinct over the period
    days: tuple[DayActivity, ...]  # every day of the period, quiet ones included
    caps: SandboxCaps
    breaches: tuple[Breach, ...]
    complaints: str = COMPLAINTS_NOT_RECORDED

    @property
    def order_count(self) -> int:
        return sum(line.orders for line in self.orders)

    @property
    def exposure(self) -> Decimal:
        """The period's exposure: the days' exposures added up."""
        return sum((day.exposure for day in self.days), Decimal("0.00"))

    @property
    def alert_count(self) -> int:
        return sum(line.alerts for line in self.alerts)


@dataclass(frozen=True, slots=True)
class MetricDay:
    """One metric of one day, with the cap that bounds it and the excess over it (export rows)."""

    day: date
    metric: str
    value: int | Decimal
    cap: int | Decimal | None = None
    excess: int | Decimal | None = None


DAILY_METRICS: Final = ("calls", "errors", "throttled", "orders", "exposure_cny", "customers")


def metric_days(report: CohortReport) -> list[MetricDay]:
    """The report's days as one row per day and metric; a capped metric carries its cap and, on a
    breached day, the excess."""
    breaches = {(b.cap, b.day): b for b in report.breaches}
    caps = report.caps
    rows: list[MetricDay] = []
    for day in report.days:
        customers = breaches.get((CUSTOMERS_CAP, day.day))
        exposure = breaches.get((EXPOSURE_CAP, day.day))
        rows += [
            MetricDay(day.day, "calls", day.calls),
            MetricDay(day.day, "errors", day.errors),
            MetricDay(day.day, "throttled", day.throttled),
            MetricDay(day.day, "orders", day.orders),
            MetricDay(
                day.day,
                "exposure_cny",
                day.exposure,
                caps.daily_exposure,
                exposure.excess if exposure else None,
            ),
            MetricDay(
                day.day,
                "customers",
                day.customers,
                caps.daily_customers,
                int(customers.excess) if customers else None,
            ),
        ]
    return rows


def breaches_of(days: Iterable[DayActivity], caps: SandboxCaps) -> list[Breach]:
    """Every day above a cap, by day and then the customers cap before the exposure cap."""
    found: list[Breach] = []
    for day in days:
        if day.customers > caps.daily_customers:
            found.append(
                Breach(
                    CUSTOMERS_CAP, day.day, Decimal(caps.daily_customers), Decimal(day.customers), "customers"
                )
            )
        if day.exposure > caps.daily_exposure:
            found.append(
                Breach(EXPOSURE_CAP, day.day, caps.daily_exposure, day.exposure, caps.currency.value)
            )
    return found


def order_notional(order: OrderFact, reference_price: Callable[[], Decimal]) -> Decimal:
    """What placement would trade, in the order's currency: partners.quotas.order_notional read off
    a stored order (a redemption of units has no limit price either, so its NAV prices it)."""
    if order.amount is not None:
        return order.amount
    return (order.quantity or Decimal(0)) * (order.limit_price or reference_price())


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(slots=True)
class _Facts:
    """One partner's share of the records and counters of a period."""

    calls: dict[date, Tally] = field(default_factory=dict)
    consents: list[ConsentFact] = field(default_factory=list)
    orders: list[OrderFact] = field(default_factory=list)
    conversions: list[ConversionFact] = field(default_factory=list)
    alerts: list[AlertFact] = field(default_factory=list)
    deliveries: list[DeliveryCount] = field(default_factory=list)


def _day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


@dataclass(frozen=True, slots=True)
class SandboxCohorts:
    """The supervisor's report of each partner's sandbox cohort (the rule table above)."""

    records: CohortRecords
    usage: UsageSource
    partners: PartnerDirectory
    catalogue: Catalogue
    prices: Pricing
    clock: Clock
    caps: SandboxCaps = SANDBOX_CAPS

    def period(self, first: date | None = None, last: date | None = None) -> Period:
        return period_of(self.clock.now().astimezone(UTC).date(), first, last)

    def report(self, partner_id: str, period: Period) -> CohortReport:
        """One partner's report; a partner the registry does not know is not found."""
        partner = self.partners.partner(partner_id)
        facts = self._facts(period, partner_id).get(partner_id, _Facts())
        return self._report(partner_id, partner, facts, period)

    def cohorts(self, period: Period) -> list[CohortReport]:
        """The report of every partner with sandbox activity in the period: the most breaches first,
        then the largest exposure, then by partner id."""
        known = {partner.id: partner for partner in self.partners.list_partners()}
        reports = [
            self._report(partner_id, known.get(partner_id), facts, period)
            for partner_id, facts in self._facts(period, None).items()
        ]
        return sorted(reports, key=lambda r: (-len(r.breaches), -r.exposure, r.partner_id))

    def _facts(self, period: Period, partner_id: str | None) -> dict[str, _Facts]:
        start, end = period.start, period.end
        by_partner: dict[str, _Facts] = defaultdict(_Facts)
        for owner, _client, count in self.usage.by_app(period.first, period.last, partner_id=partner_id):
            calls = by_partner[owner].calls
            calls[count.day] = calls.get(count.day, Tally()) + Tally(
                count.requests, count.throttled, count.errors
            )
        for consent in self.records.consents(start, end, partner_id):
            by_partner[consent.partner_id].consents.append(consent)
        for order in self.records.orders(start, end, partner_id):
            by_partner[order.partner_id].orders.append(order)
        for conversion in self.records.conversions(start, end, partner_id):
            by_partner[conversion.partner_id].conversions.append(conversion)
        for alert in self.records.alerts(start, end, partner_id):
            for owner in alert.partner_ids:
                if partner_id is None or owner == partner_id:
                    by_partner[owner].alerts.append(alert)
        for delivery in self.records.deliveries(start, end, partner_id):
            by_partner[delivery.partner_id].deliveries.append(delivery)
        return dict(by_partner)

    def _report(
        self, partner_id: str, partner: Partner | None, facts: _Facts, period: Period
    ) -> CohortReport:
        customers: dict[date, set[str]] = defaultdict(set)
        for consent in facts.consents:
            if consent.customer_id is not None:
                customers[_day(consent.created_at)].add(consent.customer_id)
        for conversion in facts.conversions:
            customers[_day(conversion.created_at)].add(conversion.customer_id)
        orders_per_day: dict[date, int] = defaultdict(int)
        exposure: dict[date, Decimal] = defaultdict(lambda: Decimal("0.00"))
        order_lines: dict[tuple[str, str], tuple[int, Decimal]] = {}
        for order in facts.orders:
            day = _day(order.created_at)
            customers[day].add(order.customer_id)
            orders_per_day[day] += 1
            notional = order_notional(order, functools.partial(self._reference_price, order))
            count, total = order_lines.get((order.status, order.currency), (0, Decimal(0)))
            order_lines[order.status, order.currency] = (count + 1, total + notional)
            if order.status not in NO_EXPOSURE:
                exposure[day] += self._in_exposure_currency(notional, order)
        days = tuple(
            DayActivity(
                day=day,
                calls=facts.calls.get(day, Tally()).requests,
                errors=facts.calls.get(day, Tally()).errors,
                throttled=facts.calls.get(day, Tally()).throttled,
                orders=orders_per_day.get(day, 0),
                exposure=exposure.get(day, Decimal("0.00")),
                customers=len(customers.get(day, ())),
            )
            for day in period.days
        )
        return CohortReport(
            partner_id=partner_id,
            partner_name=partner.name if partner else None,
            stage=partner.stage.value if partner else None,
            period=period,
            calls=sum(facts.calls.values(), Tally()),
            consents=_counted((c.status for c in facts.consents), [s.value for s in ConsentStatus]),
            orders=tuple(
                OrderLine(status, currency, count, _cents(total))
                for (status, currency), (count, total) in sorted(
                    order_lines.items(), key=lambda item: (_status_rank(item[0][0]), item[0][1])
                )
            ),
            conversions=_conversion_lines(facts.conversions),
            alerts=tuple(
                AlertLine(rule, severity, count)
                for (rule, severity), count in sorted(
                    _tally((a.rule, a.severity) for a in facts.alerts).items()
                )
            ),
            webhooks=WebhookOutcomes(
                deliveries=sum(d.deliveries for d in facts.deliveries),
                failed=sum(d.deliveries for d in facts.deliveries if d.state == "failed"),
                dead=sum(d.deliveries for d in facts.deliveries if d.state == "dead"),
            ),
            customers=len(set().union(*customers.values())) if customers else 0,
            days=days,
            caps=self.caps,
            breaches=tuple(breaches_of(days, self.caps)),
        )

    def _reference_price(self, order: OrderFact) -> Decimal:
        return self.prices.reference_price(self.catalogue.get(order.instrument_id), order.created_at)

    def _in_exposure_currency(self, notional: Decimal, order: OrderFact) -> Decimal:
        currency = Currency(order.currency)
        if currency is EXPOSURE_CURRENCY:
            return _cents(notional)
        return _cents(notional * self.prices.fx_rate(currency, EXPOSURE_CURRENCY, order.created_at))


_STATUS_ORDER: Final = [status.value for status in OrderStatus]


def _status_rank(status: str) -> int:
    return _STATUS_ORDER.index(status) if status in _STATUS_ORDER else len(_STATUS_ORDER)


def _tally(items: Iterable[K]) -> dict[K, int]:
    counts: dict[K, int] = defaultdict(int)
    for item in items:
        counts[item] += 1
    return dict(counts)


def _counted(values: Iterable[str], names: Sequence[str]) -> dict[str, int]:
    """Counts by name: every name of `names` (zero included), then any other that occurs."""
    counts = _tally(values)
    return {**{name: counts.get(name, 0) for name in names}, **counts}


def _conversion_lines(conversions: Sequence[ConversionFact]) -> tuple[ConversionLine, ...]:
    states = [state.value for state in ConversionState]
    counts = _counted((c.state for c in conversions), states)
    points: dict[str, int] = defaultdict(int)
    for conversion in conversions:
        points[conversion.state] += conversion.points
    return tuple(ConversionLine(state, count, points.get(state, 0)) for state, count in counts.items())
