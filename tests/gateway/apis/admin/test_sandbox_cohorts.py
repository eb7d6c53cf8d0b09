"""The staff API over the sandbox's cohorts: a sandbox app's real calls, consent and orders show up
in its partner's report, the list and both exports; partners and other staff are refused."""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Final

import pytest
from litestar.testing import TestClient

from gateway.domain.environment import Environment
from gateway.domain.errors import DomainError
from gateway.domain.scopes import Scope
from gateway.domain.trading.models import OrderStatus
from gateway.services import Platform
from sandbox.clock import FrozenClock
from sandbox.supervision import SandboxCaps
from tests.delegation import DelegatingApp, seed_customer
from tests.gateway.apis.admin.test_surveillance import assert_problem, compliance_app
from tests.gateway.apis.v1.test_test_clocks import call, subscription, trader
from tests.support import register_app, staff_app
from tests.trading import CN_MORNING, CN_STOCK, actor_for, request

COHORTS: Final = "/admin/sandbox/cohorts"
TODAY: Final = CN_MORNING.date()
SANDBOX: Final = Environment.SANDBOX


@pytest.fixture
def clock(clock: FrozenClock) -> FrozenClock:
    """The shared clock at a Shanghai trading morning."""
    clock.set(CN_MORNING)
    return clock


@dataclass
class Cohort:
    """A sandbox app of a fresh partner, its persona's delegated token, and staff credentials."""

    partner: DelegatingApp
    token: str
    staff: dict[str, str]

    @property
    def partner_id(self) -> str:
        return self.partner.app.partner_id


@pytest.fixture
def cohort(client: TestClient[Any], platform: Platform, clock: FrozenClock) -> Cohort:
    partner, token = trader(client, platform)
    return Cohort(partner, token, staff_app(platform).headers(client))


def report_of(client: TestClient[Any], cohort: Cohort, **params: str) -> dict[str, Any]:
    response = client.get(f"{COHORTS}/{cohort.partner_id}", params=params, headers=cohort.staff)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def day_of(report: dict[str, Any], day: date) -> dict[str, Any]:
    found: list[dict[str, Any]] = [d for d in report["days"] if d["day"] == day.isoformat()]
    assert len(found) == 1
    return found[0]


def test_a_sandbox_apps_calls_consent_and_order_make_its_partners_report(
    client: TestClient[Any], cohort: Cohort
) -> None:
    before = report_of(client, cohort)
    # Three calls of the app: one order placed, the order read, and an order that does not exist.
    order = call(client, cohort.partner, "POST", "/v1/orders", cohort.token, json=subscription("c1"),
                 headers={"Idempotency-Key": "c1"})  # fmt: skip
    call(client, cohort.partner, "GET", f"/v1/orders/{order['order_id']}", cohort.token)
    missing = cohort.partner.call(client, "GET", "/v1/orders/ord_nonexistent", cohort.token)
    assert missing.status_code == 404, missing.text

    report = report_of(client, cohort)

    assert report["object"] == "sandbox_cohort"
    assert (report["partner_id"], report["stage"]) == (cohort.partner_id, "production")
    assert (report["start"], report["end"]) == ((TODAY - timedelta(days=29)).isoformat(), TODAY.isoformat())
    assert report["calls"]["calls"] == before["calls"]["calls"] + 3
    assert report["calls"]["errors"] == before["calls"]["errors"] + 1
    assert report["calls"]["throttled"] == 0
    assert report["consents"]["authorized"] == 1
    assert report["orders"] == [{"status": "open", "currency": "CNY", "orders": 1, "notional": "100.00"}]
    assert report["exposure"] == "100.00"
    assert report["customers"] == 1  # the app's copy of li.wei
    assert report["alerts"] == []
    assert report["webhooks"] == {"deliveries": 0, "failed": 0, "dead": 0}
    assert report["complaints"]["recorded"] is False
    assert report["complaints"]["detail"].startswith("not recorded")
    assert report["caps"] == {"daily_customers": 50, "daily_exposure": "1000000.00", "currency": "CNY"}
    assert report["breaches"] == []
    assert len(report["days"]) == 30
    today = day_of(report, TODAY)
    assert (today["orders"], today["exposure"], today["customers"]) == (1, "100.00", 1)
    assert today["calls"] == report["calls"]["calls"]  # every call of the new app was today


