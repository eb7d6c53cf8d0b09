"""Staff pages of the partner lifecycle: officers review partners by stage, move them with a reason,
set pilot caps, suspend and reactivate; regulators read; strangers and forged forms get nowhere."""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from gateway.auth.staff import Officer, Role, officers_file, write_officers
from gateway.domain.environment import Environment
from gateway.services import Platform
from partners.lifecycle import LifecycleEventKind
from partners.models import Partner, PartnerStage, PartnerStatus, PartnerType, PilotCaps
from sandbox.clock import FrozenClock
from tests.delegation import PASSWORD, Browser, hidden, password_hash
from tests.support import wait_until

OFFICER = "compliance.officer"
REGULATOR = "supervisor"
PARTNERS = "/supervisor/partners"
REASON = "documents checked against the register"


@pytest.fixture(autouse=True)
def officers(var_dir: Path) -> None:
    write_officers(
        officers_file(var_dir),
        [
            Officer(OFFICER, password_hash(), frozenset({Role.COMPLIANCE_OFFICER})),
            Officer(REGULATOR, password_hash(), frozenset({Role.SUPERVISOR})),
        ],
    )


def signed_in(client: TestClient[Any], username: str = OFFICER) -> Browser:
    browser = Browser(client, "")
    page = browser.get("/supervisor/login")
    response = browser.post(
        "/supervisor/login",
        data={
            "username": username,
            "password": PASSWORD,
            "csrf_token": hidden(page.text, "csrf_token"),
            "return_to": hidden(page.text, "return_to"),
        },
    )
    assert response.status_code == 303, response.text
    return browser


def partner_in(platform: Platform, stage: PartnerStage) -> Partner:
    return platform.registry.create_partner(
        name=f"Partner {secrets.token_hex(4)}",
        type=PartnerType.INSTITUTION,
        region="HK",
        stage=stage,
        actor="cli",
    )


def post_form(browser: Browser, partner_id: str, action: str, **fields: str) -> httpx.Response:
    page = browser.get(f"{PARTNERS}/{partner_id}")
    assert page.status_code == 200, page.text
    return browser.post(
        f"{PARTNERS}/{partner_id}/{action}", data={"csrf_token": hidden(page.text, "csrf_token"), **fields}
    )


def test_pending_reviews_come_first(client: TestClient[Any], platform: Platform, clock: FrozenClock) -> None:
    waiting_longer = partner_in(platform, PartnerStage.REVIEW)
    sandbox = partner_in(platform, PartnerStage.SANDBOX)
    application = partner_in(platform, PartnerStage.APPLICATION)
    clock.advance(timedelta(hours=1))
    waiting = partner_in(platform, PartnerStage.SANDBOX)
    platform.registry.lifecycle.request_review(waiting.id, actor="partner:sbx_x", reason="we are ready")
    browser = signed_in(client)

    page = browser.get(PARTNERS)

    assert page.status_code == 200, page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "<script" not in page.text
    rows = [
        page.text.index(f'data-testid="partner-{p.id}"')
        for p in (waiting_longer, waiting, application, sandbox)
    ]
    assert rows == sorted(rows)  # reviews (longest waiting first), then applications, then the sandbox
    only_reviews = browser.get(PARTNERS, params={"stage": "review"}).text
    assert f"partner-{waiting.id}" in only_reviews
    assert f"partner-{sandbox.id}" not in only_reviews
    assert 'data-stage="production"' not in only_reviews


def test_an_officer_walks_a_partner_into_pilot_with_reasons(
    client: TestClient[Any], platform: Platform
) -> None:
    partner = partner_in(platform, PartnerStage.REVIEW)
    browser = signed_in(client)
    page = browser.get(f"{PARTNERS}/{partner.id}")
    assert page.status_code == 200, page.text
    assert 'data-testid="stage">review<' in page.text
    for target in ("sandbox", "pilot", "production"):
        assert f'<option value="{target}">' in page.text

    caps = post_form(
        browser,
        partner.id,
        "pilot-caps",
        customers="30",
        daily_notional="25000.5",
        currency="HKD",
        daily_points="0",
        reason="pilot terms signed",
    )
    assert caps.status_code == 303, caps.text
    assert caps.headers["location"] == f"{PARTNERS}/{partner.id}?notice=caps"
    # No sandbox evidence stands behind this partner: the move is an override (a reason of 20+ characters).
    moved = post_form(
        browser, partner.id, "stage", stage="pilot", reason=REASON, override_reason=f"override: {REASON}"
    )
    assert moved.status_code == 303, moved.text

    after = platform.registry.partner(partner.id)
    assert after.stage is PartnerStage.PILOT
    assert after.pilot_caps == PilotCaps(
        customers=30, daily_notional=Decimal("25000.50"), currency="HKD", daily_points=0
    )
    history = platform.registry.lifecycle.history(partner.id)
    assert [(e.kind, e.actor, e.reason) for e in history[1:]] == [
        (LifecycleEventKind.PILOT_CAPS_SET, f"officer:{OFFICER}", "pilot terms signed"),
        (LifecycleEventKind.STAGE_CHANGED, f"officer:{OFFICER}", REASON),
    ]
    shown = browser.get(f"{PARTNERS}/{partner.id}?notice=stage").text
    assert "Stage changed." in shown
    assert "30 customers, 25000.50 HKD notional and 0 points a day" in shown
    assert shown.count('data-testid="event"') == 3
    assert REASON in shown
    assert f"officer:{OFFICER}" in shown
    # The page post is in the production audit chain, under the officer's name.
    log = platform.environments[Environment.PRODUCTION].audit.log  # flushed on the app's own loop
    mine: list[Any] = []

    def recorded() -> bool:
        mine[:] = [r.entry for r in log.records() if r.entry.details.get("object_id") == partner.id]
        return len(mine) >= 2

    wait_until(recorded, timeout=10)
    assert [(e.actor, e.action, e.outcome) for e in mine] == [
        (f"officer:{OFFICER}", "POST /supervisor/partners/{partner_id}/pilot-caps", 303),
        (f"officer:{OFFICER}", "POST /supervisor/partners/{partner_id}/stage", 303),
    ]


