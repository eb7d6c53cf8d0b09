from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.errors import NotFoundError, RuleViolationError
from gateway.domain.market.catalogue import (
    DEFAULT_DATA_FILE,
    MAX_PAGE_LIMIT,
    Catalogue,
    CatalogueQuery,
)
from gateway.domain.market.models import FundTerms, Instrument, InstrumentType, Market
from gateway.domain.money import Currency
from gateway.domain.paging import Page, decode_cursor, encode_cursor

CURRENCY = {Market.CN: Currency.CNY, Market.HK: Currency.HKD, Market.US: Currency.USD}
TIME_ZONE = {Market.CN: "Asia/Shanghai", Market.HK: "Asia/Hong_Kong", Market.US: "America/New_York"}
SYMBOL = {
    Market.CN: re.compile(r"[0-9]{6}"),
    Market.HK: re.compile(r"[0-9]{4}"),
    Market.US: re.compile(r"[A-Z]{1,5}"),
}
MONEY_FIELDS = ("reference_price",)
FUND_MONEY_FIELDS = ("minimum_subscription", "management_fee_rate")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.from_file()


def raw_instruments() -> list[dict[str, object]]:
    data = json.loads(DEFAULT_DATA_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    instruments = data["instruments"]
    assert isinstance(instruments, list)
    return instruments


def make_stock(instrument_id: str = "ins_aaaaaaaaaa", symbol: str = "601001", **changes: Any) -> Instrument:
    stock = Instrument(
        id=instrument_id,
        symbol=symbol,
        name="Huaxia Lighting Holdings",
        market=Market.CN,
        instrument_type=InstrumentType.STOCK,
        currency=Currency.CNY,
        risk=3,
        complex_product=False,
        shariah_compliant=False,
        esg_score=60,
        lot_size=100,
        reference_price=Decimal("18.42"),
        fund=None,
    )
    return dataclasses.replace(stock, **changes)


def make_fund(
    instrument_id: str = "ins_ffffffffff", symbol: str = "970901", fund_code: str = "F900001"
) -> Instrument:
    terms = FundTerms(
        fund_code=fund_code,
        category="bond",
        money_market=False,
        minimum_subscription=Decimal("10.00"),
        cut_off="15:00",
        time_zone="Asia/Shanghai",
        management_fee_rate=Decimal("0.0060"),
    )
    return make_stock(
        instrument_id,
        symbol,
        instrument_type=InstrumentType.FUND,
        risk=2,
        lot_size=1,
        reference_price=Decimal("1.0832"),
        fund=terms,
    )


def matching(catalogue: Catalogue, query: CatalogueQuery) -> list[Instrument]:
    return [
        instrument
        for instrument in sorted(catalogue, key=lambda instrument: instrument.id)
        if (query.market is None or instrument.market == query.market)
        and (query.instrument_type is None or instrument.instrument_type == query.instrument_type)
        and (query.max_risk is None or instrument.risk <= query.max_risk)
        and (not query.shariah_only or instrument.shariah_compliant)
    ]


def walk(catalogue: Catalogue, query: CatalogueQuery) -> list[Page[Instrument]]:
    """Page through everything the way a client does: through the opaque cursor."""
    pages: list[Page[Instrument]] = []
    after: str | None = None
    for _ in range(len(catalogue) + 2):
        page = catalogue.page(dataclasses.replace(query, after=after))
        pages.append(page)
        if page.next_after is None:
            return pages
        after = decode_cursor(encode_cursor(page.next_after))
    raise AssertionError("pagination did not terminate")


# The shipped data


def test_shipped_data_has_about_fifty_instruments_in_every_market(catalogue: Catalogue) -> None:
    per_market = Counter(instrument.market for instrument in catalogue)
    assert 45 <= len(catalogue) <= 60
    assert len(catalogue) == len(raw_instruments())
    assert catalogue.version == "2026-11"
    assert all(14 <= per_market[market] <= 20 for market in Market), per_market


def test_ids_are_prefixed_stable_and_unique(catalogue: Catalogue) -> None:
    ids = [str(instrument["id"]) for instrument in raw_instruments()]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"ins_[a-z2-7]{10}", instrument_id) for instrument_id in ids), ids
    assert all(catalogue.get(instrument_id).id == instrument_id for instrument_id in ids)


def test_symbols_are_unique_per_market_and_look_like_the_venue(catalogue: Catalogue) -> None:
    keys = [(instrument.market, instrument.symbol) for instrument in catalogue]
    assert len(set(keys)) == len(keys)
    for instrument in catalogue:
        assert SYMBOL[instrument.market].fullmatch(instrument.symbol), instrument
    names = [instrument.name for instrument in catalogue]
    assert len(set(names)) == len(names)