def test_the_list_has_a_summary_line_per_active_partner(client: TestClient[Any], cohort: Cohort) -> None:
    call(client, cohort.partner, "POST", "/v1/orders", cohort.token, json=subscription("l1"),
         headers={"Idempotency-Key": "l1"})  # fmt: skip
    report = report_of(client, cohort)

    response = client.get(COHORTS, headers=cohort.staff)

    assert response.status_code == 200, response.text
    listed = response.json()
    assert (listed["start"], listed["end"]) == (report["start"], report["end"])
    (line,) = [line for line in listed["data"] if line["partner_id"] == cohort.partner_id]
    assert line == {
        "partner_id": cohort.partner_id,
        "partner_name": report["partner_name"],
        "stage": "production",
        "calls": report["calls"]["calls"],
        "errors": report["calls"]["errors"],
        "throttled": 0,
        "orders": 1,
        "exposure": "100.00",
        "customers": 1,
        "alerts": 0,
        "webhooks_failed": 0,
        "webhooks_dead": 0,
        "breaches": 0,
    }
    # A period before the app existed does not list it.
    earlier = client.get(COHORTS, params={"from": "2026-01-01", "to": "2026-01-31"}, headers=cohort.staff)
    assert cohort.partner_id not in {line["partner_id"] for line in earlier.json()["data"]}


@contextlib.contextmanager
def caps_of(platform: Platform, caps: SandboxCaps) -> Iterator[None]:
    """The platform's report under other caps, for the length of a block."""
    kept = platform.sandbox_cohorts
    object.__setattr__(platform, "sandbox_cohorts", replace(kept, caps=caps))
    try:
        yield
    finally:
        object.__setattr__(platform, "sandbox_cohorts", kept)


def test_a_day_above_a_cap_is_reported_as_a_breach(
    client: TestClient[Any], platform: Platform, cohort: Cohort
) -> None:
    call(client, cohort.partner, "POST", "/v1/orders", cohort.token, json=subscription("b1"),
         headers={"Idempotency-Key": "b1"})  # fmt: skip
    with caps_of(platform, SandboxCaps(daily_customers=0, daily_exposure=Decimal("40.00"))):
        report = report_of(client, cohort)
        listed = client.get(COHORTS, headers=cohort.staff).json()
    assert report["breaches"] == [
        {
            "cap": "daily_customers",
            "day": TODAY.isoformat(),
            "limit": "0",
            "value": "1",
            "excess": "1",
            "unit": "customers",
        },
        {
            "cap": "daily_exposure",
            "day": TODAY.isoformat(),
            "limit": "40.00",
            "value": "100.00",
            "excess": "60.00",
            "unit": "CNY",
        },
    ]
    (line,) = [line for line in listed["data"] if line["partner_id"] == cohort.partner_id]
    assert line["breaches"] == 2


def test_surveillance_alerts_on_the_partners_orders_are_in_its_report(
    client: TestClient[Any], platform: Platform, cohort: Cohort, clock: FrozenClock
) -> None:
    """A wash trade by the partner's customer in the sandbox: one SURV-03 alert, and the orders."""
    customer = seed_customer(platform, SANDBOX, "zhang.min")
    actor = replace(actor_for(customer), partner_id=cohort.partner_id)
    trading = platform.environments[SANDBOX].orders
    bought = trading.place(actor, request(instrument_id=CN_STOCK, quantity=400)).order
    reference = platform.prices.reference_price(platform.catalogue.get(CN_STOCK), bought.created_at)
    ask = (reference * Decimal("1.02")).quantize(Decimal("0.01"))
    sell = request(instrument_id=CN_STOCK, side="sell", order_type="limit", quantity=100, limit_price=ask)
    resting = trading.place(actor, sell).order
    try:
        clock.advance(timedelta(seconds=5))
        wash = request(instrument_id=CN_STOCK, order_type="limit", quantity=100, limit_price=ask)
        assert trading.place(actor, wash).order.status is OrderStatus.REJECTED
    finally:
        with contextlib.suppress(DomainError):  # the sandbox's book outlives the test
            trading.cancel(actor, resting.id)

    report = report_of(client, cohort)

    assert report["alerts"] == [{"rule": "SURV-03", "severity": "high", "alerts": 1}]
    assert {(o["status"], o["orders"]) for o in report["orders"]} == {
        (bought.status.value, 1),
        ("cancelled", 1),
        ("rejected", 1),
    }
    # The market buy at the reference price and the cancelled sell at its limit; not the rejected buy.
    exposure = (Decimal(400) * reference + Decimal(100) * ask).quantize(Decimal("0.01"))
    assert report["exposure"] == f"{exposure:.2f}"
    assert report["customers"] == 2  # li.wei's copy (the consent) and zhang.min


