"""The sandbox's persona workspaces through the API and the SDK: each app signs personas into its
own copies, a reset starts them afresh and revokes the app's consents, and no other app is touched."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.apis.v1.testing.routes import sandbox_only
from gateway.auth.login import LOCK_AFTER, LoginRefusedError
from gateway.domain import errors
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.services import Platform
from sandbox.personas import load_personas
from tests.delegation import Browser, DelegatingApp, delegating_app, hidden, redirect_parameters
from tests.support import register_app

SANDBOX = Environment.SANDBOX
PERSONA_PASSWORD = "sandbox-pass"
SCOPES = (Scope.CONSENTS_MANAGE, Scope.ACCOUNTS_READ, Scope.SANDBOX_TESTING)


def workspace_app(platform: Platform) -> DelegatingApp:
    return delegating_app(platform, SANDBOX, scopes=SCOPES)


def sign_in_through_app(
    client: TestClient[Any], partner: DelegatingApp, persona: str, permissions: list[str] | None = None
) -> tuple[Browser, str]:
    """PAR for a consent (accounts by default), then the persona signs in on the way to the consent screen."""
    consent = partner.create_consent(client, permissions or [Scope.ACCOUNTS_READ.value])
    pushed = partner.push(client, consent["id"])
    assert pushed.status_code == 201, pushed.text
    authorize_url = partner.authorize_url(pushed.json()["request_uri"])
    browser = Browser(client, partner.prefix)
    signed_in = browser.sign_in(persona, PERSONA_PASSWORD, return_to=authorize_url)
    assert signed_in.status_code == 303, signed_in.text
    return browser, authorize_url


def delegate(client: TestClient[Any], partner: DelegatingApp, persona: str = "li.wei") -> dict[str, Any]:
    """The whole delegated flow as a published persona; the token answer plus the consent id."""
    browser, authorize_url = sign_in_through_app(client, partner, persona)
    screen = browser.get(authorize_url)
    assert screen.status_code == 200, screen.text
    decision = {
        "csrf_token": hidden(screen.text, "csrf_token"),
        "transaction_id": hidden(screen.text, "transaction_id"),
        "decision": "approve",
        "scope": [Scope.ACCOUNTS_READ.value],
    }
    answer = redirect_parameters(browser.post(f"{partner.prefix}/oauth2/authorize/decision", data=decision))
    token = partner.redeem(client, answer["code"])
    assert token.status_code == 200, token.text
    return dict(token.json())


def account_ids(client: TestClient[Any], partner: DelegatingApp, access_token: str) -> set[str]:
    response = partner.call(client, "GET", "/v1/accounts", access_token)
    assert response.status_code == 200, response.text
    return {account["account_id"] for account in response.json()["data"]}


def test_the_personas_are_listed_with_their_published_sign_ins(
    client: TestClient[Any], platform: Platform
) -> None:
    partner = workspace_app(platform)
    listed = partner.app.sdk(client).testing.list_personas()
    published = {persona.customer.username: persona.password for persona in load_personas()}
    assert {persona.sign_in: persona.password for persona in listed.data} == published
    assert set(published.values()) == {PERSONA_PASSWORD}
    assert {tag for persona in listed.data for tag in persona.covers} >= {"C1", "C5", "CN", "HK", "EU", "US"}


def test_each_app_works_on_its_own_copy_and_a_reset_touches_no_other_app(
    client: TestClient[Any], platform: Platform
) -> None:
    first, second = workspace_app(platform), workspace_app(platform)
    first_token, second_token = delegate(client, first), delegate(client, second)
    first_accounts = account_ids(client, first, first_token["access_token"])
    second_accounts = account_ids(client, second, second_token["access_token"])
    template = next(p.customer for p in load_personas() if p.customer.username == "li.wei")
    # Two workspaces, two customers: neither is the template nor the other.
    assert first_accounts
    assert second_accounts
    assert not first_accounts & second_accounts
    assert not first_accounts & {account.id for account in template.accounts}

    reset = first.app.sdk(client).testing.reset_personas()
    assert reset.generation == 1
    assert reset.revoked_consents == 1
    refused = first.call(client, "GET", "/v1/accounts", first_token["access_token"])
    assert refused.status_code == 401, refused.text  # the old copy's consent died with the reset
    assert first.refresh(client, first_token["refresh_token"]).status_code == 400
    # The other app's copy, its consent and its tokens are untouched.
    assert account_ids(client, second, second_token["access_token"]) == second_accounts

    again = delegate(client, first)
    fresh = account_ids(client, first, again["access_token"])
    assert fresh
    assert not fresh & first_accounts
    assert not fresh & second_accounts


def test_a_session_of_one_apps_copy_never_answers_another_apps_request(
    client: TestClient[Any], platform: Platform
) -> None:
    first, second = workspace_app(platform), workspace_app(platform)
    browser, _ = sign_in_through_app(client, first, "li.wei")
    consent = second.create_consent(client, [Scope.ACCOUNTS_READ.value])
    pushed = second.push(client, consent["id"])
    answer = browser.get(second.authorize_url(pushed.json()["request_uri"]))
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"{second.prefix}/login?return_to=")
    assert not any(name.endswith("sandbox-session") for name in browser.cookies)  # signed out first


def test_a_persona_outside_an_authorization_request_names_its_app(
    client: TestClient[Any], platform: Platform
) -> None:
    partner = workspace_app(platform)
    browser = Browser(client, partner.prefix)
    page = browser.get(f"{partner.prefix}/login")
    assert 'name="client_id"' in page.text
    form = {
        "username": "li.wei",
        "password": PERSONA_PASSWORD,
        "csrf_token": hidden(page.text, "csrf_token"),
        "return_to": hidden(page.text, "return_to"),
    }
    refused = browser.post(f"{partner.prefix}/login", data=form)
    assert refused.status_code == 422
    assert "client id" in refused.text
    unknown = browser.post(f"{partner.prefix}/login", data={**form, "client_id": "sbx_nosuchapp"})
    assert unknown.status_code == 422
    signed_in = browser.post(f"{partner.prefix}/login", data={**form, "client_id": partner.app.client_id})
    assert signed_in.status_code == 303, signed_in.text
    dashboard = browser.get(f"{partner.prefix}/consents")
    assert dashboard.status_code == 200
    assert "Li Wei" in dashboard.text


def test_a_published_password_never_locks_a_persona(platform: Platform) -> None:
    login = platform.environments[SANDBOX].login
    for _ in range(LOCK_AFTER + 1):
        with pytest.raises(LoginRefusedError):
            login.authenticate("anna.schmidt", "not the published password")
    assert login.authenticate("anna.schmidt", PERSONA_PASSWORD)
    # Production keeps its lockout: five failures in a row lock the account.
    assert platform.environments[Environment.PRODUCTION].login.lockout


def test_production_has_no_testing_controls(client: TestClient[Any], platform: Platform) -> None:
    partner = register_app(platform, scopes=(Scope.MARKET_READ,))
    refused = client.get("/v1/testing/personas", headers=partner.headers(client))
    assert refused.status_code == 403  # no production app may hold `sandbox:testing`
    assert "insufficient_scope" in refused.headers["www-authenticate"]
    with pytest.raises(errors.NotFoundError):
        sandbox_only(None)
