from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.compliance.surveillance import (
    RULES,
    AlertDraft,
    OrderEvent,
    OrderEventKind,
    Severity,
    SurveillanceConfig,
    evaluate,
    should_restrict,
    wash_trade_check,
)
from gateway.domain.errors import RuleViolationError

PLACED = OrderEventKind.PLACED
CANCELLED = OrderEventKind.CANCELLED
FILLED = OrderEventKind.FILLED
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CONFIG = SurveillanceConfig()
SNAKE_CASE = re.compile(r"^[a-z]+(_[a-z0-9]+)*$")


def ev(
    kind: OrderEventKind,
    order_id: str,
    at: float | timedelta,
    *,
    side: str = "buy",
    quantity: str = "100",
    price: str | None = "10.00",
    account: str = "acc_1",
    customer: str = "cus_1",
    instrument: str = "ins_ACME",
) -> OrderEvent:
    """An event `at` seconds (or a timedelta) after T0."""
    offset = at if isinstance(at, timedelta) else timedelta(seconds=at)
    return OrderEvent(
        kind=kind,
        order_id=order_id,
        account_id=account,
        customer_id=customer,
        instrument_id=instrument,
        side=side,
        quantity=Decimal(quantity),
        price=None if price is None else Decimal(price),
        at=T0 + offset,
    )


def replay(
    events: Sequence[OrderEvent], config: SurveillanceConfig = CONFIG, *, usual_size: Decimal | None = None
) -> list[AlertDraft]:
    """Feed the events to evaluate one at a time, the earlier ones as history, as the caller does."""
    alerts: list[AlertDraft] = []
    for i, event in enumerate(events):
        alerts.extend(evaluate(event, events[:i], config, usual_size=usual_size))
    return alerts


def by_rule(alerts: Sequence[AlertDraft], rule: str) -> list[AlertDraft]:
    return [a for a in alerts if a.rule == rule]


def cancels_at(offsets: Sequence[float], *, account: str = "acc_1") -> list[OrderEvent]:
    return [ev(CANCELLED, f"ord_c{i}", t, account=account) for i, t in enumerate(offsets)]


# --- inputs -------------------------------------------------------------------------------------------


def test_defaults_are_domain_md() -> None:
    assert CONFIG.cancel_burst_count == 10
    assert CONFIG.cancel_burst_window == timedelta(seconds=60)
    assert CONFIG.cancel_ratio == Decimal("0.90")
    assert CONFIG.cancel_ratio_min_orders == 20
    assert CONFIG.cancel_ratio_window == timedelta(minutes=5)
    assert CONFIG.wash_window == timedelta(seconds=60)
    assert CONFIG.layering_min_orders == 3
    assert CONFIG.layering_size_multiple == 5
    assert CONFIG.layering_cancel_window == timedelta(seconds=30)
    assert CONFIG.restriction_high_alerts == 3
    assert CONFIG.restriction_window == timedelta(hours=24)
    assert CONFIG.history_lookback == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cancel_burst_count", 0),
        ("cancel_burst_window", timedelta(0)),
        ("cancel_ratio", Decimal(0)),
        ("cancel_ratio", Decimal("1.01")),
        ("layering_size_multiple", Decimal(0)),
        ("restriction_window", timedelta(seconds=-1)),
    ],
)
def test_config_refuses_nonsense(field: str, value: object) -> None:
    with pytest.raises(RuleViolationError, match=field):
        SurveillanceConfig(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"side": "short"}, "side"),
        ({"quantity": Decimal(0)}, "quantity"),
        ({"quantity": Decimal("NaN")}, "quantity"),
        ({"price": Decimal("-1")}, "price"),
        ({"at": datetime(2026, 3, 2, 9, 30)}, "at"),  # noqa: DTZ001 (the naive time is the point)
    ],
)
def test_order_event_refuses_malformed_facts(change: dict[str, object], field: str) -> None:
    fields: dict[str, object] = {
        "kind": PLACED,
        "order_id": "ord_1",
        "account_id": "acc_1",
        "customer_id": "cus_1",
        "instrument_id": "ins_ACME",
        "side": "buy",
        "quantity": Decimal(1),
        "price": None,
        "at": T0,
    } | change
    with pytest.raises(RuleViolationError) as caught:
        OrderEvent(**fields)  # type: ignore[arg-type]
    assert caught.value.context["field"] == field


