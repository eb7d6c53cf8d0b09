"""Market-abuse surveillance on order events: cancellation bursts, wash trades and layering (DOMAIN.md)."""

from __future__ import annotations

import statistics
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Protocol

from gateway.domain.errors import RuleViolationError

# The rulebook. Alerts name SURV-01 to SURV-04; the other entries say how those are measured and what
# follows from them. Windows include both ends: "within 60 s" means that the oldest event counted is at
# most 60 s older than the newest. The numbers in brackets are the SurveillanceConfig defaults.
RULES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "SURV-01": (
            "An account that cancels cancel_burst_count (10) or more orders within cancel_burst_window "
            "(60 s), in any instruments, raises a medium alert, once per episode (see SURV-DEDUP)."
        ),
        "SURV-02": (
            "An account that placed cancel_ratio_min_orders (20) or more orders within cancel_ratio_window "
            "(5 min) and cancelled cancel_ratio (90%) or more of them raises a medium alert, once per "
            "episode (see SURV-DEDUP); it is checked on every placement and cancellation."
        ),
        "SURV-03": (
            "An order that would trade with an open opposite order in the same instrument, placed within "
            "wash_window (60 s) by an account of the same customer or a linked account, is a wash trade: "
            "a high alert, and the second order is blocked. Orders would trade when the buy limit is at or "
            "above the sell limit; a market order crosses any price."
        ),
        "SURV-04": (
            "Layering: layering_min_orders (3) or more same-side orders of one account in one instrument, "
            "placed before a fill on the other side and cancelled within layering_cancel_window (30 s) "
            "after it, totalling layering_size_multiple (5) times the usual size or more, raise a high "
            "alert at the cancellation that completes the layer; later cancellations of a layer already "
            "reported raise nothing (see SURV-USUAL). An order whose placement precedes the history "
            "counts as placed before the fill."
        ),
        "SURV-USUAL": (
            "The usual size is the median quantity of the account's orders placed in the instrument "
            "(either side) within usual_size_lookback (30 days) before the fill, not counting the layer; "
            "with fewer than usual_size_min_orders (5) such orders it is the quantity of the opposite "
            "fill, the genuine trade the layer surrounds. A caller may supply the usual size instead."
        ),
        "SURV-DEDUP": (
            "SURV-01 and SURV-02 alert on the event at which the threshold is first met; while it is met "
            "again at least once per window the episode continues without new alerts. A cancellation "
            "of an order whose cancellation is already in the history counts once and raises nothing."
        ),
        "SURV-RESTRICT": (
            "restriction_high_alerts (3) or more high alerts within restriction_window (24 h), raised after "
            "the last clearance by a compliance officer, restrict the account: no new orders."
        ),
    }
)

SIDES: Final = frozenset({"buy", "sell"})
_RATIO_PLACES: Final = Decimal("0.0001")
_ONE_MINUTE: Final = timedelta(seconds=60)
_FIVE_MINUTES: Final = timedelta(minutes=5)
_THIRTY_SECONDS: Final = timedelta(seconds=30)
_THIRTY_DAYS: Final = timedelta(days=30)
_ONE_DAY: Final = timedelta(hours=24)
_NINETY_PERCENT: Final = Decimal("0.90")
_FIVE: Final = Decimal(5)


class OrderEventKind(StrEnum):
    PLACED = "placed"
    CANCELLED = "cancelled"
    FILLED = "filled"  # one (possibly partial) fill on the order


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One event in an order's life, as surveillance sees it."""

    kind: OrderEventKind
    order_id: str
    account_id: str
    customer_id: str
    instrument_id: str
    side: str  # "buy" | "sell"
    quantity: Decimal  # the order quantity for PLACED and CANCELLED, the fill quantity for FILLED
    price: Decimal | None  # the limit price (None: market order) for PLACED, the fill price for FILLED
    at: datetime  # timezone-aware

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise RuleViolationError("side must be buy or sell", field="side", side=self.side)
        if not self.quantity.is_finite() or self.quantity <= 0:
            raise RuleViolationError("quantity must be a positive number", field="quantity")
        if self.price is not None and (not self.price.is_finite() or self.price <= 0):
            raise RuleViolationError("price must be a positive number", field="price")
        if self.at.utcoffset() is None:  # naive and aware datetimes cannot be compared
            raise RuleViolationError("event time must be timezone-aware", field="at")


