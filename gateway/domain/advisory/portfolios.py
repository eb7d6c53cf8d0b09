"""Model portfolios: one target allocation per risk level C1..C5, from the catalogue's funds and ETFs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from gateway.domain.advisory.errors import InvalidProposalError
from gateway.domain.compliance.suitability import Jurisdiction, ProductRisk, RiskLevel
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Instrument, InstrumentType, Market
from gateway.domain.money import Currency

MODEL_VERSION: Final = "MP-2026-11"
WEIGHT_STEP: Final = Decimal("0.0001")  # weights are published with 4 decimals
_ONE: Final = Decimal(1)
_ZERO: Final = Decimal(0)

# The model rulebook; a change here is a new MODEL_VERSION.
RULES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "MP-01": "Strategic weights per level and asset class are STRATEGIC_WEIGHTS; each level sums to 1.",
        "MP-02": (
            "A model holds the funds and ETFs of one home market, in its currency: CN customers get CN "
            "products, HK customers HK products, US and EU customers US products (the catalogue has no EU "
            "market; EU clients invest through their US sub-account)."
        ),
        "MP-03": (
            "A fund's asset class is its category. A non-complex ETF rated R1-R2 is a bond ETF (ETFs carry "
            "no category, and only treasury and bond trackers rate that low); any other non-complex ETF "
            "is an index ETF. Stocks and complex products (leveraged, inverse) have no class and are "
            "never in a model."
        ),
        "MP-04": (
            "Each class holds one product: of the home market's products of the class at or below the "
            "level (and Shariah-compliant in the Shariah variant), the first by funds before ETFs, lower "
            "product risk, lower management fee, then instrument id."
        ),
        "MP-05": (
            "A class with no eligible product passes its weight to the next more conservative class "
            "(equity, index, balanced, bond, money market, cash), never to a riskier one. Cash is "
            "uninvested and always available."
        ),
        "MP-06": (
            "Every product of a model is at or below the model's level, so the model is suitable for an "
            "ordinary investor of that level (SUIT-02); weights have 4 decimals and sum to exactly 1."
        ),
    }
)


class AssetClass(StrEnum):
    CASH = "cash"
    MONEY_MARKET = "money_market"
    BOND = "bond"
    BALANCED = "balanced"
    INDEX = "index"
    EQUITY = "equity"


# Safest first; MP-05 walks it backwards to find where an unfillable class's weight goes.
ASSET_CLASS_ORDER: Final = (
    AssetClass.CASH,
    AssetClass.MONEY_MARKET,
    AssetClass.BOND,
    AssetClass.BALANCED,
    AssetClass.INDEX,
    AssetClass.EQUITY,
)

# Why a class is in a portfolio, in one sentence: the explanation each proposed holding carries.
ROLES: Final[Mapping[AssetClass, str]] = MappingProxyType(
    {
        AssetClass.CASH: "Uninvested cash keeps the part of the portfolio that no eligible product can hold.",
        AssetClass.MONEY_MARKET: "A money-market fund keeps a liquid reserve with almost no price risk.",
        AssetClass.BOND: "Bonds bring steady income and soften the falls of the riskier holdings.",
        AssetClass.BALANCED: "A balanced fund mixes stocks and bonds for moderate growth with less swing.",
        AssetClass.INDEX: "An index product gives broad, low-cost exposure to a whole stock market.",
        AssetClass.EQUITY: "An actively managed equity fund seeks long-term growth, with larger swings.",
    }
)


def _weights(**weights: str) -> Mapping[AssetClass, Decimal]:
    return MappingProxyType({AssetClass(name): Decimal(value) for name, value in weights.items()})


# MP-01: the allocation of each level before MP-04/MP-05 meet the catalogue.
STRATEGIC_WEIGHTS: Final[Mapping[RiskLevel, Mapping[AssetClass, Decimal]]] = MappingProxyType(
    {
        RiskLevel.C1: _weights(money_market="1.00"),
        RiskLevel.C2: _weights(money_market="0.30", bond="0.70"),
        RiskLevel.C3: _weights(money_market="0.10", bond="0.40", balanced="0.25", index="0.25"),
        RiskLevel.C4: _weights(
            money_market="0.05", bond="0.25", balanced="0.20", index="0.30", equity="0.20"
        ),
        RiskLevel.C5: _weights(
            money_market="0.05", bond="0.10", balanced="0.10", index="0.35", equity="0.40"
        ),
    }
)

# MP-02.
HOME_MARKETS: Final[Mapping[Jurisdiction, Market]] = MappingProxyType(
    {
        Jurisdiction.CN: Market.CN,
        Jurisdiction.HK: Market.HK,
        Jurisdiction.US: Market.US,
        Jurisdiction.EU: Market.US,
    }
)
MARKET_CURRENCY: Final[Mapping[Market, Currency]] = MappingProxyType(
    {Market.CN: Currency.CNY, Market.HK: Currency.HKD, Market.US: Currency.USD}
)


def home_market(jurisdiction: Jurisdiction) -> Market:
    """Rule MP-02: the market whose products a customer of this jurisdiction is advised on."""
    return HOME_MARKETS[jurisdiction]


def asset_class_of(instrument: Instrument) -> AssetClass | None:
    """Rule MP-03: the asset class a product fills, or None for stocks and complex products."""
    if instrument.fund is not None:
        return AssetClass(instrument.fund.category)
    if instrument.instrument_type is InstrumentType.ETF and not instrument.complex_product:
        return AssetClass.BOND if instrument.risk <= ProductRisk.R2 else AssetClass.INDEX
    return None


@dataclass(frozen=True, slots=True)
class ModelHolding:
    """One asset class of a model and the product that fills it (none for cash)."""

    asset_class: AssetClass
    instrument_id: str | None
    name: str
    weight: Decimal
    product_risk: ProductRisk | None  # None for cash, which is not a product


@dataclass(frozen=True, slots=True)
class ModelPortfolio:
    id: str  # "mdl_cn_c3", "mdl_us_c4_shariah"
    version: str
    risk_level: RiskLevel
    market: Market
    currency: Currency
    shariah: bool
    holdings: tuple[ModelHolding, ...]  # in ASSET_CLASS_ORDER
    catalogue_version: str | None
    notes: tuple[str, ...]  # each MP-05 fallback taken, in words

    def __post_init__(self) -> None:
        classes = [holding.asset_class for holding in self.holdings]
        if not classes or len(set(classes)) != len(classes):
            raise InvalidProposalError("a model holds each asset class at most once", field="model.holdings")
        for holding in self.holdings:
            if holding.weight <= 0 or holding.weight != holding.weight.quantize(WEIGHT_STEP):
                raise InvalidProposalError(
                    "a model weight is positive with 4 decimals",
                    field="model.holdings",
                    asset_class=holding.asset_class.value,
                )
            if (holding.asset_class is AssetClass.CASH) != (holding.instrument_id is None):
                raise InvalidProposalError(
                    "cash has no instrument and every other class has one",
                    field="model.holdings",
                    asset_class=holding.asset_class.value,
                )
            if holding.product_risk is not None and holding.product_risk > self.risk_level:
                raise InvalidProposalError(
                    f"a {self.risk_level.name} model holds products up to R{int(self.risk_level)} (MP-06)",
                    field="model.holdings",
                    instrument_id=holding.instrument_id,
                )
        if sum(holding.weight for holding in self.holdings) != _ONE:
            raise InvalidProposalError("model weights sum to exactly 1", field="model.holdings")

    def holding(self, asset_class: AssetClass) -> ModelHolding | None:
        return next((holding for holding in self.holdings if holding.asset_class is asset_class), None)

    def weight(self, asset_class: AssetClass) -> Decimal:
        holding = self.holding(asset_class)
        return _ZERO if holding is None else holding.weight

    def to_document(self) -> dict[str, object]:
        return {
            "id": self.id,
            "version": self.version,
            "risk_level": self.risk_level.name,
            "market": self.market.value,
            "currency": self.currency.value,
            "shariah": self.shariah,
            "catalogue_version": self.catalogue_version,
            "holdings": [
                {
                    "asset_class": holding.asset_class.value,
                    "instrument_id": holding.instrument_id,
                    "name": holding.name,
                    "weight": str(holding.weight),
                    "product_risk": None if holding.product_risk is None else holding.product_risk.name,
                    "role": ROLES[holding.asset_class],
                }
                for holding in self.holdings
            ],
            "notes": list(self.notes),
        }


def model_id(risk_level: RiskLevel, market: Market, *, shariah: bool) -> str:
    suffix = "_shariah" if shariah else ""
    return f"mdl_{market.value.lower()}_{risk_level.name.lower()}{suffix}"


def build_model(
    catalogue: Catalogue, risk_level: RiskLevel, market: Market, *, shariah: bool = False
) -> ModelPortfolio:
    """The model of one level for one home market (rules MP-01 to MP-06)."""
    strategic = STRATEGIC_WEIGHTS[risk_level]
    weights: dict[AssetClass, Decimal] = {}
    chosen: dict[AssetClass, Instrument] = {}
    notes: list[str] = []
    # MP-05. In the Shariah variant cash stands in for the money market: the catalogue has no
    # Shariah-compliant money-market or bond product, and a conventional money-market fund pays interest.
    carried = _ZERO
    unfilled: list[AssetClass] = []  # classes of the strategic allocation whose weight is being carried
    for asset_class in reversed(ASSET_CLASS_ORDER):  # riskiest first, so weight only ever moves down
        own = strategic.get(asset_class, _ZERO)
        weight = own + carried
        if weight == 0:
            continue
        instrument = None
        if asset_class is not AssetClass.CASH:
            instrument = _pick(catalogue, asset_class, risk_level, market, shariah=shariah)
            if instrument is None:
                if own > 0:
                    unfilled.append(asset_class)
                carried = weight
                continue
            chosen[asset_class] = instrument
        weights[asset_class] = weight
        kind = "Shariah-compliant " if shariah else ""
        notes.extend(
            f"No {kind}{origin.value} product of the {market.value} market at or below R{int(risk_level)}: "
            f"its {strategic[origin]:.0%} goes to {asset_class.value} (MP-05)."
            for origin in unfilled
        )
        carried, unfilled = _ZERO, []
    holdings = tuple(
        ModelHolding(
            asset_class=asset_class,
            instrument_id=chosen[asset_class].id if asset_class in chosen else None,
            name=chosen[asset_class].name if asset_class in chosen else "Cash",
            weight=weights[asset_class].quantize(WEIGHT_STEP),
            product_risk=ProductRisk(chosen[asset_class].risk) if asset_class in chosen else None,
        )
        for asset_class in ASSET_CLASS_ORDER
        if asset_class in weights
    )
    return ModelPortfolio(
        id=model_id(risk_level, market, shariah=shariah),
        version=MODEL_VERSION,
        risk_level=risk_level,
        market=market,
        currency=MARKET_CURRENCY[market],
        shariah=shariah,
        holdings=holdings,
        catalogue_version=catalogue.version,
        notes=tuple(notes),
    )


def model_portfolios(
    catalogue: Catalogue, market: Market, *, shariah: bool = False
) -> tuple[ModelPortfolio, ...]:
    """The five models C1..C5 of one home market, as published to partners."""
    return tuple(build_model(catalogue, level, market, shariah=shariah) for level in RiskLevel)


def _pick(
    catalogue: Catalogue, asset_class: AssetClass, risk_level: RiskLevel, market: Market, *, shariah: bool
) -> Instrument | None:
    candidates = [
        instrument
        for instrument in catalogue
        if instrument.market is market
        and asset_class_of(instrument) is asset_class
        and instrument.risk <= risk_level
        and (instrument.shariah_compliant or not shariah)
    ]
    return min(candidates, key=_preference, default=None)


def _preference(instrument: Instrument) -> tuple[bool, int, Decimal, str]:
    # MP-04: funds first, then lower risk, lower fee, and the id to break any remaining tie.
    fee = _ZERO if instrument.fund is None else instrument.fund.management_fee_rate
    return (instrument.fund is None, instrument.risk, fee, instrument.id)
