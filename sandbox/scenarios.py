"""Scenarios: named market situations played on a seeded price tape for one app, with a log that is
the same, byte for byte, for the same scenario and seed.

Rules (docs/sandbox/scenarios.md):
- Every run starts at `START`, Monday 1 November 2027 at 09:30 in Shanghai (the open), and each
  step runs at a fixed moment after it, bound through the sandbox's clock router: a run never
  reads the wall clock, so it plays the same today and next year.
- A run plays its scenario's tape (sandbox/tapes.py) for one instrument, recorded from the seed;
  only the run sees it. The default seed is `DEFAULT_SEED`; another seed gives another tape.
- A run trades as a fresh copy of the persona, made for the run in the app's workspace (the same
  facts as the app's own copy, identifiers of its own): runs never depend on each other or on
  what the app did before, and a surveillance restriction a run provokes never locks the copy the
  app signs in with. Its orders, alerts and webhooks are real: they go through order entry,
  surveillance and the outbox of the sandbox like any others.
- Whatever a run leaves resting in the book is cancelled at its end.
- The log lists what happened in time order: step, time (ISO 8601, UTC), kind, subject and details
  (strings). Identifiers are labels numbered by first appearance (`order#1`, `fill#1`,
  `alert#1`, `delivery#1`); `ScenarioRun.ids` maps them to the run's real ids, outside the log.
  `sha256` is the SHA-256 of the log's canonical JSON (RFC 8785; for this log: keys sorted, no
  whitespace, UTF-8).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final

from gateway.domain.compliance.alerts import AlertQuery
from gateway.domain.compliance.service import SurveillanceService
from gateway.domain.errors import DomainError, NotFoundError, RuleViolationError
from gateway.domain.ids import new_id
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Instrument
from gateway.domain.trading.entry import OrderEntry
from gateway.domain.trading.models import (
    LIVE_STATUSES,
    Actor,
    EventType,
    Order,
    OrderRequest,
    OrderType,
    Side,
)
from partners.webhooks.models import DeliveryState, OutgoingRequest, SendResult
from partners.webhooks.ports import Sender
from partners.webhooks.service import Claim, WebhookService
from partners.webhooks.url_guard import UrlPolicy
from sandbox.clocks import ClockRouter
from sandbox.personas import Persona
from sandbox.prices import tick_size
from sandbox.tapes import Tape, TapeRouter, TapeShape, on_tick
from sandbox.workspaces import WorkspaceStore, copy_of

START: Final = datetime(2027, 11, 1, 1, 30, tzinfo=UTC)  # Monday 1 November 2027, 09:30 in Shanghai
DEFAULT_SEED: Final = 20271101
MAX_SEED: Final = 2**32 - 1
CN_STOCK: Final = "ins_br6lly2jbc"  # Huaxia Lighting Holdings (CN, R3, lot 100)
CN_ETF: Final = "ins_hgfrf45soo"  # Jade Harbour China Broad Market ETF (CN, R3, lot 100)
DEFAULT_PERSONA: Final = "zhang.min"  # a professional with CNY to spend: every order is suitable
OUTAGE_FAILURES: Final = 3  # attempts of each delivery that fail while the receiver is down
DELIVERY_DEADLINE: Final = timedelta(hours=1)
MAX_PASSES: Final = 1_000
OWNER: Final = "scenario"
# The order in which one order change emits its events: how a pass sorts the run's deliveries.
_EMISSION: Final = (
    EventType.ORDER_ACCEPTED,
    EventType.FILL_CREATED,
    EventType.ORDER_PARTIALLY_FILLED,
    EventType.ORDER_FILLED,
    EventType.ORDER_CANCELLED,
    EventType.ORDER_REJECTED,
    EventType.ORDER_COOLING_OFF_CANCELLED,
)
_ORDER_EVENTS: Final = frozenset({*_EMISSION})


class ScenarioNotFoundError(NotFoundError):
    """No scenario has this name."""


class InvalidScenarioRunError(RuleViolationError):
    """A persona, a seed or an app that the scenario cannot run with."""


@dataclass(frozen=True, slots=True)
class LogEntry:
    step: int
    time: datetime
    kind: str
    subject: str
    details: Mapping[str, str]

    def as_document(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "time": self.time.astimezone(UTC).isoformat(),
            "kind": self.kind,
            "subject": self.subject,
            "details": dict(self.details),
        }


def canonical(log: Sequence[Mapping[str, Any]]) -> bytes:
    """RFC 8785 canonical JSON of a log of strings and integers: sorted keys, no whitespace, UTF-8."""
    return json.dumps(list(log), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class ScenarioRun:
    scenario: str
    seed: int
    persona: str
    instrument_id: str
    starts_at: datetime
    log: tuple[LogEntry, ...]
    ids: Mapping[str, str]  # label -> the real id of this run's object

    @property
    def documents(self) -> list[dict[str, Any]]:
        return [entry.as_document() for entry in self.log]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(canonical(self.documents)).hexdigest()


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    summary: str
    instrument_id: str
    persona: str
    shape: TapeShape
    play: Callable[[_Run], None]
    needs_webhooks: bool = False


@dataclass(frozen=True, slots=True)
class Scenarios:
    """The scenario library of the sandbox, and its runs."""

    orders: OrderEntry
    catalogue: Catalogue
    tapes: TapeRouter
    router: ClockRouter
    personas: Callable[[str], Persona]  # sign-in name -> the published persona
    workspaces: WorkspaceStore
    surveillance: SurveillanceService
    webhooks: WebhookService
    sender: Sender  # the sandbox's webhook sender (magic failing endpoints included)
    library: tuple[Scenario, ...] = field(default_factory=lambda: LIBRARY)

    def get(self, name: str) -> Scenario:
        for scenario in self.library:
            if scenario.name == name:
                return scenario
        raise ScenarioNotFoundError("no such scenario", scenario=name[:64])

    def run(
        self,
        client_id: str,
        partner_id: str,
        name: str,
        *,
        seed: int = DEFAULT_SEED,
        persona: str | None = None,
    ) -> ScenarioRun:
        """Play the scenario for the app now, synchronously; answers its log."""
        scenario = self.get(name)
        if not 0 <= seed <= MAX_SEED:
            raise InvalidScenarioRunError(f"a seed is an integer from 0 to {MAX_SEED}", field="seed")
        username = persona or scenario.persona
        try:
            published = self.personas(username)
        except NotFoundError as exc:
            raise InvalidScenarioRunError(exc.detail, field="persona", **exc.context) from None
        if scenario.needs_webhooks and not any(
            s.receives(t) for s in self.webhooks.subscriptions(client_id) for t in _EMISSION
        ):
            raise InvalidScenarioRunError(
                f"{scenario.name} delivers order events: subscribe an endpoint of this app to them first",
                field="name",
                scenario=scenario.name,
            )
        instrument = self.catalogue.get(scenario.instrument_id)
        tape = Tape.record(
            instrument,
            previous_close=self.tapes.reference_price(instrument, START),  # no tape plays yet
            opens_at=START,
            seed=seed,
            shape=scenario.shape,
        )
        # A copy of its own for every run: the key makes its ids, the app owns it.
        key = new_id("run")
        customer = copy_of(published.customer, f"{client_id}|{key}", 0)
        generation = self.workspaces.generation(client_id)
        made = self.router.present()  # opened now, before any moment of the run
        self.workspaces.add_copy(client_id, generation, customer, restricted=published.restricted, at=made)
        actor = Actor(partner_id, client_id, customer.id, None, None)
        run = _Run(self, scenario, tape, instrument, actor, key)
        run.begin(username, restricted=published.restricted)
        with self.tapes.playing(tape):
            scenario.play(run)
            run.close()
        return ScenarioRun(
            scenario=scenario.name,
            seed=seed,
            persona=username,
            instrument_id=instrument.id,
            starts_at=START,
            log=tuple(run.entries),
            ids=MappingProxyType(dict(run.labels.ids)),
        )


class _Labels:
    """`kind#n` in order of first appearance, and the real id behind each."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self._of: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def new(self, kind: str) -> str:
        self._counts[kind] = self._counts.get(kind, 0) + 1
        return f"{kind}#{self._counts[kind]}"

    def bind(self, real_id: str, label: str) -> None:
        self._of[real_id] = label
        self.ids[label] = real_id

    def of(self, real_id: str, kind: str) -> str:
        label = self._of.get(real_id)
        if label is None:
            label = self.new(kind)
            self.bind(real_id, label)
        return label