@dataclass(frozen=True, slots=True)
class SurveillanceConfig:
    """The thresholds of the rules in RULES; the defaults are DOMAIN.md's."""

    cancel_burst_count: int = 10
    cancel_burst_window: timedelta = _ONE_MINUTE
    cancel_ratio: Decimal = _NINETY_PERCENT
    cancel_ratio_min_orders: int = 20
    cancel_ratio_window: timedelta = _FIVE_MINUTES
    wash_window: timedelta = _ONE_MINUTE
    layering_min_orders: int = 3
    layering_size_multiple: Decimal = _FIVE
    layering_cancel_window: timedelta = _THIRTY_SECONDS
    usual_size_lookback: timedelta = _THIRTY_DAYS
    usual_size_min_orders: int = 5
    restriction_high_alerts: int = 3
    restriction_window: timedelta = _ONE_DAY

    def __post_init__(self) -> None:
        counts = {
            "cancel_burst_count": self.cancel_burst_count,
            "cancel_ratio_min_orders": self.cancel_ratio_min_orders,
            "layering_min_orders": self.layering_min_orders,
            "usual_size_min_orders": self.usual_size_min_orders,
            "restriction_high_alerts": self.restriction_high_alerts,
        }
        windows = {
            "cancel_burst_window": self.cancel_burst_window,
            "cancel_ratio_window": self.cancel_ratio_window,
            "wash_window": self.wash_window,
            "layering_cancel_window": self.layering_cancel_window,
            "usual_size_lookback": self.usual_size_lookback,
            "restriction_window": self.restriction_window,
        }
        for name, count in counts.items():
            if count < 1:
                raise RuleViolationError(f"{name} must be at least 1", field=name)
        for name, window in windows.items():
            if window <= timedelta(0):
                raise RuleViolationError(f"{name} must be positive", field=name)
        if not (0 < self.cancel_ratio <= 1):
            raise RuleViolationError("cancel_ratio must be above 0 and at most 1", field="cancel_ratio")
        if not (self.layering_size_multiple.is_finite() and self.layering_size_multiple > 0):
            raise RuleViolationError(
                "layering_size_multiple must be positive", field="layering_size_multiple"
            )

    @property
    def history_lookback(self) -> timedelta:
        """How far back `evaluate` needs the history (SURV-USUAL needs usual_size_lookback on top)."""
        # An alert is deduplicated against earlier events of the window, each with a window of its own.
        return max(
            2 * self.cancel_burst_window,
            2 * self.cancel_ratio_window,
            self.wash_window,
            self.layering_cancel_window,
        )


@dataclass(frozen=True, slots=True)
class AlertDraft:
    """An alert to record: the rule, a stable code, whom it concerns and the facts that triggered it."""

    rule: str
    code: str
    severity: Severity
    account_id: str
    customer_id: str
    instrument_id: str | None  # None for the account-wide cancellation rules
    message: str
    facts: Mapping[str, str]
    order_ids: tuple[str, ...]
    at: datetime  # the time of the event (or of the check) that raised it


class RecordedAlert(Protocol):
    """What `should_restrict` reads of a stored alert; an AlertDraft qualifies."""

    @property
    def severity(self) -> Severity: ...

    @property
    def at(self) -> datetime: ...


def evaluate(
    event: OrderEvent,
    history: Sequence[OrderEvent],
    config: SurveillanceConfig,
    *,
    linked_account_ids: Collection[str] = frozenset(),
    usual_size: Decimal | None = None,
) -> tuple[AlertDraft, ...]:
    """Run the rules this event can trigger against the events before it; return the alerts to record."""
    # History later than the event is not "before" it; the event itself may already be stored.
    past = sorted((e for e in history if e.at <= event.at and e != event), key=_time)
    own = [e for e in past if e.account_id == event.account_id]
    found: list[AlertDraft | None] = []
    if event.kind is OrderEventKind.PLACED:
        # wash_trade_check blocks before the order is placed; this catches a placement that bypassed it.
        found.append(_wash_in_history(event, past, config, linked_account_ids))
        found.append(_cancel_ratio(event, own, config))
    elif event.kind is OrderEventKind.CANCELLED:
        found.append(_cancel_burst(event, own, config))
        found.append(_cancel_ratio(event, own, config))
        found.append(_layering(event, own, config, usual_size))
    return tuple(a for a in found if a is not None)


