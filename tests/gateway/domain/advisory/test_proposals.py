from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_DOWN, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.advisory.codec import proposal_from_document, proposal_to_document
from gateway.domain.advisory.errors import InvalidAnswersError, InvalidProposalError, UnsuitableProposalError
from gateway.domain.advisory.models import (
    AnonymousProfile,
    CurrentHolding,
    InvestorProfile,
    Proposal,
    RebalancePolicy,
    TradeReason,
    TradeSide,
)
from gateway.domain.advisory.portfolios import AssetClass, build_model
from gateway.domain.advisory.proposing import RULES, product_facts, propose, propose_anonymous
from gateway.domain.advisory.questionnaire import questionnaire, score
from gateway.domain.compliance.suitability import (
    Complexity,
    Decision,
    InvestorClass,
    Jurisdiction,
    ProductRisk,
    ProductType,
    RiskLevel,
)
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Instrument, Market
from gateway.domain.money import Currency, Money

CATALOGUE = Catalogue.from_file()
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
ORDINARY, PROFESSIONAL = InvestorClass.ORDINARY, InvestorClass.PROFESSIONAL


class ReferencePrices:
    """The stub feed: every instrument at its catalogue reference price."""

    def reference_price(self, instrument: Instrument, moment: datetime) -> Decimal:
        return instrument.reference_price


PRICES = ReferencePrices()


def cny(amount: str) -> Money:
    return Money(Decimal(amount), Currency.CNY)


def usd(amount: str) -> Money:
    return Money(Decimal(amount), Currency.USD)


def hkd(amount: str) -> Money:
    return Money(Decimal(amount), Currency.HKD)


def held(instrument_id: str, value: Money, quantity: str | None = None) -> CurrentHolding:
    if quantity is None:
        price = CATALOGUE.get(instrument_id).reference_price
        quantity = str((value.amount / price).quantize(Decimal("0.01")))
    return CurrentHolding(instrument_id, Decimal(quantity), value)


def check_whole(proposal: Proposal) -> None:
    """Invariants every proposal keeps."""
    assert sum(h.weight for h in proposal.holdings) == Decimal("1.0000")
    contributions = sum(h.risk_contribution for h in proposal.holdings)
    assert contributions in {Decimal("1.0000"), Decimal(0)}
    assert sum(h.target_value.amount for h in proposal.holdings) == proposal.portfolio_value.amount
    for holding in proposal.holdings:
        assert holding.role
        if holding.instrument_id is None:
            assert holding.suitability is None
        else:
            assert holding.suitability is not None
            assert holding.suitability.decision is not Decision.UNSUITABLE
    buys = sum(t.amount.amount for t in proposal.trades if t.side is TradeSide.BUY)
    sells = sum(t.amount.amount for t in proposal.trades if t.side is TradeSide.SELL)
    assert buys - sells == proposal.net_cash_flow
    if proposal.idle_cash is not None:
        assert sum(t.amount.amount for t in proposal.idle_cash.trades) == proposal.idle_cash.excess.amount
    assert proposal_from_document(json.loads(json.dumps(proposal_to_document(proposal)))) == proposal


# ---- demo-like customers ------------------------------------------------------------------------------

LI_WEI = InvestorProfile(RiskLevel.C2, ORDINARY, Jurisdiction.CN, customer_id="cus_demo0001")
LI_WEI_HOLDINGS = (
    held("ins_ssgwntu23g", cny("12000.00"), "12000.00"),
    held("ins_lq72t5v5r5", cny("5416.00"), "5000.00"),
    held("ins_fmz5zplx7x", hkd("2961.60"), "300.00"),
)