class _Run:
    """One run in progress: its steps, at their moments, and the log they write."""

    def __init__(
        self,
        scenarios: Scenarios,
        scenario: Scenario,
        tape: Tape,
        instrument: Instrument,
        actor: Actor,
        key: str,
    ) -> None:
        self.scenarios = scenarios
        self.scenario = scenario
        self.tape = tape
        self.instrument = instrument
        self.actor = actor
        self.key = key
        self.entries: list[LogEntry] = []
        self.labels = _Labels()
        self.orders: dict[str, Order] = {}
        self._requests = 0
        self._alerts: set[str] = set()
        self._market = sorted(
            [(w.start, "halt") for w in tape.halts]
            + [(w.end, "resume") for w in tape.halts]
            + [(w.start, "drought") for w in tape.droughts]
            + [(w.end, "drought_end") for w in tape.droughts]
        )

    # -- the log ------------------------------------------------------------------------------------

    def begin(self, persona: str, *, restricted: bool) -> None:
        """Who trades and the tape, before anything happens on it."""
        tape = self.tape
        self._write(START, "persona", persona, {"restricted": str(restricted).lower()})
        details = {
            "seed": str(tape.seed),
            "previous_close": str(tape.previous_close),
            "open": str(tape.open),
            "gap": str(self.scenario.shape.gap),
            "minutes": str(len(tape.prices)),
        }
        self._write(START, "tape", self.instrument.id, details)

    def note(self, moment: datetime, kind: str, subject: str, **details: str) -> None:
        self._market_until(moment)
        self._write(moment, kind, subject, details)

    def _write(self, moment: datetime, kind: str, subject: str, details: Mapping[str, str]) -> None:
        self.entries.append(LogEntry(len(self.entries) + 1, moment, kind, subject, MappingProxyType(details)))

    def _market_until(self, moment: datetime) -> None:
        """The tape's halts and droughts that began or ended by `moment`, in the log at their time."""
        while self._market and self._market[0][0] <= moment:
            at, kind = self._market.pop(0)
            if at < self.tape.closes_at:
                self._write(at, kind, self.instrument.id, {"price": str(self.tape.price_at(at))})

    @contextmanager
    def at(self, moment: datetime) -> Iterator[None]:
        with self.scenarios.router.at(moment):
            yield

    # -- steps --------------------------------------------------------------------------------------

    def place(self, offset: timedelta, side: Side, quantity: int, *, limit: Decimal | None = None) -> str:
        """An order at START + offset; a limit is a factor of the tape's price then. Answers its label."""
        moment = START + offset
        self._requests += 1
        label = self.labels.new("order")
        reference = self.tape.price_at(moment)
        limit_price = None
        if limit is not None:
            price = reference * limit
            limit_price = on_tick(
                price, tick_size(self.instrument.market, self.instrument.instrument_type, price)
            )
        request = OrderRequest(
            client_order_id=f"scenario:{self.key}:{self._requests}",
            instrument_id=self.instrument.id,
            side=side,
            order_type=OrderType.MARKET if limit_price is None else OrderType.LIMIT,
            quantity=Decimal(quantity),
            limit_price=limit_price,
        )
        terms = {
            "side": side.value,
            "order_type": request.order_type.value,
            "quantity": str(quantity),
            "reference_price": str(reference),
        }
        if limit_price is not None:
            terms["limit_price"] = str(limit_price)
        try:
            with self.at(moment):
                order = self.scenarios.orders.place(self.actor, request).order
        except DomainError as exc:
            self.note(moment, "order_refused", label, **terms, **_refusal(exc))
            self._new_alerts(moment)
            return label
        self.labels.bind(order.id, label)
        self.orders[label] = order
        self.note(moment, "order", label, **terms, **_outcome(order))
        fills = sorted(self.scenarios.orders.fills(order), key=lambda f: (f.executed_at, f.id))
        for fill in fills:
            self.note(
                moment,
                "fill",
                self.labels.of(fill.id, "fill"),
                order=label,
                quantity=str(fill.quantity),
                price=str(fill.price),
                liquidity=fill.liquidity.value,
            )
        self._new_alerts(moment)
        return label

    def cancel(self, offset: timedelta, label: str) -> None:
        moment = START + offset
        with self.at(moment):
            order = self.scenarios.orders.cancel(self.actor, self.orders[label].id)
        self.orders[label] = order
        self.note(moment, "order_cancelled", label, **_outcome(order))
        self._new_alerts(moment)

    def close(self) -> None:
        """Cancel what the run leaves in the book, at the end of its tape; then the tape's last events."""
        moment = self.tape.closes_at - timedelta(minutes=1)
        for label, order in list(self.orders.items()):
            with self.at(moment):
                current = self.scenarios.orders.get(self.actor, order.id)
            if current.status in LIVE_STATUSES:
                self.cancel(moment - START, label)
        self._market_until(self.tape.closes_at)

    def _new_alerts(self, moment: datetime) -> None:
        query = AlertQuery(customer_id=self.actor.customer_id, limit=100)
        found = [a for a in self.scenarios.surveillance.list_alerts(query).items if a.id not in self._alerts]
        for alert in sorted(found, key=lambda a: (a.created_at, a.rule, a.code)):
            self._alerts.add(alert.id)
            self.note(
                moment,
                "alert",
                self.labels.of(alert.id, "alert"),
                rule=alert.rule,
                code=alert.code,
                severity=alert.severity.value,
                orders=",".join(self.labels.of(o, "order") for o in alert.order_ids),
            )

    # -- webhooks -----------------------------------------------------------------------------------

    def deliver(self, offset: timedelta) -> None:
        """Deliver the run's order events from START + offset while the app's receiver is down for the
        first `OUTAGE_FAILURES` attempts of each, until every one succeeded or died.

        Like a test clock's advance, each pass also sends the app's other due deliveries, in the
        run's time; only the run's own are in the log.
        """
        moment = START + offset
        deadline = moment + DELIVERY_DEADLINE
        jitter = _Jitter(self.scenario.name, self.tape.seed)
        webhooks = replace(self.scenarios.webhooks, random=jitter)
        down = _ReceiverDown(self.scenarios.sender, OUTAGE_FAILURES)
        ours = {order.id: label for label, order in self.orders.items()}
        final: dict[str, bool] = {}
        back = False
        partner = self.actor.partner_id
        self.note(moment, "receiver", "webhooks", state="down", failing_attempts=str(OUTAGE_FAILURES))
        for _ in range(MAX_PASSES):
            with self.at(moment):
                while webhooks.fan_out(partner_id=partner):
                    pass
                claims = webhooks.claim(OWNER, 100, partner)
            mine = sorted(
                (c for c in claims if _order_of(c) in ours),
                key=lambda c: _delivery_order(c, ours),
            )
            for claim in (c for c in claims if _order_of(c) not in ours):
                jitter.key = claim.delivery.id
                with self.at(moment):
                    webhooks.attempt(claim, OWNER, self.scenarios.sender)
            for claim in mine:
                label = self.labels.of(claim.delivery.id, "delivery")
                attempt = claim.delivery.attempts + 1
                jitter.key = f"{label}|{attempt}"
                if attempt > OUTAGE_FAILURES and not back:
                    back = True
                    self.note(moment, "receiver", "webhooks", state="up")
                with self.at(moment):
                    delivery = webhooks.attempt(claim, OWNER, down)
                final[delivery.id] = delivery.state in (DeliveryState.SUCCEEDED, DeliveryState.DEAD)
                self.note(
                    moment,
                    "webhook_attempt",
                    label,
                    event_type=delivery.event_type,
                    order=ours[_order_of(claim) or ""],
                    attempt=str(attempt),
                    sent=str(attempt > OUTAGE_FAILURES).lower(),
                    status_code=str(delivery.last_status_code),
                    state=delivery.state.value,
                )
            if final and all(final.values()):
                break
            following = webhooks.next_due(partner, moment)
            if following is None or following > deadline:
                break
            moment = max(following, moment)