def test_the_export_is_csv_per_day_and_metric_or_the_reports_json(
    client: TestClient[Any], cohort: Cohort
) -> None:
    call(client, cohort.partner, "POST", "/v1/orders", cohort.token, json=subscription("e1"),
         headers={"Idempotency-Key": "e1"})  # fmt: skip
    params = {"from": (TODAY - timedelta(days=1)).isoformat(), "to": TODAY.isoformat()}
    export = f"{COHORTS}/{cohort.partner_id}/export"

    as_csv = client.get(export, params={**params, "format": "csv"}, headers=cohort.staff)

    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert as_csv.headers["content-disposition"] == (
        f'attachment; filename="sandbox-cohort-{cohort.partner_id}-{params["from"]}-{params["to"]}.csv"'
    )
    assert as_csv.text.startswith("partner_id,day,metric,value,cap,excess\r\n")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) == 2 * 6  # two days, six metrics
    by_key = {(row["day"], row["metric"]): row for row in rows}
    assert by_key[TODAY.isoformat(), "orders"]["value"] == "1"
    assert by_key[TODAY.isoformat(), "exposure_cny"] == {
        "partner_id": cohort.partner_id,
        "day": TODAY.isoformat(),
        "metric": "exposure_cny",
        "value": "100.00",
        "cap": "1000000.00",
        "excess": "",
    }
    assert by_key[TODAY.isoformat(), "customers"]["cap"] == "50"
    assert by_key[params["from"], "calls"]["value"] == "0"

    as_json = client.get(export, params={**params, "format": "json"}, headers=cohort.staff)

    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.headers["content-disposition"].endswith('.json"')
    assert as_json.json() == report_of(client, cohort, **params)


def test_bad_periods_and_unknown_partners_are_problems(client: TestClient[Any], cohort: Cohort) -> None:
    report = f"{COHORTS}/{cohort.partner_id}"
    for params, field in (
        ({"from": "2026-13-01"}, "from"),
        ({"to": "23/11/2026"}, "to"),
        ({"from": "2026-11-24", "to": "2026-11-23"}, "from"),
        ({"from": "2025-11-22", "to": "2026-11-23"}, "from"),  # 367 days
    ):
        for path, extra in ((COHORTS, {}), (report, {}), (f"{report}/export", {"format": "csv"})):
            refused = client.get(path, params={**params, **extra}, headers=cohort.staff)
            problem = assert_problem(refused, 422, "rule-violation")
            assert problem["context"] == {"field": field}
    assert_problem(client.get(f"{COHORTS}/prt_nobody", headers=cohort.staff), 404, "not-found")
    nobody = client.get(f"{COHORTS}/prt_nobody/export", params={"format": "json"}, headers=cohort.staff)
    assert_problem(nobody, 404, "not-found")
    xml = client.get(f"{report}/export", params={"format": "xml"}, headers=cohort.staff)
    assert [e["field"] for e in assert_problem(xml, 422, "validation-failed")["errors"]] == ["format"]
    unnamed = client.get(f"{report}/export", headers=cohort.staff)  # the format is named, never guessed
    assert "'format'" in assert_problem(unnamed, 422, "validation-failed")["detail"]


def test_partners_and_staff_without_compliance_are_refused(
    client: TestClient[Any], platform: Platform, cohort: Cohort
) -> None:
    partner = register_app(platform).headers(client)
    auditor = compliance_app(platform, Scope.ADMIN_PARTNERS, Scope.ADMIN_AUDIT).headers(client)
    paths = (COHORTS, f"{COHORTS}/{cohort.partner_id}", f"{COHORTS}/{cohort.partner_id}/export?format=csv")
    for path in paths:
        assert "aud" in assert_problem(client.get(path, headers=partner), 401, "unauthorized")["detail"]
        assert_problem(client.get(path, headers=auditor), 403, "forbidden")
        assert_problem(client.get(path), 401, "unauthorized")
    # Nor does the sandbox app whose cohort it is: its token is the sandbox issuer's.
    sandbox_token = {"Authorization": f"Bearer {cohort.partner.app.token(client)}"}
    assert_problem(client.get(COHORTS, headers=sandbox_token), 401, "unauthorized")
