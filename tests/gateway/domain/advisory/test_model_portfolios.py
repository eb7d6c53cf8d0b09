from __future__ import annotations

import itertools
import json
from dataclasses import replace
from decimal import Decimal

import pytest

from gateway.domain.advisory.errors import InvalidProposalError
from gateway.domain.advisory.portfolios import (
    ASSET_CLASS_ORDER,
    MARKET_CURRENCY,
    MODEL_VERSION,
    ROLES,
    RULES,
    STRATEGIC_WEIGHTS,
    AssetClass,
    ModelHolding,
    asset_class_of,
    build_model,
    home_market,
    model_portfolios,
)
from gateway.domain.advisory.proposing import product_facts
from gateway.domain.compliance.suitability import (
    CustomerFacts,
    Decision,
    InvestorClass,
    Jurisdiction,
    ProductRisk,
    RiskLevel,
    SaleContext,
    assess_suitability,
)
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import InstrumentType, Market

CATALOGUE = Catalogue.from_file()
VARIANTS = list(itertools.product(Market, RiskLevel, (False, True)))


def _ids(model_holdings: tuple[ModelHolding, ...]) -> dict[AssetClass, tuple[str | None, str]]:
    return {h.asset_class: (h.instrument_id, str(h.weight)) for h in model_holdings}


def test_strategic_weights_sum_to_one_for_every_level() -> None:
    for level in RiskLevel:
        assert sum(STRATEGIC_WEIGHTS[level].values()) == Decimal(1)


@pytest.mark.parametrize(("market", "level", "shariah"), VARIANTS)
def test_every_model_is_whole_and_within_its_level(market: Market, level: RiskLevel, shariah: bool) -> None:
    model = build_model(CATALOGUE, level, market, shariah=shariah)
    assert sum(h.weight for h in model.holdings) == Decimal("1.0000")
    assert all(h.weight == h.weight.quantize(Decimal("0.0001")) and h.weight > 0 for h in model.holdings)
    assert [h.asset_class for h in model.holdings] == [c for c in ASSET_CLASS_ORDER if model.holding(c)]
    assert model.currency is MARKET_CURRENCY[market]
    assert model.version == MODEL_VERSION
    for holding in model.holdings:
        if holding.instrument_id is None:
            assert holding.asset_class is AssetClass.CASH
            continue
        instrument = CATALOGUE.get(holding.instrument_id)
        assert instrument.risk <= level
        assert holding.product_risk == ProductRisk(instrument.risk)
        assert instrument.market is market
        assert instrument.instrument_type in {InstrumentType.FUND, InstrumentType.ETF}
        assert not instrument.complex_product
        assert asset_class_of(instrument) is holding.asset_class
        if shariah:
            assert instrument.shariah_compliant


@pytest.mark.parametrize(("market", "level", "shariah"), VARIANTS)
def test_every_model_is_suitable_for_an_ordinary_investor_of_its_level(
    market: Market, level: RiskLevel, shariah: bool
) -> None:
    model = build_model(CATALOGUE, level, market, shariah=shariah)
    customer = CustomerFacts(
        level, InvestorClass.ORDINARY, Jurisdiction(market.value), islamic_account=shariah
    )
    for holding in model.holdings:
        if holding.instrument_id is None:
            continue
        facts = product_facts(CATALOGUE.get(holding.instrument_id))
        assessment = assess_suitability(customer, facts, context=SaleContext.ADVISED)
        assert assessment.decision is Decision.SUITABLE, (holding, assessment.reasons)


