"""The supervisor console: officers sign in, work the alert queue and clear restrictions; customers,
strangers and forged forms get nowhere."""

from __future__ import annotations

import re
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from gateway.auth.staff import Officer, Role, officers_file, seed_demo_officers, write_officers
from gateway.domain.compliance.alerts import Alert, AlertQuery, AlertStatus, RestrictionQuery
from gateway.domain.compliance.service import SurveillanceService
from gateway.domain.environment import Environment
from gateway.domain.trading.errors import AccountRestrictedError
from gateway.domain.trading.models import OrderStatus
from gateway.services import Platform
from sandbox.clock import FrozenClock
from tests.delegation import PASSWORD, Browser, hidden, password_hash, seed_customer
from tests.gateway.apis.admin.test_surveillance import (
    REASON,
    cancel_resting_orders,  # noqa: F401 (an autouse fixture: the resting orders are taken back)
    wash_trader,
)
from tests.trading import CN_MORNING

OFFICER = "compliance.officer"
REGULATOR = "supervisor"
QUEUE = "/supervisor/alerts"


@pytest.fixture
def clock(clock: FrozenClock) -> FrozenClock:
    """The shared clock at a Shanghai trading morning."""
    clock.set(CN_MORNING)
    return clock


@pytest.fixture(autouse=True)
def officers(var_dir: Path) -> None:
    """One officer who clears and one regulator who reads, both with the test password."""
    write_officers(
        officers_file(var_dir),
        [
            Officer(OFFICER, password_hash(), frozenset({Role.COMPLIANCE_OFFICER})),
            Officer(REGULATOR, password_hash(), frozenset({Role.SUPERVISOR})),
        ],
    )


def desk(platform: Platform) -> SurveillanceService:
    return platform.environments[Environment.PRODUCTION].surveillance


def open_alert(platform: Platform, customer_id: str) -> Alert:
    (alert,) = desk(platform).list_alerts(AlertQuery(customer_id=customer_id)).items
    return alert


def sign_in(browser: Browser, username: str = OFFICER, password: str = PASSWORD) -> httpx.Response:
    page = browser.get("/supervisor/login")
    assert page.status_code == 200, page.text
    return browser.post(
        "/supervisor/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": hidden(page.text, "csrf_token"),
            "return_to": hidden(page.text, "return_to"),
        },
    )


def officer(client: TestClient[Any], username: str = OFFICER) -> Browser:
    browser = Browser(client, "")
    assert sign_in(browser, username).status_code == 303
    return browser


def assert_to_login(response: httpx.Response) -> None:
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/supervisor/login?return_to=")


def test_an_officer_signs_in_reads_the_alert_and_clears_it(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    trader = wash_trader(platform, clock, blocked=1)
    alert = open_alert(platform, trader.customer.id)
    browser = Browser(client, "")

    signed_in = sign_in(browser)
    queue = browser.get(QUEUE, params={"customer_id": trader.customer.id})
    detail = browser.get(f"{QUEUE}/{alert.id}")

    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == QUEUE
    cookie = next(
        c for c in signed_in.headers.get_list("set-cookie") if c.startswith("__Host-staff-session=")
    )
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "path=/", "samesite=strict"} <= attributes
    assert not any(a.startswith("domain=") for a in attributes)
    assert queue.status_code == 200, queue.text
    assert "script-src" not in queue.headers["content-security-policy"]
    assert queue.headers["content-security-policy"].startswith("default-src 'none'")
    assert f'data-testid="alert-{alert.id}"' in queue.text
    for text in ("SURV-03", "high", trader.account_id, trader.customer.id, alert.instrument_id or "?"):
        assert text in queue.text
    assert detail.status_code == 200, detail.text
    assert "<script" not in detail.text
    assert all(order_id in detail.text for order_id in alert.order_ids)
    assert "block_incoming_order" in detail.text
    assert "would trade with an open opposite order" in detail.text  # the rule's text

    cleared = browser.post(
        f"{QUEUE}/{alert.id}/clear", data={"csrf_token": hidden(detail.text, "csrf_token"), "reason": REASON}
    )

    assert cleared.status_code == 303, cleared.text
    assert cleared.headers["location"] == f"{QUEUE}?notice=alert-cleared"
    after = desk(platform).get_alert(alert.id)
    assert after.status is AlertStatus.CLEARED
    assert after.clearance is not None
    assert (after.clearance.officer, after.clearance.reason) == (f"officer:{OFFICER}", REASON)
    assert alert.id not in browser.get(QUEUE, params={"customer_id": trader.customer.id}).text
    assert "Cleared by" in browser.get(f"{QUEUE}/{alert.id}").text