def test_every_rule_is_in_the_rulebook() -> None:
    assert {"SURV-01", "SURV-02", "SURV-03", "SURV-04"} <= RULES.keys()
    assert all(sentence.endswith(".") for sentence in RULES.values())


# --- SURV-01: frequent cancellation -------------------------------------------------------------------


def test_ten_cancels_in_sixty_seconds_raise_a_medium_alert() -> None:
    events = cancels_at(range(10))

    [alert] = replay(events)

    assert alert.rule == "SURV-01"
    assert alert.code == "frequent_cancellation"
    assert alert.severity is Severity.MEDIUM
    assert (alert.account_id, alert.customer_id, alert.instrument_id) == ("acc_1", "cus_1", None)
    assert alert.order_ids == tuple(f"ord_c{i}" for i in range(10))
    assert alert.at == T0 + timedelta(seconds=9)
    assert alert.facts["cancellations"] == "10"
    assert alert.facts["threshold"] == "10"
    assert alert.facts["window_seconds"] == "60"
    assert alert.facts["first_cancelled_at"] == T0.isoformat()


def test_nine_cancels_in_sixty_seconds_raise_nothing() -> None:
    assert replay(cancels_at(range(9))) == []


def test_ten_cancels_exactly_sixty_seconds_apart_count_as_within_the_window() -> None:
    assert len(by_rule(replay(cancels_at([*range(9), 60])), "SURV-01")) == 1


def test_ten_cancels_spread_over_sixty_one_seconds_raise_nothing() -> None:
    assert replay(cancels_at([*range(9), 61])) == []


def test_cancels_count_across_instruments_but_not_across_accounts() -> None:
    mixed = [ev(CANCELLED, f"ord_{i}", i, instrument=f"ins_{i % 3}") for i in range(10)]
    assert len(by_rule(replay(mixed), "SURV-01")) == 1

    two_accounts = cancels_at(range(5), account="acc_1") + [
        ev(CANCELLED, f"ord_o{i}", 5 + i, account="acc_2") for i in range(5)
    ]
    assert replay(two_accounts) == []


def test_a_continuing_burst_raises_one_alert() -> None:
    # SURV-DEDUP: the 10th cancel raises; the 11th..30th continue the episode.
    alerts = replay(cancels_at(range(30)))

    assert [a.at for a in alerts] == [T0 + timedelta(seconds=9)]


def test_a_steady_stream_at_the_threshold_rate_raises_one_alert() -> None:
    # Every 6.5 s: each new cancel pushes the oldest out, so the count sits exactly at 10. Raising "when the
    # count reaches the threshold" would re-raise on every cancel; the episode rule raises once.
    alerts = replay(cancels_at([i * 6.5 for i in range(40)]))

    assert len(alerts) == 1


def test_a_new_burst_after_a_quiet_window_raises_again() -> None:
    first = cancels_at(range(10))
    second = [ev(CANCELLED, f"ord_d{i}", 9 + 61 + i) for i in range(10)]

    alerts = replay(first + second)

    assert [a.at for a in alerts] == [T0 + timedelta(seconds=9), T0 + timedelta(seconds=79)]


def test_a_repeated_cancel_event_counts_once() -> None:
    events = cancels_at(range(9))
    repeat = ev(CANCELLED, "ord_c8", 9)

    assert evaluate(repeat, events, CONFIG) == ()


def test_the_event_already_in_the_history_is_not_counted_twice() -> None:
    events = cancels_at(range(10))

    assert [a.rule for a in evaluate(events[-1], events, CONFIG)] == ["SURV-01"]