def test_the_cn_models_pinned() -> None:
    # Written out by hand from the catalogue and rules MP-01..MP-05.
    mmf, short_bond, balanced, index, equity = (
        "ins_ssgwntu23g",  # R1 money market
        "ins_yr6tsdtuwu",  # R2 bond, fee 0.45 % (the other CN bond fund charges 0.60 %)
        "ins_4oesudybjk",  # R3 balanced
        "ins_ritkw3n7ax",  # R3 index fund, preferred to the R3 ETFs (MP-04: funds first)
        "ins_azuddb3yty",  # R4 equity
    )
    models = model_portfolios(CATALOGUE, Market.CN)
    assert [m.id for m in models] == ["mdl_cn_c1", "mdl_cn_c2", "mdl_cn_c3", "mdl_cn_c4", "mdl_cn_c5"]
    assert _ids(models[0].holdings) == {AssetClass.MONEY_MARKET: (mmf, "1.0000")}
    assert _ids(models[1].holdings) == {
        AssetClass.MONEY_MARKET: (mmf, "0.3000"),
        AssetClass.BOND: (short_bond, "0.7000"),
    }
    assert _ids(models[2].holdings) == {
        AssetClass.MONEY_MARKET: (mmf, "0.1000"),
        AssetClass.BOND: (short_bond, "0.4000"),
        AssetClass.BALANCED: (balanced, "0.2500"),
        AssetClass.INDEX: (index, "0.2500"),
    }
    assert _ids(models[4].holdings) == {
        AssetClass.MONEY_MARKET: (mmf, "0.0500"),
        AssetClass.BOND: (short_bond, "0.1000"),
        AssetClass.BALANCED: (balanced, "0.1000"),
        AssetClass.INDEX: (index, "0.3500"),
        AssetClass.EQUITY: (equity, "0.4000"),
    }
    assert all(m.notes == () for m in models)


def test_hk_has_no_balanced_fund_so_its_weight_goes_to_bonds() -> None:
    model = build_model(CATALOGUE, RiskLevel.C3, Market.HK)
    assert _ids(model.holdings) == {
        AssetClass.MONEY_MARKET: ("ins_3nu2kuiplv", "0.1000"),
        AssetClass.BOND: ("ins_fmz5zplx7x", "0.6500"),
        AssetClass.INDEX: ("ins_hf5r4f77bt", "0.2500"),  # the R3 tracker, not the R4 technology ETF
    }
    assert model.notes == (
        "No balanced product of the HK market at or below R3: its 25% goes to bond (MP-05).",
    )


def test_the_us_bond_fund_is_preferred_to_the_treasury_etf() -> None:
    model = build_model(CATALOGUE, RiskLevel.C2, Market.US)
    assert model.holding(AssetClass.BOND) == ModelHolding(
        AssetClass.BOND, "ins_bcflanerq2", "Keystone Core Bond Fund", Decimal("0.7000"), ProductRisk.R2
    )


def test_shariah_models_fall_back_to_cash() -> None:
    us_c4 = build_model(CATALOGUE, RiskLevel.C4, Market.US, shariah=True)
    assert us_c4.id == "mdl_us_c4_shariah"
    assert _ids(us_c4.holdings) == {
        AssetClass.CASH: (None, "0.5000"),  # 5 % money market + 25 % bond + 20 % balanced
        AssetClass.INDEX: ("ins_qpkotzgj3l", "0.3000"),
        AssetClass.EQUITY: ("ins_rp2vl36jtt", "0.2000"),
    }
    assert len(us_c4.notes) == 3
    hk_c5 = build_model(CATALOGUE, RiskLevel.C5, Market.HK, shariah=True)
    assert _ids(hk_c5.holdings) == {
        AssetClass.CASH: (None, "0.6000"),
        AssetClass.EQUITY: ("ins_akbiiewdcl", "0.4000"),
    }
    # No Shariah-compliant fund or ETF at all in CN, and none at R1-R2 anywhere: all cash.
    for market, level in [(Market.CN, RiskLevel.C5), (Market.US, RiskLevel.C1), (Market.HK, RiskLevel.C2)]:
        model = build_model(CATALOGUE, level, market, shariah=True)
        assert _ids(model.holdings) == {AssetClass.CASH: (None, "1.0000")}


def test_conventional_models_never_hold_cash() -> None:
    for market, level in itertools.product(Market, RiskLevel):
        assert build_model(CATALOGUE, level, market).holding(AssetClass.CASH) is None


