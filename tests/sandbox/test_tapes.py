"""Price tapes: the same seed gives the same tape on any machine, another seed another tape; gaps,
halts and droughts sit where the shape puts them; a tape plays for the run that binds it only."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Instrument
from gateway.domain.trading.models import OrderRequest, OrderType, Side
from gateway.domain.trading.ports import ForcedRefusal
from sandbox.clock import FrozenClock
from sandbox.magic import MagicVenue
from sandbox.prices import PriceFeed, tick_size
from sandbox.tapes import MINUTE, MINUTE_STEP, Tape, TapeRouter, TapeShape, TapeVenue, on_tick
from sandbox.venue import InProcessVenue

CATALOGUE = Catalogue.from_file()
FEED = PriceFeed(CATALOGUE)
OPEN = datetime(2027, 11, 1, 1, 30, tzinfo=UTC)  # Monday 1 November 2027, 09:30 in Shanghai
CN_STOCK = CATALOGUE.get("ins_br6lly2jbc")
CN_ETF = CATALOGUE.get("ins_hgfrf45soo")
OTHER = CATALOGUE.get("ins_az37mebeym")
FUND = CATALOGUE.get("ins_ssgwntu23g")
EXCHANGE_TRADED = [instrument for instrument in CATALOGUE if instrument.fund is None]


def tape(instrument: Instrument = CN_STOCK, seed: int = 7, shape: TapeShape | None = None) -> Tape:
    return Tape.record(
        instrument,
        previous_close=FEED.reference_price(instrument, OPEN),
        opens_at=OPEN,
        seed=seed,
        shape=shape or TapeShape(),
    )


def digest(recorded: Tape) -> str:
    return hashlib.sha256("|".join(str(p) for p in recorded.prices).encode()).hexdigest()


def test_the_same_seed_records_the_same_tape_on_every_machine() -> None:
    first, second = tape(seed=20271101), tape(seed=20271101)
    assert first == second
    # Pinned: BLAKE2b draws and correctly rounded Decimal exp, nothing of the platform or the clock.
    assert first.previous_close == Decimal("17.04")
    assert first.prices[:5] == (
        Decimal("17.04"),
        Decimal("17.06"),
        Decimal("17.03"),
        Decimal("17.06"),
        Decimal("17.03"),
    )
    assert digest(first) == "20a2fe05f11d73721028d9f7a5b7668e45588a09780486b627aebfef695c51e6"


def test_another_seed_records_another_tape_from_the_same_open() -> None:
    tapes = {seed: tape(seed=seed) for seed in range(1, 6)}
    assert len({recorded.prices for recorded in tapes.values()}) == len(tapes)
    assert {recorded.open for recorded in tapes.values()} == {tapes[1].previous_close}


@pytest.mark.parametrize("instrument", EXCHANGE_TRADED, ids=lambda i: i.id)
def test_every_price_is_on_tick_and_moves_at_most_one_step_a_minute(instrument: Instrument) -> None:
    recorded = tape(instrument, shape=TapeShape(minutes=240))
    assert len(recorded.prices) == 240
    largest = Decimal(MINUTE_STEP) / 1_000_000
    for before, after in zip(recorded.prices, recorded.prices[1:], strict=False):
        assert after == on_tick(after, tick_size(instrument.market, instrument.instrument_type, after))
        tick = tick_size(instrument.market, instrument.instrument_type, before)
        # One step of the log price, and half a tick of rounding on either side.
        assert abs(after - before) <= before * largest * Decimal("1.01") + tick


@pytest.mark.parametrize("instrument", EXCHANGE_TRADED, ids=lambda i: i.id)
def test_a_gap_opens_the_tape_at_the_previous_close_moved_by_the_gap(instrument: Instrument) -> None:
    recorded = tape(instrument, shape=TapeShape(gap=Decimal("-0.10")))
    gapped = recorded.previous_close * Decimal("0.90")
    assert recorded.open == on_tick(gapped, tick_size(instrument.market, instrument.instrument_type, gapped))
    assert recorded.price_at(OPEN + timedelta(seconds=59)) == recorded.open
    flat = tape(instrument)
    assert flat.open == flat.previous_close
    # The gap moves the whole path: the walk after it is the flat tape's, scaled.
    ratio = recorded.prices[60] / flat.prices[60]
    assert Decimal("0.89") < ratio < Decimal("0.91")


def test_a_halted_tape_stands_still_and_walks_on_from_the_resume() -> None:
    shape = TapeShape(halts=((30, 60),))
    recorded, flat = tape(shape=shape), tape()
    assert recorded.prices[:30] == flat.prices[:30]
    assert set(recorded.prices[29:61]) == {recorded.prices[29]}  # resumes at the halted price
    assert not recorded.halted(OPEN + 30 * MINUTE - timedelta(microseconds=1))
    assert recorded.halted(OPEN + 30 * MINUTE)
    assert recorded.halted(OPEN + 60 * MINUTE - timedelta(microseconds=1))
    assert not recorded.halted(OPEN + 60 * MINUTE)
    assert len(set(recorded.prices[61:])) > 1  # and walks on from the minute after


def test_a_drought_covers_its_window_only() -> None:
    recorded = tape(shape=TapeShape(droughts=((10, 20),)))
    assert [recorded.dry(OPEN + m * MINUTE) for m in (9, 10, 19, 20)] == [False, True, True, False]
    assert recorded.prices == tape().prices  # a drought takes liquidity, not price


def test_before_its_open_a_tape_answers_the_previous_close_and_after_its_end_the_last_price() -> None:
    recorded = tape(shape=TapeShape(minutes=10))
    assert recorded.price_at(OPEN - timedelta(seconds=1)) == recorded.previous_close
    assert recorded.price_at(OPEN + timedelta(days=3)) == recorded.prices[-1]
    assert recorded.closes_at == OPEN + 10 * MINUTE


def test_tapes_are_for_exchange_traded_instruments_within_their_shape() -> None:
    with pytest.raises(ValueError, match="funds"):
        tape(FUND)
    for bad in (
        {"minutes": 0},
        {"gap": Decimal(-1)},
        {"halts": ((30, 30),)},
        {"droughts": ((100, 130),)},
    ):
        with pytest.raises(ValueError, match="a "):
            TapeShape(**bad)


def test_a_tape_plays_only_for_its_instrument_and_only_inside_the_binding() -> None:
    router = TapeRouter(FEED)
    recorded = tape(shape=TapeShape(gap=Decimal("-0.10")))
    moment = OPEN + timedelta(minutes=5)
    assert router.reference_price(CN_STOCK, moment) == FEED.reference_price(CN_STOCK, moment)
    seen_elsewhere: list[object] = []
    with router.playing(recorded):
        assert router.reference_price(CN_STOCK, moment) == recorded.price_at(moment)
        assert router.reference_price(OTHER, moment) == FEED.reference_price(OTHER, moment)
        assert router.tape_for(CN_STOCK.id) is recorded
        assert router.tape_for(OTHER.id) is None
        # Another thread (another request) does not see this run's tape.
        worker = threading.Thread(target=lambda: seen_elsewhere.append(router.tape_for(CN_STOCK.id)))
        worker.start()
        worker.join()
    assert seen_elsewhere == [None]
    assert router.tape_for(CN_STOCK.id) is None
    assert router.reference_price(CN_STOCK, moment) == FEED.reference_price(CN_STOCK, moment)


def test_the_venue_refuses_a_halted_instrument_while_its_tape_plays() -> None:
    router = TapeRouter(FEED)
    clock = FrozenClock(OPEN + timedelta(minutes=35))
    venue = TapeVenue(MagicVenue(InProcessVenue(router), router), router, clock)
    order = OrderRequest("c1", CN_STOCK.id, Side.BUY, OrderType.MARKET, quantity=Decimal(100))
    other = OrderRequest("c2", OTHER.id, Side.BUY, OrderType.MARKET, quantity=Decimal(100))
    assert venue.refusal(order) is None
    with router.playing(tape(shape=TapeShape(halts=((30, 60),)))):
        assert venue.refusal(order) is ForcedRefusal.TRADING_HALTED
        assert venue.refusal(other) is None
        clock.set(OPEN + timedelta(minutes=60))
        assert venue.refusal(order) is None
    # The magic values still work as before.
    magic = OrderRequest("sbx_halt_1", CN_STOCK.id, Side.BUY, OrderType.MARKET, quantity=Decimal(100))
    assert venue.refusal(magic) is ForcedRefusal.TRADING_HALTED
