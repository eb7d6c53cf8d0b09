"""The catalogue: instruments and funds across CN, HK and US, cursor-paginated."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Annotated, Final

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter

from gateway.apis.params import CURSOR_RULE, Cursor, Limit
from gateway.apis.schemas import Rule, problems
from gateway.apis.v1.market.schemas import InstrumentOut, InstrumentPage, NavHistoryOut, NavPoint, QuoteOut
from gateway.domain.clock import Clock
from gateway.domain.errors import NotFoundError, RuleViolationError
from gateway.domain.market import calendar as market_calendar
from gateway.domain.market.catalogue import Catalogue, CatalogueQuery
from gateway.domain.market.models import Instrument, InstrumentType, Market
from gateway.domain.market.ports import PriceSource
from gateway.domain.paging import decode_cursor
from gateway.domain.scopes import Scope
from gateway.edge.access import requires

MaxRisk = Annotated[int | None, QueryParameter(name="max_risk", required=False, ge=1, le=5)]
ShariahOnly = Annotated[bool, QueryParameter(name="shariah_only")]
MarketFilter = Annotated[Market | None, QueryParameter(name="market", required=False)]


MAX_NAV_DAYS: Final = 366
_VIEWS: dict[str, tuple[Instrument, InstrumentOut]] = {}


def _view(instrument: Instrument) -> InstrumentOut:
    """Views of immutable instruments are built once; a changed instrument object gets a new one."""
    cached = _VIEWS.get(instrument.id)
    if cached is None or cached[0] is not instrument:
        cached = (instrument, InstrumentOut.of(instrument))
        _VIEWS[instrument.id] = cached
    return cached[1]


def _page(catalogue: Catalogue, query: CatalogueQuery, cursor: str) -> InstrumentPage:
    page = catalogue.page(replace(query, after=decode_cursor(cursor) if cursor else None))
    return InstrumentPage(
        data=[_view(item) for item in page.items],
        has_more=page.has_more,
        next_cursor=page.next_cursor,
    )


class MarketController(Controller):
    path = "/v1"
    tags = ["market"]

    @get(
        "/market/instruments",
        operation_id="listInstruments",
        summary="List instruments",
        responses=problems(rules=(CURSOR_RULE,)),
        **requires(Scope.MARKET_READ),
    )
    async def list_instruments(
        self,
        catalogue: NamedDependency[Catalogue],
        market: MarketFilter = None,
        instrument_type: Annotated[InstrumentType | None, QueryParameter(name="type", required=False)] = None,
        max_risk: MaxRisk = None,
        shariah_only: ShariahOnly = False,
        cursor: Cursor = "",
        limit: Limit = 20,
    ) -> InstrumentPage:
        query = CatalogueQuery(
            market=market,
            instrument_type=instrument_type,
            max_risk=max_risk,
            shariah_only=shariah_only,
            limit=limit,
        )
        return _page(catalogue, query, cursor)

    @get(
        "/market/instruments/{instrument_id:str}",
        operation_id="getInstrument",
        summary="Read one instrument",
        responses=problems(404),
        **requires(Scope.MARKET_READ),
    )
    async def get_instrument(
        self,
        instrument_id: Annotated[str, PathParameter(max_length=64)],
        catalogue: NamedDependency[Catalogue],
    ) -> InstrumentOut:
        return _view(catalogue.get(instrument_id))

    @get(
        "/funds",
        operation_id="listFunds",
        summary="List funds with their subscription terms",
        responses=problems(rules=(CURSOR_RULE,)),
        **requires(Scope.FUNDS_READ),
    )
    async def list_funds(
        self,
        catalogue: NamedDependency[Catalogue],
        market: MarketFilter = None,
        max_risk: MaxRisk = None,
        shariah_only: ShariahOnly = False,
        cursor: Cursor = "",
        limit: Limit = 20,
    ) -> InstrumentPage:
        query = CatalogueQuery(
            market=market,
            instrument_type=InstrumentType.FUND,
            max_risk=max_risk,
            shariah_only=shariah_only,
            limit=limit,
        )
        return _page(catalogue, query, cursor)

    @get(
        "/market/instruments/{instrument_id:str}/quote",
        operation_id="getQuote",
        summary="The reference price now, and whether the instrument's market is open",
        responses=problems(404),
        **requires(Scope.MARKET_READ),
    )
    async def get_quote(
        self,
        instrument_id: Annotated[str, PathParameter(max_length=64)],
        catalogue: NamedDependency[Catalogue],
        prices: NamedDependency[PriceSource],
        clock: NamedDependency[Clock],
    ) -> QuoteOut:
        instrument = catalogue.get(instrument_id)
        now = clock.now()
        return QuoteOut(
            instrument_id=instrument.id,
            price=str(prices.reference_price(instrument, now)),
            currency=instrument.currency,
            as_of=now,
            market_open=market_calendar.is_open(instrument.market, now),
            next_open=market_calendar.next_open(instrument.market, now),
        )

    @get(
        "/funds/{instrument_id:str}/nav-history",
        operation_id="getNavHistory",
        summary="A fund's NAV on each dealing day of a date range (at most 366 days)",
        responses=problems(
            404,
            rules=(
                Rule(
                    "rule-violation",
                    "`from` is after `to`, too far before it, or `to` is later than the latest published NAV",
                ),
            ),
        ),
        **requires(Scope.FUNDS_READ),
    )
    async def get_nav_history(
        self,
        instrument_id: Annotated[str, PathParameter(max_length=64)],
        catalogue: NamedDependency[Catalogue],
        prices: NamedDependency[PriceSource],
        clock: NamedDependency[Clock],
        start: Annotated[date | None, QueryParameter(name="from", required=False)] = None,
        end: Annotated[date | None, QueryParameter(name="to", required=False)] = None,
    ) -> NavHistoryOut:
        fund = catalogue.get(instrument_id)
        if fund.fund is None:
            raise NotFoundError("no such fund", instrument_id=instrument_id)
        now = clock.now()
        last = market_calendar.trading_day_of(fund.market, now)
        if now < market_calendar.nav_publication_time(
            fund.market, last
        ) or not market_calendar.is_trading_day(fund.market, last):
            last = market_calendar.previous_trading_day(fund.market, last)  # today's NAV is not out yet
        end = min(end or last, last)
        start = start or end - timedelta(days=30)
        if start > end or (end - start).days > MAX_NAV_DAYS:
            raise RuleViolationError(
                f"`from` must be on or before `to` and at most {MAX_NAV_DAYS} days before it (and `to` "
                "no later than the latest published NAV)",
                field="from",
                latest=last.isoformat(),
            )
        history = prices.nav_history(fund, start, end)
        return NavHistoryOut(
            instrument_id=fund.id,
            currency=fund.currency,
            data=[NavPoint(dealing_day=day, nav=str(nav)) for day, nav in history],
        )