def test_li_wei_hand_checked() -> None:
    proposal = propose(
        LI_WEI, LI_WEI_HOLDINGS, cny("8921.20"), CATALOGUE, PRICES, NOW, proposal_id="prp_0123456789"
    )
    check_whole(proposal)
    assert (proposal.id, proposal.created_at, proposal.customer_id) == ("prp_0123456789", NOW, "cus_demo0001")
    assert (proposal.model_id, proposal.model_version, proposal.currency) == (
        "mdl_cn_c2",
        "MP-2026-11",
        Currency.CNY,
    )
    # 12000 + 5416 CNY held in scope (the HK bond fund is another market) + 8921.20 cash.
    assert proposal.portfolio_value == cny("26337.20")
    mmf, bond = proposal.holdings
    assert (mmf.weight, bond.weight) == (Decimal("0.3000"), Decimal("0.7000"))
    assert (mmf.target_value, bond.target_value) == (cny("7901.16"), cny("18436.04"))
    # PR-03: 0.3 x 1 % = 0.003 and 0.7 x 4 % = 0.028 of 0.031 in all.
    assert (mmf.risk_contribution, bond.risk_contribution) == (Decimal("0.0968"), Decimal("0.9032"))
    assert proposal.expected_volatility == Decimal("0.0310")
    # Invested 17416: money market 68.90 % against 30 %, bonds 31.10 % against 70 %.
    assert [(d.asset_class, d.current_weight, d.drift, d.off_target) for d in proposal.drifts] == [
        (AssetClass.MONEY_MARKET, Decimal("0.6890"), Decimal("0.3890"), True),
        (AssetClass.BOND, Decimal("0.3110"), Decimal("-0.3890"), True),
    ]
    # 12000 - 0.3 x 17416 = 6775.20 out of the money-market fund, into the model's bond fund.
    assert [(t.side, t.instrument_id, t.amount, t.estimated_quantity) for t in proposal.trades] == [
        (TradeSide.SELL, "ins_ssgwntu23g", cny("6775.20"), Decimal("6775.20")),
        (TradeSide.BUY, "ins_yr6tsdtuwu", cny("6775.20"), Decimal("6600.93")),  # 6775.20 / 1.0264
    ]
    assert proposal.net_cash_flow == 0
    # Idle cash: 8921.20 - 5 % x 26337.20 = 7604.34, split 30/70; the leftover cent goes to bonds.
    idle = proposal.idle_cash
    assert idle is not None
    assert (idle.excess, idle.threshold) == (cny("7604.34"), Decimal("0.05"))
    assert [(t.instrument_id, t.amount, t.reason) for t in idle.trades] == [
        ("ins_ssgwntu23g", cny("2281.30"), TradeReason.IDLE_CASH),
        ("ins_yr6tsdtuwu", cny("5323.04"), TradeReason.IDLE_CASH),
    ]
    hk_fund = proposal.positions[2]
    assert (hk_fund.in_scope, hk_fund.weight) == (False, None)
    assert "HK market" in hk_fund.note


def test_zhang_min_professional_c5_with_only_self_directed_positions() -> None:
    profile = InvestorProfile(RiskLevel.C5, PROFESSIONAL, Jurisdiction.CN, customer_id="cus_demo0002")
    holdings = (
        held("ins_6oy7ygx4ez", cny("24680.00"), "20000"),  # 2x leveraged ETF
        held("ins_zyb3ya4sbu", cny("97200.00"), "800"),  # stock
        held("ins_yciv5lhvcf", hkd("27300.00"), "10000"),  # HK stock
    )
    proposal = propose(profile, holdings, cny("11552.30"), CATALOGUE, PRICES, NOW)
    check_whole(proposal)
    assert proposal.id.startswith("prp_")
    assert proposal.model_id == "mdl_cn_c5"
    assert [p.in_scope for p in proposal.positions] == [False, False, False]
    assert "complex product" in proposal.positions[0].note
    assert "stock" in proposal.positions[1].note
    assert proposal.drifts == ()
    assert proposal.trades == ()
    assert proposal.portfolio_value == cny("11552.30")
    idle = proposal.idle_cash
    assert idle is not None
    # Everything above 5 % of 11552.30 (577.615): 10974.685 rounded down to 10974.68.
    assert idle.excess == cny("10974.68")
    for holding in proposal.holdings:
        assert holding.suitability is not None
        assert [r.rule for r in holding.suitability.reasons] == ["SUIT-01"]


