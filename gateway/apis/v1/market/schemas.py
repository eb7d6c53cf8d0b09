"""Wire format of the instrument catalogue (v1)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import msgspec

from gateway.domain.market.models import Instrument, InstrumentType, Market
from gateway.domain.money import Currency

RiskLabel = Literal["R1", "R2", "R3", "R4", "R5"]


class FundTermsOut(msgspec.Struct, frozen=True, kw_only=True):
    fund_code: str
    category: str
    money_market: bool
    minimum_subscription: str
    cut_off: str
    time_zone: str
    management_fee_rate: str


class InstrumentOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["instrument"] = "instrument"
    symbol: str
    name: str
    market: Market
    type: InstrumentType
    currency: Currency
    risk: RiskLabel
    complex_product: bool
    shariah_compliant: bool
    esg_score: int | None
    lot_size: int
    reference_price: str
    fund: FundTermsOut | None

    @classmethod
    def of(cls, instrument: Instrument) -> InstrumentOut:
        fund = instrument.fund
        return cls(
            id=instrument.id,
            symbol=instrument.symbol,
            name=instrument.name,
            market=instrument.market,
            type=instrument.instrument_type,
            currency=instrument.currency,
            risk=f"R{instrument.risk}",  # type: ignore[arg-type]
            complex_product=instrument.complex_product,
            shariah_compliant=instrument.shariah_compliant,
            esg_score=instrument.esg_score,
            lot_size=instrument.lot_size,
            reference_price=str(instrument.reference_price),
            fund=None
            if fund is None
            else FundTermsOut(
                fund_code=fund.fund_code,
                category=fund.category,
                money_market=fund.money_market,
                minimum_subscription=str(fund.minimum_subscription),
                cut_off=fund.cut_off,
                time_zone=fund.time_zone,
                management_fee_rate=str(fund.management_fee_rate),
            ),
        )


class InstrumentPage(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["list"] = "list"
    data: list[InstrumentOut]
    has_more: bool
    next_cursor: str | None


class QuoteOut(msgspec.Struct, frozen=True, kw_only=True):
    instrument_id: str
    price: str  # the reference price; a fund's latest published NAV
    currency: Currency
    as_of: datetime
    market_open: bool
    next_open: datetime


class NavPoint(msgspec.Struct, frozen=True, kw_only=True):
    dealing_day: date
    nav: str


class NavHistoryOut(msgspec.Struct, frozen=True, kw_only=True):
    instrument_id: str
    currency: Currency
    data: list[NavPoint]
