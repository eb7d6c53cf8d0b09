"""The pure rules of points conversion: pricing to the cent (PTS-04), valuation windows (PTS-01/02),
the state machine (PTS-12/13) and the reconciliation identity."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.money import Currency
from gateway.domain.points.errors import InvalidQuoteError
from gateway.domain.points.models import (
    RULES,
    TRANSITIONS,
    Conversion,
    ConversionState,
    Valuation,
    can_move,
    price_points,
)
from gateway.domain.points.reconciliation import reconcile

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def valuation(points: int = 100, amount: str = "1.00", *, start: int = 0, days: int = 30) -> Valuation:
    begin = NOW + timedelta(days=start)
    return Valuation(
        "pvl_1", "ptn_1", points, Decimal(amount), Currency.CNY, begin, begin + timedelta(days=days), NOW
    )


@pytest.mark.parametrize(
    ("rate", "amount", "points", "taken", "cash"),
    [
        (100, "1.00", 1234, 1234, "12.34"),
        (150, "1.00", 1000, 999, "6.66"),  # 1.5 points a cent: the 1000th point makes no cent
        (150, "1.00", 1, 0, "0.00"),
        (3, "0.01", 1000, 999, "3.33"),
        (1, "0.37", 10, 10, "3.70"),
        (7, "0.50", 100, 100, "7.14"),  # 714 cents need 99.96 points: all 100 are taken
        (7, "0.51", 100, 100, "7.28"),  # 728 cents need 99.92 points (99 make only 7.21)
        (50, "0.07", 120, 115, "0.16"),  # 16 cents need 114.3 points: 115 taken, 5 left
    ],
)
def test_points_become_whole_cents_and_only_those_points_are_taken(
    rate: int, amount: str, points: int, taken: int, cash: str
) -> None:
    pricing = price_points(points, valuation(rate, amount))
    assert (pricing.taken, pricing.amount) == (taken, Decimal(cash))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    rate=st.integers(1, 100_000),
    cents=st.integers(1, 100_000),
    points=st.integers(1, 10_000_000),
)
def test_pricing_never_takes_a_point_that_makes_no_cent(rate: int, cents: int, points: int) -> None:
    rule = valuation(rate, str(Decimal(cents) / 100))
    pricing = price_points(points, rule)
    exact = Decimal(points) * rule.amount / rule.points
    assert pricing.amount <= exact < pricing.amount + Decimal("0.01")  # rounded down to the cent
    assert 0 <= pricing.taken <= points
    # The points taken are worth exactly the cash; one fewer would not be.
    assert (
        price_points(pricing.taken, rule).amount == pricing.amount if pricing.taken else pricing.amount == 0
    )
    if pricing.taken:
        assert Decimal(pricing.taken - 1) * rule.amount / rule.points < pricing.amount


def test_pricing_refuses_no_points() -> None:
    with pytest.raises(InvalidQuoteError):
        price_points(0, valuation())


def test_valuation_windows_are_half_open_and_per_currency() -> None:
    first = valuation(days=10)
    assert first.holds(NOW)
    assert not first.holds(NOW + timedelta(days=10))
    assert not first.overlaps(valuation(start=10, days=5))
    assert first.overlaps(valuation(start=9, days=5))
    hkd = Valuation("pvl_2", "ptn_1", 100, Decimal("1.00"), Currency.HKD, NOW, NOW + timedelta(days=5), NOW)
    assert not first.overlaps(hkd)


def test_the_state_machine_allows_only_its_transitions() -> None:
    forward = [
        ConversionState.ACCEPTED,
        ConversionState.PRICED,
        ConversionState.ALLOTTED,
        ConversionState.SETTLED,
    ]
    for source, target in itertools.pairwise(forward):
        assert can_move(source, target)
        assert not can_move(target, source)
    assert all(can_move(state, ConversionState.REVERSED) for state in forward)
    assert TRANSITIONS[ConversionState.REJECTED] == frozenset()
    assert TRANSITIONS[ConversionState.REVERSED] == frozenset()
    assert not can_move(ConversionState.ACCEPTED, ConversionState.ALLOTTED)  # never skips a state
    assert len(RULES) == 14


def conversion(state: ConversionState, points: int, returned: int = 0, partner: str = "ptn_1") -> Conversion:
    return Conversion(
        id=f"cnv_{state}{points}", partner_id=partner, client_id="live_1",
        partner_conversion_id=f"pc{points}",
        customer_id="cus_1", consent_id=None, quote_id=f"pqt_{points}", valuation_id="pvl_1",
        instrument_id="ins_1", fund_code="F000001", currency=Currency.CNY, points=points,
        amount=Decimal(points) / 100, state=state, dealing_day=date(2026, 11, 23), created_at=NOW,
        updated_at=NOW, points_returned=returned, units=Decimal("1.50"),
    )  # fmt: skip


def test_reconciliation_identity_and_lines() -> None:
    report = reconcile(
        "ptn_1",
        date(2026, 11, 23),
        [
            conversion(ConversionState.SETTLED, 100),
            conversion(ConversionState.ACCEPTED, 250),
            conversion(ConversionState.REVERSED, 300, returned=300),
            conversion(ConversionState.REVERSED, 400),  # cooled off after allotment: points stay converted
            conversion(ConversionState.REJECTED, 999),
            conversion(ConversionState.ACCEPTED, 5, partner="ptn_2"),  # someone else's: ignored
        ],
    )
    assert (report.points_taken, report.points_converted, report.points_returned) == (1050, 750, 300)
    assert report.points_rejected == 999
    assert report.balanced
    by_state = {line.state: line for line in report.lines}
    assert [line.state for line in report.lines] == [
        ConversionState.ACCEPTED, ConversionState.SETTLED, ConversionState.REJECTED, ConversionState.REVERSED,
    ]  # fmt: skip
    assert (by_state[ConversionState.REVERSED].count, by_state[ConversionState.REVERSED].points) == (2, 700)
    assert by_state[ConversionState.REVERSED].amount == Decimal("7.00")
    assert by_state[ConversionState.SETTLED].units == Decimal("1.50")