def test_home_market_rule() -> None:
    assert home_market(Jurisdiction.CN) is Market.CN
    assert home_market(Jurisdiction.HK) is Market.HK
    assert home_market(Jurisdiction.US) is Market.US
    assert home_market(Jurisdiction.EU) is Market.US  # no EU market in the catalogue


@pytest.mark.parametrize(
    ("instrument_id", "asset_class"),
    [
        ("ins_ssgwntu23g", AssetClass.MONEY_MARKET),
        ("ins_lq72t5v5r5", AssetClass.BOND),
        ("ins_4oesudybjk", AssetClass.BALANCED),
        ("ins_ritkw3n7ax", AssetClass.INDEX),
        ("ins_azuddb3yty", AssetClass.EQUITY),
        ("ins_6u6ugqoqlb", AssetClass.BOND),  # R2 treasury ladder ETF
        ("ins_qh3ueqvvpt", AssetClass.INDEX),  # R3 broad market ETF
        ("ins_jmgzpkfrde", AssetClass.INDEX),  # R4 sector ETF
        ("ins_6oy7ygx4ez", None),  # 2x leveraged ETF: complex
        ("ins_jkirpwgzyb", None),  # inverse ETF: complex
        ("ins_br6lly2jbc", None),  # stock
    ],
)
def test_asset_class_of(instrument_id: str, asset_class: AssetClass | None) -> None:
    assert asset_class_of(CATALOGUE.get(instrument_id)) is asset_class


def test_every_class_has_a_role_sentence() -> None:
    for asset_class in AssetClass:
        role = ROLES[asset_class]
        assert role.endswith(".")
        assert role.count(".") == 1


def test_models_are_deterministic_and_independent_of_catalogue_order() -> None:
    shuffled = Catalogue(reversed(list(CATALOGUE)), version=CATALOGUE.version)
    for market, level, shariah in VARIANTS:
        assert build_model(CATALOGUE, level, market, shariah=shariah) == build_model(
            shuffled, level, market, shariah=shariah
        )


def test_a_missing_product_falls_to_the_next_more_conservative_class() -> None:
    without_equity = Catalogue(
        (i for i in CATALOGUE if i.id != "ins_azuddb3yty"), version=CATALOGUE.version
    )  # the only CN equity fund
    model = build_model(without_equity, RiskLevel.C5, Market.CN)
    assert model.weight(AssetClass.EQUITY) == 0
    assert model.weight(AssetClass.INDEX) == Decimal("0.7500")
    assert sum(h.weight for h in model.holdings) == 1


def test_model_document_is_json_ready() -> None:
    document = build_model(CATALOGUE, RiskLevel.C4, Market.HK).to_document()
    assert json.loads(json.dumps(document)) == document
    assert document["risk_level"] == "C4"
    holdings = document["holdings"]
    assert isinstance(holdings, list)
    assert [h["role"] for h in holdings] == [ROLES[AssetClass(h["asset_class"])] for h in holdings]


def test_an_impossible_model_is_refused() -> None:
    model = build_model(CATALOGUE, RiskLevel.C2, Market.CN)
    short = (replace(model.holdings[0], weight=Decimal("0.2000")), model.holdings[1])
    with pytest.raises(InvalidProposalError, match="sum"):
        replace(model, holdings=short)
    with pytest.raises(InvalidProposalError, match="R1"):
        replace(model, risk_level=RiskLevel.C1)  # holds an R2 bond fund
    with pytest.raises(InvalidProposalError, match="4 decimals"):
        replace(model, holdings=(replace(model.holdings[0], weight=Decimal("0.30001")), model.holdings[1]))
    with pytest.raises(InvalidProposalError, match="cash"):
        replace(model, holdings=(replace(model.holdings[0], instrument_id=None), model.holdings[1]))
    with pytest.raises(InvalidProposalError, match="once"):
        replace(model, holdings=())


def test_the_model_rulebook_names_every_rule() -> None:
    assert list(RULES) == [f"MP-0{n}" for n in range(1, 7)]