def test_chan_tai_man_hk_c3() -> None:
    profile = InvestorProfile(RiskLevel.C3, ORDINARY, Jurisdiction.HK, customer_id="cus_demo0003")
    holdings = (
        held("ins_hf5r4f77bt", hkd("24850.00"), "1000"),  # the model's index ETF
        held("ins_ljinqx75mm", hkd("46300.00"), "2000"),  # stock
        held("ins_qh3ueqvvpt", usd("4123.70"), "10"),  # US ETF
    )
    proposal = propose(profile, holdings, hkd("46090.00"), CATALOGUE, PRICES, NOW)
    check_whole(proposal)
    assert proposal.model_id == "mdl_hk_c3"
    assert [p.in_scope for p in proposal.positions] == [True, False, False]
    assert (
        proposal.positions[0].note
        == "Counted in the index allocation, as the model's product for that class."
    )
    # All that is invested is the index ETF: 100 % against 25 %, so money market and bonds are bought.
    assert {(t.side, t.asset_class) for t in proposal.trades} == {
        (TradeSide.SELL, AssetClass.INDEX),
        (TradeSide.BUY, AssetClass.MONEY_MARKET),
        (TradeSide.BUY, AssetClass.BOND),
    }
    sell = next(t for t in proposal.trades if t.side is TradeSide.SELL)
    assert sell.amount == hkd("18637.50")  # 24850 x 75 %
    assert sell.estimated_quantity == 500  # 18637.50 / 24.85 = 750 shares, in lots of 500


def test_anna_schmidt_eu_c4_gets_the_us_model_with_kid_acknowledgements() -> None:
    profile = InvestorProfile(RiskLevel.C4, ORDINARY, Jurisdiction.EU, customer_id="cus_demo0004")
    holdings = (
        held("ins_6u6ugqoqlb", usd("4982.00"), "100"),
        held("ins_4abua27bk5", usd("3846.00"), "40"),
        held("ins_xdyslw7cib", usd("5346.88"), "250.00"),
    )
    proposal = propose(profile, holdings, usd("1600.00"), CATALOGUE, PRICES, NOW)
    check_whole(proposal)
    assert (proposal.model_id, proposal.profile.home_market) == ("mdl_us_c4", Market.US)
    decisions = {h.instrument_id: h.suitability.decision for h in proposal.holdings if h.suitability}
    # EU-02: every fund needs its KID acknowledged; the ETF does not.
    assert decisions == {
        "ins_cxbszgi2k6": Decision.REQUIRES_ACKNOWLEDGEMENT,
        "ins_bcflanerq2": Decision.REQUIRES_ACKNOWLEDGEMENT,
        "ins_xdyslw7cib": Decision.REQUIRES_ACKNOWLEDGEMENT,
        "ins_qh3ueqvvpt": Decision.SUITABLE,
        "ins_rp2vl36jtt": Decision.REQUIRES_ACKNOWLEDGEMENT,
    }
    assert proposal.required_acknowledgements == ("eu_fund_kid",)
    assert any("acknowledgement" in note for note in proposal.notes)
    treasury = proposal.positions[0]
    assert (treasury.in_scope, treasury.asset_class) == (True, AssetClass.BOND)


def test_john_doe_us_c1() -> None:
    profile = InvestorProfile(RiskLevel.C1, ORDINARY, Jurisdiction.US, customer_id="cus_demo0005")
    holdings = (
        held("ins_cxbszgi2k6", usd("15000.00"), "15000.00"),
        held("ins_bcflanerq2", usd("4086.00"), "400.00"),  # R2: unsuitable for C1 under advice
    )
    proposal = propose(profile, holdings, usd("4582.25"), CATALOGUE, PRICES, NOW)
    check_whole(proposal)
    assert [(h.asset_class, h.instrument_id) for h in proposal.holdings] == [
        (AssetClass.MONEY_MARKET, "ins_cxbszgi2k6")
    ]
    assert proposal.positions[1].suitability.decision is Decision.UNSUITABLE
    assert "sale in full" in proposal.positions[1].note
    # PR-05 sells the bond fund; PR-06 over 19086: the money market is at 78.59 % of 100 %, so it buys.
    assert [(t.side, t.instrument_id, t.amount, t.reason) for t in proposal.trades] == [
        (TradeSide.SELL, "ins_bcflanerq2", usd("4086.00"), TradeReason.UNSUITABLE),
        (TradeSide.BUY, "ins_cxbszgi2k6", usd("4086.00"), TradeReason.DRIFT),
    ]
    assert proposal.trades[0].estimated_quantity == Decimal("400.00")
    idle = proposal.idle_cash
    assert idle is not None  # C1: the excess cash goes to the money-market fund
    assert [t.instrument_id for t in idle.trades] == ["ins_cxbszgi2k6"]
    assert idle.excess == usd("3398.83")  # 4582.25 - 5 % x 23668.25 = 3398.8375, rounded down
    assert idle.cash == usd("4582.25")


