from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.advisory.codec import proposal_from_document, proposal_to_document
from gateway.domain.advisory.models import (
    CurrentHolding,
    InvestorProfile,
    Proposal,
    RebalancePolicy,
    TradeReason,
    TradeSide,
)
from gateway.domain.advisory.portfolios import AssetClass
from gateway.domain.advisory.proposing import propose
from gateway.domain.compliance.suitability import InvestorClass, Jurisdiction, RiskLevel
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Instrument
from gateway.domain.money import Currency, Money

CATALOGUE = Catalogue.from_file()
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)

# The CN models' products (see test_model_portfolios): prices 1.0000, 1.0264, 1.5417, 1.1973.
MMF, BOND, BALANCED, INDEX = "ins_ssgwntu23g", "ins_yr6tsdtuwu", "ins_4oesudybjk", "ins_ritkw3n7ax"
OTHER_BOND = "ins_lq72t5v5r5"  # the CN bond fund the model does not use, price 1.0832

C1 = InvestorProfile(RiskLevel.C1, InvestorClass.ORDINARY, Jurisdiction.CN)
C2 = InvestorProfile(RiskLevel.C2, InvestorClass.ORDINARY, Jurisdiction.CN)
C3 = InvestorProfile(RiskLevel.C3, InvestorClass.ORDINARY, Jurisdiction.CN)


class ReferencePrices:
    def reference_price(self, instrument: Instrument, moment: datetime) -> Decimal:
        return instrument.reference_price


def cny(amount: str | int) -> Money:
    return Money(Decimal(amount).quantize(Decimal("0.01")), Currency.CNY)


def book(**values: int | str) -> tuple[CurrentHolding, ...]:
    """Holdings by instrument id; a quantity consistent with the reference price."""
    holdings = []
    for instrument_id, value in values.items():
        price = CATALOGUE.get(instrument_id).reference_price
        money = cny(value)
        holdings.append(
            CurrentHolding(instrument_id, (money.amount / price).quantize(Decimal("0.01")), money)
        )
    return tuple(holdings)


def run(
    profile: InvestorProfile,
    holdings: tuple[CurrentHolding, ...],
    cash: str | int = 0,
    policy: RebalancePolicy | None = None,
) -> Proposal:
    return propose(
        profile, holdings, cny(cash), CATALOGUE, ReferencePrices(), NOW, policy=policy or RebalancePolicy()
    )


def trades(proposal: Proposal) -> list[tuple[TradeSide, str, Money, Decimal]]:
    return [(t.side, t.instrument_id, t.amount, t.estimated_quantity) for t in proposal.trades]


# ---- thresholds -------------------------------------------------------------------------------------


def test_no_suggestion_on_target() -> None:
    proposal = run(C3, book(**{MMF: 10000, BOND: 40000, BALANCED: 25000, INDEX: 25000}))
    assert proposal.trades == ()
    assert [d.off_target for d in proposal.drifts] == [False] * 4
    assert [d.drift for d in proposal.drifts] == [Decimal("0.0000")] * 4
    assert proposal.idle_cash is None


def test_no_suggestion_at_exactly_five_points() -> None:
    proposal = run(C3, book(**{MMF: 10000, BOND: 45000, BALANCED: 20000, INDEX: 25000}))
    assert [(d.asset_class, d.drift) for d in proposal.drifts] == [
        (AssetClass.MONEY_MARKET, Decimal("0.0000")),
        (AssetClass.BOND, Decimal("0.0500")),
        (AssetClass.BALANCED, Decimal("-0.0500")),  # also exactly 20 % of its target: under 25 %
        (AssetClass.INDEX, Decimal("0.0000")),
    ]
    assert proposal.trades == ()


def test_no_suggestion_at_exactly_a_quarter_of_the_target() -> None:
    # Money market 7.5 % against 10 %: 2.5 points, exactly 25 % of the target.
    proposal = run(C3, book(**{MMF: 7500, BOND: 42500, BALANCED: 25000, INDEX: 25000}), cash=2500)
    assert proposal.trades == ()


def test_just_over_five_points_trades_back_to_target() -> None:
    proposal = run(C3, book(**{MMF: 10000, BOND: 45001, BALANCED: 19999, INDEX: 25000}))
    assert [d.off_target for d in proposal.drifts] == [False, True, True, False]
    # Bonds 45001 against 40 % of 100000; balanced 19999 against 25000.
    assert trades(proposal) == [
        (TradeSide.SELL, BOND, cny("5001.00"), Decimal("4872.36")),  # 5001 / 1.0264
        (TradeSide.BUY, BALANCED, cny("5001.00"), Decimal("3243.82")),  # 5001 / 1.5417
    ]
    assert proposal.net_cash_flow == 0