def wash_trade_check(
    incoming: OrderEvent,
    open_orders: Sequence[OrderEvent],
    now: datetime,
    config: SurveillanceConfig,
    *,
    linked_account_ids: Collection[str] = frozenset(),
) -> AlertDraft | None:
    """Rule SURV-03: an alert when the incoming order would trade with a recent open order of its owner."""
    # `open_orders` are the PLACED events of the orders still open; the caller blocks on an alert.
    matches = [
        o
        for o in sorted(open_orders, key=_time)
        if o.kind is OrderEventKind.PLACED
        and o.order_id != incoming.order_id
        and o.instrument_id == incoming.instrument_id
        and o.side != incoming.side
        and (o.customer_id == incoming.customer_id or o.account_id in linked_account_ids)
        and timedelta(0) <= now - o.at <= config.wash_window
        and _crosses(incoming, o)
    ]
    if not matches:
        return None
    nearest = matches[-1]
    return AlertDraft(
        rule="SURV-03",
        code="wash_trade",
        severity=Severity.HIGH,
        account_id=incoming.account_id,
        customer_id=incoming.customer_id,
        instrument_id=incoming.instrument_id,
        message=(
            f"Order {incoming.order_id} ({incoming.side} at {_price(incoming.price)}) would trade with "
            f"order {nearest.order_id} ({nearest.side} at {_price(nearest.price)}) of the same customer "
            f"or a linked account placed {_seconds(now - nearest.at)} s earlier; the second order is blocked."
        ),
        facts=MappingProxyType(
            {
                "incoming_order_id": incoming.order_id,
                "incoming_account_id": incoming.account_id,
                "incoming_side": incoming.side,
                "incoming_price": _price(incoming.price),
                "counter_order_ids": ",".join(o.order_id for o in matches),
                "counter_account_ids": ",".join(sorted({o.account_id for o in matches})),
                "nearest_order_id": nearest.order_id,
                "nearest_price": _price(nearest.price),
                "seconds_apart": _seconds(now - nearest.at),
                "window_seconds": _seconds(config.wash_window),
                "action": "block_incoming_order",
            }
        ),
        order_ids=(*(o.order_id for o in matches), incoming.order_id),
        at=now,
    )


def should_restrict(
    alerts: Sequence[RecordedAlert],
    now: datetime,
    config: SurveillanceConfig,
    *,
    cleared_at: datetime | None = None,
) -> bool:
    """Rule SURV-RESTRICT: whether the account's recent high alerts restrict it from new orders."""
    since = now - config.restriction_window
    recent_high = [
        a
        for a in alerts
        if a.severity is Severity.HIGH
        and since <= a.at <= now
        and (cleared_at is None or a.at > cleared_at)  # an alert at the clearing instant was reviewed
    ]
    return len(recent_high) >= config.restriction_high_alerts


# --- SURV-01 and SURV-02 ------------------------------------------------------------------------------


def _cancel_burst(
    event: OrderEvent, own: Sequence[OrderEvent], config: SurveillanceConfig
) -> AlertDraft | None:
    cancels = _firsts(e for e in own if e.kind is OrderEventKind.CANCELLED)
    if event.order_id in {c.order_id for c in cancels}:
        return None  # a repeated cancellation (SURV-DEDUP)
    cancels.append(event)
    window = config.cancel_burst_window
    times = [c.at for c in cancels]
    met = [n >= config.cancel_burst_count for n in _window_counts(times, window)]
    if not _first_met(met, times, window):
        return None
    burst = [c for c in cancels if c.at >= event.at - window]
    return AlertDraft(
        rule="SURV-01",
        code="frequent_cancellation",
        severity=Severity.MEDIUM,
        account_id=event.account_id,
        customer_id=event.customer_id,
        instrument_id=None,
        message=(
            f"Account {event.account_id} cancelled {len(burst)} orders within "
            f"{_seconds(window)} s (threshold {config.cancel_burst_count})."
        ),
        facts=MappingProxyType(
            {
                "cancellations": str(len(burst)),
                "threshold": str(config.cancel_burst_count),
                "window_seconds": _seconds(window),
                "first_cancelled_at": burst[0].at.isoformat(),
                "last_cancelled_at": event.at.isoformat(),
                "instrument_ids": ",".join(sorted({c.instrument_id for c in burst})),
            }
        ),
        order_ids=tuple(c.order_id for c in burst),
        at=event.at,
    )