def test_currency_and_lot_size_follow_the_market(catalogue: Catalogue) -> None:
    for instrument in catalogue:
        assert instrument.currency is CURRENCY[instrument.market], instrument
        if instrument.instrument_type is InstrumentType.FUND or instrument.market is Market.US:
            assert instrument.lot_size == 1, instrument
        elif instrument.market is Market.CN:
            assert instrument.lot_size == 100, instrument
        else:
            assert instrument.lot_size in {100, 200, 500, 1000}, instrument
    hk_stock_lots = {
        instrument.lot_size
        for instrument in catalogue
        if instrument.market is Market.HK and instrument.instrument_type is InstrumentType.STOCK
    }
    assert len(hk_stock_lots) >= 3


def test_funds_carry_their_terms(catalogue: Catalogue) -> None:
    funds = [instrument for instrument in catalogue if instrument.instrument_type is InstrumentType.FUND]
    assert len(funds) >= 12
    assert {fund.market for fund in funds} == set(Market)
    codes = []
    for fund in funds:
        terms = fund.fund
        assert terms is not None
        codes.append(terms.fund_code)
        assert re.fullmatch(r"F[0-9]{6}", terms.fund_code)
        assert terms.money_market is (terms.category == "money_market")
        assert terms.category in {"money_market", "bond", "balanced", "equity", "index"}
        assert terms.minimum_subscription == (Decimal("1.00") if terms.money_market else Decimal("10.00"))
        assert terms.cut_off == "15:00"
        assert terms.time_zone == TIME_ZONE[fund.market]
        assert ZoneInfo(terms.time_zone).key == terms.time_zone
        assert Decimal(0) < terms.management_fee_rate < Decimal("0.03")
        if terms.money_market:
            assert fund.risk == 1
        elif terms.category == "bond":
            assert fund.risk == 2
    assert len(set(codes)) == len(codes)
    assert all(instrument.fund is None for instrument in catalogue if instrument not in funds)
    assert {terms.category for terms in (fund.fund for fund in funds) if terms is not None} >= {
        "money_market",
        "bond",
        "balanced",
        "equity",
        "index",
    }


def test_f000001_is_the_cn_money_market_fund(catalogue: Catalogue) -> None:
    fund = catalogue.get_fund("F000001")
    assert fund.market is Market.CN
    assert fund.fund is not None
    assert fund.fund.money_market
    assert fund.fund.minimum_subscription == Decimal("1.00")
    with pytest.raises(NotFoundError) as excinfo:
        catalogue.get_fund("F999999")
    assert excinfo.value.context == {"fund_code": "F999999"}


def test_leveraged_and_inverse_etfs_are_complex_and_r5(catalogue: Catalogue) -> None:
    complex_products = [instrument for instrument in catalogue if instrument.complex_product]
    geared = [instrument for instrument in catalogue if re.search(r"Leveraged|Inverse", instrument.name)]
    assert complex_products == geared
    assert {instrument.market for instrument in geared} == set(Market)
    assert any("Inverse" in instrument.name for instrument in geared)
    assert any("3x" in instrument.name for instrument in geared)
    for instrument in geared:
        assert instrument.instrument_type is InstrumentType.ETF
        assert instrument.risk == 5


def test_risk_esg_and_shariah_values(catalogue: Catalogue) -> None:
    assert {instrument.risk for instrument in catalogue} == {1, 2, 3, 4, 5}
    scores = [instrument.esg_score for instrument in catalogue]
    assert None in scores
    assert all(score is None or 0 <= score <= 100 for score in scores)
    shariah = Counter(instrument.instrument_type for instrument in catalogue if instrument.shariah_compliant)
    assert shariah[InstrumentType.FUND] >= 1
    assert shariah[InstrumentType.STOCK] >= 3


def test_money_is_written_as_strings_and_parsed_as_decimal(catalogue: Catalogue) -> None:
    for raw in raw_instruments():
        instrument = catalogue.get(str(raw["id"]))
        price = raw["reference_price"]
        assert isinstance(price, str)
        assert isinstance(instrument.reference_price, Decimal)
        assert instrument.reference_price == Decimal(price)
        assert str(instrument.reference_price) == price  # the scale survives: no float on the way
        assert instrument.reference_price > 0
        exponent = instrument.reference_price.as_tuple().exponent
        assert isinstance(exponent, int)
        assert 2 <= -exponent <= 4
        raw_terms = raw["fund"]
        if instrument.fund is not None:
            assert isinstance(raw_terms, dict)
            for name in FUND_MONEY_FIELDS:
                assert isinstance(raw_terms[name], str)
                value = getattr(instrument.fund, name)
                assert isinstance(value, Decimal)
                assert str(value) == raw_terms[name]