def test_ten_points_off_hand_checked() -> None:
    proposal = run(C3, book(**{MMF: 10000, BOND: 40000, BALANCED: 35000, INDEX: 15000}))
    assert [(d.asset_class, d.current_weight, d.target_weight, d.off_target) for d in proposal.drifts] == [
        (AssetClass.MONEY_MARKET, Decimal("0.1000"), Decimal("0.1000"), False),
        (AssetClass.BOND, Decimal("0.4000"), Decimal("0.4000"), False),
        (AssetClass.BALANCED, Decimal("0.3500"), Decimal("0.2500"), True),
        (AssetClass.INDEX, Decimal("0.1500"), Decimal("0.2500"), True),
    ]
    assert trades(proposal) == [
        (TradeSide.SELL, BALANCED, cny("10000.00"), Decimal("6486.34")),  # 10000 / 1.5417
        (TradeSide.BUY, INDEX, cny("10000.00"), Decimal("8352.12")),  # 10000 / 1.1973
    ]
    assert all(t.reason is TradeReason.DRIFT for t in proposal.trades)


def test_relative_drift_alone_triggers_and_cash_pays() -> None:
    # Money market 7 % against 10 %: 3 points (under 5) but 30 % of the target (over 25 %).
    proposal = run(C3, book(**{MMF: 7000, BOND: 43000, BALANCED: 25000, INDEX: 25000}), cash=5000)
    assert [d.off_target for d in proposal.drifts] == [True, False, False, False]
    assert trades(proposal) == [(TradeSide.BUY, MMF, cny("3000.00"), Decimal("3000.00"))]
    assert proposal.net_cash_flow == Decimal("3000.00")
    # 2000 cash left of 105000 is under 5 %: nothing idle.
    assert proposal.idle_cash is None


def test_buys_are_scaled_down_to_the_cash_at_hand() -> None:
    proposal = run(C3, book(**{MMF: 7000, BOND: 43000, BALANCED: 25000, INDEX: 25000}), cash=1000)
    assert trades(proposal) == [(TradeSide.BUY, MMF, cny("1000.00"), Decimal("1000.00"))]
    assert proposal.net_cash_flow == Decimal("1000.00")
    assert proposal.drifts[0].off_target


def test_products_off_the_model_are_sold_first() -> None:
    proposal = run(C2, book(**{MMF: 10000, BOND: 20000, OTHER_BOND: 70000}))
    assert trades(proposal) == [
        (TradeSide.SELL, OTHER_BOND, cny("20000.00"), Decimal("18463.81")),  # 20000 / 1.0832
        (TradeSide.BUY, MMF, cny("20000.00"), Decimal("20000.00")),
    ]


def test_a_sale_runs_on_to_the_models_product_when_the_other_is_used_up() -> None:
    holdings = book(**{MMF: 10000, BOND: 80000, OTHER_BOND: 10000})
    proposal = run(C2, holdings)
    other_bond = holdings[2]
    assert trades(proposal) == [
        (TradeSide.SELL, OTHER_BOND, cny("10000.00"), other_bond.quantity),  # all of it
        (TradeSide.SELL, BOND, cny("10000.00"), Decimal("9742.79")),  # 10000 / 1.0264
        (TradeSide.BUY, MMF, cny("20000.00"), Decimal("20000.00")),
    ]


def test_a_class_outside_the_model_is_sold() -> None:
    # C2 has no balanced class; the R3 fund is one level above (acknowledgeable, so not PR-05).
    holdings = book(**{MMF: 27000, BOND: 63000, BALANCED: 10000})
    proposal = run(C2, holdings)
    balanced = next(d for d in proposal.drifts if d.asset_class is AssetClass.BALANCED)
    assert (balanced.target_weight, balanced.off_target) == (Decimal("0.0000"), True)
    assert trades(proposal) == [
        (TradeSide.SELL, BALANCED, cny("10000.00"), holdings[2].quantity),
        (TradeSide.BUY, BOND, cny("7000.00"), Decimal("6819.95")),  # 7000 / 1.0264
    ]
    assert proposal.net_cash_flow == Decimal("-3000.00")  # the money market (27 % of 30 %) stays


def test_an_unsuitable_holding_is_sold_whatever_the_drift() -> None:
    # C1 ordinary: the R2 bond fund is refused under advice (SUIT-04), however small.
    proposal = run(C1, book(**{MMF: 99000, BOND: 1000}))
    assert [(t.side, t.instrument_id, t.reason) for t in proposal.trades] == [
        (TradeSide.SELL, BOND, TradeReason.UNSUITABLE),
    ]
    # The money market is 99 % of 100 %: within the thresholds, so the proceeds stay cash.
    assert proposal.net_cash_flow == Decimal("-1000.00")


def test_a_wider_policy_suggests_nothing() -> None:
    policy = RebalancePolicy(absolute_drift=Decimal("0.15"), relative_drift=Decimal("1"))
    proposal = run(C3, book(**{MMF: 10000, BOND: 40000, BALANCED: 35000, INDEX: 15000}), policy=policy)
    assert proposal.trades == ()
    assert proposal.policy == policy


# ---- idle cash --------------------------------------------------------------------------------------