class _Jitter:
    """Backoff draws keyed by the delivery's label and attempt: the same run waits the same, in
    whatever order a pass meets the deliveries and whatever else it sends."""

    def __init__(self, scenario: str, seed: int) -> None:
        self._prefix = f"{scenario}|{seed}"
        self.key = ""

    def __call__(self) -> float:
        digest = hashlib.blake2b(f"{self._prefix}|{self.key}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64


class _ReceiverDown:
    """The app's receiver during the outage: attempts up to `failures` fail unsent, later ones go out."""

    def __init__(self, sender: Sender, failures: int) -> None:
        self._sender = sender
        self._failures = failures

    def send(self, request: OutgoingRequest, policy: UrlPolicy) -> SendResult:
        if request.attempt > self._failures:
            return self._sender.send(request, policy)
        return SendResult(
            status_code=503,
            error=None,
            duration_ms=0,
            snippet=f"sandbox scenario: the receiver is down (attempt {request.attempt}); not sent",
        )


def _order_of(claim: Claim) -> str | None:
    try:
        data = json.loads(claim.delivery.body)["data"]
    except (ValueError, KeyError, TypeError):
        return None
    order_id = data.get("order_id") if isinstance(data, dict) else None
    return order_id if isinstance(order_id, str) else None


def _delivery_order(claim: Claim, ours: Mapping[str, str]) -> tuple[int, int, str, str]:
    """The run's deliveries in a pass: by order, by the order in which an order emits, by endpoint."""
    label = ours[_order_of(claim) or ""]
    event = EventType(claim.delivery.event_type)
    subscription = claim.subscription
    return (
        int(label.split("#")[1]),
        _EMISSION.index(event) if event in _ORDER_EVENTS else len(_EMISSION),
        subscription.url if subscription else "",
        subscription.created_at.isoformat() if subscription else "",
    )


def _outcome(order: Order) -> dict[str, str]:
    outcome = {"status": order.status.value, "filled_quantity": str(order.filled_quantity)}
    if order.reject_reason:
        outcome["reject_reason"] = order.reject_reason
    return outcome


def _refusal(exc: DomainError) -> dict[str, str]:
    """The codes of the checks that refused the order, or the sentence of a refusal without any."""
    reasons = exc.context.get("reasons")
    found = reasons if isinstance(reasons, list) else []
    codes = [str(r["code"]) for r in found if isinstance(r, dict) and "code" in r]
    return {"reasons": ",".join(codes)} if codes else {"detail": exc.detail}


# -- the library ------------------------------------------------------------------------------------


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def _minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


def _market_crash(run: _Run) -> None:
    run.place(_seconds(5), Side.BUY, 200)  # fills at the gapped open
    run.place(_minutes(60), Side.SELL, 200)


def _trading_halt(run: _Run) -> None:
    run.place(_minutes(15), Side.BUY, 100)
    run.place(_minutes(35), Side.BUY, 100)  # halted from 10:00
    run.place(_minutes(45), Side.BUY, 100, limit=Decimal("1.01"))
    run.place(_minutes(61), Side.BUY, 100)  # resumed at 10:30


def _liquidity_drought(run: _Run) -> None:
    run.place(_minutes(5), Side.BUY, 400)  # half fills, the market order's rest is cancelled
    resting = run.place(_minutes(10), Side.BUY, 200, limit=Decimal("1.01"))  # half fills, half rests
    run.place(_minutes(11), Side.BUY, 100)  # one lot: half of it is no whole lot, nothing fills
    run.cancel(_minutes(30), resting)


def _manipulation(run: _Run) -> None:
    # SURV-03: a sell that would trade with the persona's own resting buy is blocked.
    opening = _minutes(30)
    run.place(opening, Side.BUY, 300)
    run.place(opening + _seconds(5), Side.BUY, 100, limit=Decimal("0.98"))
    run.place(opening + _seconds(10), Side.SELL, 100, limit=Decimal("0.97"))
    # SURV-04: three buys of five times the genuine sell's size, cancelled right after it fills.
    layer = [
        run.place(opening + _seconds(60), Side.BUY, 200, limit=Decimal("0.97")),
        run.place(opening + _seconds(61), Side.BUY, 200, limit=Decimal("0.965")),
        run.place(opening + _seconds(62), Side.BUY, 100, limit=Decimal("0.96")),
    ]
    run.place(opening + _seconds(70), Side.SELL, 100, limit=Decimal("0.99"))
    for n, label in enumerate(layer):
        run.cancel(opening + _seconds(80 + n), label)


def _partner_outage(run: _Run) -> None:
    run.place(_minutes(5), Side.BUY, 100)
    run.deliver(_minutes(5))


LIBRARY: Final[tuple[Scenario, ...]] = (
    Scenario(
        name="market_crash",
        summary="The instrument opens 10 % below its previous close; a market buy at the open fills at "
        "the gapped price, and a sell an hour later at the tape's price then.",
        instrument_id=CN_STOCK,
        persona=DEFAULT_PERSONA,
        shape=TapeShape(gap=Decimal("-0.10")),
        play=_market_crash,
    ),
    Scenario(
        name="trading_halt",
        summary="The instrument halts from 10:00 to 10:30: orders are refused with trading_halted "
        "until it resumes, at the price it halted at.",
        instrument_id=CN_STOCK,
        persona=DEFAULT_PERSONA,
        shape=TapeShape(halts=((30, 60),)),
        play=_trading_halt,
    ),
    Scenario(
        name="liquidity_drought",
        summary="Liquidity dries up for the whole session: every order fills half its quantity in whole "
        "lots; a market order's rest is cancelled, a limit order's rest rests.",
        instrument_id=CN_STOCK,
        persona=DEFAULT_PERSONA,
        shape=TapeShape(droughts=((0, 120),)),
        play=_liquidity_drought,
    ),
    Scenario(
        name="manipulation",
        summary="The persona places a wash trade (SURV-03) and a layer of buys cancelled right after a "
        "sell fills (SURV-04): surveillance raises both alerts in the staff queue.",
        instrument_id=CN_ETF,
        persona=DEFAULT_PERSONA,
        shape=TapeShape(),
        play=_manipulation,
    ),
    Scenario(
        name="partner_outage",
        summary="The app's webhook receiver is down for the first three attempts of each delivery of a "
        "filled order's events, then back: the retries succeed.",
        instrument_id=CN_STOCK,
        persona=DEFAULT_PERSONA,
        shape=TapeShape(),
        play=_partner_outage,
        needs_webhooks=True,
    ),
)