# Loading a data file


def test_from_file_refuses_money_written_as_a_number(tmp_path: Path) -> None:
    data = json.loads(DEFAULT_DATA_FILE.read_text(encoding="utf-8"))
    data["instruments"][0]["reference_price"] = 18.42
    path = tmp_path / "instruments.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="reference_price"):
        Catalogue.from_file(path)


def test_from_file_refuses_unknown_fields(tmp_path: Path) -> None:
    data = json.loads(DEFAULT_DATA_FILE.read_text(encoding="utf-8"))
    data["instruments"][0]["price_float"] = "1.00"
    path = tmp_path / "instruments.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="price_float"):
        Catalogue.from_file(path)


def test_from_file_names_the_instrument_that_breaks_a_rule(tmp_path: Path) -> None:
    data = json.loads(DEFAULT_DATA_FILE.read_text(encoding="utf-8"))
    broken = next(raw for raw in data["instruments"] if raw["fund"] is not None)
    broken["fund"] = None
    path = tmp_path / "instruments.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(broken["id"])):
        Catalogue.from_file(path)


# The constructor's rules


def test_constructor_sorts_by_id() -> None:
    catalogue = Catalogue([make_stock("ins_cccccccccc", "601003"), make_stock("ins_aaaaaaaaaa", "601001")])
    assert [instrument.id for instrument in catalogue] == ["ins_aaaaaaaaaa", "ins_cccccccccc"]
    assert len(catalogue) == 2
    assert "ins_cccccccccc" in catalogue
    assert catalogue.version is None


def test_constructor_rejects_duplicate_ids() -> None:
    with pytest.raises(ValueError, match=r"ins_aaaaaaaaaa.*duplicate id"):
        Catalogue([make_stock("ins_aaaaaaaaaa", "601001"), make_stock("ins_aaaaaaaaaa", "601002")])


def test_constructor_rejects_duplicate_symbols_in_a_market() -> None:
    with pytest.raises(ValueError, match="duplicate symbol 601001"):
        Catalogue([make_stock("ins_aaaaaaaaaa", "601001"), make_stock("ins_bbbbbbbbbb", "601001")])
    # the same symbol in another market is another instrument
    other = make_stock("ins_bbbbbbbbbb", "601001", market=Market.US, currency=Currency.USD)
    assert len(Catalogue([make_stock("ins_aaaaaaaaaa", "601001"), other])) == 2


def test_constructor_rejects_a_fund_without_terms() -> None:
    fund = dataclasses.replace(make_fund(), fund=None)
    with pytest.raises(ValueError, match=r"ins_ffffffffff.*fund terms"):
        Catalogue([fund])


def test_constructor_rejects_terms_on_a_stock() -> None:
    terms = make_fund().fund
    with pytest.raises(ValueError, match=r"ins_aaaaaaaaaa.*no fund terms"):
        Catalogue([make_stock(fund=terms)])


def test_constructor_rejects_duplicate_fund_codes() -> None:
    with pytest.raises(ValueError, match="duplicate fund code F900001"):
        Catalogue([make_fund("ins_ffffffffff", "970901"), make_fund("ins_gggggggggg", "970902")])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"risk": 0}, "risk 0"),
        ({"risk": 6}, "risk 6"),
        ({"reference_price": Decimal("0.00")}, "reference price"),
        ({"reference_price": Decimal("-1.00")}, "reference price"),
        ({"reference_price": Decimal("NaN")}, "reference price"),
        ({"lot_size": 0}, "lot size"),
        ({"esg_score": 101}, "ESG score"),
    ],
)
def test_constructor_rejects_out_of_range_values(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"ins_aaaaaaaaaa.*{message}"):
        Catalogue([make_stock(**changes)])


# Lookups


def test_get_returns_the_instrument(catalogue: Catalogue) -> None:
    first = next(iter(catalogue))
    assert catalogue.get(first.id) is first


def test_get_unknown_raises_not_found(catalogue: Catalogue) -> None:
    with pytest.raises(NotFoundError, match="instrument not found") as excinfo:
        catalogue.get("ins_zzzzzzzzzz")
    assert excinfo.value.context == {"instrument_id": "ins_zzzzzzzzzz"}


# Paging


