"""A real browser on the real server: headless Chromium signs a customer in, reads the consent
screen, approves, denies, narrows and revokes; the partner's side is real HTTP with PAR, PKCE and
DPoP, and only the partner's callback page (https://app.example) is answered by the test."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from openplatform import AuthorizationRequest, DelegatedGrant
from openplatform.errors import OAuthError
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from gateway.domain.environment import Environment
from sandbox.personas import load_demo_customers
from tests.e2e.servers import BANK, DemoLogin, Partner, RealServer

pytestmark = pytest.mark.slow

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
APT_SECONDS: Final = 900
CALLBACK: Final = "https://app.example/**"
CALLBACK_PAGE: Final = (
    "<!doctype html><title>Partner app</title><h1 data-testid=partner-callback>Back in the app</h1>"
)
SCREENSHOTS: Final = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PURPOSE: Final = "Show your brokerage portfolio next to your bank accounts"
WRONG_PASSWORD: Final = "not-the-password"
LOCK_AFTER: Final = 5  # consecutive failures (gateway.auth.login; PCI DSS 4.0 8.3.4 allows at most 10)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, installed with apt if missing; a browser suite that skips proves nothing."""
    if CHROMIUM.exists():
        return CHROMIUM
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        try:
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=APT_SECONDS, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.fail(f"{' '.join(command)} could not run: {exc}", pytrace=False)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr}", pytrace=False)
    if not CHROMIUM.exists():
        found = shutil.which("chromium")
        pytest.fail(f"apt-get installed chromium but {CHROMIUM} is missing (found {found})", pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def real(servers: dict[str, RealServer]) -> RealServer:
    return servers["sqlite"]  # one backend is enough for what a browser adds


@pytest.fixture
def bank(real: RealServer) -> Iterator[Partner]:
    with httpx.Client(timeout=30) as http:
        yield Partner(real, real.credentials(BANK, Environment.PRODUCTION), http)


@dataclass
class Customer:
    """A customer at the keyboard of a fresh browser profile."""

    page: Page
    issuer: str
    test: str
    callbacks: list[str] = field(default_factory=list)
    screenshots: list[str] = field(default_factory=list)

    def screenshot(self, step: str) -> None:
        path = SCREENSHOTS / f"{self.test}-{step}.png"
        path.unlink(missing_ok=True)
        self.page.screenshot(path=str(path), full_page=True)
        assert path.is_file(), path
        assert path.read_bytes().startswith(b"\x89PNG"), path
        self.screenshots.append(step)

    def sign_in(self, login: DemoLogin, password: str | None = None) -> int:
        """Submit the sign-in form on the current page; the status of the server's answer."""
        self.page.get_by_test_id("username").fill(login.username)
        self.page.get_by_test_id("password").fill(login.password if password is None else password)
        with self.page.expect_response(lambda r: r.request.method == "POST") as answer:
            self.page.get_by_test_id("login-submit").click()
        self.page.wait_for_load_state()
        return answer.value.status

    def open_consent_screen(self, pushed: AuthorizationRequest, login: DemoLogin) -> None:
        """Follow the app's link signed out: sign in first, then land on the consent screen."""
        self.page.goto(pushed.url)
        expect(self.page.get_by_test_id("login-heading")).to_be_visible()
        assert urlsplit(self.page.url).path == "/login"
        self.screenshot("sign-in")
        assert self.sign_in(login) == 303
        expect(self.page.get_by_test_id("consent-heading")).to_be_visible()

    def decide(self, button: str) -> dict[str, str]:
        """Press approve or deny; the parameters the partner's callback received."""
        self.page.get_by_test_id(button).click()
        self.page.wait_for_url(CALLBACK)
        assert self.callbacks == [self.page.url], "the callback was not answered by the test's route"
        expect(self.page.get_by_test_id("partner-callback")).to_be_visible()
        return dict(parse_qsl(urlsplit(self.page.url).query))


def _answer_callback(customer: Customer) -> Callable[[Route], None]:
    def answer(route: Route) -> None:
        customer.callbacks.append(route.request.url)
        route.fulfill(
            status=200,
            content_type="text/html",
            body=CALLBACK_PAGE,
        )

    return answer


@pytest.fixture
def customer(browser: Browser, real: RealServer, request: pytest.FixtureRequest) -> Iterator[Customer]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    issuer = real.issuer(Environment.PRODUCTION)
    context = browser.new_context()
    page = context.new_page()
    visitor = Customer(page, issuer, request.node.name)
    page.route(CALLBACK, _answer_callback(visitor))
    try:
        yield visitor
    finally:
        context.close()


def _persona_accounts(username: str) -> dict[str, str]:
    persona = next(c for c in load_demo_customers() if c.username == username)
    return {account.id: account.number for account in persona.accounts}


def _approve(
    customer: Customer, bank: Partner, login: DemoLogin, permissions: list[str]
) -> tuple[DelegatedGrant, str]:
    """The customer's grant and its consent's id."""
    consent = bank.create_consent(permissions, PURPOSE)
    pushed = bank.push(consent["id"])
    customer.open_consent_screen(pushed, login)
    customer.decide("approve")
    return bank.redeem(customer.page.url, pushed), consent["id"]


def test_a_customer_approves_in_a_real_browser_and_the_partner_reads_accounts(
    customer: Customer, bank: Partner, real: RealServer
) -> None:
    login = real.customer("li.wei")
    consent = bank.create_consent(["accounts:read", "holdings:read", "transactions:read"], PURPOSE)
    pushed = bank.push(consent["id"])

    customer.open_consent_screen(pushed, login)
    page = customer.page
    expect(page.get_by_test_id("partner-name")).to_have_text(BANK)
    expect(page.get_by_test_id("partner-type")).to_have_text("Bank or broker")
    expect(page.get_by_test_id("partner-region")).to_have_text("CN")
    expect(page.get_by_test_id("purpose")).to_have_text(PURPOSE)
    expect(page.get_by_test_id("scope-accounts:read")).to_be_checked()
    expect(page.get_by_test_id("scope-holdings:read")).to_be_checked()
    # Deep analysis is high risk: never ticked for the customer, and explained.
    expect(page.get_by_test_id("scope-transactions:read")).not_to_be_checked()
    expect(page.get_by_test_id("opt-in-high-risk")).not_to_be_checked()
    expect(page.get_by_test_id("high-risk-explanation")).to_be_visible()
    customer.screenshot("consent")

    answer = customer.decide("approve")
    customer.screenshot("callback")
    assert set(answer) == {"code", "state", "iss"}
    assert answer["state"] == pushed.state
    assert answer["iss"] == bank.issuer  # RFC 9207

    grant = bank.redeem(customer.page.url, pushed)
    assert grant.token_type == "DPoP"
    assert grant.scope == "accounts:read holdings:read"
    response = bank.call("GET", "/v1/accounts", grant.access_token)
    assert response.status_code == 200, response.text
    numbers = _persona_accounts(login.username)
    assert {account["account_id"] for account in response.json()["data"]} == set(numbers)
    for account in response.json()["data"]:
        assert account["number"] == f"•••• {numbers[account['account_id']][-4:]}"
    assert not any(number in response.text for number in numbers.values())
    assert bank.consent(consent["id"])["status"] == "authorized"
    assert customer.screenshots == ["sign-in", "consent", "callback"]


def test_a_customer_denies_and_the_partner_gets_access_denied(
    customer: Customer, bank: Partner, real: RealServer
) -> None:
    consent = bank.create_consent(["accounts:read"], PURPOSE)
    pushed = bank.push(consent["id"])
    customer.open_consent_screen(pushed, real.customer("li.wei"))
    customer.screenshot("consent")

    answer = customer.decide("deny")
    customer.screenshot("callback")
    assert customer.screenshots == ["sign-in", "consent", "callback"]
    assert answer == {
        "error": "access_denied",
        "error_description": "the customer denied the request",
        "state": pushed.state,
        "iss": bank.issuer,
    }
    assert bank.consent(consent["id"])["status"] == "rejected"


def test_a_customer_narrows_the_request_and_the_token_follows(
    customer: Customer, bank: Partner, real: RealServer
) -> None:
    consent = bank.create_consent(["accounts:read", "holdings:read"], PURPOSE)
    pushed = bank.push(consent["id"])
    customer.open_consent_screen(pushed, real.customer("li.wei"))
    customer.page.get_by_test_id("scope-holdings:read").uncheck()
    expect(customer.page.get_by_test_id("scope-holdings:read")).not_to_be_checked()
    customer.screenshot("narrowed")
    assert customer.screenshots == ["sign-in", "narrowed"]

    customer.decide("approve")
    grant = bank.redeem(customer.page.url, pushed)
    access = grant.access_token
    assert grant.scope == "accounts:read"
    assert bank.consent(consent["id"])["permissions"] == ["accounts:read"]
    assert bank.call("GET", "/v1/accounts", access).status_code == 200
    refused = bank.call("GET", "/v1/holdings", access)
    assert refused.status_code == 403, refused.text


def test_a_customer_revokes_on_the_dashboard_and_the_partner_is_cut_off(
    customer: Customer, bank: Partner, real: RealServer
) -> None:
    grant, consent_id = _approve(customer, bank, real.customer("li.wei"), ["accounts:read"])
    assert bank.call("GET", "/v1/accounts", grant.access_token).status_code == 200

    page = customer.page
    page.goto(f"{customer.issuer}/consents")
    card = page.get_by_test_id(f"consent-{consent_id}")
    expect(card).to_be_visible()
    expect(page.get_by_test_id(f"status-{consent_id}")).to_have_text("Active")
    expect(card).to_contain_text(BANK)
    disclosures = page.get_by_test_id("disclosures")
    expect(disclosures.locator("tr", has_text=consent_id).first).to_contain_text("/v1/accounts")
    customer.screenshot("dashboard-active")

    page.get_by_test_id(f"revoke-{consent_id}").click()
    page.wait_for_url("**/consents?notice=revoked")
    expect(page.get_by_test_id(f"status-{consent_id}")).to_have_text("Revoked")
    expect(page.get_by_test_id("notice")).to_be_visible()
    expect(page.get_by_test_id(f"revoke-{consent_id}")).to_have_count(0)
    customer.screenshot("dashboard-revoked")
    assert customer.screenshots == ["sign-in", "dashboard-active", "dashboard-revoked"]

    refused = bank.call("GET", "/v1/accounts", grant.access_token)
    assert refused.status_code == 401, refused.text
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    with pytest.raises(OAuthError) as refresh:
        bank.refresh(grant)
    assert (refresh.value.status, refresh.value.error) == (400, "invalid_grant")
    assert bank.consent(consent_id)["status"] == "revoked"


def test_five_wrong_passwords_lock_the_account(customer: Customer, real: RealServer) -> None:
    login = real.customer("john.doe")  # locked for 15 minutes afterwards: no other test signs in as him
    page = customer.page
    page.goto(f"{customer.issuer}/login")
    for attempt in range(1, LOCK_AFTER + 1):
        assert customer.sign_in(login, password=WRONG_PASSWORD) == 401, f"attempt {attempt}"
        expect(page.get_by_test_id("login-error")).to_have_text("The username or password is not correct.")
        if attempt == 1:
            customer.screenshot("wrong-password")
    # Now even the right password is refused, with a message that says why.
    assert customer.sign_in(login) == 401
    expect(page.get_by_test_id("login-error")).to_have_text(
        "This account is locked after too many failed attempts. Try again in 15 minutes."
    )
    assert not [c for c in page.context.cookies() if c["name"] == "__Host-session"]
    customer.screenshot("locked")
    assert customer.screenshots == ["wrong-password", "locked"]


def test_a_real_browser_can_post_our_own_forms(browser: Browser, real: RealServer) -> None:
    """Chromium's own Origin header on our form posts passes the same-origin check (a page with
    `Referrer-Policy: no-referrer` would make it send `Origin: null`, refused as cross-origin)."""
    login = real.customer("anna.schmidt")
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{real.issuer(Environment.PRODUCTION)}/login")
        visitor = Customer(page, real.issuer(Environment.PRODUCTION), "unused")
        assert visitor.sign_in(login) == 303
        expect(page.get_by_test_id("dashboard-heading")).to_be_visible()
    finally:
        context.close()
