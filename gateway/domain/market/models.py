"""The tradable instruments: stocks, ETFs and funds with their product risk and fund terms."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from gateway.domain.money import Currency


class Market(StrEnum):
    CN = "CN"
    HK = "HK"
    US = "US"


class InstrumentType(StrEnum):
    STOCK = "stock"
    ETF = "etf"
    FUND = "fund"


@dataclass(frozen=True, slots=True)
class FundTerms:
    """How a fund is subscribed: minimum amount, NAV cut-off in its market's time zone, fees."""

    fund_code: str  # "F000001": the id partners use for funds (DOMAIN.md, points conversions)
    category: str  # "money_market", "bond", "balanced", "equity", "index"
    money_market: bool
    minimum_subscription: Decimal  # 1.00 for money-market funds, 10.00 otherwise (DOMAIN.md)
    cut_off: str  # "15:00", local time in `time_zone`
    time_zone: str  # IANA name of the fund's market time zone
    management_fee_rate: Decimal  # yearly, as a fraction: Decimal("0.0150") is 1.5 %


@dataclass(frozen=True, slots=True)
class Instrument:
    """One product of the catalogue; issuers are synthetic, symbols only look like the venue's."""

    id: str  # "ins_" + 10 base32 characters, stable in the shipped data file
    symbol: str  # venue format: CN 6 digits, HK 4 digits zero-padded, US 1-5 capital letters
    name: str
    market: Market
    instrument_type: InstrumentType
    currency: Currency
    risk: int  # product risk R1..R5, compared with the customer's C1..C5 by suitability
    complex_product: bool  # leveraged and inverse ETFs (EU retail rules, DOMAIN.md)
    shariah_compliant: bool  # Islamic accounts may only hold these
    esg_score: int | None  # 0..100, None when not rated
    lot_size: int  # smallest tradable quantity step; 1 for funds (bought by amount)
    reference_price: Decimal  # last reference price, or NAV for funds
    fund: FundTerms | None  # present exactly for funds
