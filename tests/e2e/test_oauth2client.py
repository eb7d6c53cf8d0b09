"""An independent client against the real server: requests-oauth2client (not written here, not
written against this gateway) runs discovery, `private_key_jwt`, DPoP, PAR with PKCE, the code
exchange with the RFC 9207 issuer check, a data call, a refresh, and meets the revocation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from requests_oauth2client import (
    ApiClient,
    AuthorizationResponse,
    DPoPKey,
    DPoPToken,
    InvalidGrant,
    MismatchingIssuer,
    MissingIssuer,
    OAuth2Client,
    PrivateKeyJwt,
)
from requests_oauth2client.discovery import oauth2_discovery_document_url
from requests_oauth2client.dpop import MissingDPoPNonce

from gateway.demo import DEMO_REDIRECT_URI
from gateway.domain.environment import Environment
from sandbox.personas import load_demo_customers
from tests.delegation import hidden
from tests.e2e.servers import BANK, CookieBrowser, RealServer
from tests.support import segment

pytestmark = pytest.mark.slow

CUSTOMER: Final = "zhang.min"  # signs in once per backend; the browser tests use other customers


@pytest.fixture
def browser(server: RealServer) -> Iterator[CookieBrowser]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        yield CookieBrowser(http)


@pytest.fixture
def client(server: RealServer) -> Iterator[OAuth2Client]:
    """The bank's production client, configured from the server's RFC 8414 metadata."""
    issuer = server.issuer(Environment.PRODUCTION)
    bank = server.credentials(BANK, Environment.PRODUCTION)
    # The library's default `aud` is the URL of the endpoint it posts to, which this server
    # refuses at the PAR endpoint; FAPI 2.0 (§5.3.2.1) makes the issuer the one audience anyway.
    auth = PrivateKeyJwt(bank.client_id, bank.private_jwk, aud=issuer)
    discovered = OAuth2Client.from_discovery_endpoint(
        url=oauth2_discovery_document_url(issuer),
        issuer=issuer,  # the document must name the issuer it was fetched for (RFC 8414 §3.3)
        auth=auth,
        redirect_uri=DEMO_REDIRECT_URI,
        testing=True,  # the library insists on https; this server listens on loopback http
    )
    try:
        yield discovered
    finally:
        discovered.session.close()  # never `with OAuth2Client`: its __exit__ swallows exceptions


@pytest.fixture
def api(server: RealServer, client: OAuth2Client) -> ApiClient:
    return ApiClient(server.issuer(Environment.PRODUCTION), session=client.session, raise_for_status=False)


def _read_accounts(api: ApiClient, token: DPoPToken) -> Any:
    """GET /v1/accounts with the library's DPoP auth handler (Authorization: DPoP + a proof with ath)."""
    try:
        return api.get("/v1/accounts", auth=token)
    except MissingDPoPNonce as refused:
        # requests-oauth2client 1.8 takes every `WWW-Authenticate: DPoP` 401 for a nonce challenge
        # and raises without one; RFC 9449 §9 signals that with error="use_dpop_nonce" only. It
        # raises from a response hook, before requests reads the body and frees the connection.
        response = refused.response
        response.content  # noqa: B018 (read, so the connection goes back to the pool)
        response.close()
        return response


def _create_consent(client: OAuth2Client, api: ApiClient, permissions: list[str]) -> dict[str, Any]:
    partner_token = client.client_credentials(scope="consents:manage", dpop=True)
    assert isinstance(partner_token, DPoPToken)
    body = {
        "permissions": permissions,
        "purpose": "Show your brokerage accounts in the bank app",
        "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(timespec="seconds"),
    }
    response = api.post("/v1/consents", json=body, auth=partner_token)
    assert response.status_code == 201, response.text
    consent: dict[str, Any] = response.json()
    assert consent["status"] == "awaiting_authorization"
    return consent


def test_the_metadata_configures_an_independent_client(server: RealServer, client: OAuth2Client) -> None:
    issuer = server.issuer(Environment.PRODUCTION)
    assert client.issuer == issuer
    assert client.token_endpoint == f"{issuer}/oauth2/token"
    assert client.authorization_endpoint == f"{issuer}/oauth2/authorize"
    assert client.pushed_authorization_request_endpoint == f"{issuer}/oauth2/par"
    assert client.authorization_response_iss_parameter_supported is True
    assert client.code_challenge_method == "S256"
    assert len(client.authorization_server_jwks) >= 1  # fetched from jwks_uri
    assert all(not key.is_private for key in client.authorization_server_jwks.jwks)