def test_an_officer_clears_a_restriction_and_the_customer_trades_again(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    trader = wash_trader(platform, clock, blocked=3)
    with pytest.raises(AccountRestrictedError):
        trader.buy(quantity=100)
    browser = officer(client)
    queue = browser.get(QUEUE, params={"customer_id": trader.customer.id})
    assert f'data-testid="restriction-{trader.account_id}"' in queue.text

    cleared = browser.post(
        f"/supervisor/restrictions/{trader.account_id}/clear",
        data={"csrf_token": hidden(queue.text, "csrf_token"), "reason": REASON},
    )

    assert cleared.status_code == 303, cleared.text
    assert cleared.headers["location"] == f"{QUEUE}?notice=restriction-cleared"
    assert desk(platform).restrictions(RestrictionQuery(customer_id=trader.customer.id)).items == ()
    clock.advance(timedelta(seconds=61))  # past the wash window of the customer's resting sell
    assert trader.buy(quantity=100) is OrderStatus.FILLED


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", QUEUE),
        ("GET", f"{QUEUE}/alt_x"),
        ("POST", f"{QUEUE}/alt_x/clear"),
        ("POST", "/supervisor/restrictions/acc_x/clear"),
    ],
)
def test_the_console_needs_an_officer_session(client: TestClient[Any], method: str, path: str) -> None:
    response = client.request(method, path, data={"reason": REASON}, follow_redirects=False)
    assert_to_login(response)