def test_burst_threshold_is_configuration() -> None:
    config = SurveillanceConfig(cancel_burst_count=3, cancel_burst_window=timedelta(seconds=5))

    assert len(replay(cancels_at([0, 1, 5]), config)) == 1
    assert replay(cancels_at([0, 1, 6]), config) == []


# --- SURV-02: cancel ratio ----------------------------------------------------------------------------


def placed_and_cancelled(orders: int, cancelled: int, *, spacing: float = 1) -> list[OrderEvent]:
    """`orders` placements, then cancels of the first `cancelled` of them, 7 s apart (no SURV-01 burst)."""
    placed = [ev(PLACED, f"ord_{i}", i * spacing) for i in range(orders)]
    start = orders * spacing
    return placed + [ev(CANCELLED, f"ord_{i}", start + 7 * i) for i in range(cancelled)]


def test_ninety_percent_of_twenty_orders_raises_a_medium_alert() -> None:
    alerts = replay(placed_and_cancelled(20, 18))

    assert by_rule(alerts, "SURV-01") == []
    [alert] = by_rule(alerts, "SURV-02")
    assert alert.code == "high_cancel_ratio"
    assert alert.severity is Severity.MEDIUM
    assert alert.instrument_id is None
    assert dict(alert.facts) == {
        "orders": "20",
        "cancelled": "18",
        "cancel_ratio": "0.9000",
        "threshold_ratio": "0.90",
        "min_orders": "20",
        "window_seconds": "300",
    }
    assert alert.order_ids == tuple(f"ord_{i}" for i in range(18))


def test_eighty_five_percent_of_twenty_orders_raises_nothing() -> None:
    assert by_rule(replay(placed_and_cancelled(20, 17)), "SURV-02") == []


@pytest.mark.parametrize(("cancelled", "raised"), [(89, False), (90, True)])
def test_eighty_nine_percent_does_not_reach_ninety(cancelled: int, raised: bool) -> None:
    # 100 orders give whole percentages; the cancels are 2.5 s apart so all fit in the 5 minutes.
    placed = [ev(PLACED, f"ord_{i}", i * 0.5) for i in range(100)]
    cancels = [ev(CANCELLED, f"ord_{i}", 50 + i * 2.5) for i in range(cancelled)]

    assert bool(by_rule(replay(placed + cancels), "SURV-02")) is raised


def test_nineteen_orders_all_cancelled_are_too_few() -> None:
    events = placed_and_cancelled(19, 19)

    assert by_rule(replay(events), "SURV-02") == []


def test_the_twentieth_placement_can_complete_the_ratio() -> None:
    events = [*placed_and_cancelled(19, 19), ev(PLACED, "ord_19", 19 + 7 * 19)]

    [alert] = by_rule(replay(events), "SURV-02")

    assert alert.at == events[-1].at
    assert (alert.facts["orders"], alert.facts["cancelled"], alert.facts["cancel_ratio"]) == (
        "20",
        "19",
        "0.9500",
    )


@pytest.mark.parametrize(("last_cancel", "raised"), [(300, True), (301, False)])
def test_orders_placed_before_the_window_do_not_count(last_cancel: int, raised: bool) -> None:
    # 17 of 20 orders cancelled is 85%; the 18th cancel makes 90%, unless by then the first order,
    # placed at 0 and never cancelled, has left the 5 minutes and only 19 orders remain.
    placed = [ev(PLACED, "ord_0", 0)] + [ev(PLACED, f"ord_{i}", 200 + i) for i in range(1, 20)]
    cancels = [ev(CANCELLED, f"ord_{i}", 220 + 3 * i) for i in range(1, 18)]
    last = ev(CANCELLED, "ord_18", last_cancel)

    assert bool(by_rule(replay([*placed, *cancels, last]), "SURV-02")) is raised


def test_a_cancel_ratio_episode_raises_once() -> None:
    alerts = by_rule(replay(placed_and_cancelled(30, 30, spacing=0.5)), "SURV-02")

    assert len(alerts) == 1


# --- SURV-03: wash trades -----------------------------------------------------------------------------