def test_idle_cash_at_exactly_the_threshold_is_left_alone() -> None:
    assert run(C1, book(**{MMF: 95000}), cash="5000.00").idle_cash is None  # 5 % of 100000


def test_idle_cash_under_the_threshold_is_left_alone() -> None:
    assert run(C1, book(**{MMF: 95000}), cash="4999.99").idle_cash is None


def test_idle_cash_a_cent_over_the_threshold() -> None:
    proposal = run(C1, book(**{MMF: 95000}), cash="5000.02")
    idle = proposal.idle_cash
    assert idle is not None
    # 5000.02 - 5 % x 100000.02 = 0.019, rounded down to the cent.
    assert idle.excess == cny("0.01")
    assert [(t.instrument_id, t.amount, t.estimated_quantity) for t in idle.trades] == [
        (MMF, cny("0.01"), Decimal("0.01"))
    ]


def test_idle_cash_goes_to_the_money_market_fund_for_c1() -> None:
    idle = run(C1, book(**{MMF: 95000}), cash="5100.00").idle_cash
    assert idle is not None
    assert (idle.portfolio_value, idle.cash, idle.threshold) == (
        cny("100100.00"),
        cny("5100.00"),
        Decimal("0.05"),
    )
    assert idle.excess == cny("95.00")  # 5100 - 5005
    assert [(t.side, t.instrument_id, t.amount, t.reason) for t in idle.trades] == [
        (TradeSide.BUY, MMF, cny("95.00"), TradeReason.IDLE_CASH)
    ]


def test_idle_cash_follows_the_model_allocation() -> None:
    holdings = book(**{MMF: 10000, BOND: 40000, BALANCED: 25000, INDEX: 25000})
    idle = run(C3, holdings, cash=10000).idle_cash
    assert idle is not None
    assert idle.excess == cny("4500.00")  # 10000 - 5 % x 110000
    assert [(t.instrument_id, t.amount) for t in idle.trades] == [
        (MMF, cny("450.00")),
        (BOND, cny("1800.00")),
        (BALANCED, cny("1125.00")),
        (INDEX, cny("1125.00")),
    ]


def test_leftover_cents_of_idle_cash_go_on_the_largest_weight() -> None:
    holdings = book(**{MMF: 10000, BOND: 40000, BALANCED: 25000, INDEX: 25000})
    idle = run(C3, holdings, cash="5263.22").idle_cash
    assert idle is not None
    # 5263.22 - 5 % x 105263.22 = 0.059 -> 0.05; 10/40/25/25 % gives 0.00, 0.02, 0.01, 0.01 and
    # the leftover cent goes to bonds, the largest weight. A zero amount is no trade.
    assert idle.excess == cny("0.05")
    assert [(t.instrument_id, t.amount) for t in idle.trades] == [
        (BOND, cny("0.03")),
        (BALANCED, cny("0.01")),
        (INDEX, cny("0.01")),
    ]


# ---- property ---------------------------------------------------------------------------------------

VALUE = st.integers(min_value=0, max_value=10**9).map(lambda cents: Decimal(cents) / 100)


@settings(max_examples=100, deadline=None, database=None)
@given(
    level=st.sampled_from([RiskLevel.C2, RiskLevel.C3]),
    values=st.fixed_dictionaries({MMF: VALUE, BOND: VALUE, OTHER_BOND: VALUE, BALANCED: VALUE, INDEX: VALUE}),
    cash=VALUE,
)
def test_trades_stay_within_the_means(level: RiskLevel, values: dict[str, Decimal], cash: Decimal) -> None:
    profile = InvestorProfile(level, InvestorClass.ORDINARY, Jurisdiction.CN)
    holdings = tuple(
        CurrentHolding(instrument_id, Decimal(1), cny(str(value)))
        for instrument_id, value in values.items()
        if value > 0
    )
    proposal = run(profile, holdings, cash=str(cash))
    held = {h.instrument_id: h.market_value.amount for h in holdings}
    model_products = {h.instrument_id for h in proposal.holdings}
    off_target = {d.asset_class for d in proposal.drifts if d.off_target}
    sold: dict[str, Decimal] = {}
    for trade in proposal.trades:
        assert trade.amount.amount > 0
        assert trade.asset_class in off_target or trade.reason is TradeReason.UNSUITABLE
        if trade.side is TradeSide.BUY:
            assert trade.instrument_id in model_products
        else:
            sold[trade.instrument_id] = sold.get(trade.instrument_id, Decimal(0)) + trade.amount.amount
    assert all(amount <= held[instrument_id] for instrument_id, amount in sold.items())
    assert proposal.net_cash_flow <= cash
    cash_left = cash - proposal.net_cash_flow
    if proposal.idle_cash is not None:
        assert proposal.idle_cash.excess.amount <= cash_left
        assert sum(t.amount.amount for t in proposal.idle_cash.trades) == proposal.idle_cash.excess.amount
    else:
        assert cash_left <= Decimal("0.05") * proposal.portfolio_value.amount + Decimal("0.01")
    assert proposal_from_document(proposal_to_document(proposal)) == proposal
