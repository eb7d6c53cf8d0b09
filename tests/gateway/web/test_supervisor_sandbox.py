"""The supervisor console's sandbox pages: any officer reads each partner's cohort, its numbers per
day, two accessible charts, its cap breaches highlighted and the downloads; strangers get nowhere."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape
from pathlib import Path
from typing import Any, Final

import pytest
from litestar.testing import TestClient

from gateway.auth.staff import Officer, Role, officers_file, write_officers
from gateway.services import Platform
from sandbox.clock import FrozenClock
from sandbox.supervision import SandboxCaps
from tests.delegation import Browser, password_hash
from tests.gateway.apis.admin.test_sandbox_cohorts import caps_of
from tests.gateway.apis.v1.test_test_clocks import call, subscription, trader
from tests.gateway.web.test_supervisor import OFFICER, REGULATOR, officer
from tests.support import staff_app
from tests.trading import CN_MORNING

SANDBOX_PAGES: Final = "/supervisor/sandbox"
TODAY: Final = CN_MORNING.date().isoformat()


@pytest.fixture
def clock(clock: FrozenClock) -> FrozenClock:
    """The shared clock at a Shanghai trading morning."""
    clock.set(CN_MORNING)
    return clock


@pytest.fixture(autouse=True)
def officers(var_dir: Path) -> None:
    write_officers(
        officers_file(var_dir),
        [
            Officer(OFFICER, password_hash(), frozenset({Role.COMPLIANCE_OFFICER})),
            Officer(REGULATOR, password_hash(), frozenset({Role.SUPERVISOR})),
        ],
    )


@pytest.fixture
def partner_id(client: TestClient[Any], platform: Platform, clock: FrozenClock) -> str:
    """A sandbox app that placed one 100.00 CNY subscription and asked for an order that is not there."""
    partner, token = trader(client, platform)
    call(client, partner, "POST", "/v1/orders", token, json=subscription("p1"),
         headers={"Idempotency-Key": "p1"})  # fmt: skip
    assert partner.call(client, "GET", "/v1/orders/ord_nonexistent", token).status_code == 404
    return partner.app.partner_id


def row(html: str, testid: str) -> str:
    found = re.search(rf'<tr data-testid="{re.escape(testid)}">(.*?)</tr>', html, re.DOTALL)
    assert found, f"no row {testid}"
    return found.group(1)


def cell(html: str, testid: str) -> str:
    found = re.search(rf'data-testid="{re.escape(testid)}">(.*?)</(?:td|dd)>', html, re.DOTALL)
    assert found, f"no cell {testid}"
    return unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


def usage_of(platform: Platform, partner_id: str) -> tuple[int, int]:
    """The partner's sandbox calls and errors as the API reports them."""
    cohorts = platform.sandbox_cohorts
    report = cohorts.report(partner_id, cohorts.period())
    return report.calls.requests, report.calls.errors


def test_a_regulator_reads_the_list_and_the_partners_numbers(
    client: TestClient[Any], platform: Platform, partner_id: str
) -> None:
    browser = officer(client, REGULATOR)  # the read-only role reads these pages too
    calls, errors = usage_of(platform, partner_id)

    listed = browser.get(SANDBOX_PAGES)

    assert listed.status_code == 200, listed.text
    assert 'data-testid="nav-sandbox"' in listed.text
    line = row(listed.text, f"cohort-{partner_id}")
    assert (cell(line, "calls"), cell(line, "errors"), cell(line, "orders")) == (str(calls), str(errors), "1")
    assert (cell(line, "exposure"), cell(line, "customers"), cell(line, "breaches")) == ("100.00", "1", "0")
    assert f'href="/supervisor/sandbox/{partner_id}?from=' in line

    page = browser.get(f"{SANDBOX_PAGES}/{partner_id}")

    assert page.status_code == 200, page.text
    html = page.text
    assert cell(html, "calls") == str(calls)
    assert cell(html, "errors") == str(errors) == "1"
    assert (cell(html, "orders"), cell(html, "exposure"), cell(html, "customers")) == ("1", "100.00", "1")
    assert cell(html, "complaints").startswith("not recorded")
    assert 'data-testid="no-breaches"' in html
    assert re.sub(r"<[^>]+>", " ", row(html, "orders-open-CNY")).split() == ["open", "CNY", "1", "100.00"]
    today = row(html, f"day-{TODAY}")
    assert (cell(today, "orders"), cell(today, "exposure"), cell(today, "calls")) == (
        "1",
        "100.00",
        str(calls),
    )
    # The downloads of this very period.
    assert f'href="/supervisor/sandbox/{partner_id}/export?from=' in html
    assert "&amp;format=csv" in html
    assert "&amp;format=json" in html