def test_a_customer_session_never_opens_the_console(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    trader = wash_trader(platform, clock, blocked=1)
    alert = open_alert(platform, trader.customer.id)
    customer = seed_customer(platform, Environment.PRODUCTION)
    browser = Browser(client, "")
    assert browser.sign_in(customer.username).status_code == 303
    csrf = hidden(browser.get("/consents").text, "csrf_token")

    as_customer = browser.get(QUEUE)
    posted = browser.post(f"{QUEUE}/{alert.id}/clear", data={"csrf_token": csrf, "reason": REASON})
    # The customer's session id in the officer's cookie is no officer's session either.
    browser.cookies["__Host-staff-session"] = browser.cookies["__Host-session"]
    planted = browser.get(QUEUE)
    # Nor does the officer's sign-in accept a customer's password.
    refused = sign_in(Browser(client, ""), customer.username)

    for response in (as_customer, posted, planted):
        assert_to_login(response)
    assert refused.status_code == 401
    assert "__Host-staff-session" not in refused.headers.get("set-cookie", "")
    assert desk(platform).get_alert(alert.id).status is AlertStatus.OPEN


def test_an_officer_session_is_no_customer_session(client: TestClient[Any]) -> None:
    browser = officer(client)
    browser.cookies["__Host-session"] = browser.cookies["__Host-staff-session"]
    response = browser.get("/consents")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?")


def test_a_clearing_without_the_sessions_csrf_token_changes_nothing(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    trader = wash_trader(platform, clock, blocked=1)
    alert = open_alert(platform, trader.customer.id)
    browser = officer(client)
    token = hidden(browser.get(f"{QUEUE}/{alert.id}").text, "csrf_token")
    path = f"{QUEUE}/{alert.id}/clear"

    missing = browser.post(path, data={"reason": REASON})
    forged = browser.post(path, data={"csrf_token": "forged", "reason": REASON})
    cross_site = browser.post(
        path, data={"csrf_token": token, "reason": REASON}, headers={"Origin": "https://attacker.example"}
    )

    assert missing.status_code == forged.status_code == cross_site.status_code == 403
    assert desk(platform).get_alert(alert.id).status is AlertStatus.OPEN


@pytest.mark.parametrize("reason", ["ok", " " * 30, "  too short \n\n"])
def test_a_reason_too_short_is_shown_back(
    client: TestClient[Any], platform: Platform, clock: FrozenClock, reason: str
) -> None:
    trader = wash_trader(platform, clock, blocked=1)
    alert = open_alert(platform, trader.customer.id)
    browser = officer(client)
    token = hidden(browser.get(f"{QUEUE}/{alert.id}").text, "csrf_token")

    response = browser.post(f"{QUEUE}/{alert.id}/clear", data={"csrf_token": token, "reason": reason})

    assert response.status_code == 422
    assert "a clearing needs a reason of 10 to 500 characters" in response.text
    assert desk(platform).get_alert(alert.id).status is AlertStatus.OPEN


def test_a_supervisor_reads_but_cannot_clear(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    trader = wash_trader(platform, clock, blocked=1)
    alert = open_alert(platform, trader.customer.id)
    browser = officer(client, REGULATOR)
    detail = browser.get(f"{QUEUE}/{alert.id}")

    response = browser.post(
        f"{QUEUE}/{alert.id}/clear", data={"csrf_token": hidden(detail.text, "csrf_token"), "reason": REASON}
    )

    assert detail.status_code == 200
    assert 'data-testid="clear-alert"' not in detail.text
    assert response.status_code == 403
    assert desk(platform).get_alert(alert.id).status is AlertStatus.OPEN


def test_signing_out_ends_the_session_and_every_copy_of_it(client: TestClient[Any]) -> None:
    browser = officer(client)
    copy = dict(browser.cookies)
    token = hidden(browser.get(QUEUE).text, "csrf_token")

    signed_out = browser.post("/supervisor/logout", data={"csrf_token": token})

    assert signed_out.status_code == 303
    assert "__Host-staff-session" not in browser.cookies
    replayed = client.get(
        QUEUE,
        headers={"Cookie": f"__Host-staff-session={copy['__Host-staff-session']}"},
        follow_redirects=False,
    )
    assert_to_login(replayed)


def test_a_wrong_password_and_an_unknown_officer_read_the_same(client: TestClient[Any]) -> None:
    wrong = sign_in(Browser(client, ""), OFFICER, "not the password")
    unknown = sign_in(Browser(client, ""), "nobody.at.all", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    for response in (wrong, unknown):
        assert "The username or password is not correct." in response.text
        assert "__Host-staff-session" not in response.headers.get("set-cookie", "")


def test_the_sign_in_form_needs_its_csrf_cookie(client: TestClient[Any]) -> None:
    response = client.post(
        "/supervisor/login",
        data={"username": OFFICER, "password": PASSWORD, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "__Host-staff-session" not in response.headers.get("set-cookie", "")


def test_there_is_no_console_in_the_sandbox(client: TestClient[Any]) -> None:
    assert client.get("/sandbox/supervisor/login").status_code == 404
    assert client.get("/sandbox/supervisor/alerts", follow_redirects=False).status_code == 404


def test_seed_writes_the_officers_privately(tmp_path: Path) -> None:
    officers, passwords = tmp_path / "staff" / "officers.json", tmp_path / "demo" / "staff.json"

    first = seed_demo_officers(officers, passwords)
    again = seed_demo_officers(officers, passwords)

    assert first == again == [(OFFICER, ["compliance_officer"]), (REGULATOR, ["supervisor"])]
    for path in (officers, passwords):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert re.search(r'"password_hash": "\$argon2id\$', officers.read_text())
    assert "argon2" not in passwords.read_text()
