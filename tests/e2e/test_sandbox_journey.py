"""The whole sandbox journey on the real server, in headless Chromium and through the SDK: a developer
signs up and makes a delegating sandbox app in the portal; the app runs the delegated flow with the
persona li.wei, trades on a test clock past the NAV cut-off and the cooling-off window, plays the
crash and manipulation scenarios that a supervisor then finds in the console; its real traffic (a
429 retried after Retry-After, a revoked consent left alone) passes the conformance suite; staff
move the partner to production on that evidence (and refuse a partner without any); the developer
makes a production app and calls production with a DPoP-bound token."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

import pytest
from openplatform import Client, RetryInfo
from openplatform.errors import ConflictError, OAuthError
from playwright.sync_api import Browser, Page, Route, expect

from partners.models import PartnerStage, PartnerType
from tests.e2e.servers import RealServer
from tests.e2e.test_browser import SCREENSHOTS, browser, chromium  # noqa: F401 (shared fixtures)
from tests.gateway.apis.v1.test_test_clocks import next_cn_morning

pytestmark = pytest.mark.slow

PASSWORD: Final = "harbour-ledger-quill-77"
REDIRECT_URI: Final = "http://127.0.0.1:8765/callback"  # answered by the browser's route, never bound
CALLBACK_PAGE: Final = "<!doctype html><title>Fund app</title><h1 data-testid=partner-callback>Back</h1>"
PERSONA: Final = "li.wei"
PERSONA_PASSWORD: Final = "sandbox-pass"  # published: docs/sandbox/personas.md
PERMISSIONS: Final = ["accounts:read", "orders:read", "orders:write"]
APP_SCOPES: Final = (*PERMISSIONS, "consents:manage", "sandbox:testing", "market:read")
MONEY_MARKET_FUND: Final = "ins_ssgwntu23g"
BURST: Final = 40  # concurrent unsafe calls: twice the sandbox plan's 20/second
BURSTS: Final = 3
FLUSH_SECONDS: Final = 30.0  # workers write usage and observations every few seconds
REASON: Final = "every required conformance check passes in the sandbox"


@pytest.fixture
def real(servers: dict[str, RealServer]) -> RealServer:
    return servers["sqlite"]  # one backend is enough for what a browser adds


@pytest.fixture
def developer(browser: Browser) -> Iterator[Page]:  # noqa: F811 (the shared fixture)
    context = browser.new_context(accept_downloads=True)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def customer(browser: Browser) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context()
    page = context.new_page()
    page.route(f"{REDIRECT_URI}**", _answer_callback)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def staff(browser: Browser) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


def _answer_callback(route: Route) -> None:
    route.fulfill(status=200, content_type="text/html", body=CALLBACK_PAGE)


def screenshot(page: Page, step: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"journey-{step}.png"
    path.unlink(missing_ok=True)
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes().startswith(b"\x89PNG"), path


def reload_until_visible(page: Page, test_id: str, seconds: float = FLUSH_SECONDS) -> None:
    """Reload until the element shows: what it counts is written by the workers within seconds."""
    deadline = time.monotonic() + seconds
    while page.get_by_test_id(test_id).count() == 0 and time.monotonic() < deadline:
        time.sleep(1)
        page.reload()
    expect(page.get_by_test_id(test_id)).to_be_visible()


def sign_up(page: Page, base_url: str, organisation: str) -> None:
    page.goto(f"{base_url}/portal/signup")
    page.get_by_test_id("email").fill(f"mei.{secrets.token_hex(4)}@example.com")
    page.get_by_test_id("organisation").fill(organisation)
    page.get_by_test_id("region").select_option("CN")
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("signup-submit").click()
    expect(page.get_by_test_id("stage")).to_have_text("sandbox")


def create_app(
    page: Page, folder: Path, name: str, scopes: tuple[str, ...], redirect_uri: str = ""
) -> tuple[str, dict[str, Any]]:
    """Fill the open new-app form with a key pair made in the browser; the client id and private key."""
    page.get_by_test_id("app-name").fill(name)
    for scope in scopes:
        page.get_by_test_id(f"scope-{scope}").check()
    if redirect_uri:
        page.get_by_test_id("redirect-uris").fill(redirect_uri)
    page.get_by_test_id("key-source-browser").check()
    page.get_by_test_id("generate-key").click()
    with page.expect_download() as download:
        page.get_by_test_id("private-key-download").click()
    key_file = folder / download.value.suggested_filename
    download.value.save_as(key_file)
    private: dict[str, Any] = json.loads(key_file.read_text())
    expect(page.get_by_test_id("private-key-download")).to_be_hidden()  # offered once
    page.get_by_test_id("create-app").click()
    expect(page.get_by_test_id("app-heading")).to_have_text(name)
    return page.get_by_test_id("client-id").inner_text(), private


def staff_sign_in(page: Page, real: RealServer, username: str) -> None:
    logins = json.loads((real.settings.demo_dir / "staff.json").read_text())
    login = next(item for item in logins if item["username"] == username)
    page.goto(f"{real.base_url}/supervisor/login")
    page.get_by_test_id("username").fill(login["username"])
    page.get_by_test_id("password").fill(login["password"])
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("officer")).to_contain_text(username)


def move_stage(page: Page, to: str) -> None:
    page.locator("#target").select_option(to)
    page.locator("#stage-reason").fill(REASON)
    page.get_by_test_id("move-stage").click()


def test_a_developer_goes_from_sign_up_through_the_sandbox_to_production(
    real: RealServer, developer: Page, customer: Page, staff: Page, tmp_path: Path
) -> None:
    organisation = f"Jade Fund Apps {secrets.token_hex(3)}"

    # 1. sign up and make a delegating sandbox app with a key made in the browser
    sign_up(developer, real.base_url, organisation)
    developer.get_by_test_id("new-app").click()
    client_id, private = create_app(developer, tmp_path, "Fund app", APP_SCOPES, REDIRECT_URI)
    assert client_id.startswith("sbx_")
    screenshot(developer, "sandbox-app")
    partner = real.registry.find_partner_by_name(organisation)
    assert partner is not None
    assert partner.stage is PartnerStage.SANDBOX

    retries: list[RetryInfo] = []
    lock = threading.Lock()

    def retried(info: RetryInfo) -> None:
        with lock:
            retries.append(info)

    # DPoP from the first token on (the `tokens` check); a 429 is retried after its Retry-After
    with Client(
        client_id,
        private,
        base_url=real.base_url,
        allow_insecure_loopback=True,
        max_retries=3,
        timeout=30.0,
        on_retry=retried,
    ) as app:
        # 2. the delegated flow: consent, PAR with PKCE, the persona's sign-in and approval, the code
        consent = app.consents.create(
            permissions=PERMISSIONS,
            purpose="Invest your savings in money market funds",
            expires_at=datetime.now(UTC) + timedelta(days=90),
        )
        pushed = app.oauth.authorization_request(consent_id=consent.id, redirect_uri=REDIRECT_URI)
        customer.goto(pushed.url)
        expect(customer.get_by_test_id("login-heading")).to_be_visible()
        customer.get_by_test_id("username").fill(PERSONA)
        customer.get_by_test_id("password").fill(PERSONA_PASSWORD)
        if (
            customer.get_by_test_id("client-id").count()
            and not customer.get_by_test_id("client-id").input_value()
        ):
            customer.get_by_test_id("client-id").fill(client_id)
        customer.get_by_test_id("login-submit").click()
        expect(customer.get_by_test_id("consent-heading")).to_be_visible()
        expect(customer.get_by_test_id("app-name")).to_have_text("Fund app")
        for permission in PERMISSIONS:
            expect(customer.get_by_test_id(f"scope-{permission}")).to_be_checked()
        screenshot(customer, "consent")
        customer.get_by_test_id("approve").click()
        customer.wait_for_url(f"{REDIRECT_URI}**")
        answer = dict(parse_qsl(urlsplit(customer.url).query))
        assert answer["state"] == pushed.state
        grant = app.oauth.exchange_code(customer.url, pushed)
        assert grant.token_type == "DPoP"
        assert set((grant.scope or "").split()) == set(PERMISSIONS)
        li = app.for_customer(grant)
        assert li.customer_data.list_accounts().data

        # 3. a test clock at a CN trading morning: subscribe, deal after the cut-off, cooling-off closes
        start = next_cn_morning(datetime.now(UTC))
        clock = app.testing.create_test_clock(frozen_time=start, personas=[PERSONA], name="cut-off")
        order = li.orders.place(
            client_order_id=f"sub-{secrets.token_hex(4)}",
            instrument_id=MONEY_MARKET_FUND,
            side="buy",
            order_type="fund_subscription",
            amount="100.00",
        )
        assert order.created_at == start  # placed in the clock's time
        assert order.status == "open"
        dealt = app.testing.advance_test_clock(clock.id, frozen_time=start + timedelta(hours=12))
        assert dealt.moved["fund_orders_dealt"] == 1
        assert li.orders.get(order.order_id).status == "filled"
        app.testing.advance_test_clock(clock.id, frozen_time=start + timedelta(hours=49))
        with pytest.raises(ConflictError) as late:
            li.orders.cool_off(order.order_id)
        assert late.value.status == 409
        assert "48" in late.value.detail

        # 4. scenarios: a crash, and market abuse that surveillance flags
        crash = app.testing.run_scenario("market_crash")
        assert crash.scenario == "market_crash"
        assert any(entry.kind == "order" for entry in crash.log)
        abuse = app.testing.run_scenario("manipulation")
        alerts = [real_id for label, real_id in abuse.ids.items() if label.startswith("alert#")]
        assert alerts, abuse.log

        # 5. a burst above the plan's rate: the 429s are retried after Retry-After with the same key
        app.access_token()  # one token for the whole burst
        for _ in range(BURSTS):
            with ThreadPoolExecutor(BURST) as pool:
                events = list(
                    pool.map(lambda _: app.testing.trigger_event(type="order.filled"), range(BURST))
                )
            assert len({event.id for event in events}) == BURST  # every call succeeded, once
            if any(info.reason == "429" for info in retries):
                break
        throttled = [info for info in retries if info.reason == "429"]
        assert throttled, retries
        assert all(info.idempotency_key and info.delay >= 1 for info in throttled)

        # ... and a revoked consent: its token is refused once and not used again
        assert app.consents.revoke(consent.id).status == "revoked"
        with pytest.raises(OAuthError) as cut_off:  # 401, then the refresh is refused: the SDK stops
            li.customer_data.list_accounts()
        assert (cut_off.value.status, cut_off.value.error) == (400, "invalid_grant")

        deadline = time.monotonic() + FLUSH_SECONDS
        score = app.testing.get_conformance()
        while not score.passed and time.monotonic() < deadline:
            time.sleep(1)
            score = app.testing.get_conformance()
        assert score.passed, [(c.id, c.passed, c.evidence) for c in score.checks]
        assert score.partner_id == partner.id
        passed = {c.id for c in score.checks if c.passed}
        assert {"tokens", "delegation", "retry_after", "revocation", "scopes"} <= passed

    # 4'. a supervisor finds the manipulation alert in the sandbox queue and the partner's cohort
    staff_sign_in(staff, real, "supervisor")
    staff.goto(f"{real.base_url}/supervisor/alerts")
    expect(staff.get_by_test_id("environment")).to_have_text("production")
    staff.get_by_role("link", name="show sandbox").click()
    expect(staff.get_by_test_id("environment")).to_have_text("sandbox")
    expect(staff.get_by_test_id(f"alert-{alerts[0]}")).to_be_visible()
    screenshot(staff, "sandbox-alerts")
    staff.get_by_test_id("nav-sandbox").click()
    reload_until_visible(staff, f"cohort-{partner.id}")
    staff.get_by_test_id(f"cohort-{partner.id}").get_by_role("link").first.click()
    expect(staff.get_by_test_id("partner-id")).to_have_text(partner.id)
    screenshot(staff, "sandbox-cohort")
    staff.get_by_test_id("logout").click()

    # 6. the developer asks for review; staff see the evidence and refuse a partner without any
    developer.goto(f"{real.base_url}/portal/apps")
    developer.get_by_test_id("review-reason").fill("Our fund app passes the conformance suite")
    developer.get_by_test_id("request-review").click()
    expect(developer.get_by_test_id("stage")).to_have_text("review")

    staff_sign_in(staff, real, "compliance.officer")
    bare = real.registry.create_partner(
        name=f"No traffic {secrets.token_hex(3)}",
        type=PartnerType.DEVELOPER,
        region="CN",
        stage=PartnerStage.REVIEW,
    )
    staff.goto(f"{real.base_url}/supervisor/partners/{bare.id}")
    expect(staff.get_by_test_id("no-evidence")).to_be_visible()
    with staff.expect_response(lambda r: r.request.method == "POST") as refusal:
        move_stage(staff, "production")
    assert refusal.value.status == 409
    expect(staff.get_by_test_id("error")).to_contain_text("the evidence is missing")
    assert real.registry.partner(bare.id).stage is PartnerStage.REVIEW
    screenshot(staff, "refused-without-evidence")

    staff.goto(f"{real.base_url}/supervisor/partners/{partner.id}")
    expect(staff.get_by_test_id("stage")).to_have_text("review")
    expect(staff.get_by_test_id("evidence-verdict")).to_have_attribute("data-passed", "true")
    expect(staff.get_by_test_id("evidence-signature")).to_contain_text("verified")
    for check in ("tokens", "delegation", "retry_after", "revocation", "scopes"):
        row = staff.get_by_test_id(f"check-{check}")
        expect(row).to_have_attribute("data-required", "true")
        expect(row).to_have_attribute("data-passed", "true")
    expect(staff.get_by_test_id("override-reason")).to_have_count(0)  # nothing to override
    screenshot(staff, "evidence")
    move_stage(staff, "production")
    expect(staff.get_by_test_id("notice")).to_be_visible()
    expect(staff.get_by_test_id("stage")).to_have_text("production")
    assert real.registry.partner(partner.id).stage is PartnerStage.PRODUCTION

    # 7. production opens: a production app with a browser key calls production with DPoP
    developer.goto(f"{real.base_url}/portal/apps")
    expect(developer.get_by_test_id("production-open")).to_be_visible()
    developer.get_by_test_id("new-production-app").click()
    expect(developer.get_by_test_id("environment-production")).to_be_checked()
    live_id, live_key = create_app(developer, tmp_path, "Fund app live", ("market:read",))
    assert live_id.startswith("live_")
    screenshot(developer, "production-app")
    with Client(
        live_id, live_key, base_url=real.base_url, allow_insecure_loopback=True, max_retries=0
    ) as live:
        assert live.dpop_key is not None
        instruments = live.market.list_instruments(limit=5).first_page()
        assert instruments.data