def test_the_charts_are_svg_with_titles_and_the_days_numbers(
    client: TestClient[Any], platform: Platform, partner_id: str
) -> None:
    browser = officer(client)
    calls, errors = usage_of(platform, partner_id)

    html = browser.get(f"{SANDBOX_PAGES}/{partner_id}").text

    for key in ("calls-chart", "orders-chart"):
        svg = re.search(rf'<svg [^>]*data-testid="{key}".*?</svg>', html, re.DOTALL)
        assert svg, f"no {key}"
        assert f'aria-labelledby="{key}-title {key}-desc"' in svg.group(0)
        assert f'<title id="{key}-title">' in svg.group(0)
        assert f'<desc id="{key}-desc">' in svg.group(0)
    assert "usage-chart-title" not in html  # each chart under its own ids
    calls_svg = re.search(r'<svg [^>]*data-testid="calls-chart".*?</svg>', html, re.DOTALL)
    orders_svg = re.search(r'<svg [^>]*data-testid="orders-chart".*?</svg>', html, re.DOTALL)
    assert calls_svg
    assert orders_svg
    # Today's column: the calls without error and the errors stack up to the day's calls.
    counts = dict(
        re.findall(rf'data-day="{TODAY}" data-operation="([^"]+)" data-count="(\d+)"', calls_svg.group(0))
    )
    assert counts == {"calls without error": str(calls - errors), "errors (4xx/5xx, not 429)": str(errors)}
    bar = f'data-day="{TODAY}" data-operation="orders" data-count="1"><title>{TODAY} orders: 1 orders'
    assert bar in orders_svg.group(0)
    assert f"{calls} calls, {errors} errors and 0 throttled (429)" in calls_svg.group(0)


def test_breaches_are_highlighted(client: TestClient[Any], platform: Platform, partner_id: str) -> None:
    browser = officer(client)
    with caps_of(platform, SandboxCaps(daily_customers=0, daily_exposure=Decimal("40.00"))):
        html = browser.get(f"{SANDBOX_PAGES}/{partner_id}").text
        listed = browser.get(SANDBOX_PAGES).text

    breaches = re.search(
        r'<section class="alert alert--error[^"]*"[^>]*data-testid="breaches">(.*?)</section>',
        html,
        re.DOTALL,
    )
    assert breaches, "the breaches are not shown"
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", breaches.group(1)))
    assert f"{TODAY}: 1 distinct customers, above the cap of 0 by 1" in text
    assert f"{TODAY}: exposure of 100.00 CNY, above the cap of 40.00 CNY by 60.00 CNY" in text
    today = row(html, f"day-{TODAY}")
    assert 'data-testid="exposure-breach"' in today
    assert 'data-testid="customers-breach"' in today
    assert 'badge--danger">2 breaches' in row(listed, f"cohort-{partner_id}")


def test_the_downloads_need_the_session_and_give_csv_and_json(
    client: TestClient[Any], platform: Platform, partner_id: str
) -> None:
    export = f"{SANDBOX_PAGES}/{partner_id}/export"
    stranger = Browser(client, "")
    refused = stranger.get(export, params={"format": "csv"})
    assert refused.status_code == 303
    assert refused.headers["location"].startswith("/supervisor/login?return_to=")

    browser = officer(client, REGULATOR)
    as_csv = browser.get(export, params={"format": "csv", "from": TODAY, "to": TODAY})
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert as_csv.headers["cache-control"] == "no-store"
    assert f"{partner_id},{TODAY},exposure_cny,100.00,1000000.00,\r\n" in as_csv.text
    as_json = browser.get(export, params={"format": "json", "from": TODAY, "to": TODAY})
    assert as_json.status_code == 200, as_json.text
    assert as_json.json()["exposure"] == "100.00"
    assert as_json.json() == platform_json(client, platform, partner_id)


def platform_json(client: TestClient[Any], platform: Platform, partner_id: str) -> Any:
    """The API's report of the same period."""
    staff = staff_app(platform).headers(client)
    response = client.get(
        f"/admin/sandbox/cohorts/{partner_id}", params={"from": TODAY, "to": TODAY}, headers=staff
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_strangers_unknown_partners_and_bad_periods(client: TestClient[Any], partner_id: str) -> None:
    stranger = Browser(client, "")
    for path in (SANDBOX_PAGES, f"{SANDBOX_PAGES}/{partner_id}"):
        response = stranger.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/supervisor/login?return_to=")
    browser = officer(client)
    assert browser.get(f"/sandbox{SANDBOX_PAGES}").status_code == 404  # production's control plane only
    missing = browser.get(f"{SANDBOX_PAGES}/prt_nobody")
    assert missing.status_code == 404
    assert "There is no such partner." in missing.text
    backwards = browser.get(f"{SANDBOX_PAGES}/{partner_id}", params={"from": TODAY, "to": "2026-01-01"})
    assert backwards.status_code == 422
    assert "`from` must be on or before `to`" in unescape(backwards.text)
    too_long = browser.get(SANDBOX_PAGES, params={"from": "2020-01-01"})
    assert too_long.status_code == 422
    assert "at most 366 days" in too_long.text