def test_refused_decisions_are_shown_back_and_change_nothing(
    client: TestClient[Any], platform: Platform
) -> None:
    partner = partner_in(platform, PartnerStage.REVIEW)
    browser = signed_in(client)

    no_caps = post_form(browser, partner.id, "stage", stage="pilot", reason=REASON)
    short = post_form(browser, partner.id, "stage", stage="sandbox", reason="  ok ")
    illegal = post_form(browser, partner.id, "stage", stage="application", reason=REASON)
    garbled = post_form(
        browser,
        partner.id,
        "pilot-caps",
        customers="many",
        daily_notional="1",
        currency="CNY",
        daily_points="1",
        reason=REASON,
    )
    nan = post_form(
        browser,
        partner.id,
        "pilot-caps",
        customers="1",
        daily_notional="NaN",
        currency="CNY",
        daily_points="1",
        reason=REASON,
    )

    assert no_caps.status_code == 409
    assert "set the pilot caps before" in no_caps.text
    assert short.status_code == 422
    assert "a reason of 3 to 500 characters is required" in short.text
    assert illegal.status_code == 409
    assert garbled.status_code == 422
    assert nan.status_code == 422
    assert platform.registry.partner(partner.id).stage is PartnerStage.REVIEW
    assert platform.registry.partner(partner.id).pilot_caps is None
    assert len(platform.registry.lifecycle.history(partner.id)) == 1


def test_an_officer_suspends_and_reactivates(client: TestClient[Any], platform: Platform) -> None:
    partner = partner_in(platform, PartnerStage.PRODUCTION)
    browser = signed_in(client)
    assert 'data-testid="final-stage"' in browser.get(f"{PARTNERS}/{partner.id}").text

    suspended = post_form(browser, partner.id, "suspension", reason="AML investigation opened")
    assert suspended.status_code == 303, suspended.text
    assert platform.registry.partner(partner.id).status is PartnerStatus.SUSPENDED
    assert 'data-testid="reactivate"' in browser.get(f"{PARTNERS}/{partner.id}").text
    twice = browser.post(
        f"{PARTNERS}/{partner.id}/suspension",
        data={"csrf_token": hidden(browser.get(PARTNERS).text, "csrf_token"), "reason": "again and again"},
    )
    assert twice.status_code == 409
    reactivated = post_form(browser, partner.id, "reactivation", reason="investigation closed")
    assert reactivated.status_code == 303
    assert platform.registry.partner(partner.id).status is PartnerStatus.ACTIVE


def test_a_regulator_reads_but_cannot_decide(client: TestClient[Any], platform: Platform) -> None:
    partner = partner_in(platform, PartnerStage.REVIEW)
    browser = signed_in(client, REGULATOR)
    page = browser.get(f"{PARTNERS}/{partner.id}")
    assert page.status_code == 200
    assert 'data-testid="read-only"' in page.text
    assert "stage-form" not in page.text
    response = browser.post(
        f"{PARTNERS}/{partner.id}/stage",
        data={"csrf_token": hidden(page.text, "csrf_token"), "stage": "sandbox", "reason": REASON},
    )
    assert response.status_code == 403
    assert platform.registry.partner(partner.id).stage is PartnerStage.REVIEW


def test_forged_or_cross_site_forms_change_nothing(client: TestClient[Any], platform: Platform) -> None:
    partner = partner_in(platform, PartnerStage.REVIEW)
    browser = signed_in(client)
    token = hidden(browser.get(f"{PARTNERS}/{partner.id}").text, "csrf_token")
    path = f"{PARTNERS}/{partner.id}/stage"
    body = {"stage": "sandbox", "reason": REASON}

    missing = browser.post(path, data=body)
    forged = browser.post(path, data={**body, "csrf_token": "forged"})
    cross_site = browser.post(
        path, data={**body, "csrf_token": token}, headers={"Origin": "https://attacker.example"}
    )

    assert missing.status_code == forged.status_code == cross_site.status_code == 403
    assert platform.registry.partner(partner.id).stage is PartnerStage.REVIEW


def test_the_pages_need_an_officer_session(client: TestClient[Any]) -> None:
    for method, path in (
        ("GET", PARTNERS),
        ("GET", f"{PARTNERS}/prt_x"),
        ("POST", f"{PARTNERS}/prt_x/stage"),
        ("POST", f"{PARTNERS}/prt_x/pilot-caps"),
        ("POST", f"{PARTNERS}/prt_x/suspension"),
        ("POST", f"{PARTNERS}/prt_x/reactivation"),
    ):
        response = client.request(
            method, path, data={"reason": REASON, "stage": "sandbox"}, follow_redirects=False
        )
        assert response.status_code == 303, (path, response.text)
        assert response.headers["location"].startswith("/supervisor/login?return_to=")


def test_unknown_partners_and_the_sandbox_are_not_found(client: TestClient[Any], platform: Platform) -> None:
    browser = signed_in(client)
    assert browser.get(f"{PARTNERS}/prt_0000000000000000").status_code == 404
    assert (
        post_form(
            browser, partner_in(platform, PartnerStage.SANDBOX).id, "stage", stage="review", reason=REASON
        ).status_code
        == 303
    )
    assert browser.get(f"/sandbox{PARTNERS}").status_code == 404
