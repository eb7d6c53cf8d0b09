"""The catalogue: instruments and funds across CN, HK and US, cursor-paginated."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from litestar import Controller, get
from litestar.params import PathParameter, QueryParameter

from gateway.apis.schemas import problems
from gateway.apis.v1.market.schemas import InstrumentOut, InstrumentPage
from gateway.domain.market.catalogue import CatalogueQuery, decode_cursor, encode_cursor
from gateway.domain.market.models import Instrument, InstrumentType, Market
from gateway.domain.scopes import Scope
from gateway.edge.access import requires
from gateway.services import Platform, PlatformDep

# Opaque: only a `next_cursor` this API returned is valid (anything else is a 422 naming `cursor`).
Cursor = Annotated[
    str,
    QueryParameter(
        name="cursor",
        required=False,
        max_length=1024,
        pattern=r"^[A-Za-z0-9_-]{0,1024}$",
        schema_extra={"format": "page-cursor"},
        description="The `next_cursor` of the previous page; absent or empty for the first page.",
    ),
]
Limit = Annotated[int, QueryParameter(name="limit", ge=1, le=100)]
MaxRisk = Annotated[int | None, QueryParameter(name="max_risk", required=False, ge=1, le=5)]
ShariahOnly = Annotated[bool, QueryParameter(name="shariah_only")]
MarketFilter = Annotated[Market | None, QueryParameter(name="market", required=False)]


_VIEWS: dict[str, tuple[Instrument, InstrumentOut]] = {}


def _view(instrument: Instrument) -> InstrumentOut:
    """Views of immutable instruments are built once; a changed instrument object gets a new one."""
    cached = _VIEWS.get(instrument.id)
    if cached is None or cached[0] is not instrument:
        cached = (instrument, InstrumentOut.of(instrument))
        _VIEWS[instrument.id] = cached
    return cached[1]


def _page(platform: Platform, query: CatalogueQuery, cursor: str) -> InstrumentPage:
    page = platform.catalogue.page(replace(query, after=decode_cursor(cursor) if cursor else None))
    return InstrumentPage(
        data=[_view(item) for item in page.items],
        has_more=page.next_after is not None,
        next_cursor=encode_cursor(page.next_after) if page.next_after else None,
    )


class MarketController(Controller):
    path = "/v1"
    tags = ["market"]

    @get(
        "/market/instruments",
        operation_id="listInstruments",
        summary="List instruments",
        responses=problems(),
        **requires(Scope.MARKET_READ),
    )
    async def list_instruments(
        self,
        platform: PlatformDep,
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
        return _page(platform, query, cursor)

    @get(
        "/market/instruments/{instrument_id:str}",
        operation_id="getInstrument",
        summary="Read one instrument",
        responses=problems(404),
        **requires(Scope.MARKET_READ),
    )
    async def get_instrument(
        self, instrument_id: Annotated[str, PathParameter(max_length=64)], platform: PlatformDep
    ) -> InstrumentOut:
        return _view(platform.catalogue.get(instrument_id))

    @get(
        "/funds",
        operation_id="listFunds",
        summary="List funds with their subscription terms",
        responses=problems(),
        **requires(Scope.FUNDS_READ),
    )
    async def list_funds(
        self,
        platform: PlatformDep,
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
        return _page(platform, query, cursor)