# ---- suitability: refuse rather than propose something unsuitable ---------------------------------------


def test_an_unsuitable_model_is_refused_for_an_ordinary_investor() -> None:
    profile = InvestorProfile(RiskLevel.C2, ORDINARY, Jurisdiction.CN)
    aggressive = build_model(CATALOGUE, RiskLevel.C4, Market.CN)
    with pytest.raises(UnsuitableProposalError) as caught:
        propose(profile, (), cny("1000.00"), CATALOGUE, PRICES, NOW, model=aggressive)
    # The R4 equity fund is two levels above C2; the R3 funds need an acknowledgement, which is not refused.
    assert caught.value.context["instruments"] == ["ins_azuddb3yty"]
    assert caught.value.context["reasons"] == {"ins_azuddb3yty": ["risk_two_or_more_levels_above"]}


def test_the_same_model_is_proposed_to_a_professional() -> None:
    profile = InvestorProfile(RiskLevel.C2, PROFESSIONAL, Jurisdiction.CN)
    aggressive = build_model(CATALOGUE, RiskLevel.C4, Market.CN)
    proposal = propose(profile, (), cny("1000.00"), CATALOGUE, PRICES, NOW, model=aggressive)
    check_whole(proposal)
    assert proposal.model_id == "mdl_cn_c4"
    assert all(h.suitability and h.suitability.decision is Decision.SUITABLE for h in proposal.holdings)


def test_one_level_above_is_proposed_only_with_its_disclosure() -> None:
    profile = InvestorProfile(RiskLevel.C2, ORDINARY, Jurisdiction.CN)
    balanced = build_model(CATALOGUE, RiskLevel.C3, Market.CN)
    proposal = propose(profile, (), cny("1000.00"), CATALOGUE, PRICES, NOW, model=balanced)
    assert proposal.required_acknowledgements == ("risk_mismatch_disclosure",)


def test_a_non_shariah_model_is_refused_for_an_islamic_account() -> None:
    profile = InvestorProfile(RiskLevel.C5, PROFESSIONAL, Jurisdiction.US, islamic_account=True)
    conventional = build_model(CATALOGUE, RiskLevel.C5, Market.US)
    with pytest.raises(UnsuitableProposalError) as caught:
        propose(profile, (), usd("1000.00"), CATALOGUE, PRICES, NOW, model=conventional)
    refused = caught.value.context["instruments"]
    assert isinstance(refused, list)
    assert "ins_rp2vl36jtt" not in refused  # the Shariah growth fund
    assert set(refused) == {"ins_cxbszgi2k6", "ins_bcflanerq2", "ins_xdyslw7cib", "ins_qh3ueqvvpt"}


def test_an_islamic_account_gets_the_shariah_model_and_sells_what_it_may_not_hold() -> None:
    profile = InvestorProfile(RiskLevel.C4, ORDINARY, Jurisdiction.US, islamic_account=True)
    holdings = (
        held("ins_cxbszgi2k6", usd("2000.00"), "2000.00"),  # conventional money market: SUIT-06
        held("ins_qpkotzgj3l", usd("3000.00")),
        held("ins_rp2vl36jtt", usd("2000.00")),
    )
    proposal = propose(profile, holdings, usd("7000.00"), CATALOGUE, PRICES, NOW)
    check_whole(proposal)
    assert proposal.model_id == "mdl_us_c4_shariah"
    cash = proposal.holdings[0]
    assert (cash.asset_class, cash.instrument_id, cash.weight) == (AssetClass.CASH, None, Decimal("0.5000"))
    assert (cash.volatility, cash.suitability) == (Decimal("0.00"), None)
    first = proposal.trades[0]
    assert (first.side, first.instrument_id, first.reason) == (
        TradeSide.SELL,
        "ins_cxbszgi2k6",
        TradeReason.UNSUITABLE,
    )
    # Invested 7000 (with the 2000 sold): index 3000 = 42.86 % of a 60 % target, equity 28.57 % of 40 %.
    assert [(d.asset_class, d.off_target) for d in proposal.drifts] == [
        (AssetClass.INDEX, True),
        (AssetClass.EQUITY, True),
    ]
    buys = {t.instrument_id: t.amount for t in proposal.trades if t.side is TradeSide.BUY}
    assert buys == {"ins_qpkotzgj3l": usd("1200.00"), "ins_rp2vl36jtt": usd("800.00")}
    # Cash 7000 of 14000 is exactly the model's 50 % cash weight: nothing idle.
    assert proposal.idle_cash is None