def test_requests_oauth2client_runs_the_whole_delegated_flow(
    server: RealServer, client: OAuth2Client, api: ApiClient, browser: CookieBrowser
) -> None:
    issuer = server.issuer(Environment.PRODUCTION)
    consent = _create_consent(client, api, ["accounts:read"])

    # PAR (RFC 9126) with PKCE S256 from the library, the code bound to our own DPoP key by both
    # `dpop_jkt` and the proof on the PAR request (RFC 9449 §10), and the consent it authorizes.
    dpop_key = DPoPKey.generate()
    request = client.authorization_request(
        scope=None,  # the consent carries the permissions
        dpop_key=dpop_key,
        consent_id=consent["id"],
        # The client learnt this from the metadata but does not pass it on by itself.
        authorization_response_iss_parameter_supported=client.authorization_response_iss_parameter_supported,
    )
    assert request.args["code_challenge_method"] == "S256"
    assert request.args["dpop_jkt"] == dpop_key.dpop_jkt
    pushed = client.pushed_authorization_request(request)
    assert pushed.request_uri.startswith("urn:ietf:params:oauth:request_uri:")
    assert pushed.expires_at is not None
    assert pushed.expires_at <= datetime.now(UTC) + timedelta(seconds=600)

    # The customer's browser: signed out, so to sign-in first, then the consent screen.
    login_page = browser.follow(pushed.uri)
    signed_in = browser.sign_in(login_page, server.customer(CUSTOMER))
    assert signed_in.status_code == 303, signed_in.text
    screen = browser.follow(signed_in.headers["location"])
    assert screen.status_code == 200, screen.text
    assert 'data-testid="consent-heading"' in screen.text
    decision = {
        "csrf_token": hidden(screen.text, "csrf_token"),
        "transaction_id": hidden(screen.text, "transaction_id"),
        "decision": "approve",
        "scope": ["accounts:read"],
    }
    answer = browser.request("POST", "/oauth2/authorize/decision", data=decision)
    assert answer.status_code == 303, answer.text
    callback = answer.headers["location"]
    assert callback.startswith(f"{DEMO_REDIRECT_URI}?")

    # RFC 9207: the library refuses a response from another issuer, or one without `iss`.
    parameters = dict(parse_qsl(urlsplit(callback).query))
    assert parameters["iss"] == issuer
    mixed_up = parameters | {"iss": "https://as.attacker.example"}
    with pytest.raises(MismatchingIssuer):
        request.validate_callback(f"{DEMO_REDIRECT_URI}?{urlencode(mixed_up)}")
    without_iss = {name: value for name, value in parameters.items() if name != "iss"}
    with pytest.raises(MissingIssuer):
        request.validate_callback(f"{DEMO_REDIRECT_URI}?{urlencode(without_iss)}")
    response = request.validate_callback(callback)
    assert isinstance(response, AuthorizationResponse)
    assert response.iss == issuer

    # The code exchange: client assertion, code_verifier, redirect_uri and a DPoP proof.
    token = client.authorization_code(response)
    assert isinstance(token, DPoPToken)
    assert token.token_type == "DPoP"
    assert token.scope == "accounts:read"
    assert token.dpop_key is dpop_key
    assert token.refresh_token
    claims = segment(token.access_token, 1)
    assert claims["cnf"] == {"jkt": dpop_key.dpop_jkt}
    assert claims["consent_id"] == consent["id"]
    assert claims["iss"] == issuer

    accounts = _read_accounts(api, token)
    assert accounts.status_code == 200, accounts.text
    persona = next(c for c in load_demo_customers() if c.username == CUSTOMER)
    numbers = {account.id: account.number for account in persona.accounts}
    data = accounts.json()["data"]
    assert {item["account_id"] for item in data} == set(numbers)
    for item in data:
        assert item["number"] == f"•••• {numbers[item['account_id']][-4:]}"
    assert not any(number in accounts.text for number in numbers.values())

    refreshed = client.refresh_token(token)
    assert isinstance(refreshed, DPoPToken)
    assert refreshed.dpop_key is dpop_key  # RFC 9449 §5: the refresh is proven with the same key
    assert refreshed.access_token != token.access_token
    assert refreshed.scope == "accounts:read"
    assert _read_accounts(api, refreshed).status_code == 200

    # The customer revokes through the dashboard API (session cookie + the session's CSRF token).
    session = browser.request("GET", "/customer/session")
    assert session.status_code == 200, session.text
    revoked = browser.request(
        "POST",
        f"/customer/consents/{consent['id']}/revoke",
        headers={"X-CSRF-Token": session.json()["csrf_token"]},
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"

    for old in (token, refreshed):
        refused = _read_accounts(api, old)
        assert refused.status_code == 401, refused.text
        assert refused.headers["www-authenticate"].startswith("DPoP ")
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    with pytest.raises(InvalidGrant):
        client.refresh_token(token)