@pytest.mark.parametrize(
    "query",
    [
        CatalogueQuery(limit=7),
        CatalogueQuery(market=Market.CN, limit=7),
        CatalogueQuery(market=Market.HK, limit=7),
        CatalogueQuery(market=Market.US, limit=7),
        CatalogueQuery(instrument_type=InstrumentType.FUND, limit=7),
        CatalogueQuery(instrument_type=InstrumentType.ETF, market=Market.US, limit=7),
        CatalogueQuery(max_risk=2, limit=7),
        CatalogueQuery(max_risk=4, instrument_type=InstrumentType.STOCK, limit=7),
        CatalogueQuery(shariah_only=True, limit=7),
        CatalogueQuery(shariah_only=True, market=Market.HK, max_risk=4, limit=7),
    ],
    ids=repr,
)
def test_paging_visits_every_match_once_in_id_order(catalogue: Catalogue, query: CatalogueQuery) -> None:
    expected = matching(catalogue, query)
    pages = walk(catalogue, query)
    seen = [instrument for page in pages for instrument in page.items]
    assert expected  # every filter here selects something, or the test proves nothing
    assert seen == expected
    assert [len(page.items) for page in pages[:-1]] == [7] * (len(pages) - 1)
    assert 1 <= len(pages[-1].items) <= 7
    assert all(page.next_after == page.items[-1].id for page in pages[:-1])


def test_paging_the_whole_catalogue_takes_ceil_n_over_limit_pages(catalogue: Catalogue) -> None:
    pages = walk(catalogue, CatalogueQuery(limit=7))
    assert len(pages) == -(-len(catalogue) // 7)


def test_a_page_that_ends_exactly_at_the_last_match_has_no_next(catalogue: Catalogue) -> None:
    funds = matching(catalogue, CatalogueQuery(instrument_type=InstrumentType.FUND))
    page = catalogue.page(CatalogueQuery(instrument_type=InstrumentType.FUND, limit=len(funds)))
    assert page.items == tuple(funds)
    assert page.next_after is None
    shorter = catalogue.page(CatalogueQuery(instrument_type=InstrumentType.FUND, limit=len(funds) - 1))
    assert shorter.next_after == funds[-2].id


def test_a_filter_matching_nothing_gives_an_empty_last_page(catalogue: Catalogue) -> None:
    query = CatalogueQuery(instrument_type=InstrumentType.ETF, max_risk=1)
    assert matching(catalogue, query) == []
    assert catalogue.page(query) == Page(items=(), next_after=None)


def test_after_past_the_last_id_gives_an_empty_page(catalogue: Catalogue) -> None:
    assert catalogue.page(CatalogueQuery(after="ins_~")) == Page(items=(), next_after=None)


def test_keyset_paging_is_stable_under_inserts_and_deletes(catalogue: Catalogue) -> None:
    first = catalogue.page(CatalogueQuery(limit=7))
    assert first.next_after is not None
    expected_second = catalogue.page(CatalogueQuery(limit=7, after=first.next_after))
    # A new instrument sorting before the cursor, and the cursor's own instrument deleted: the next
    # page neither repeats nor skips anything.
    inserted = make_stock("ins_0000000000", "601999")
    changed = Catalogue([inserted, *(i for i in catalogue if i.id != first.next_after)])
    assert changed.page(CatalogueQuery(limit=7, after=first.next_after)) == expected_second


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_LIMIT + 1, 1000])
def test_limit_outside_bounds_is_refused(catalogue: Catalogue, limit: int) -> None:
    with pytest.raises(RuleViolationError, match="limit") as excinfo:
        catalogue.page(CatalogueQuery(limit=limit))
    assert excinfo.value.context["field"] == "limit"


@pytest.mark.parametrize("limit", [1, MAX_PAGE_LIMIT])
def test_limit_bounds_are_inclusive(catalogue: Catalogue, limit: int) -> None:
    page = catalogue.page(CatalogueQuery(limit=limit))
    assert len(page.items) == min(limit, len(catalogue))


def test_default_limit_is_twenty(catalogue: Catalogue) -> None:
    assert len(catalogue.page(CatalogueQuery()).items) == 20


@pytest.mark.parametrize("max_risk", [0, -3, 6])
def test_max_risk_outside_r1_to_r5_is_refused(catalogue: Catalogue, max_risk: int) -> None:
    with pytest.raises(RuleViolationError) as excinfo:
        catalogue.page(CatalogueQuery(max_risk=max_risk))
    assert excinfo.value.context["field"] == "max_risk"


