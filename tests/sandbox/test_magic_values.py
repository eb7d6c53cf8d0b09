"""docs/sandbox/magic-values.md, row by row: each table of the page is read and run as written.

Orders run on order entry with the sandbox's magic venue (SQLite and PostgreSQL), webhooks through
the failing-endpoints sender over a fake sender, points through the points service, screening
through the real screener. Production's wiring (the plain venue) ignores every magic prefix.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, cast

import pytest

from gateway.app import delivery_lane
from gateway.domain.compliance.sanctions_data import load_sanctions_list
from gateway.domain.compliance.screening import DEFAULT_THRESHOLDS, Screener, ScreeningSubject
from gateway.domain.consent.models import PointsConversionLimit
from gateway.domain.environment import Environment
from gateway.domain.errors import DomainError
from gateway.domain.points.errors import PointsLimitExceededError
from gateway.domain.points.models import DAILY_CAP, ConversionState
from gateway.domain.points.service import ConversionRequest
from gateway.domain.trading.errors import OrderRejectedError
from gateway.domain.trading.models import EventType, Order, OrderStatus, OutboxEvent, Side
from gateway.problems import DOMAIN_PROBLEMS, PROBLEM_TYPES, problem_slug
from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.storage.migrate import prepare
from gateway.storage.tables.outbox import OutboxRow
from gateway.storage.trading import SqlTradingStore
from gateway.storage.webhooks import SecretBox, SqlWebhookStore
from partners.webhooks.delivery import DeliveryWorker
from partners.webhooks.models import DeliveryState, OutgoingRequest, SendResult, Subscription
from partners.webhooks.service import WebhookService
from partners.webhooks.url_guard import UrlPolicy
from sandbox.clock import FrozenClock
from sandbox.magic import PREFIXES
from sandbox.webhooks import FailingEndpoints, failures_before_success
from tests.gateway.domain.points.conftest import PointsDesk, build_points
from tests.trading import (
    CN_MORNING,
    CN_STOCK,
    US_STOCK,
    Desk,
    actor_for,
    assert_ledger_balanced,
    build_desk,
    request,
)

DOC: Final = Path(__file__).resolve().parents[2] / "docs" / "sandbox" / "magic-values.md"
CENT: Final = Decimal("0.01")


# -- reading the page ------------------------------------------------------------------------------


def tables() -> list[list[dict[str, str]]]:
    """Every table of the page, as rows keyed by the header cells (code marks kept)."""
    found: list[list[dict[str, str]]] = []
    block: list[list[str]] = []
    for line in [*DOC.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("|"):
            block.append([cell.strip() for cell in line.strip().strip("|").split("|")])
            continue
        if block:
            header, _rule, *rows = block
            found.append([dict(zip(header, row, strict=True)) for row in rows])
            block = []
    return found


def table(column: str) -> list[dict[str, str]]:
    """The one table with a column headed `column`."""
    (rows,) = [rows for rows in tables() if rows and column in rows[0]]
    return rows


def spans(cell: str) -> list[str]:
    return re.findall(r"`([^`]*)`", cell)


def plain(cell: str) -> str:
    return cell.strip("`")


def row_id(row: dict[str, str]) -> str:
    return " ".join(plain(value) for value in list(row.values())[:4])


def refused(error: DomainError) -> str:
    """The problem an error answers with: `status slug`."""
    slug = problem_slug(type(error), DOMAIN_PROBLEMS)
    assert slug is not None
    return f"{PROBLEM_TYPES[slug].status} {slug}"


def reasons_of(error: DomainError) -> list[dict[str, Any]]:
    return cast("list[dict[str, Any]]", error.context["reasons"])


def reason_codes(error: DomainError) -> list[str]:
    return [str(reason["code"]) for reason in reasons_of(error)]


# -- desks -----------------------------------------------------------------------------------------


def magic_desk(database: Database, clock: FrozenClock) -> Desk:
    return build_desk(database, clock, magic=True)


@pytest.fixture
def database(backend_settings: Settings) -> Iterator[Database]:
    database = Database(backend_settings.database(Environment.SANDBOX))
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def production_database(backend_settings: Settings) -> Iterator[Database]:
    database = Database(backend_settings.database(Environment.PRODUCTION))
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def desk(database: Database) -> Desk:
    return magic_desk(database, FrozenClock(CN_MORNING))


@pytest.fixture
def production_desk(database: Database) -> Desk:
    return build_desk(database, FrozenClock(CN_MORNING))


def events(desk: Desk, order_id: str) -> list[str]:
    table_ = OutboxRow.__table__
    with desk.database.read() as conn:
        rows = conn.execute(
            table_.select().where(table_.c.subject_id == order_id).order_by(table_.c.created_at, table_.c.id)
        )
        return [row.type for row in rows]


# -- orders ----------------------------------------------------------------------------------------

ORDER = re.compile(
    r"^(?P<type>market|limit|fund_subscription|fund_redemption) (?P<side>buy|sell) (?P<size>[0-9.]+)"
    r"(?: @ ref\u00d7(?P<factor>[0-9.]+))?$"
)
ORDER_ROWS: Final = table("`client_order_id`")


def test_the_prefix_table_names_every_prefix_the_magic_venue_knows() -> None:
    documented = {plain(row["Prefix"]) for row in table("Prefix")}
    assert documented == set(PREFIXES)
    assert all(any(plain(row["`client_order_id`"]).startswith(p) for row in ORDER_ROWS) for p in PREFIXES)


@pytest.mark.parametrize("row", ORDER_ROWS, ids=row_id)
def test_each_order_row_happens_as_documented(desk: Desk, row: dict[str, str]) -> None:
    client_order_id, instrument_id = plain(row["`client_order_id`"]), plain(row["Instrument"])
    shape = ORDER.match(plain(row["Order"]))
    assert shape is not None, row["Order"]
    customer = desk.customer("zhang.min")
    actor = actor_for(customer)
    held = Decimal(row["Held"])
    if held:
        bought = desk.place(actor, instrument_id=instrument_id, quantity=held).order
        assert bought.status is OrderStatus.FILLED
    reference = desk.reference(instrument_id)
    size = Decimal(shape["size"])
    terms: dict[str, object] = {
        "client_order_id": client_order_id,
        "instrument_id": instrument_id,
        "side": shape["side"],
        "order_type": shape["type"],
    }
    terms["amount" if shape["type"] == "fund_subscription" else "quantity"] = size
    limit = (reference * Decimal(shape["factor"])).quantize(CENT) if shape["factor"] else None
    if limit is not None:
        terms["limit_price"] = limit
    outcome = spans(row["Outcome"])
    problems = [s for s in outcome if re.fullmatch(r"\d{3} [a-z-]+", s)]
    expected = dict(s.split("=", 1) for s in outcome if s not in problems)
    if problems:
        (problem,) = problems
        assert desk.entry.preview(actor, request(**terms)).report.failed(expected["reason"])
        with pytest.raises(OrderRejectedError) as refusal:
            desk.entry.place(actor, request(**terms))
        assert refused(refusal.value) == problem
        assert expected.pop("reason") in reason_codes(refusal.value)
        assert not [
            o
            for o in desk.orders()
            if o.client_order_id == client_order_id and o.client_id == actor.client_id
        ]
    else:
        order = desk.entry.place(actor, request(**terms)).order
        check_order(desk, order, expected, reference=reference, limit=limit)
    assert not expected, f"the test does not know how to check {expected}"
    assert_ledger_balanced(desk)


def check_order(
    desk: Desk, order: Order, expected: dict[str, str], *, reference: Decimal, limit: Decimal | None
) -> None:
    """Each `name=value` of the outcome, removed from `expected` once checked."""
    fills = desk.store.fills(order.id)
    checks: dict[str, Callable[[str], bool]] = {
        "status": lambda v: order.status.value == v,
        "reject_reason": lambda v: order.reject_reason == v,
        "filled_quantity": lambda v: (
            order.filled_quantity == Decimal(v) == sum((f.quantity for f in fills), Decimal(0))
        ),
        "held_cash": lambda v: order.held_cash == Decimal(v),
        "held_quantity": lambda v: order.held_quantity == Decimal(v),
        "fill_price": lambda v: (
            bool(fills) and {f.price for f in fills} == {reference if v == "ref" else limit}
        ),
        "rests": lambda v: order.live and order.remaining == Decimal(v) and order.held_cash > 0,
    }
    for name in list(expected):
        assert checks[name](expected.pop(name)), (name, order, fills)


def test_a_venue_rejection_is_accepted_then_rejected_and_gives_the_cash_back(desk: Desk) -> None:
    customer = desk.customer()
    before = desk.cash(customer, "CNY", market="CN")
    order = desk.place(
        actor_for(customer), client_order_id="sbx_reject_cash", instrument_id=CN_STOCK, quantity=100
    ).order
    assert (order.status, order.reject_reason) == (OrderStatus.REJECTED, "venue_rejected")
    assert desk.cash(customer, "CNY", market="CN") == before
    # One transaction's trading events share their instant: compare them as a set.
    assert sorted(events(desk, order.id)) == ["order.accepted", "order.rejected"]
    assert desk.store.fills(order.id) == []
    assert_ledger_balanced(desk)


def test_a_retried_magic_id_answers_the_first_order(desk: Desk) -> None:
    actor = actor_for(desk.customer())
    first = desk.place(actor, client_order_id="sbx_reject_again", instrument_id=CN_STOCK, quantity=100)
    again = desk.place(actor, client_order_id="sbx_reject_again", instrument_id=CN_STOCK, quantity=100)
    assert (again.order.id, again.created) == (first.order.id, False)


def test_a_partial_limit_order_rests_its_remainder_in_the_book(desk: Desk) -> None:
    actor = actor_for(desk.customer())
    limit = (desk.reference(CN_STOCK) * Decimal("1.02")).quantize(CENT)
    order = desk.place(
        actor,
        client_order_id="sbx_partial_book",
        instrument_id=CN_STOCK,
        order_type="limit",
        quantity=300,
        limit_price=limit,
    ).order
    with desk.store.session() as session:
        resting = [o.id for o in session.resting(CN_STOCK, Side.BUY)]
    assert order.id in resting
    assert sorted(events(desk, order.id)) == ["fill.created", "order.accepted", "order.partially_filled"]
    assert desk.entry.cancel(actor, order.id).status is OrderStatus.CANCELLED
    assert_ledger_balanced(desk)


def test_magic_no_funds_is_the_real_buying_power_refusal(desk: Desk) -> None:
    actor = actor_for(desk.customer())
    with pytest.raises(OrderRejectedError) as real:
        desk.place(actor, instrument_id=CN_STOCK, quantity=100_000)
    with pytest.raises(OrderRejectedError) as magic:
        desk.place(actor, client_order_id="sbx_nofunds_x", instrument_id=CN_STOCK, quantity=100)
    assert type(magic.value) is type(real.value)
    assert refused(magic.value) == refused(real.value) == "422 rule-violation"
    assert magic.value.detail == real.value.detail
    (expected,) = reasons_of(real.value)
    (reason,) = reasons_of(magic.value)
    assert {k: v for k, v in reason.items() if k != "inputs"} == {
        k: v for k, v in expected.items() if k != "inputs"
    }
    assert set(reason["inputs"]) == set(expected["inputs"])
    assert reason["inputs"]["available"] == "0"
    preview = desk.entry.preview(
        actor, request(client_order_id="sbx_nofunds_y", instrument_id=CN_STOCK, quantity=100)
    )
    assert preview.buying_power == 0


def test_a_halt_on_a_closed_market_reports_both_refusals(desk: Desk) -> None:
    actor = actor_for(desk.customer())
    with pytest.raises(OrderRejectedError) as refusal:
        desk.place(actor, client_order_id="sbx_halt_ny", instrument_id=US_STOCK, quantity=1)
    assert reason_codes(refusal.value) == ["market_closed", "trading_halted"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_production_wiring_ignores_every_magic_prefix(production_desk: Desk, prefix: str) -> None:
    actor = actor_for(production_desk.customer())
    order = production_desk.place(
        actor, client_order_id=f"{prefix}x", instrument_id=CN_STOCK, quantity=300
    ).order
    assert (order.status, order.filled_quantity, order.reject_reason) == (
        OrderStatus.FILLED,
        Decimal(300),
        None,
    )
    assert_ledger_balanced(production_desk)


# -- webhooks --------------------------------------------------------------------------------------

WEBHOOK_ROWS: Final = table("Endpoint URL")


@dataclass
class FakeSender:
    """Answers 204 and keeps what it was given to send to `urls` (other tests' deliveries pass by)."""

    urls: set[str] = field(default_factory=set)
    sent: list[OutgoingRequest] = field(default_factory=list)

    def send(self, request: OutgoingRequest, policy: UrlPolicy) -> SendResult:
        if not self.urls or request.url in self.urls:
            self.sent.append(request)
        return SendResult(status_code=204, error=None, duration_ms=1, snippet="ok")


@pytest.mark.parametrize("row", WEBHOOK_ROWS, ids=lambda row: plain(row["Endpoint URL"]))
def test_each_endpoint_row_fails_then_sends_as_documented(row: dict[str, str]) -> None:
    url = plain(row["Endpoint URL"])
    failures = int(row["Attempts failed with 503, not sent"])
    assert int(row["First attempt sent"]) == failures + 1
    assert failures_before_success(url) == failures
    inner = FakeSender()
    endpoints = FailingEndpoints(inner)
    for attempt in range(1, failures + 1):
        message = OutgoingRequest(url=url, headers={"webhook-id": "msg_1"}, body=b"{}", attempt=attempt)
        result = endpoints.send(message, UrlPolicy())
        assert (result.status_code, result.error, result.succeeded) == (503, None, False)
        assert inner.sent == []
    message = OutgoingRequest(url=url, headers={"webhook-id": "msg_1"}, body=b"{}", attempt=failures + 1)
    sent = endpoints.send(message, UrlPolicy())
    assert (sent.status_code, inner.sent) == (204, [message])


def test_the_worker_fails_a_sandbox_endpoint_n_times_and_production_never(tmp_path: Path) -> None:
    # Databases of its own: the worker claims every due delivery, other tests' ones included.
    settings = Settings(var_dir=tmp_path, background_jobs=False)
    prepare(settings)
    database = Database(settings.database(Environment.SANDBOX))
    production_database = Database(settings.database(Environment.PRODUCTION))
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    inner = FakeSender()

    def environment(database: Database) -> tuple[WebhookService, Subscription]:
        store = SqlWebhookStore(database, SecretBox(b"s" * 32))
        webhooks = WebhookService(store=store, clock=clock, policy=UrlPolicy(), random=lambda: 1.0)
        partner_id = f"ptn_{secrets.token_hex(5)}"
        url = f"https://hooks.example.com/{secrets.token_hex(4)}/sbx-fail-2"
        subscription = webhooks.subscribe(partner_id, f"app_{partner_id[4:]}", url, ["order.*"])
        inner.urls.add(url)
        event = OutboxEvent(
            f"evt_{secrets.token_hex(8)}", EventType.ORDER_ACCEPTED, partner_id, "ord_1", {}, clock.now()
        )
        with SqlTradingStore(database).session() as session:
            session.emit(event)
        while webhooks.fan_out():  # other tests' events first: then each pass is one attempt
            pass
        return webhooks, subscription

    sandbox, on_sandbox = environment(database)
    production, on_production = environment(production_database)
    # As gateway/app.py wires them: the sandbox as a lane with failing endpoints, production bare.
    worker = DeliveryWorker(
        [
            delivery_lane(Environment.PRODUCTION, production, inner),
            delivery_lane(Environment.SANDBOX, sandbox, inner),
        ],
        name="magic",
        batch=500,
    )
    for _ in range(3):
        worker.run_once()
        clock.advance(timedelta(hours=2))
    (delivery,) = sandbox.deliveries(on_sandbox.client_id)
    assert (delivery.state, delivery.attempts) == (DeliveryState.SUCCEEDED, 3)
    log = sandbox.attempts(on_sandbox.client_id, delivery.id)
    assert [a.status_code for a in log] == [503, 503, 204]
    assert log[0].response_snippet == "sandbox: /sbx-fail-2 fails attempt 1 of 2; not sent"
    (direct,) = production.deliveries(on_production.client_id)
    assert (direct.state, direct.attempts) == (DeliveryState.SUCCEEDED, 1)
    assert [r.url for r in inner.sent] == [on_production.url, on_sandbox.url]
    database.dispose()
    production_database.dispose()


# -- points ----------------------------------------------------------------------------------------

CONSENTS: Final = {
    row["Consent"]: PointsConversionLimit(
        funds=tuple(spans(row["`funds`"])),
        max_points_per_conversion=int(row["`max_points_per_conversion`"]),
        max_points_per_month=int(row["`max_points_per_month`"]),
    )
    for row in table("`funds`")
}


@pytest.fixture
def points(database: Database) -> PointsDesk:
    return build_points(database, FrozenClock(CN_MORNING))


def test_the_documented_daily_cap_is_the_services() -> None:
    assert DAILY_CAP == 20_000
    assert "**20,000**" in DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("row", table("Used before"), ids=row_id)
def test_each_points_row_is_refused_where_documented(points: PointsDesk, row: dict[str, str]) -> None:
    limit = CONSENTS[row["Consent"]]
    actor = points.actor(points.desk.customer("li.wei"), limit=limit)
    points.publish(actor.partner_id)
    fund = points.desk.catalogue.get_fund(plain(row["Fund"])).id
    money_market = points.desk.catalogue.get_fund("F000001").id
    used = int(row["Used before"])
    while used:
        chunk = min(used, 5000)
        quote = points.service.quote(actor, money_market, chunk).quote
        accepted = points.service.convert(actor, ConversionRequest(f"pc-{quote.id}", quote.id)).conversion
        assert accepted.state is ConversionState.ACCEPTED
        used -= chunk
    amount = int(row["Points"])
    if row["Refused at"] == "—":
        quote = points.service.quote(actor, fund, amount).quote
        conversion = points.service.convert(actor, ConversionRequest("magic", quote.id)).conversion
        assert (row["Problem"], conversion.state, conversion.points) == (
            "accepted",
            ConversionState.ACCEPTED,
            amount,
        )
        return
    if row["Refused at"] == "quote":
        with pytest.raises(PointsLimitExceededError) as refusal:
            points.service.quote(actor, fund, amount)
    else:
        assert row["Refused at"] == "conversion"
        quote = points.service.quote(actor, fund, amount).quote
        with pytest.raises(PointsLimitExceededError) as refusal:
            points.service.convert(actor, ConversionRequest("magic", quote.id))
        rejected = points.service.get(actor, str(refusal.value.context["conversion_id"]))
        assert (rejected.state, rejected.points_converted) == (ConversionState.REJECTED, 0)
    error = refusal.value
    assert refused(error) == plain(row["Problem"])
    assert error.context["limit"] == plain(row["`context.limit`"])
    assert reason_codes(error) == [plain(row["Reason"])]


# -- screening -------------------------------------------------------------------------------------

SCREENER: Final = Screener(load_sanctions_list())


def test_the_documented_thresholds_are_the_defaults() -> None:
    assert (DEFAULT_THRESHOLDS.review, DEFAULT_THRESHOLDS.block) == (0.82, 0.95)
    defaults = {f.name: f.default for f in fields(Settings)}
    assert (defaults["screening_review_threshold"], defaults["screening_block_threshold"]) == (0.82, 0.95)


@pytest.mark.parametrize("row", table("Top hit"), ids=row_id)
def test_each_screening_row_decides_as_documented(row: dict[str, str]) -> None:
    born, country = row["Birth date"], row["Country"]
    subject = ScreeningSubject(
        row["Name"],
        birth_date=None if born == "—" else datetime.fromisoformat(born).date(),
        country=None if country == "—" else country,
    )
    result = SCREENER.screen(subject)
    assert result.decision.value == row["Decision"]
    if row["Top hit"] == "—":
        assert result.hits == ()
        return
    top = result.hits[0]
    assert (top.entry_id, top.score) == (row["Top hit"], float(row["Score"]))
