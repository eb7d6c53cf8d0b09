"""The supervisor's sandbox report on hand-made records: every number is computed by hand below."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Final

import pytest

from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Instrument
from gateway.domain.money import Currency
from partners.errors import PartnerNotFoundError
from partners.models import Partner, PartnerStage, PartnerStatus, PartnerType
from partners.usage import UsageCount
from sandbox.clock import FrozenClock
from sandbox.supervision import (
    CUSTOMERS_CAP,
    EXPOSURE_CAP,
    SANDBOX_CAPS,
    AlertFact,
    Breach,
    ConsentFact,
    ConversionFact,
    DayActivity,
    DeliveryCount,
    InvalidPeriodError,
    OrderFact,
    Period,
    SandboxCaps,
    SandboxCohorts,
    breaches_of,
    metric_days,
    parse_day,
    period_of,
)
from tests.trading import CN_MONEY_MARKET, CN_STOCK, US_STOCK

P: Final = "prt_p"
Q: Final = "prt_q"
DAY1: Final = date(2026, 3, 1)
DAY2: Final = date(2026, 3, 2)
NOW: Final = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
US_REFERENCE: Final = Decimal("20.00")  # the fake market's price of US_STOCK
USD_CNY: Final = Decimal("7.0")
EUR_CNY: Final = Decimal("10")
US_MARKET: Final = {"currency": "USD", "instrument": US_STOCK, "order_type": "market"}


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@dataclass
class FakeRecords:
    consent_facts: list[ConsentFact] = field(default_factory=list)
    order_facts: list[OrderFact] = field(default_factory=list)
    conversion_facts: list[ConversionFact] = field(default_factory=list)
    alert_facts: list[AlertFact] = field(default_factory=list)
    delivery_counts: list[DeliveryCount] = field(default_factory=list)

    @staticmethod
    def _kept(moment: datetime, start: datetime, end: datetime) -> bool:
        return start <= moment < end

    def consents(self, start: datetime, end: datetime, partner_id: str | None) -> list[ConsentFact]:
        return [
            c
            for c in self.consent_facts
            if self._kept(c.created_at, start, end) and partner_id in (None, c.partner_id)
        ]

    def orders(self, start: datetime, end: datetime, partner_id: str | None) -> list[OrderFact]:
        return [
            o
            for o in self.order_facts
            if self._kept(o.created_at, start, end) and partner_id in (None, o.partner_id)
        ]

    def conversions(self, start: datetime, end: datetime, partner_id: str | None) -> list[ConversionFact]:
        return [
            c
            for c in self.conversion_facts
            if self._kept(c.created_at, start, end) and partner_id in (None, c.partner_id)
        ]

    def alerts(self, start: datetime, end: datetime, partner_id: str | None) -> list[AlertFact]:
        return [
            a
            for a in self.alert_facts
            if self._kept(a.created_at, start, end) and (partner_id is None or partner_id in a.partner_ids)
        ]

    def deliveries(self, start: datetime, end: datetime, partner_id: str | None) -> list[DeliveryCount]:
        return [d for d in self.delivery_counts if partner_id in (None, d.partner_id)]


@dataclass
class FakeUsage:
    rows: list[tuple[str, str, UsageCount]] = field(default_factory=list)

    def by_app(
        self, since: date, until: date, *, partner_id: str | None = None, client_id: str | None = None
    ) -> list[tuple[str, str, UsageCount]]:
        return [
            row
            for row in self.rows
            if since <= row[2].day <= until and partner_id in (None, row[0]) and client_id in (None, row[1])
        ]


@dataclass
class FakeDirectory:
    partners: dict[str, Partner]

    def partner(self, partner_id: str) -> Partner:
        if partner_id not in self.partners:
            raise PartnerNotFoundError("partner not found", partner_id=partner_id)
        return self.partners[partner_id]

    def list_partners(self) -> list[Partner]:
        return list(self.partners.values())


class FakeMarket:
    """One reference price for every instrument, and fixed FX rates to CNY."""

    def reference_price(self, instrument: Instrument, moment: datetime) -> Decimal:
        return US_REFERENCE

    def fx_rate(self, base: Currency, quote: Currency, moment: datetime) -> Decimal:
        assert quote is Currency.CNY
        return {Currency.USD: USD_CNY, Currency.EUR: EUR_CNY, Currency.CNY: Decimal(1)}[base]


def partner(partner_id: str, name: str) -> Partner:
    return Partner(
        id=partner_id,
        name=name,
        type=PartnerType.INSTITUTION,
        region="CN",
        status=PartnerStatus.ACTIVE,
        operator=False,
        created_at=at(DAY1, 0),
        stage=PartnerStage.SANDBOX,
    )


def usage(day: date, operation: str, requests: int, throttled: int = 0, errors: int = 0) -> UsageCount:
    return UsageCount(day, "v1", operation, requests, throttled, errors)


def order(
    customer: str,
    *,
    moment: datetime,
    status: str = "filled",
    currency: str = "CNY",
    instrument: str = CN_STOCK,
    order_type: str = "limit",
    quantity: str | None = None,
    amount: str | None = None,
    limit_price: str | None = None,
    partner_id: str = P,
) -> OrderFact:
    return OrderFact(
        partner_id=partner_id,
        created_at=moment,
        customer_id=customer,
        instrument_id=instrument,
        order_type=order_type,
        status=status,
        currency=currency,
        quantity=Decimal(quantity) if quantity else None,
        amount=Decimal(amount) if amount else None,
        limit_price=Decimal(limit_price) if limit_price else None,
    )


def records() -> FakeRecords:
    return FakeRecords(
        consent_facts=[
            ConsentFact(P, at(DAY1), "authorized", "cus_1"),
            ConsentFact(P, at(DAY1), "awaiting_authorization", None),  # no customer yet
            ConsentFact(P, at(DAY2), "revoked", "cus_2"),
            ConsentFact(Q, at(DAY1), "authorized", "cus_q"),
        ],
        order_facts=[
            # 100 x 10.00 = 1,000.00 CNY
            order("cus_1", moment=at(DAY1), quantity="100", limit_price="10.00"),
            # a subscription's amount: 500.00 CNY
            order(
                "cus_3",
                moment=at(DAY1),
                status="open",
                instrument=CN_MONEY_MARKET,
                order_type="fund_subscription",
                amount="500.00",
            ),
            # a market order at the reference price: 10 x 20.00 = 200.00 USD = 1,400.00 CNY
            order("cus_1", moment=at(DAY1), quantity="10", **US_MARKET),
            # rejected: counted as an order and a customer, but no exposure
            order("cus_4", moment=at(DAY1), status="rejected", quantity="1000", limit_price="1.00"),
            # 07:00 in Shanghai on 2 March is 23:00 UTC on 1 March: it counts on day 1
            order(
                "cus_3",
                moment=datetime(2026, 3, 2, 7, 0, tzinfo=timezone(timedelta(hours=8))),
                status="cancelled",
                quantity="1",
                limit_price="0.10",
            ),
            order("cus_q", moment=at(DAY1), quantity="1", limit_price="1.00", partner_id=Q),
        ],
        conversion_facts=[
            ConversionFact(P, at(DAY2), "cus_5", "accepted", 1000),
            ConversionFact(P, at(DAY2), "cus_2", "rejected", 200),
        ],
        alert_facts=[
            AlertFact(at(DAY1), "SURV-01", "high", frozenset({P})),
            AlertFact(at(DAY1), "SURV-01", "high", frozenset({P, Q})),
            AlertFact(at(DAY2), "SURV-03", "medium", frozenset({Q})),
        ],
        delivery_counts=[
            DeliveryCount(P, "failed", 2),
            DeliveryCount(P, "dead", 1),
            DeliveryCount(P, "succeeded", 4),
        ],
    )


def cohorts(
    recorded: FakeRecords | None = None, caps: SandboxCaps = SANDBOX_CAPS, *, known: tuple[str, ...] = (P, Q)
) -> SandboxCohorts:
    counted = FakeUsage(
        [
            (P, "sbx_a", usage(DAY1, "placeOrder", 10, throttled=2, errors=3)),
            (P, "sbx_b", usage(DAY1, "getQuote", 5, errors=1)),
            (P, "sbx_a", usage(DAY2, "placeOrder", 4)),
            (Q, "sbx_q", usage(DAY2, "getQuote", 7)),
        ]
    )
    names = {P: "Bank P", Q: "Shop Q"}
    return SandboxCohorts(
        records=recorded or records(),
        usage=counted,
        partners=FakeDirectory({pid: partner(pid, names[pid]) for pid in known}),
        catalogue=Catalogue.from_file(),
        prices=FakeMarket(),
        clock=FrozenClock(NOW),
        caps=caps,
    )


PERIOD: Final = Period(DAY1, DAY2)


# -- the period ---------------------------------------------------------------------------------


def test_the_default_period_is_the_30_days_that_end_today() -> None:
    assert period_of(date(2026, 3, 31), None, None) == Period(date(2026, 3, 2), date(2026, 3, 31))
    assert cohorts().period() == Period(date(2026, 2, 1), date(2026, 3, 2))  # the clock's day
    january = Period(date(2026, 1, 1), date(2026, 1, 30))
    assert period_of(date(2026, 3, 31), None, date(2026, 1, 30)) == january


def test_a_period_covers_at_most_366_days_and_never_runs_backwards() -> None:
    year = period_of(DAY1, date(2025, 3, 1), date(2026, 3, 1))
    assert len(year.days) == 366
    with pytest.raises(InvalidPeriodError, match="366"):
        period_of(DAY1, date(2025, 2, 28), date(2026, 3, 1))
    with pytest.raises(InvalidPeriodError, match="on or before") as refused:
        period_of(DAY1, DAY2, DAY1)
    assert refused.value.context == {"field": "from"}
    assert period_of(DAY1, DAY1, DAY1).days == [DAY1]


@pytest.mark.parametrize("text", ["2026-3-1", "01/03/2026", "2026-02-30", "20260301xx", ""])
def test_a_day_is_written_yyyy_mm_dd(text: str) -> None:
    with pytest.raises(InvalidPeriodError) as refused:
        parse_day(text, "to")
    assert refused.value.context == {"field": "to"}
    assert parse_day("2026-03-01", "to") == DAY1
    assert parse_day(None, "to") is None


# -- one partner's report -----------------------------------------------------------------------


def test_a_partners_report_counts_its_own_activity_by_hand() -> None:
    report = cohorts().report(P, PERIOD)

    assert (report.partner_name, report.stage) == ("Bank P", "sandbox")
    assert (report.calls.requests, report.calls.errors, report.calls.throttled) == (19, 4, 2)
    assert dict(report.consents) == {
        "awaiting_authorization": 1,
        "authorized": 1,
        "rejected": 0,
        "revoked": 1,
        "expired": 0,
    }
    assert [(o.status, o.currency, o.orders, o.notional) for o in report.orders] == [
        ("open", "CNY", 1, Decimal("500.00")),
        ("filled", "CNY", 1, Decimal("1000.00")),
        ("filled", "USD", 1, Decimal("200.00")),
        ("cancelled", "CNY", 1, Decimal("0.10")),
        ("rejected", "CNY", 1, Decimal("1000.00")),
    ]
    assert {c.state: (c.conversions, c.points) for c in report.conversions} == {
        "accepted": (1, 1000),
        "priced": (0, 0),
        "allotted": (0, 0),
        "settled": (0, 0),
        "rejected": (1, 200),
        "reversed": (0, 0),
    }
    # Both SURV-01 alerts name one of P's orders; the SURV-03 one names only Q's.
    assert [(a.rule, a.severity, a.alerts) for a in report.alerts] == [("SURV-01", "high", 2)]
    assert (report.webhooks.deliveries, report.webhooks.failed, report.webhooks.dead) == (7, 2, 1)
    assert report.customers == 5  # cus_1 .. cus_5
    assert report.complaints.startswith("not recorded")
    assert report.breaches == ()


def test_each_day_has_its_calls_orders_exposure_and_customers() -> None:
    day1, day2 = cohorts().report(P, PERIOD).days
    # 1,000.00 + 500.00 + 1,400.00 + 0.10 (cancelled still counts) and nothing for the rejected one.
    assert day1 == DayActivity(
        DAY1, calls=15, errors=4, throttled=2, orders=5, exposure=Decimal("2900.10"), customers=3
    )
    # The day's customers: cus_2 (consent, conversion) and cus_5 (conversion).
    assert day2 == DayActivity(
        DAY2, calls=4, errors=0, throttled=0, orders=0, exposure=Decimal("0.00"), customers=2
    )


def test_quiet_days_are_listed_with_zeros() -> None:
    report = cohorts().report(P, Period(date(2026, 2, 27), DAY2))
    assert [d.day for d in report.days] == [date(2026, 2, 27), date(2026, 2, 28), DAY1, DAY2]
    assert report.days[0] == DayActivity(date(2026, 2, 27), 0, 0, 0, 0, Decimal("0.00"), 0)


def test_exposure_converts_each_order_at_its_fx_and_rounds_half_up_to_the_cent() -> None:
    recorded = FakeRecords(
        order_facts=[
            # 1 x 0.0125 EUR x 10 = 0.125 CNY -> 0.13 (half up; half even would say 0.12)
            order("cus_1", moment=at(DAY1), currency="EUR", quantity="1", limit_price="0.0125"),
            order("cus_1", moment=at(DAY1), currency="EUR", quantity="1", limit_price="0.0125"),
        ]
    )
    report = cohorts(recorded).report(P, PERIOD)
    assert report.days[0].exposure == Decimal("0.26")  # each order rounded, then summed
    assert [(o.currency, o.notional) for o in report.orders] == [("EUR", Decimal("0.03"))]  # 0.025


def test_a_partner_the_registry_does_not_know_is_not_found() -> None:
    with pytest.raises(PartnerNotFoundError):
        cohorts().report("prt_nobody", PERIOD)


def test_a_known_partner_without_activity_reports_zeros() -> None:
    empty = cohorts(FakeRecords()).report(Q, Period(DAY1, DAY1))
    assert (empty.calls.requests, empty.order_count, empty.customers) == (0, 0, 0)
    assert empty.exposure == Decimal("0.00")
    assert empty.breaches == ()


# -- caps and breaches --------------------------------------------------------------------------


def test_the_sandbox_caps_are_50_customers_and_a_million_cny_a_day() -> None:
    assert SANDBOX_CAPS.daily_customers == 50
    assert SANDBOX_CAPS.daily_exposure == Decimal("1000000.00")
    assert SANDBOX_CAPS.currency is Currency.CNY


def test_a_day_above_a_cap_is_a_breach_by_its_excess_and_reaching_it_is_not() -> None:
    caps = SandboxCaps(daily_customers=2, daily_exposure=Decimal("2500.00"))
    report = cohorts(caps=caps).report(P, PERIOD)
    # Day 1: 3 customers (cap 2) and 2,900.10 CNY (cap 2,500.00); day 2: 2 customers, exactly the cap.
    assert report.breaches == (
        Breach(CUSTOMERS_CAP, DAY1, Decimal(2), Decimal(3), "customers"),
        Breach(EXPOSURE_CAP, DAY1, Decimal("2500.00"), Decimal("2900.10"), "CNY"),
    )
    assert [b.excess for b in report.breaches] == [Decimal(1), Decimal("400.10")]


def test_breaches_at_the_default_caps() -> None:
    caps = SANDBOX_CAPS
    days = [
        DayActivity(DAY1, 0, 0, 0, 1, Decimal("1000000.00"), 50),  # both exactly at their caps
        DayActivity(DAY2, 0, 0, 0, 1, Decimal("1000000.01"), 51),
    ]
    assert breaches_of(days, caps) == [
        Breach(CUSTOMERS_CAP, DAY2, Decimal(50), Decimal(51), "customers"),
        Breach(EXPOSURE_CAP, DAY2, Decimal("1000000.00"), Decimal("1000000.01"), "CNY"),
    ]


def test_the_export_rows_are_one_per_day_and_metric_with_caps_and_excess() -> None:
    caps = SandboxCaps(daily_customers=2, daily_exposure=Decimal("2500.00"))
    rows = metric_days(cohorts(caps=caps).report(P, PERIOD))
    assert len(rows) == 2 * 6
    by_key = {(row.day, row.metric): row for row in rows}
    assert by_key[DAY1, "calls"].value == 15
    assert (by_key[DAY1, "customers"].value, by_key[DAY1, "customers"].cap) == (3, 2)
    assert by_key[DAY1, "customers"].excess == 1
    assert by_key[DAY1, "exposure_cny"].excess == Decimal("400.10")
    assert by_key[DAY2, "customers"].excess is None  # at the cap, not above it
    assert by_key[DAY2, "calls"].cap is None


# -- every partner ------------------------------------------------------------------------------


def test_the_list_holds_every_partner_with_activity_the_most_breaches_first() -> None:
    caps = SandboxCaps(daily_customers=2, daily_exposure=Decimal("2500.00"))
    reports = cohorts(caps=caps).cohorts(PERIOD)
    assert [r.partner_id for r in reports] == [P, Q]
    q = reports[1]
    # Q: 7 calls, one order of 1.00 CNY for the customer of its consent, and two alerts: the one
    # that names its order alone and the one that names P's orders too.
    assert (q.calls.requests, q.order_count, q.exposure, q.customers, q.alert_count) == (
        7,
        1,
        Decimal("1.00"),
        1,
        2,
    )
    assert q.breaches == ()


def test_a_partner_gone_from_the_registry_is_still_listed_without_a_name() -> None:
    reports = cohorts(FakeRecords(), known=()).cohorts(Period(DAY2, DAY2))
    assert [(r.partner_id, r.partner_name, r.stage) for r in reports] == [(P, None, None), (Q, None, None)]