def resting_buy(
    price: str | None = "10.00", *, account: str = "acc_1", customer: str = "cus_1"
) -> OrderEvent:
    return ev(PLACED, "ord_buy", 0, side="buy", price=price, account=account, customer=customer)


def incoming_sell(at: float, price: str | None = "10.00", *, customer: str = "cus_1") -> OrderEvent:
    return ev(PLACED, "ord_sell", at, side="sell", price=price, account="acc_2", customer=customer)


def check(
    incoming: OrderEvent, *open_orders: OrderEvent, linked: frozenset[str] = frozenset()
) -> AlertDraft | None:
    return wash_trade_check(incoming, open_orders, incoming.at, CONFIG, linked_account_ids=linked)


def test_crossing_orders_of_one_customer_within_sixty_seconds_are_a_wash_trade() -> None:
    alert = check(incoming_sell(59), resting_buy())

    assert alert is not None
    assert (alert.rule, alert.code, alert.severity) == ("SURV-03", "wash_trade", Severity.HIGH)
    assert (alert.account_id, alert.customer_id, alert.instrument_id) == ("acc_2", "cus_1", "ins_ACME")
    assert alert.order_ids == ("ord_buy", "ord_sell")
    assert alert.facts["seconds_apart"] == "59"
    assert alert.facts["counter_order_ids"] == "ord_buy"
    assert alert.facts["counter_account_ids"] == "acc_1"
    assert alert.facts["action"] == "block_incoming_order"
    assert alert.at == T0 + timedelta(seconds=59)


@pytest.mark.parametrize(("seconds", "raised"), [(59, True), (60, True), (61, False)])
def test_the_wash_window_is_sixty_seconds(seconds: int, raised: bool) -> None:
    assert (check(incoming_sell(seconds), resting_buy()) is not None) is raised


@pytest.mark.parametrize(
    ("buy_price", "sell_price", "raised"),
    [
        ("10.00", "10.00", True),
        ("10.01", "10.00", True),
        ("9.99", "10.00", False),
        (None, "10.00", True),
        ("10.00", None, True),
        (None, None, True),
    ],
)
def test_only_orders_whose_prices_cross_are_a_wash_trade(
    buy_price: str | None, sell_price: str | None, raised: bool
) -> None:
    assert (check(incoming_sell(10, sell_price), resting_buy(buy_price)) is not None) is raised


def test_a_different_customer_is_not_a_wash_trade_unless_linked() -> None:
    other = resting_buy(account="acc_9", customer="cus_9")

    assert check(incoming_sell(10), other) is None
    linked = check(incoming_sell(10), other, linked=frozenset({"acc_9"}))
    assert linked is not None
    assert linked.facts["counter_account_ids"] == "acc_9"


def test_same_side_other_instrument_and_itself_are_not_wash_trades() -> None:
    incoming = incoming_sell(10)
    same_side = ev(PLACED, "ord_x", 0, side="sell")
    other_instrument = ev(PLACED, "ord_y", 0, side="buy", instrument="ins_OTHER")
    later = ev(PLACED, "ord_z", 11, side="buy")  # after `now`: not an earlier order
    not_an_order = ev(FILLED, "ord_f", 5, side="buy")

    assert check(incoming, same_side, other_instrument, later, not_an_order, incoming) is None


def test_every_crossing_counterpart_is_named() -> None:
    first = ev(PLACED, "ord_a", 0, side="buy", price="10.50")
    second = ev(PLACED, "ord_b", 30, side="buy", price="10.20", account="acc_3")

    alert = check(incoming_sell(40), second, first)

    assert alert is not None
    assert alert.order_ids == ("ord_a", "ord_b", "ord_sell")
    assert alert.facts["nearest_order_id"] == "ord_b"
    assert alert.facts["counter_account_ids"] == "acc_1,acc_3"
    assert alert.facts["seconds_apart"] == "10"