# ---- inputs -----------------------------------------------------------------------------------------


def test_cash_must_be_in_the_home_currency() -> None:
    with pytest.raises(InvalidProposalError) as caught:
        propose(LI_WEI, (), usd("10.00"), CATALOGUE, PRICES, NOW)
    assert caught.value.context["field"] == "cash"


@pytest.mark.parametrize(
    ("holdings", "field"),
    [
        (
            (held("ins_ssgwntu23g", cny("1.00")), held("ins_ssgwntu23g", cny("2.00"))),
            "holdings[1].instrument_id",
        ),
        ((CurrentHolding("ins_zzzzzzzzzz", Decimal(1), cny("1.00")),), "holdings[0].instrument_id"),
        ((CurrentHolding("ins_ssgwntu23g", Decimal(0), cny("1.00")),), "holdings[0].quantity"),
        ((CurrentHolding("ins_ssgwntu23g", Decimal(1), usd("1.00")),), "holdings[0].market_value"),
    ],
)
def test_impossible_holdings_are_refused(holdings: tuple[CurrentHolding, ...], field: str) -> None:
    with pytest.raises(InvalidProposalError) as caught:
        propose(LI_WEI, holdings, cny("0.00"), CATALOGUE, PRICES, NOW)
    assert caught.value.context["field"] == field


def test_time_must_be_aware_and_is_kept_in_utc() -> None:
    with pytest.raises(InvalidProposalError):
        propose(LI_WEI, (), cny("0.00"), CATALOGUE, PRICES, datetime(2026, 11, 2, 9, 30))  # noqa: DTZ001
    shanghai = datetime(2026, 11, 2, 17, 30, tzinfo=timezone(timedelta(hours=8)))
    assert propose(LI_WEI, (), cny("0.00"), CATALOGUE, PRICES, shanghai).created_at == NOW


def test_proposal_ids() -> None:
    with pytest.raises(InvalidProposalError):
        propose(LI_WEI, (), cny("0.00"), CATALOGUE, PRICES, NOW, proposal_id="ord_0123456789")
    first = propose(LI_WEI, (), cny("0.00"), CATALOGUE, PRICES, NOW)
    second = propose(LI_WEI, (), cny("0.00"), CATALOGUE, PRICES, NOW)
    assert first.id != second.id
    assert first.id.startswith("prp_")


def test_a_model_of_another_market_is_refused() -> None:
    with pytest.raises(InvalidProposalError) as caught:
        propose(
            LI_WEI,
            (),
            cny("0.00"),
            CATALOGUE,
            PRICES,
            NOW,
            model=build_model(CATALOGUE, RiskLevel.C2, Market.US),
        )
    assert caught.value.context["field"] == "model"


def test_a_broken_price_feed_is_refused() -> None:
    class ZeroPrices:
        def reference_price(self, instrument: Instrument, moment: datetime) -> Decimal:
            return Decimal(0)

    with pytest.raises(InvalidProposalError) as caught:
        propose(LI_WEI, (), cny("100.00"), CATALOGUE, ZeroPrices(), NOW)
    assert caught.value.context["field"] == "prices"


def test_an_empty_portfolio_gets_the_model_and_nothing_to_trade() -> None:
    proposal = propose(LI_WEI, (), cny("0.00"), CATALOGUE, PRICES, NOW)
    check_whole(proposal)
    assert (proposal.trades, proposal.drifts, proposal.idle_cash) == ((), (), None)
    assert [h.target_value for h in proposal.holdings] == [cny("0.00"), cny("0.00")]


