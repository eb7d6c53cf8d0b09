"""The instrument catalogue: the shipped reference data, filters and keyset pagination on the id."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Annotated, Final, Literal

import msgspec

from gateway.domain.errors import NotFoundError, RuleViolationError
from gateway.domain.market.models import FundTerms, Instrument, InstrumentType, Market
from gateway.domain.money import Currency
from gateway.domain.paging import Page

DEFAULT_DATA_FILE: Final = Path(__file__).with_name("data") / "instruments.json"
DEFAULT_PAGE_LIMIT: Final = 20
MAX_PAGE_LIMIT: Final = 100
MIN_RISK: Final = 1
MAX_RISK: Final = 5


@dataclass(frozen=True, slots=True)
class CatalogueQuery:
    """Filters and the keyset position of one page; `after` is the decoded cursor."""

    market: Market | None = None
    instrument_type: InstrumentType | None = None
    max_risk: int | None = None
    shariah_only: bool = False
    after: str | None = None
    limit: int = DEFAULT_PAGE_LIMIT


class Catalogue:
    """Immutable, sorted by id; built once at startup."""

    __slots__ = ("_by_fund_code", "_by_id", "_ids", "_items", "_version")

    def __init__(self, instruments: Iterable[Instrument], *, version: str | None = None) -> None:
        items = tuple(sorted(instruments, key=lambda instrument: instrument.id))
        _validate(items)
        self._items = items
        self._ids = [instrument.id for instrument in items]
        self._by_id = {instrument.id: instrument for instrument in items}
        self._by_fund_code = {
            instrument.fund.fund_code: instrument for instrument in items if instrument.fund is not None
        }
        self._version = version

    @classmethod
    def from_file(cls, path: Path | None = None) -> Catalogue:
        """Load a data file (by default the shipped one); money is read from strings, never floats."""
        source = DEFAULT_DATA_FILE if path is None else path
        try:
            data = _DATA_FILE_DECODER.decode(source.read_bytes())
        except msgspec.DecodeError as exc:
            raise ValueError(f"{source}: {exc}") from exc
        return cls((record.to_domain() for record in data.instruments), version=data.version)

    @property
    def version(self) -> str | None:
        return self._version

    def get(self, instrument_id: str) -> Instrument:
        try:
            return self._by_id[instrument_id]
        except KeyError:
            raise NotFoundError("instrument not found", instrument_id=instrument_id) from None

    def get_fund(self, fund_code: str) -> Instrument:
        """Find a fund by its fund code ("F000001"), the id consents and conversions use."""
        try:
            return self._by_fund_code[fund_code]
        except KeyError:
            raise NotFoundError("fund not found", fund_code=fund_code) from None

    def page(self, query: CatalogueQuery) -> Page[Instrument]:
        """Up to `limit` matching instruments in id order."""
        _check_query(query)
        # Keyset on the id: a page starts strictly after the last id seen, so instruments added or
        # removed elsewhere never shift, repeat or skip the items of later pages.
        start = 0 if query.after is None else bisect_right(self._ids, query.after)
        matches = (
            instrument for instrument in islice(self._items, start, None) if _matches(instrument, query)
        )
        return Page.of(tuple(islice(matches, query.limit + 1)), query.limit)

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._items)

    def __contains__(self, instrument_id: object) -> bool:
        return instrument_id in self._by_id

    def __len__(self) -> int:
        return len(self._items)


def _check_query(query: CatalogueQuery) -> None:
    if not 1 <= query.limit <= MAX_PAGE_LIMIT:
        raise RuleViolationError(
            f"limit must be between 1 and {MAX_PAGE_LIMIT}",
            field="limit",
            minimum=1,
            maximum=MAX_PAGE_LIMIT,
            value=query.limit,
        )
    if query.max_risk is not None and not MIN_RISK <= query.max_risk <= MAX_RISK:
        raise RuleViolationError(
            f"max_risk must be between {MIN_RISK} and {MAX_RISK}",
            field="max_risk",
            minimum=MIN_RISK,
            maximum=MAX_RISK,
            value=query.max_risk,
        )


def _matches(instrument: Instrument, query: CatalogueQuery) -> bool:
    return (
        (query.market is None or instrument.market is query.market)
        and (query.instrument_type is None or instrument.instrument_type is query.instrument_type)
        and (query.max_risk is None or instrument.risk <= query.max_risk)
        and (not query.shariah_only or instrument.shariah_compliant)
    )


def _validate(items: tuple[Instrument, ...]) -> None:
    seen_ids: set[str] = set()
    seen_symbols: set[tuple[Market, str]] = set()
    seen_fund_codes: set[str] = set()
    for instrument in items:
        problem = _problem(instrument)
        if problem is None and instrument.id in seen_ids:
            problem = "duplicate id"
        if problem is None and (instrument.market, instrument.symbol) in seen_symbols:
            problem = f"duplicate symbol {instrument.symbol} in market {instrument.market}"
        if problem is None and instrument.fund is not None and instrument.fund.fund_code in seen_fund_codes:
            problem = f"duplicate fund code {instrument.fund.fund_code}"
        if problem is not None:
            raise ValueError(f"instrument {instrument.id} ({instrument.symbol}): {problem}")
        seen_ids.add(instrument.id)
        seen_symbols.add((instrument.market, instrument.symbol))
        if instrument.fund is not None:
            seen_fund_codes.add(instrument.fund.fund_code)


def _problem(instrument: Instrument) -> str | None:
    is_fund = instrument.instrument_type is InstrumentType.FUND
    if is_fund and instrument.fund is None:
        return "a fund needs fund terms"
    if not is_fund and instrument.fund is not None:
        return f"a {instrument.instrument_type} has no fund terms"
    if not MIN_RISK <= instrument.risk <= MAX_RISK:
        return f"risk {instrument.risk} is outside R{MIN_RISK}..R{MAX_RISK}"
    if not (instrument.reference_price.is_finite() and instrument.reference_price > 0):
        return f"reference price {instrument.reference_price} is not positive"
    if instrument.lot_size < 1:
        return f"lot size {instrument.lot_size} is not positive"
    if instrument.esg_score is not None and not 0 <= instrument.esg_score <= 100:
        return f"ESG score {instrument.esg_score} is outside 0..100"
    return None


# Money and rates are JSON strings with 2-4 decimals, so no value ever passes through a float.
_DecimalString = Annotated[str, msgspec.Meta(pattern=r"^(0|[1-9][0-9]*)\.[0-9]{2,4}$")]


class _FundTermsRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    fund_code: Annotated[str, msgspec.Meta(pattern=r"^F[0-9]{6}$")]
    category: Literal["money_market", "bond", "balanced", "equity", "index"]
    money_market: bool
    minimum_subscription: _DecimalString
    cut_off: Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    time_zone: str
    management_fee_rate: _DecimalString

    def to_domain(self) -> FundTerms:
        return FundTerms(
            fund_code=self.fund_code,
            category=self.category,
            money_market=self.money_market,
            minimum_subscription=Decimal(self.minimum_subscription),
            cut_off=self.cut_off,
            time_zone=self.time_zone,
            management_fee_rate=Decimal(self.management_fee_rate),
        )


class _InstrumentRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: Annotated[str, msgspec.Meta(pattern=r"^ins_[a-z0-9]{10}$")]
    symbol: str
    name: Annotated[str, msgspec.Meta(min_length=1)]
    market: Market
    instrument_type: InstrumentType
    currency: Currency
    risk: int
    complex_product: bool
    shariah_compliant: bool
    esg_score: int | None
    lot_size: int
    reference_price: _DecimalString
    fund: _FundTermsRecord | None

    def to_domain(self) -> Instrument:
        return Instrument(
            id=self.id,
            symbol=self.symbol,
            name=self.name,
            market=self.market,
            instrument_type=self.instrument_type,
            currency=self.currency,
            risk=self.risk,
            complex_product=self.complex_product,
            shariah_compliant=self.shariah_compliant,
            esg_score=self.esg_score,
            lot_size=self.lot_size,
            reference_price=Decimal(self.reference_price),
            fund=None if self.fund is None else self.fund.to_domain(),
        )


class _DataFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: str
    instruments: list[_InstrumentRecord]


_DATA_FILE_DECODER: Final = msgspec.json.Decoder(_DataFile)