def test_evaluate_checks_a_placement_against_the_open_orders_in_the_history() -> None:
    buy = resting_buy()

    [alert] = evaluate(incoming_sell(30), [buy], CONFIG)
    assert alert.rule == "SURV-03"

    cancelled = [buy, ev(CANCELLED, "ord_buy", 5)]
    assert evaluate(incoming_sell(30), cancelled, CONFIG) == ()

    fully_filled = [buy, ev(FILLED, "ord_buy", 5, quantity="60"), ev(FILLED, "ord_buy", 6, quantity="40")]
    assert evaluate(incoming_sell(30), fully_filled, CONFIG) == ()

    partly_filled = [buy, ev(FILLED, "ord_buy", 5, quantity="60")]
    assert [a.rule for a in evaluate(incoming_sell(30), partly_filled, CONFIG)] == ["SURV-03"]


# --- SURV-04: layering --------------------------------------------------------------------------------


def usual_orders(count: int = 5, quantity: str = "100") -> list[OrderEvent]:
    """Earlier orders of the account in the instrument, days ago, all filled long since."""
    return [ev(PLACED, f"ord_u{i}", timedelta(days=-(i + 1)), quantity=quantity) for i in range(count)]


def layering(
    sizes: Sequence[str] = ("200", "200", "100"),
    cancel_after_fill: Sequence[float] = (10, 20, 30),
    *,
    history: Sequence[OrderEvent] | None = None,
) -> list[OrderEvent]:
    """Sell orders placed at 0.., a genuine buy placed at 5 and filled at 10, the sells then cancelled."""
    before = usual_orders() if history is None else list(history)
    layer = [ev(PLACED, f"ord_l{i}", i, side="sell", quantity=q, price="10.10") for i, q in enumerate(sizes)]
    genuine = [ev(PLACED, "ord_g", 5, quantity="100"), ev(FILLED, "ord_g", 10, quantity="100")]
    cancels = [
        ev(CANCELLED, f"ord_l{i}", 10 + after, side="sell", quantity=q)
        for i, (q, after) in enumerate(zip(sizes, cancel_after_fill, strict=True))
    ]
    return before + layer + genuine + cancels


def test_three_orders_totalling_five_times_the_usual_size_cancelled_after_a_fill_are_layering() -> None:
    [alert] = replay(layering())

    assert (alert.rule, alert.code, alert.severity) == ("SURV-04", "layering", Severity.HIGH)
    assert alert.instrument_id == "ins_ACME"
    assert alert.order_ids == ("ord_l0", "ord_l1", "ord_l2", "ord_g")
    assert alert.at == T0 + timedelta(seconds=40)
    assert alert.facts["fill_order_id"] == "ord_g"
    assert alert.facts["fill_side"] == "buy"
    assert alert.facts["layer_side"] == "sell"
    assert alert.facts["layer_orders"] == "3"
    assert alert.facts["layer_quantity"] == "500"
    assert alert.facts["usual_size"] == "100"
    assert alert.facts["usual_size_basis"] == "median_order_quantity"
    assert alert.facts["usual_size_orders"] == "6"  # five earlier orders and the genuine one
    assert alert.facts["required_quantity"] == "500"
    assert alert.facts["last_cancel_after_fill_seconds"] == "30"


def test_four_point_nine_times_the_usual_size_is_not_layering() -> None:
    assert replay(layering(sizes=("200", "190", "100"))) == []


def test_a_cancel_thirty_one_seconds_after_the_fill_is_outside_the_window() -> None:
    assert replay(layering(cancel_after_fill=(10, 20, 31))) == []


def test_two_orders_are_not_a_layer_whatever_their_size() -> None:
    assert replay(layering(sizes=("1000", "1000"), cancel_after_fill=(10, 20))) == []


def test_a_layer_is_reported_once() -> None:
    events = layering(sizes=("200", "200", "100", "100"), cancel_after_fill=(5, 10, 15, 20))

    [alert] = replay(events)

    assert alert.order_ids == ("ord_l0", "ord_l1", "ord_l2", "ord_g")