def test_product_facts_of_catalogue_instruments() -> None:
    mmf = product_facts(CATALOGUE.get("ins_ssgwntu23g"))
    assert (mmf.product_type, mmf.risk, mmf.complexity) == (
        ProductType.MONEY_MARKET_FUND,
        ProductRisk.R1,
        Complexity.NON_COMPLEX,
    )
    leveraged = product_facts(CATALOGUE.get("ins_6oy7ygx4ez"))
    assert (leveraged.product_type, leveraged.complexity) == (ProductType.ETF, Complexity.COMPLEX)
    assert product_facts(CATALOGUE.get("ins_4oesudybjk")).product_type is ProductType.FUND
    assert product_facts(CATALOGUE.get("ins_az37mebeym")).shariah_compliant
    assert product_facts(CATALOGUE.get("ins_az37mebeym")).product_type is ProductType.STOCK


# ---- documents --------------------------------------------------------------------------------------


def test_a_broken_document_is_refused() -> None:
    document = proposal_to_document(propose(LI_WEI, LI_WEI_HOLDINGS, cny("8921.20"), CATALOGUE, PRICES, NOW))
    for broken in (
        {**document, "created_at": "2026-11-02T09:30:00"},
        {**document, "net_cash_flow": 1.5},
        {**document, "holdings": "none"},
        {k: v for k, v in document.items() if k != "model_id"},
        {**document, "portfolio_value": {"amount": "-1.00", "currency": "CNY"}},
    ):
        with pytest.raises(InvalidProposalError) as caught:
            proposal_from_document(broken)
        assert caught.value.context["field"] == "document"


# ---- white label ------------------------------------------------------------------------------------


def test_anonymous_proposal_from_a_risk_level_invests_the_whole_amount() -> None:
    request = AnonymousProfile(Jurisdiction.US, ORDINARY, usd("10000.00"), risk_level=RiskLevel.C3)
    proposal = propose_anonymous(request, CATALOGUE, PRICES, NOW, proposal_id="prp_anon000001")
    check_whole(proposal)
    assert (proposal.customer_id, proposal.risk_assessment, proposal.model_id) == (None, None, "mdl_us_c3")
    assert proposal.policy.idle_cash_share == 0
    idle = proposal.idle_cash
    assert idle is not None
    assert idle.excess == usd("10000.00")
    assert [(t.instrument_id, t.amount, t.estimated_quantity) for t in idle.trades] == [
        ("ins_cxbszgi2k6", usd("1000.00"), Decimal("1000.00")),
        ("ins_bcflanerq2", usd("4000.00"), Decimal("391.58")),  # 4000 / 10.2150
        ("ins_xdyslw7cib", usd("2500.00"), Decimal("116.89")),  # 2500 / 21.3875
        ("ins_qh3ueqvvpt", usd("2500.00"), Decimal("6")),  # 2500 / 412.37 = 6.06: whole shares
    ]


def test_anonymous_proposal_from_answers_carries_the_assessment() -> None:
    answers = {q.id: q.options[-1].id for q in questionnaire().questions}  # every answer at its maximum
    answers["horizon"] = "under_1y"
    request = AnonymousProfile(Jurisdiction.HK, ORDINARY, hkd("5000.00"), answers=answers)
    proposal = propose_anonymous(request, CATALOGUE, PRICES, NOW)
    check_whole(proposal)
    assert proposal.risk_assessment == score(answers)
    assert proposal.profile.risk_level is RiskLevel.C2  # RQ-KO-2
    assert proposal.model_id == "mdl_hk_c2"