def _cancel_ratio(
    event: OrderEvent, own: Sequence[OrderEvent], config: SurveillanceConfig
) -> AlertDraft | None:
    placements = _firsts(e for e in own if e.kind is OrderEventKind.PLACED)
    cancellations = _firsts(e for e in own if e.kind is OrderEventKind.CANCELLED)
    if event.order_id in {
        e.order_id for e in (placements if event.kind is OrderEventKind.PLACED else cancellations)
    }:
        return None  # a repeated event (SURV-DEDUP)
    steps = sorted((*placements, *cancellations), key=_time)
    steps.append(event)
    window = config.cancel_ratio_window
    # Sweep the events in order, keeping the orders placed within the window and those of them cancelled.
    placed: dict[str, None] = {}  # insertion-ordered set
    cancelled: dict[str, None] = {}
    met: list[bool] = []
    oldest = 0
    for step in steps:
        if step.kind is OrderEventKind.PLACED:
            placed[step.order_id] = None
        elif step.order_id in placed:
            cancelled[step.order_id] = None
        while steps[oldest].at < step.at - window:
            leaving = steps[oldest]
            if leaving.kind is OrderEventKind.PLACED:
                placed.pop(leaving.order_id, None)
                cancelled.pop(leaving.order_id, None)
            oldest += 1
        met.append(
            len(placed) >= config.cancel_ratio_min_orders
            and config.cancel_ratio * len(placed) <= len(cancelled)
        )
    if not _first_met(met, [s.at for s in steps], window):
        return None
    ratio = (Decimal(len(cancelled)) / len(placed)).quantize(_RATIO_PLACES)
    return AlertDraft(
        rule="SURV-02",
        code="high_cancel_ratio",
        severity=Severity.MEDIUM,
        account_id=event.account_id,
        customer_id=event.customer_id,
        instrument_id=None,
        message=(
            f"Account {event.account_id} cancelled {len(cancelled)} of the {len(placed)} orders it placed "
            f"within {_seconds(window)} s (threshold {config.cancel_ratio} of at least "
            f"{config.cancel_ratio_min_orders} orders)."
        ),
        facts=MappingProxyType(
            {
                "orders": str(len(placed)),
                "cancelled": str(len(cancelled)),
                "cancel_ratio": str(ratio),
                "threshold_ratio": str(config.cancel_ratio),
                "min_orders": str(config.cancel_ratio_min_orders),
                "window_seconds": _seconds(window),
            }
        ),
        order_ids=tuple(cancelled),
        at=event.at,
    )


def _window_counts(times: Sequence[datetime], window: timedelta) -> list[int]:
    """For each position of the sorted times, how many times up to it lie within the window ending there."""
    counts: list[int] = []
    oldest = 0
    for i, t in enumerate(times):
        while times[oldest] < t - window:
            oldest += 1
        counts.append(i - oldest + 1)
    return counts


def _first_met(met: Sequence[bool], times: Sequence[datetime], window: timedelta) -> bool:
    """SURV-DEDUP: the last position meets the threshold and no earlier position within the window did."""
    *earlier, last = met
    now = times[-1]
    return last and not any(m for m, t in zip(earlier, times[:-1], strict=True) if t >= now - window)


# --- SURV-03 ------------------------------------------------------------------------------------------


def _wash_in_history(
    event: OrderEvent, past: Sequence[OrderEvent], config: SurveillanceConfig, linked: Collection[str]
) -> AlertDraft | None:
    """SURV-03 after the fact: the placed order against the orders the history shows still open."""
    cancelled = {e.order_id for e in past if e.kind is OrderEventKind.CANCELLED}
    filled: dict[str, Decimal] = {}
    for e in past:
        if e.kind is OrderEventKind.FILLED:
            filled[e.order_id] = filled.get(e.order_id, Decimal(0)) + e.quantity
    open_orders = [
        e
        for e in _firsts(e for e in past if e.kind is OrderEventKind.PLACED)
        if e.order_id not in cancelled and filled.get(e.order_id, Decimal(0)) < e.quantity
    ]
    return wash_trade_check(event, open_orders, event.at, config, linked_account_ids=linked)


def _crosses(a: OrderEvent, b: OrderEvent) -> bool:
    buy, sell = (a, b) if a.side == "buy" else (b, a)
    if buy.price is None or sell.price is None:
        return True  # a market order takes whatever is on the other side
    return buy.price >= sell.price


# --- SURV-04 ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Layer:
    fill: OrderEvent
    cancels: tuple[OrderEvent, ...]
    usual_size: Decimal
    basis: str
    usual_size_orders: int


