"""The authorization code flow to the FAPI 2.0 Security Profile, end to end in process: PAR, PKCE,
sign-in, the consent screen, single-use codes, DPoP-bound tokens, refresh, consent enforcement,
minimisation and revocation on the very next call."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.domain.environment import Environment
from gateway.services import Platform
from partners.models import PartnerType
from sandbox.clock import FrozenClock
from tests.delegation import (
    REDIRECT_URI,
    Browser,
    DelegatingApp,
    authorize,
    delegating_app,
    hidden,
    redirect_parameters,
    seed_customer,
)
from tests.support import segment


@pytest.fixture
def bank(platform: Platform) -> DelegatingApp:
    return delegating_app(platform)


def claims(token: str) -> dict[str, Any]:
    return segment(token, 1)


# -- the happy path ----------------------------------------------------------------------------


def test_a_partner_reads_accounts_with_a_dpop_bound_token_under_consent(
    client: TestClient[Any], platform: Platform, bank: DelegatingApp
) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION)
    grant = authorize(client, bank, customer, ["accounts:read"])

    token = claims(grant.access_token)
    assert token["consent_id"] == grant.consent_id
    assert token["cnf"]["jkt"] == bank.holder.jkt
    assert token["sub"].startswith("pw_")
    assert customer.id not in json.dumps(token)  # the internal id never leaves
    response = bank.call(client, "GET", "/v1/accounts", grant.access_token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sharing"]["subject"] == token["sub"]
    assert len(body["data"]) == len(customer.accounts)
    for account, original in zip(body["data"], customer.accounts, strict=True):
        assert account["number"].endswith(original.number[-4:])
        assert original.number not in json.dumps(body)
    consent = bank.call(client, "GET", f"/v1/consents/{grant.consent_id}", bank.client_token(client)).json()
    assert consent["status"] == "authorized"
    assert "customer_id" not in consent


def test_the_pairwise_subject_differs_between_partners(client: TestClient[Any], platform: Platform) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION)
    first, second = delegating_app(platform), delegating_app(platform)
    sub_one = claims(authorize(client, first, customer, ["accounts:read"]).access_token)["sub"]
    sub_two = claims(authorize(client, second, customer, ["accounts:read"]).access_token)["sub"]
    again = claims(authorize(client, first, customer, ["accounts:read"]).access_token)["sub"]
    assert sub_one != sub_two
    assert sub_one == again


# -- minimisation and narrowing ------------------------------------------------------------------


def test_a_narrow_consent_gets_only_the_granted_fields(
    client: TestClient[Any], platform: Platform, bank: DelegatingApp
) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION)
    narrow = authorize(client, bank, customer, ["accounts:read"])
    wide = authorize(client, bank, customer, ["accounts:read", "holdings:read"])

    narrow_body = bank.call(client, "GET", "/v1/accounts", narrow.access_token).json()
    wide_body = bank.call(client, "GET", "/v1/accounts", wide.access_token).json()

    for account in narrow_body["data"]:
        assert set(account) == {"account_id", "kind", "jurisdiction", "number", "base_currency", "balances"}
    assert set(narrow_body["sharing"]["withheld_fields"]) == {"holding_count", "market_value"}
    assert {"holding_count", "market_value"} <= set(wide_body["data"][0])
    assert bank.call(client, "GET", "/v1/holdings", narrow.access_token).status_code == 403


def test_the_customer_can_narrow_what_the_partner_asked_for(
    client: TestClient[Any], platform: Platform, bank: DelegatingApp
) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION)
    grant = authorize(client, bank, customer, ["accounts:read", "holdings:read"], approve=["accounts:read"])

    assert grant.scope == "accounts:read"
    consent = bank.call(client, "GET", f"/v1/consents/{grant.consent_id}", bank.client_token(client)).json()
    assert consent["permissions"] == ["accounts:read"]
    response = bank.call(client, "GET", "/v1/holdings", grant.access_token)
    assert response.status_code == 403, response.text


def test_deep_analysis_starts_unticked_and_needs_an_explicit_opt_in(
    client: TestClient[Any], platform: Platform, bank: DelegatingApp
) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION)
    consent = bank.create_consent(client, ["accounts:read", "transactions:read"])
    pushed = bank.push(client, consent["id"]).json()
    browser = Browser(client, bank.prefix)
    browser.sign_in(customer.username)
    screen = browser.get(bank.authorize_url(pushed["request_uri"]))

    assert 'value="accounts:read"\n' in screen.text or 'value="accounts:read"' in screen.text
    checkbox = screen.text.split('value="transactions:read"', 1)[1].split(">", 1)[0]
    assert "checked" not in checkbox
    decision = {
        "csrf_token": hidden(screen.text, "csrf_token"),
        "transaction_id": hidden(screen.text, "transaction_id"),
        "decision": "approve",
        "scope": ["accounts:read", "transactions:read"],
    }
    refused = browser.post(f"{bank.prefix}/oauth2/authorize/decision", data=decision)
    assert refused.status_code == 422
    assert 'data-testid="consent-error"' in refused.text
    assert "opt-in" in refused.text
    approved = browser.post(
        f"{bank.prefix}/oauth2/authorize/decision", data={**decision, "opt_in_high_risk": "yes"}
    )
    assert "code" in redirect_parameters(approved)


def test_deny_redirects_with_access_denied_and_the_issuer(
    client: TestClient[Any], platform: Platform, bank: DelegatingApp
) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION)
    consent = bank.create_consent(client, ["accounts:read"])
    form = bank.par_form(consent["id"])
    pushed = client.post(
        f"{bank.prefix}/oauth2/par",
        data=form,
        headers={"DPoP": bank.holder.proof("POST", bank.url("/oauth2/par"))},
    ).json()
    browser = Browser(client, bank.prefix)
    browser.sign_in(customer.username)
    screen = browser.get(bank.authorize_url(pushed["request_uri"]))
    answer = redirect_parameters(
        browser.post(
            f"{bank.prefix}/oauth2/authorize/decision",
            data={
                "csrf_token": hidden(screen.text, "csrf_token"),
                "transaction_id": hidden(screen.text, "transaction_id"),
                "decision": "deny",
            },
        )
    )
    assert answer == {
        "error": "access_denied",
        "error_description": "the customer denied the request",
        "state": form["state"],
        "iss": bank.app.issuer,
    }
    status = bank.call(client, "GET", f"/v1/consents/{consent['id']}", bank.client_token(client)).json()
    assert status["status"] == "rejected"


# -- revocation on the very next call ----------------------------------------------------------------


def test_revocation_bites_on_the_next_call_with_the_access_and_the_refresh_token(
    client: TestClient[Any], platform: Platform, bank: DelegatingApp
) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION)
    grant = authorize(client, bank, customer, ["accounts:read"])
    assert bank.call(client, "GET", "/v1/accounts", grant.access_token).status_code == 200
    assert bank.refresh(client, grant.refresh_token).status_code == 200

    browser = Browser(client, bank.prefix)
    browser.sign_in(customer.username)
    page = browser.get(f"{bank.prefix}/consents")
    assert page.status_code == 200
    assert grant.consent_id in page.text
    revoked = browser.post(
        f"{bank.prefix}/consents/{grant.consent_id}/revoke",
        data={"csrf_token": hidden(page.text, "csrf_token")},
    )
    assert revoked.status_code == 303

    refused = bank.call(client, "GET", "/v1/accounts", grant.access_token)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    refresh = bank.refresh(client, grant.refresh_token)
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "invalid_grant"
    events = platform.environments[Environment.PRODUCTION].consents.repository.events(grant.consent_id)
    assert [event.kind.value for event in events] == ["created", "authorized", "revoked"]


def test_the_refresh_token_outlives_the_access_token_while_the_consent_lives(
    client: TestClient[Any], platform: Platform, bank: DelegatingApp, clock: FrozenClock
) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION)
    grant = authorize(client, bank, customer, ["accounts:read"])
    clock.advance(timedelta(days=30))  # far past the access token, well within the consent
    assert bank.call(client, "GET", "/v1/accounts", grant.access_token).status_code == 401
    refreshed = bank.refresh(client, grant.refresh_token)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["token_type"] == "DPoP"
    assert bank.call(client, "GET", "/v1/accounts", refreshed.json()["access_token"]).status_code == 200
    clock.advance(timedelta(days=61))  # past the consent's 90 days
    assert bank.refresh(client, grant.refresh_token).json()["error"] == "invalid_grant"


# -- codes ---------------------------------------------------------------------------------------


def _code(client: TestClient[Any], platform: Platform, bank: DelegatingApp) -> str:
    customer = seed_customer(platform, Environment.PRODUCTION)
    consent = bank.create_consent(client, ["accounts:read"])
    pushed = bank.push(client, consent["id"]).json()
    browser = Browser(client, bank.prefix)
    browser.sign_in(customer.username)
    screen = browser.get(bank.authorize_url(pushed["request_uri"]))
    answer = browser.post(
        f"{bank.prefix}/oauth2/authorize/decision",
        data={
            "csrf_token": hidden(screen.text, "csrf_token"),
            "transaction_id": hidden(screen.text, "transaction_id"),
            "decision": "approve",
            "scope": ["accounts:read"],
        },
    )
    return redirect_parameters(answer)["code"]


def test_a_reused_code_is_refused_and_revokes_what_it_produced(
    client: TestClient[Any], platform: Platform, bank: DelegatingApp
) -> None:
    code = _code(client, platform, bank)
    first = bank.redeem(client, code)
    assert first.status_code == 200
    access = first.json()["access_token"]
    assert bank.call(client, "GET", "/v1/accounts", access).status_code == 200

    replay = bank.redeem(client, code)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert bank.call(client, "GET", "/v1/accounts", access).status_code == 401
    assert bank.refresh(client, first.json()["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_code_expires_after_60_seconds(
    client: TestClient[Any], platform: Platform, bank: DelegatingApp, clock: FrozenClock
) -> None:
    code = _code(client, platform, bank)
    clock.advance(timedelta(seconds=61))
    response = bank.redeem(client, code)
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "the authorization code has expired",
    }


def test_a_code_is_bound_to_its_client_verifier_redirect_and_dpop_key(
    client: TestClient[Any], platform: Platform, bank: DelegatingApp
) -> None:
    code = _code(client, platform, bank)
    other = delegating_app(platform)
    assert other.redeem(client, code).json()["error"] == "invalid_grant"
    assert bank.redeem(client, code, code_verifier="x" * 43).json()["error"] == "invalid_grant"
    wrong_redirect = bank.redeem(client, code, redirect_uri="https://partner.example/other")
    assert wrong_redirect.json()["error"] == "invalid_grant"
    thief = DelegatingApp(bank.app, delegating_app(platform).holder, bank.verifier)  # stolen code, own key
    assert thief.redeem(client, code).json()["error"] == "invalid_dpop_proof"
    assert bank.redeem(client, code).status_code == 200  # none of the failures used the code up


def test_production_refuses_a_code_redemption_without_dpop(
    client: TestClient[Any], platform: Platform, bank: DelegatingApp
) -> None:
    code = _code(client, platform, bank)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": bank.verifier,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": bank.app.assertion(),
    }
    response = client.post("/oauth2/token", data=form)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"


# -- PAR -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"redirect_uri": "https://attacker.example/callback"}, "invalid_request"),
        ({"redirect_uri": REDIRECT_URI + "/"}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"response_type": "token"}, "invalid_request"),
        ({"request_uri": "urn:ietf:params:oauth:request_uri:abc"}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "invalid_request"),
        ({"scope": "accounts:read transactions:read"}, "invalid_scope"),
        ({"consent_id": "cns_unknown"}, "invalid_request"),
    ],
)
def test_par_refuses(
    client: TestClient[Any], bank: DelegatingApp, overrides: dict[str, str | None], error: str
) -> None:
    consent = bank.create_consent(client, ["accounts:read"])
    response = bank.push(client, consent["id"], **overrides)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"


def test_par_needs_client_authentication(client: TestClient[Any], bank: DelegatingApp) -> None:
    consent = bank.create_consent(client, ["accounts:read"])
    response = bank.push(client, consent["id"], client_assertion=None, client_assertion_type=None)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_consent_of_another_partner_cannot_be_pushed(client: TestClient[Any], platform: Platform) -> None:
    owner, intruder = delegating_app(platform), delegating_app(platform)
    consent = owner.create_consent(client, ["accounts:read"])
    assert intruder.push(client, consent["id"]).json()["error"] == "invalid_request"


def test_a_request_uri_is_single_use_and_short_lived(
    client: TestClient[Any], platform: Platform, bank: DelegatingApp, clock: FrozenClock
) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION)
    consent = bank.create_consent(client, ["accounts:read"])
    pushed = bank.push(client, consent["id"]).json()
    assert 0 < pushed["expires_in"] < 600
    browser = Browser(client, bank.prefix)
    browser.sign_in(customer.username)
    assert browser.get(bank.authorize_url(pushed["request_uri"])).status_code == 200
    again = browser.get(bank.authorize_url(pushed["request_uri"]))
    assert again.status_code == 400
    assert "expired" in again.text

    late = bank.push(client, bank.create_consent(client, ["accounts:read"])["id"]).json()
    clock.advance(timedelta(seconds=pushed["expires_in"] + 1))
    assert browser.get(bank.authorize_url(late["request_uri"])).status_code == 400


def test_the_authorization_endpoint_sends_a_stranger_to_sign_in_first(
    client: TestClient[Any], bank: DelegatingApp
) -> None:
    consent = bank.create_consent(client, ["accounts:read"])
    pushed = bank.push(client, consent["id"]).json()
    response = client.get(bank.authorize_url(pushed["request_uri"]), follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?return_to=%2Foauth2%2Fauthorize")


# -- cross-border ---------------------------------------------------------------------------------


def test_cross_border_data_needs_the_customers_explicit_permission(
    client: TestClient[Any], platform: Platform
) -> None:
    customer = seed_customer(platform, Environment.PRODUCTION, "li.wei")  # a CN resident
    abroad = delegating_app(platform, region="US", partner_type=PartnerType.INSTITUTION)
    grant = authorize(client, abroad, customer, ["accounts:read", "profile:read"], opt_in_high_risk=True)

    accounts = abroad.call(client, "GET", "/v1/accounts", grant.access_token).json()
    profile = abroad.call(client, "GET", "/v1/profile", grant.access_token).json()

    assert all(set(item) == set() for item in accounts["data"])  # PIPL: nothing leaves without it
    assert "legal_name" not in profile["data"]
    assert "legal_name" in profile["sharing"]["withheld_fields"]
    disclosures = platform.environments[Environment.PRODUCTION].sharing.disclosures_of(customer.id)
    assert {record.resource for record in disclosures} == {"/v1/accounts", "/v1/profile"}
    assert any(decision["outcome"] == "deny" for record in disclosures for decision in record.decisions)