queries = st.builds(
    CatalogueQuery,
    market=st.none() | st.sampled_from(Market),
    instrument_type=st.none() | st.sampled_from(InstrumentType),
    max_risk=st.none() | st.integers(min_value=1, max_value=5),
    shariah_only=st.booleans(),
    limit=st.integers(min_value=1, max_value=MAX_PAGE_LIMIT),
)


@settings(max_examples=100, deadline=None)
@given(query=queries)
def test_concatenated_pages_are_the_filtered_sorted_catalogue(
    catalogue: Catalogue, query: CatalogueQuery
) -> None:
    pages = walk(catalogue, query)
    assert [instrument for page in pages for instrument in page.items] == matching(catalogue, query)
    assert all(len(page.items) == query.limit for page in pages[:-1])
    assert len(pages[-1].items) <= query.limit


# The cursor


def test_cursor_round_trip_is_opaque_url_safe_and_unpadded() -> None:
    cursor = encode_cursor("ins_br6lly2jbc")
    assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor)
    assert "ins_" not in cursor
    assert decode_cursor(cursor) == "ins_br6lly2jbc"
    padded = cursor + "=" * (-len(cursor) % 4)
    assert json.loads(base64.urlsafe_b64decode(padded)) == {"v": 1, "after": "ins_br6lly2jbc"}


@settings(max_examples=100, deadline=None)
@given(after=st.text(min_size=1, max_size=128))
def test_any_position_survives_the_round_trip(after: str) -> None:
    assert decode_cursor(encode_cursor(after)) == after


def test_encode_refuses_an_empty_position() -> None:
    with pytest.raises(ValueError, match="cursor position"):
        encode_cursor("")


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


VALID = encode_cursor("ins_br6lly2jbc")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor",
        "!!!!",
        "a",  # one character is never a whole base64 quantum
        VALID[:-1],
        VALID + "=",
        VALID + "==",
        VALID + "\n",
        " " + VALID,
        VALID.replace("-", "+").replace("_", "/") + "+/",
        "A" + VALID[1:],
        VALID[:10] + "*" + VALID[11:],
        b64(b"not json"),
        b64(b"\xff\xfe\xfd"),
        b64(b'["ins_br6lly2jbc"]'),
        b64(b'"ins_br6lly2jbc"'),
        b64(b"{}"),
        b64(b'{"v":2,"after":"ins_br6lly2jbc"}'),
        b64(b'{"v":0,"after":"ins_br6lly2jbc"}'),
        b64(b'{"v":"1","after":"ins_br6lly2jbc"}'),
        b64(b'{"v":1.0,"after":"ins_br6lly2jbc"}'),
        b64(b'{"after":"ins_br6lly2jbc"}'),
        b64(b'{"v":1,"after":42}'),
        b64(b'{"v":1,"after":null}'),
        b64(b'{"v":1,"after":["ins_br6lly2jbc"]}'),
        b64(b'{"v":1,"after":""}'),
        b64(b'{"v":1,"after":"' + b"x" * 129 + b'"}'),
        b64(b'{"v":1,"after":"ins_br6lly2jbc","extra":true}'),
        b64(b'{"after":"ins_br6lly2jbc","v":1}'),  # not the form we issue
        b64(b'{"v": 1, "after": "ins_br6lly2jbc"}'),
        "A" * 5000,
    ],
)
def test_malformed_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(RuleViolationError, match="cursor is not valid") as excinfo:
        decode_cursor(cursor)
    assert excinfo.value.context == {"field": "cursor"}


def test_the_last_base64_character_has_one_spelling() -> None:
    # Unused low bits in the last character would decode to the same bytes; only ours is accepted.
    last = VALID[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twins = [
        VALID[:-1] + other
        for other in alphabet
        if other != last and _b64_bytes(VALID[:-1] + other) == _b64_bytes(VALID)
    ]
    assert twins  # the cursor's length leaves spare bits, or this test proves nothing
    for twin in twins:
        with pytest.raises(RuleViolationError):
            decode_cursor(twin)


def _b64_bytes(cursor: str) -> bytes:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


@settings(max_examples=100, deadline=None)
@given(cursor=st.text(max_size=200) | st.text(alphabet="ABCDEFabcdef0123456789-_", max_size=80))
def test_random_strings_are_refused_unless_they_are_our_own_cursor(cursor: str) -> None:
    try:
        after = decode_cursor(cursor)
    except RuleViolationError as exc:
        refusal: object = exc.context
    else:
        refusal = None
        assert encode_cursor(after) == cursor
    assert refusal in (None, {"field": "cursor"})
