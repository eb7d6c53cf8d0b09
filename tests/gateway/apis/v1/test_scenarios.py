"""The scenario library through the SDK: each scenario plays its seeded tape from a fixed moment and
answers a log that is the same byte for byte for the same seed; orders, surveillance alerts and
webhook deliveries of a run are real ones of the sandbox."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from openplatform import Client, errors

from gateway.apis.v1.testing.routes import sandbox_only
from gateway.domain.environment import Environment
from gateway.domain.errors import NotFoundError
from gateway.domain.scopes import Scope
from gateway.services import Platform
from sandbox.prices import tick_size
from sandbox.scenarios import DEFAULT_SEED, LIBRARY, OUTAGE_FAILURES, START, canonical
from sandbox.tapes import on_tick
from tests.support import register_app, staff_app

SANDBOX = Environment.SANDBOX
SCOPES = (Scope.SANDBOX_TESTING, Scope.WEBHOOKS_MANAGE)


def sandbox_sdk(client: TestClient[Any], platform: Platform) -> Client:
    return register_app(platform, environment=SANDBOX, scopes=SCOPES).sdk(client)


def log_of(run: Any) -> list[dict[str, Any]]:
    """The log as the wire carried it, back into plain JSON values."""
    return [
        {"step": e.step, "time": e.time, "kind": e.kind, "subject": e.subject, "details": dict(e.details)}
        for e in run.log
    ]


def entries(run: Any, kind: str) -> list[Any]:
    return [entry for entry in run.log if entry.kind == kind]


def test_the_library_lists_every_scenario_with_its_defaults(
    client: TestClient[Any], platform: Platform
) -> None:
    listed = sandbox_sdk(client, platform).testing.list_scenarios().data
    assert [s.name for s in listed] == [
        "market_crash",
        "trading_halt",
        "liquidity_drought",
        "manipulation",
        "partner_outage",
    ]
    assert {(s.seed, s.starts_at, s.persona) for s in listed} == {(DEFAULT_SEED, START, "zhang.min")}


@pytest.mark.parametrize("name", [s.name for s in LIBRARY if s.name != "partner_outage"])
def test_the_same_seed_gives_a_byte_identical_log_and_another_seed_another_tape(
    client: TestClient[Any], platform: Platform, name: str
) -> None:
    sdk = sandbox_sdk(client, platform)
    first = sdk.testing.run_scenario(name)
    again = sandbox_sdk(client, platform).testing.run_scenario(name, seed=DEFAULT_SEED)  # another app too
    assert canonical(log_of(first)) == canonical(log_of(again))
    assert first.sha256 == again.sha256 == hashlib.sha256(canonical(log_of(first))).hexdigest()
    assert first.ids != again.ids  # real, distinct objects behind the same labels
    other = sdk.testing.run_scenario(name, seed=DEFAULT_SEED + 1)
    assert other.sha256 != first.sha256
    (tape,) = entries(first, "tape")
    (other_tape,) = entries(other, "tape")
    assert tape.details["previous_close"] == other_tape.details["previous_close"]
    assert other_tape.details["seed"] == str(DEFAULT_SEED + 1)
    fills = [e.details["price"] for e in entries(first, "fill")]
    assert fills != [e.details["price"] for e in entries(other, "fill")]


def test_a_market_crash_fills_the_market_order_at_the_gapped_open(
    client: TestClient[Any], platform: Platform
) -> None:
    run = sandbox_sdk(client, platform).testing.run_scenario("market_crash")
    print(json.dumps(log_of(run), indent=1))
    (tape,) = entries(run, "tape")
    previous_close = Decimal(tape.details["previous_close"])
    instrument = platform.catalogue.get(run.instrument_id)
    gapped = previous_close * Decimal("0.90")
    opening = on_tick(gapped, tick_size(instrument.market, instrument.instrument_type, gapped))
    assert tape.details["gap"] == "-0.10"
    assert Decimal(tape.details["open"]) == opening
    buy = entries(run, "order")[0]
    assert (buy.subject, buy.details["order_type"], buy.details["status"]) == ("order#1", "market", "filled")
    fill = entries(run, "fill")[0]
    assert (fill.details["order"], Decimal(fill.details["price"])) == ("order#1", opening)
    assert fill.details["liquidity"] == "reference"
    assert fill.time == START.isoformat().replace("00+00:00", "05+00:00")


def test_a_halt_refuses_every_order_until_the_instrument_resumes(
    client: TestClient[Any], platform: Platform
) -> None:
    run = sandbox_sdk(client, platform).testing.run_scenario("trading_halt")
    (halt,) = entries(run, "halt")
    (resume,) = entries(run, "resume")
    assert (halt.time, resume.time) == ("2027-11-01T02:00:00+00:00", "2027-11-01T02:30:00+00:00")
    assert resume.details["price"] == halt.details["price"]  # it resumes where it halted
    outcomes = [
        (e.subject, e.kind, e.details.get("status") or e.details["reasons"])
        for e in run.log
        if e.kind in ("order", "order_refused")
    ]
    assert outcomes == [
        ("order#1", "order", "filled"),
        ("order#2", "order_refused", "trading_halted"),
        ("order#3", "order_refused", "trading_halted"),
        ("order#4", "order", "filled"),
    ]
    refused = [e for e in run.log if e.kind == "order_refused"]
    assert all(halt.time < e.time < resume.time for e in refused)
    assert "order#2" not in run.ids  # a refused order is never stored


def test_a_drought_fills_half_of_each_order(client: TestClient[Any], platform: Platform) -> None:
    run = sandbox_sdk(client, platform).testing.run_scenario("liquidity_drought")
    placed = {e.subject: e.details for e in entries(run, "order")}
    assert (placed["order#1"]["quantity"], placed["order#1"]["filled_quantity"]) == ("400", "200")
    assert placed["order#1"]["status"] == "cancelled"  # a market order's rest does not wait
    assert (placed["order#2"]["quantity"], placed["order#2"]["filled_quantity"]) == ("200", "100")
    assert placed["order#2"]["status"] == "partially_filled"  # a limit order's rest rests ...
    assert (placed["order#3"]["filled_quantity"], placed["order#3"]["status"]) == ("0", "cancelled")
    (cancelled,) = entries(run, "order_cancelled")
    assert (cancelled.subject, cancelled.details["filled_quantity"]) == (
        "order#2",
        "100",
    )  # ... until cancelled
    for fill in entries(run, "fill"):
        order = placed[fill.details["order"]]
        assert fill.details["price"] == order["reference_price"]  # at the tape's price


def test_manipulation_raises_real_alerts_in_the_staff_queue(
    client: TestClient[Any], platform: Platform
) -> None:
    run = sandbox_sdk(client, platform).testing.run_scenario("manipulation")
    alerts = entries(run, "alert")
    assert [(a.details["rule"], a.details["code"], a.details["severity"]) for a in alerts] == [
        ("SURV-03", "wash_trade", "high"),
        ("SURV-04", "layering", "high"),
    ]
    (wash,) = [e for e in entries(run, "order") if e.details.get("reject_reason") == "wash_trade"]
    assert wash.details["side"] == "sell"
    staff = staff_app(platform).headers(client)
    customers = set()
    for alert in alerts:
        answer = client.get(
            f"/admin/surveillance/alerts/{run.ids[alert.subject]}",
            params={"environment": "sandbox"},
            headers=staff,
        )
        assert answer.status_code == 200, answer.text
        found = answer.json()
        assert (found["rule"], found["code"], found["status"]) == (
            alert.details["rule"],
            alert.details["code"],
            "open",
        )
        assert found["order_ids"] == [run.ids[label] for label in alert.details["orders"].split(",")]
        customers.add(found["customer_id"])
    (customer,) = customers
    queue = client.get(
        "/admin/surveillance/alerts",
        params={"environment": "sandbox", "customer_id": customer},
        headers=staff,
    )
    assert queue.status_code == 200, queue.text
    assert {a["id"] for a in queue.json()["data"]} == {run.ids[a.subject] for a in alerts}
    # Two high alerts are one short of a restriction (SURV-RESTRICT): and the run's copy is its own.
    again = sandbox_sdk(client, platform).testing.run_scenario("manipulation")
    assert again.sha256 == run.sha256


class Receiver:
    """A loopback endpoint that answers 204 and keeps what it was sent."""

    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        self.lock = threading.Lock()


@contextmanager
def receiver() -> Iterator[tuple[Receiver, str]]:
    box = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            with box.lock:
                box.received.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box, f"http://127.0.0.1:{server.server_address[1]}/hooks"
    finally:
        server.shutdown()
        server.server_close()


def test_a_partner_outage_fails_the_deliveries_then_the_retries_succeed(
    client: TestClient[Any], platform: Platform
) -> None:
    sdk = sandbox_sdk(client, platform)
    with pytest.raises(errors.RuleViolationError):  # nothing of the app to deliver to
        sdk.testing.run_scenario("partner_outage")
    with receiver() as (box, url):
        sdk.webhooks.create_subscription(url=url, event_types=["order.*", "fill.created"])
        run = sdk.testing.run_scenario("partner_outage")
        assert len(box.received) == 3  # each delivery sent once, after the outage
    attempts = entries(run, "webhook_attempt")
    by_delivery: dict[str, list[Any]] = {}
    for attempt in attempts:
        by_delivery.setdefault(attempt.subject, []).append(attempt.details)
    assert [details[0]["event_type"] for details in by_delivery.values()] == [
        "order.accepted",
        "fill.created",
        "order.filled",
    ]
    for details in by_delivery.values():
        assert [(d["attempt"], d["sent"], d["status_code"], d["state"]) for d in details] == [
            *((str(n), "false", "503", "failed") for n in range(1, OUTAGE_FAILURES + 1)),
            (str(OUTAGE_FAILURES + 1), "true", "204", "succeeded"),
        ]
    times = [a.time for a in attempts]
    assert times == sorted(times)
    assert len(set(times)) > 1  # retried with backoff
    down, up = entries(run, "receiver")
    assert (down.details["state"], up.details["state"]) == ("down", "up")
    # The deliveries are the app's real ones, in its delivery log.
    delivered = {d.id: d for d in sdk.webhooks.list_deliveries()}
    for label in by_delivery:
        real = delivered[run.ids[label]]
        assert (real.state, real.attempts) == ("succeeded", OUTAGE_FAILURES + 1)
    assert {h["webhook-id"] for h in box.received} == {
        delivered[run.ids[label]].webhook_id for label in by_delivery
    }
    with receiver() as (other_box, other_url):
        other = sandbox_sdk(client, platform)
        other.webhooks.create_subscription(url=other_url, event_types=["order.*", "fill.created"])
        again = other.testing.run_scenario("partner_outage")
        assert len(other_box.received) == 3
    assert canonical(log_of(again)) == canonical(log_of(run))


def test_a_run_names_a_published_persona_and_a_known_scenario(
    client: TestClient[Any], platform: Platform
) -> None:
    sdk = sandbox_sdk(client, platform)
    with pytest.raises(errors.RuleViolationError) as refused:
        sdk.testing.run_scenario("market_crash", persona="nobody.here")
    assert refused.value.problem["context"] == {"field": "persona", "username": "nobody.here"}
    with pytest.raises(errors.NotFoundError):
        sdk.testing.run_scenario("bank_run")
    # Another persona trades by its own rules: li.wei (C2) must acknowledge the R3 stock's risk
    # first, and then holds none to sell. The refusals are in the log, and nothing is stored.
    run = sdk.testing.run_scenario("market_crash", persona="li.wei")
    assert run.persona == "li.wei"
    assert [(e.subject, e.details["reasons"]) for e in entries(run, "order_refused")] == [
        ("order#1", "acknowledgement_required"),
        ("order#2", "insufficient_units"),
    ]
    assert entries(run, "order") == []
    assert run.ids == {}


def test_production_has_no_scenarios(client: TestClient[Any], platform: Platform) -> None:
    partner = register_app(platform, scopes=(Scope.MARKET_READ,))
    refused = client.get("/v1/testing/scenarios", headers=partner.headers(client))
    assert refused.status_code == 403  # no production app may hold `sandbox:testing`
    production = platform.environments[Environment.PRODUCTION]
    assert production.scenarios is None
    with pytest.raises(NotFoundError):
        sandbox_only(production.scenarios)


def test_the_documentation_describes_every_scenario_and_the_start() -> None:
    page = (Path(__file__).parents[4] / "docs" / "sandbox" / "scenarios.md").read_text()
    assert [line.removeprefix("### ") for line in page.splitlines() if line.startswith("### ")] == [
        s.name for s in LIBRARY
    ]
    assert f"**{START.isoformat().replace('+00:00', 'Z')}**" in page
    assert f"default `{DEFAULT_SEED}`" in page