def test_anonymous_islamic_proposal_keeps_the_models_cash() -> None:
    request = AnonymousProfile(
        Jurisdiction.US, ORDINARY, usd("1000.00"), risk_level=RiskLevel.C4, islamic_account=True
    )
    proposal = propose_anonymous(request, CATALOGUE, PRICES, NOW)
    check_whole(proposal)
    idle = proposal.idle_cash
    assert idle is not None
    assert (idle.threshold, idle.excess) == (Decimal("0.5000"), usd("500.00"))
    assert [(t.instrument_id, t.amount) for t in idle.trades] == [
        ("ins_qpkotzgj3l", usd("300.00")),
        ("ins_rp2vl36jtt", usd("200.00")),
    ]


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (AnonymousProfile(Jurisdiction.US, ORDINARY, usd("10.00")), "risk_level"),
        (
            AnonymousProfile(Jurisdiction.US, ORDINARY, usd("10.00"), risk_level=RiskLevel.C1, answers={}),
            "risk_level",
        ),
        (AnonymousProfile(Jurisdiction.US, ORDINARY, usd("0.00"), risk_level=RiskLevel.C1), "amount"),
        (
            AnonymousProfile(
                Jurisdiction.EU, ORDINARY, Money(Decimal(10), Currency.EUR), risk_level=RiskLevel.C1
            ),
            "amount",
        ),
    ],
)
def test_anonymous_requests_that_are_refused(request_: AnonymousProfile, field: str) -> None:
    with pytest.raises(InvalidProposalError) as caught:
        propose_anonymous(request_, CATALOGUE, PRICES, NOW)
    assert caught.value.context["field"] == field


def test_anonymous_answers_are_validated() -> None:
    request = AnonymousProfile(Jurisdiction.CN, ORDINARY, cny("10.00"), answers={"horizon": "over_10y"})
    with pytest.raises(InvalidAnswersError):
        propose_anonymous(request, CATALOGUE, PRICES, NOW)


# ---- property ---------------------------------------------------------------------------------------

ANSWERS = st.fixed_dictionaries(
    {q.id: st.sampled_from([o.id for o in q.options]) for q in questionnaire().questions}
)
HOME_CURRENCY = {Jurisdiction.CN: Currency.CNY, Jurisdiction.HK: Currency.HKD}


@settings(max_examples=100, deadline=None, database=None)
@given(
    answers=ANSWERS,
    investor_class=st.sampled_from(InvestorClass),
    jurisdiction=st.sampled_from(Jurisdiction),
    islamic=st.booleans(),
    cents=st.integers(min_value=1, max_value=10**10),
)
def test_any_answers_give_a_whole_suitable_proposal(
    answers: dict[str, str],
    investor_class: InvestorClass,
    jurisdiction: Jurisdiction,
    islamic: bool,
    cents: int,
) -> None:
    amount = Money(Decimal(cents) / 100, HOME_CURRENCY.get(jurisdiction, Currency.USD))
    request = AnonymousProfile(jurisdiction, investor_class, amount, answers=answers, islamic_account=islamic)
    proposal = propose_anonymous(request, CATALOGUE, PRICES, NOW, proposal_id="prp_property01")
    level = proposal.profile.risk_level
    assert RiskLevel.C1 <= level <= RiskLevel.C5
    assert sum(h.weight for h in proposal.holdings) == Decimal("1.0000")
    assert sum(h.target_value.amount for h in proposal.holdings) == amount.amount
    for holding in proposal.holdings:
        if holding.instrument_id is None:
            continue
        instrument = CATALOGUE.get(holding.instrument_id)
        assert instrument.risk <= level
        assert instrument.shariah_compliant or not islamic
        assert holding.suitability is not None
        # Suitable outright, except the EU fund KID that every EU retail fund purchase acknowledges.
        if holding.suitability.decision is not Decision.SUITABLE:
            assert holding.suitability.decision is Decision.REQUIRES_ACKNOWLEDGEMENT
            assert (jurisdiction, investor_class) == (Jurisdiction.EU, ORDINARY)
            assert [d.code for d in holding.suitability.required_acknowledgements] == ["eu_fund_kid"]
    invested = proposal.idle_cash.excess.amount if proposal.idle_cash else Decimal(0)
    cash_weight = build_model(CATALOGUE, level, proposal.profile.market, shariah=islamic).weight(
        AssetClass.CASH
    )
    assert invested == (amount.amount * (1 - cash_weight)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def test_default_policy_values() -> None:
    assert RebalancePolicy() == RebalancePolicy(Decimal("0.05"), Decimal("0.25"), Decimal("0.05"))
    with pytest.raises(InvalidProposalError) as caught:
        RebalancePolicy(absolute_drift=Decimal("1.5"))
    assert caught.value.context["field"] == "policy.absolute_drift"


def test_the_proposal_rulebook_names_every_rule() -> None:
    assert list(RULES) == [f"PR-{n:02d}" for n in range(1, 12)]