def test_orders_placed_after_the_fill_or_cancelled_before_it_are_not_in_the_layer() -> None:
    events = layering()
    late = [
        ev(PLACED, "ord_late", 11, side="sell", quantity="1000"),
        ev(CANCELLED, "ord_late", 12, side="sell", quantity="1000"),
    ]
    early = [
        ev(PLACED, "ord_early", 1, side="sell", quantity="1000"),
        ev(CANCELLED, "ord_early", 9, side="sell", quantity="1000"),
    ]
    # Only two of the three sells are cancelled; the extra orders must not complete the layer.
    without_third = [e for e in events if not (e.kind is CANCELLED and e.order_id == "ord_l2")]

    assert by_rule(replay(sorted(without_third + late + early, key=lambda e: e.at)), "SURV-04") == []


def test_a_fill_on_the_same_side_does_not_count() -> None:
    events = [
        e if e.kind is not FILLED else ev(FILLED, "ord_g", 10, side="sell", quantity="100")
        for e in layering()
    ]

    assert replay(events) == []


def test_the_usual_size_does_not_count_the_layer() -> None:
    # Four 10s, two 1000s and the genuine 100 have the median 10; counting the three 300s would make it 200.
    history = [*usual_orders(4, "10"), *usual_orders(2, "1000")]
    history = [ev(PLACED, f"ord_h{i}", e.at - T0, quantity=str(e.quantity)) for i, e in enumerate(history)]

    [alert] = replay(layering(sizes=("300", "300", "300"), history=history))

    assert alert.facts["usual_size"] == "10"


def test_the_usual_size_looks_back_thirty_days() -> None:
    old = [ev(PLACED, f"ord_o{i}", timedelta(days=-31), quantity="1") for i in range(10)]

    [alert] = replay(layering(history=[*old, *usual_orders()]))

    assert alert.facts["usual_size"] == "100"
    assert alert.facts["usual_size_orders"] == "6"


def test_with_too_few_earlier_orders_the_usual_size_is_the_opposite_fill() -> None:
    # Three earlier orders plus the genuine one are four, below the five needed for a median.
    fallback = layering(history=usual_orders(3, "1"))

    [alert] = replay(fallback)
    assert alert.facts["usual_size_basis"] == "opposite_fill_quantity"
    assert alert.facts["usual_size"] == "100"
    assert alert.facts["usual_size_orders"] == "4"
    assert replay(layering(sizes=("200", "190", "100"), history=usual_orders(3, "1"))) == []


def test_the_caller_may_supply_the_usual_size() -> None:
    events = layering(sizes=("20", "20", "10"), history=[])

    [alert] = replay(events, usual_size=Decimal(10))
    assert (alert.facts["usual_size"], alert.facts["usual_size_basis"]) == ("10", "supplied")
    assert replay(events, usual_size=Decimal("10.01")) == []


def test_a_layer_whose_placements_precede_the_history_still_counts() -> None:
    events = [e for e in layering() if not (e.kind is PLACED and e.order_id.startswith("ord_l"))]

    assert by_rule(replay(events), "SURV-04") != []


# --- restriction --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    severity: Severity
    at: datetime


NOW = T0 + timedelta(days=1)


def highs(*hours_ago: float) -> list[Stored]:
    return [Stored(Severity.HIGH, NOW - timedelta(hours=h)) for h in hours_ago]


def test_three_high_alerts_in_a_day_restrict_the_account() -> None:
    assert should_restrict(highs(1, 2, 3), NOW, CONFIG)


def test_two_high_alerts_do_not() -> None:
    assert not should_restrict(highs(1, 2), NOW, CONFIG)


def test_medium_alerts_do_not_count() -> None:
    alerts = [*highs(1, 2), Stored(Severity.MEDIUM, NOW), Stored(Severity.LOW, NOW)]

    assert not should_restrict(alerts, NOW, CONFIG)


def test_the_restriction_window_is_twenty_four_hours_inclusive() -> None:
    assert should_restrict(highs(1, 2, 24), NOW, CONFIG)
    assert not should_restrict(
        [*highs(1, 2), Stored(Severity.HIGH, NOW - timedelta(hours=24, seconds=1))], NOW, CONFIG
    )


