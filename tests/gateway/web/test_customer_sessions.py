"""Sign-in, lockout, sessions and CSRF on the customer pages."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.domain.environment import Environment
from gateway.services import Platform
from sandbox.clock import FrozenClock
from tests.delegation import PASSWORD, Browser, authorize, delegating_app, hidden, seed_customer


def test_sign_in_sets_a_secure_host_only_session_cookie(client: TestClient[Any], platform: Platform) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION)
    response = Browser(client, "").sign_in(customer.username)
    assert response.status_code == 303
    assert response.headers["location"] == "/consents"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("__Host-session="))
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "path=/", "samesite=lax"} <= attributes
    assert not any(a.startswith("domain=") for a in attributes)


def test_a_wrong_password_and_an_unknown_user_read_the_same(
    client: TestClient[Any], platform: Platform
) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION)
    wrong = Browser(client, "").sign_in(customer.username, "not the password")
    unknown = Browser(client, "").sign_in("nobody.at.all", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    for response in (wrong, unknown):
        assert "The username or password is not correct." in response.text
        assert "__Host-session" not in response.headers.get("set-cookie", "")


def test_five_failures_lock_the_account_for_fifteen_minutes(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION)
    browser = Browser(client, "")
    for _ in range(5):
        assert browser.sign_in(customer.username, "guess").status_code == 401
    locked = browser.sign_in(customer.username, PASSWORD)
    assert locked.status_code == 401
    assert "locked" in locked.text
    clock.advance(timedelta(minutes=15, seconds=1))
    assert browser.sign_in(customer.username, PASSWORD).status_code == 303


def test_sign_in_attempts_are_throttled_per_username(client: TestClient[Any], platform: Platform) -> None:
    customer = seed_customer(platform, Environment.SANDBOX)
    browser = Browser(client, "/sandbox")
    statuses = [browser.sign_in(customer.username, f"guess {n}").status_code for n in range(11)]
    assert statuses[-1] == 429
    assert statuses.count(429) == 1


def test_the_login_form_needs_its_csrf_cookie(client: TestClient[Any], platform: Platform) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION)
    response = client.post(
        "/login",
        data={"username": customer.username, "password": PASSWORD, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "__Host-session" not in response.headers.get("set-cookie", "")


def test_a_return_to_off_site_is_ignored(client: TestClient[Any], platform: Platform) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION)
    for target in ("https://attacker.example/", "//attacker.example/x", "/\\attacker.example"):
        response = Browser(client, "").sign_in(customer.username, return_to=target)
        assert response.headers["location"] == "/consents", target


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/consents", 303),
        ("POST", "/consents/cns_x/revoke", 303),
        ("POST", "/oauth2/authorize/decision", 401),
        ("GET", "/customer/session", 401),
        ("GET", "/customer/consents", 401),
        ("GET", "/customer/disclosures", 401),
        ("POST", "/customer/consents/cns_x/revoke", 401),
    ],
)
def test_customer_pages_and_api_need_a_session(
    client: TestClient[Any], method: str, path: str, status: int
) -> None:
    response = client.request(method, path, follow_redirects=False)
    assert response.status_code == status, response.text
    if status == 303:
        assert response.headers["location"].startswith("/login?return_to=")


def test_a_form_post_without_the_sessions_csrf_token_changes_nothing(
    client: TestClient[Any], platform: Platform
) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION)
    bank = delegating_app(platform)
    grant = authorize(client, bank, customer, ["accounts:read"])
    browser = Browser(client, "")
    browser.sign_in(customer.username)
    forged = browser.post(f"/consents/{grant.consent_id}/revoke", data={"csrf_token": "forged"})
    cross_site = browser.post(
        f"/consents/{grant.consent_id}/revoke",
        data={"csrf_token": hidden(browser.get("/consents").text, "csrf_token")},
        headers={"Origin": "https://attacker.example"},
    )
    api = browser.post(f"/customer/consents/{grant.consent_id}/revoke", headers={"X-CSRF-Token": "forged"})
    assert forged.status_code == cross_site.status_code == api.status_code == 403
    assert bank.call(client, "GET", "/v1/accounts", grant.access_token).status_code == 200


def test_the_dashboard_api_lists_consents_and_disclosures_and_revokes(
    client: TestClient[Any], platform: Platform
) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION)
    bank = delegating_app(platform)
    grant = authorize(client, bank, customer, ["accounts:read"])
    assert bank.call(client, "GET", "/v1/accounts", grant.access_token).status_code == 200
    browser = Browser(client, "")
    browser.sign_in(customer.username)

    session = browser.get("/customer/session").json()
    consents = browser.get("/customer/consents").json()["data"]
    disclosures = browser.get("/customer/disclosures").json()["data"]
    assert [c["id"] for c in consents] == [grant.consent_id]
    assert consents[0]["status"] == "authorized"
    assert [(d["consent_id"], d["resource"]) for d in disclosures] == [(grant.consent_id, "/v1/accounts")]
    assert "balances" in disclosures[0]["fields"]
    revoked = browser.post(
        f"/customer/consents/{grant.consent_id}/revoke", headers={"X-CSRF-Token": session["csrf_token"]}
    )
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert bank.call(client, "GET", "/v1/accounts", grant.access_token).status_code == 401


def test_pages_forbid_framing_scripts_and_caching(client: TestClient[Any]) -> None:
    response = client.get("/login")
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "script-src" not in response.headers["content-security-policy"]  # default-src 'none' covers it
    assert response.headers["cache-control"] == "no-store"
    assert not re.search(r"<script|style=", response.text)


def test_signing_out_ends_the_session(client: TestClient[Any], platform: Platform) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION)
    browser = Browser(client, "")
    browser.sign_in(customer.username)
    page = browser.get("/consents")
    cookie = browser.cookies["__Host-session"]
    assert browser.post("/logout", data={"csrf_token": hidden(page.text, "csrf_token")}).status_code == 303
    replay = client.get("/consents", headers={"Cookie": f"__Host-session={cookie}"}, follow_redirects=False)
    assert replay.status_code == 303


def test_a_decision_for_an_unknown_or_foreign_transaction_changes_nothing(
    client: TestClient[Any], platform: Platform
) -> None:
    owner, stranger = (seed_customer(platform, Environment.PRODUCTION) for _ in range(2))
    bank = delegating_app(platform)
    consent = bank.create_consent(client, ["accounts:read"])
    pushed = bank.push(client, consent["id"]).json()
    browser = Browser(client, "")
    browser.sign_in(owner.username)
    screen = browser.get(bank.authorize_url(pushed["request_uri"]))
    transaction = hidden(screen.text, "transaction_id")

    other = Browser(client, "")
    other.sign_in(stranger.username)
    csrf = hidden(other.get("/consents").text, "csrf_token")
    for transaction_id in (transaction, "azt_unknown", ""):
        answer = other.post(
            "/oauth2/authorize/decision",
            data={
                "csrf_token": csrf,
                "transaction_id": transaction_id,
                "decision": "approve",
                "scope": "accounts:read",
            },
        )
        assert answer.status_code == 400, transaction_id
        assert 'data-testid="message-title"' in answer.text
    status = bank.call(client, "GET", f"/v1/consents/{consent['id']}", bank.client_token(client)).json()[
        "status"
    ]
    assert status == "awaiting_authorization"