def _layering(
    event: OrderEvent, own: Sequence[OrderEvent], config: SurveillanceConfig, usual_size: Decimal | None
) -> AlertDraft | None:
    same_instrument = [e for e in own if e.instrument_id == event.instrument_id]
    cancels = _firsts(e for e in same_instrument if e.kind is OrderEventKind.CANCELLED)
    if event.order_id in {c.order_id for c in cancels}:
        return None  # a repeated cancellation
    cancels.append(event)
    placements = _firsts(e for e in same_instrument if e.kind is OrderEventKind.PLACED)
    placed_at = {p.order_id: p.at for p in placements}
    window = config.layering_cancel_window
    fills = [
        e
        for e in same_instrument
        if e.kind is OrderEventKind.FILLED and e.side != event.side and event.at - window <= e.at <= event.at
    ]
    found: list[_Layer] = []
    for fill in fills:
        # An order without a PLACED event in the history was placed before the history starts.
        layer = tuple(
            c
            for c in cancels
            if c.side == event.side
            and fill.at <= c.at <= fill.at + window
            and placed_at.get(c.order_id, fill.at) <= fill.at
        )
        if event.order_id not in {c.order_id for c in layer}:
            continue
        candidate = _with_usual_size(fill, layer, placements, config, usual_size)
        before = tuple(c for c in layer if c.order_id != event.order_id)
        if _is_layering(before, candidate.usual_size, config):
            return None  # this fill's layer was already reported at an earlier cancellation
        if _is_layering(layer, candidate.usual_size, config):
            found.append(candidate)
    if not found:
        return None
    hit = found[-1]  # the latest fill the layer surrounds
    total = sum((c.quantity for c in hit.cancels), Decimal(0))
    required = config.layering_size_multiple * hit.usual_size
    ids = tuple(c.order_id for c in hit.cancels)
    return AlertDraft(
        rule="SURV-04",
        code="layering",
        severity=Severity.HIGH,
        account_id=event.account_id,
        customer_id=event.customer_id,
        instrument_id=event.instrument_id,
        message=(
            f"Account {event.account_id} cancelled {len(ids)} {event.side} orders totalling {total} within "
            f"{_seconds(window)} s of a {hit.fill.side} fill on order {hit.fill.order_id}, "
            f"{config.layering_size_multiple} times the usual size {hit.usual_size} or more."
        ),
        facts=MappingProxyType(
            {
                "fill_order_id": hit.fill.order_id,
                "fill_side": hit.fill.side,
                "fill_quantity": str(hit.fill.quantity),
                "fill_price": _price(hit.fill.price),
                "filled_at": hit.fill.at.isoformat(),
                "layer_side": event.side,
                "layer_orders": str(len(ids)),
                "layer_quantity": str(total),
                "usual_size": str(hit.usual_size),
                "usual_size_basis": hit.basis,
                "usual_size_orders": str(hit.usual_size_orders),
                "size_multiple": str(config.layering_size_multiple),
                "required_quantity": str(required),
                "cancel_window_seconds": _seconds(window),
                "last_cancel_after_fill_seconds": _seconds(event.at - hit.fill.at),
            }
        ),
        order_ids=(*ids, hit.fill.order_id),
        at=event.at,
    )


def _with_usual_size(
    fill: OrderEvent,
    layer: tuple[OrderEvent, ...],
    placements: Sequence[OrderEvent],
    config: SurveillanceConfig,
    supplied: Decimal | None,
) -> _Layer:
    """SURV-USUAL: the layer with the usual size it is measured against, and how that was found."""
    if supplied is not None:
        return _Layer(fill, layer, supplied, "supplied", 0)
    in_layer = {c.order_id for c in layer}
    sizes = [
        p.quantity
        for p in placements
        if p.order_id not in in_layer and fill.at - config.usual_size_lookback <= p.at <= fill.at
    ]
    if len(sizes) < config.usual_size_min_orders:
        return _Layer(fill, layer, fill.quantity, "opposite_fill_quantity", len(sizes))
    return _Layer(fill, layer, statistics.median(sizes), "median_order_quantity", len(sizes))


def _is_layering(layer: Sequence[OrderEvent], usual_size: Decimal, config: SurveillanceConfig) -> bool:
    total = sum((c.quantity for c in layer), Decimal(0))
    return len(layer) >= config.layering_min_orders and total >= config.layering_size_multiple * usual_size


# --- helpers ------------------------------------------------------------------------------------------


def _time(e: OrderEvent) -> datetime:
    return e.at


def _firsts(events: Iterable[OrderEvent]) -> list[OrderEvent]:
    """The first event per order id, in the given order (later repeats are retries, not new facts)."""
    seen: dict[str, OrderEvent] = {}
    for e in events:
        seen.setdefault(e.order_id, e)
    return list(seen.values())


def _price(price: Decimal | None) -> str:
    return "market" if price is None else str(price)


def _seconds(delta: timedelta) -> str:
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return format((Decimal(micros) / 1_000_000).normalize(), "f")