def test_alerts_up_to_a_clearance_no_longer_count() -> None:
    alerts = highs(1, 2, 3)

    assert not should_restrict(alerts, NOW, CONFIG, cleared_at=NOW - timedelta(hours=3))
    assert should_restrict(alerts, NOW, CONFIG, cleared_at=NOW - timedelta(hours=3, seconds=1))


def test_alert_drafts_can_be_counted_directly() -> None:
    drafts = [a for _ in range(3) for a in replay(layering())]

    assert should_restrict(drafts, T0 + timedelta(minutes=1), CONFIG)
    assert not should_restrict(drafts, T0 + timedelta(seconds=39), CONFIG)  # raised in the future


# --- properties ---------------------------------------------------------------------------------------


@st.composite
def order_events(draw: st.DrawFn, at: st.SearchStrategy[int] | None = None) -> OrderEvent:
    # Few accounts, orders and instruments, so that random events often meet each other's rules.
    return OrderEvent(
        kind=draw(st.sampled_from(OrderEventKind)),
        order_id=draw(st.sampled_from([f"ord_{i}" for i in range(8)])),
        account_id=draw(st.sampled_from(["acc_0", "acc_0", "acc_1", "acc_2"])),
        customer_id=draw(st.sampled_from(["cus_0", "cus_0", "cus_1"])),
        instrument_id=draw(st.sampled_from(["ins_A", "ins_A", "ins_B"])),
        side=draw(st.sampled_from(["buy", "sell"])),
        quantity=Decimal(draw(st.integers(1, 1000))),
        price=draw(st.none() | st.integers(1, 2000).map(lambda cents: Decimal(cents).scaleb(-2))),
        at=T0 + timedelta(seconds=draw(st.integers(0, 120) if at is None else at)),
    )


# Low thresholds, so that short random histories raise every kind of alert.
small_config = SurveillanceConfig(
    cancel_burst_count=2,
    cancel_ratio_min_orders=2,
    cancel_ratio=Decimal("0.5"),
    layering_min_orders=1,
    layering_size_multiple=Decimal(1),
    usual_size_min_orders=2,
)
configs = st.sampled_from([CONFIG, small_config])


def assert_well_formed(alerts: Sequence[AlertDraft], event: OrderEvent, given: Sequence[OrderEvent]) -> None:
    known = {e.order_id for e in [*given, event]}
    assert len({a.rule for a in alerts}) == len(alerts)
    for alert in alerts:
        assert alert.rule in RULES
        assert SNAKE_CASE.match(alert.code)
        assert (alert.account_id, alert.customer_id, alert.at) == (
            event.account_id,
            event.customer_id,
            event.at,
        )
        assert alert.order_ids
        assert set(alert.order_ids) <= known
        assert alert.message.endswith(".")
        assert all(isinstance(v, str) for v in alert.facts.values())


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(order_events(), max_size=40), configs, st.frozensets(st.just("acc_2")))
def test_evaluate_never_raises_and_only_names_orders_it_was_given(
    events: list[OrderEvent], config: SurveillanceConfig, linked: frozenset[str]
) -> None:
    # Replayed in time order, as the caller does, and also against the whole unsorted list.
    in_order = sorted(events, key=lambda e: e.at)
    for i, event in enumerate(in_order):
        assert_well_formed(
            evaluate(event, in_order[:i], config, linked_account_ids=linked), event, in_order[:i]
        )
        assert_well_formed(evaluate(event, events, config, linked_account_ids=linked), event, events)


@settings(max_examples=100, deadline=None, database=None)
@given(st.data(), configs)
def test_evaluate_does_not_depend_on_the_order_of_the_history(
    data: st.DataObject, config: SurveillanceConfig
) -> None:
    offsets = sorted(data.draw(st.lists(st.integers(0, 120), unique=True, max_size=30)))
    events = [data.draw(order_events(at=st.just(t))) for t in offsets]
    rng = data.draw(st.randoms(use_true_random=False))
    for i, event in enumerate(events):
        shuffled = events[:i]
        rng.shuffle(shuffled)
        assert evaluate(event, shuffled, config) == evaluate(event, events[:i], config)
