"""The resource server refuses every access token it should not honour (RFC 6750, RFC 9068)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from joserfc import jws
from litestar.testing import TestClient

from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.services import Platform
from partners.models import PartnerStatus
from sandbox.clock import FrozenClock
from tests.support import ASSERTION_TYPE, PLAIN, b64url, register_app, segment, staff_app

INSTRUMENTS = "/v1/market/instruments"
ADMIN_PARTNERS = "/admin/partners"
# RFC 7515 Appendix A.1: the example HS256 JWS, verbatim.
RFC7515_A1_TOKEN = (
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_as_issuer(platform: Platform, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A token signed with production's own current signing key, with exactly this header and claims."""
    key = platform.environments[Environment.PRODUCTION].keys.signing_key()
    protected = {"alg": "ES256", "kid": key.kid, **header}  # jws, not jwt: nothing adds a default `typ`
    return jws.serialize_compact(protected, json.dumps(claims).encode(), key, algorithms=["ES256"])


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """An HS256 JWS built by hand, as an attacker would (no library guard against odd secrets)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def assert_unauthorized(response: httpx.Response, error: str | None = "invalid_token") -> None:
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith(("Bearer", "DPoP"))  # the scheme of the token presented
    if error is None:
        assert "error=" not in challenge  # RFC 6750 §3.1: no error code when no credentials came
    else:
        assert f'error="{error}"' in challenge
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert {"type", "title", "status", "detail"} <= problem.keys()
    assert problem["status"] == 401


def test_no_token(client: TestClient[Any]) -> None:
    assert_unauthorized(client.get(INSTRUMENTS), error=None)


GARBAGE_TOKENS = (
    "garbage",
    "a.b.c",
    "a.b.c.d.e",
    "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ4In0.",
    "x" * 8192,
)


def test_garbage_token(client: TestClient[Any], subtests: pytest.Subtests) -> None:
    for token in GARBAGE_TOKENS:
        with subtests.test(token=token[:40]):
            assert_unauthorized(client.get(INSTRUMENTS, headers=bearer(token)))


@pytest.mark.parametrize("used_before_expiry", [True, False], ids=["cached", "first-use"])
def test_expired_token(
    client: TestClient[Any], platform: Platform, clock: FrozenClock, used_before_expiry: bool
) -> None:
    bank = register_app(platform)
    issued = client.post("/oauth2/token", data=bank.token_form()).json()
    token = issued["access_token"]
    if used_before_expiry:  # the resource server has the token cached as valid
        clock.advance(timedelta(seconds=issued["expires_in"] - 1))
        assert client.get(INSTRUMENTS, headers=bearer(token)).status_code == 200
        clock.advance(timedelta(seconds=2))
    else:  # the first time the resource server sees the token, it has already expired
        clock.advance(timedelta(seconds=issued["expires_in"] + 1))
    assert_unauthorized(client.get(INSTRUMENTS, headers=bearer(token)))


@pytest.mark.parametrize(
    ("issued_by", "presented_to"),
    [(Environment.SANDBOX, Environment.PRODUCTION), (Environment.PRODUCTION, Environment.SANDBOX)],
)
def test_token_of_the_other_environment(
    client: TestClient[Any], platform: Platform, issued_by: Environment, presented_to: Environment
) -> None:
    app = register_app(platform, environment=issued_by)
    token = app.token(client)
    assert client.get(f"{issued_by.path_prefix}{INSTRUMENTS}", headers=bearer(token)).status_code == 200
    assert_unauthorized(client.get(f"{presented_to.path_prefix}{INSTRUMENTS}", headers=bearer(token)))


def test_token_with_the_other_environments_claims_signed_by_this_one(
    client: TestClient[Any], platform: Platform
) -> None:
    """Even with a valid signature, an `iss` or `env` of the sandbox is refused by production."""
    bank = register_app(platform, environment=Environment.SANDBOX)
    claims = segment(bank.token(client), 1)
    forged = sign_as_issuer(platform, {"typ": "at+jwt"}, claims)
    assert_unauthorized(client.get(INSTRUMENTS, headers=bearer(forged)))
    production_issuer = platform.settings.issuer(Environment.PRODUCTION)
    half = {**claims, "iss": production_issuer, "aud": f"{production_issuer}/v1"}
    assert_unauthorized(
        client.get(INSTRUMENTS, headers=bearer(sign_as_issuer(platform, {"typ": "at+jwt"}, half)))
    )


def test_rfc7515_example_hs256_token(client: TestClient[Any]) -> None:
    assert_unauthorized(client.get(INSTRUMENTS, headers=bearer(RFC7515_A1_TOKEN)))


def test_alg_confusion_hs256_signed_with_our_public_key(
    client: TestClient[Any], platform: Platform, subtests: pytest.Subtests
) -> None:
    bank = register_app(platform)
    claims = segment(bank.token(client), 1)
    key = platform.environments[Environment.PRODUCTION].keys.signing_key()
    public_jwk = next(k for k in client.get("/oauth2/jwks").json()["keys"] if k["kid"] == key.kid)
    secrets_by_form = {
        "pem": key.as_pem(private=False),
        "jwk-json": json.dumps(public_jwk).encode(),
        "jwk-json-compact": json.dumps(public_jwk, separators=(",", ":")).encode(),
        "jwks-document": client.get("/oauth2/jwks").content,
    }
    header = {"alg": "HS256", "typ": "at+jwt", "kid": key.kid}
    for form, secret in secrets_by_form.items():
        with subtests.test(secret=form):
            forged = hs256(header, claims, secret)
            assert_unauthorized(client.get(INSTRUMENTS, headers=bearer(forged)))


def test_token_that_is_not_an_access_token(
    client: TestClient[Any], platform: Platform, subtests: pytest.Subtests
) -> None:
    bank = register_app(platform)
    claims = segment(bank.token(client), 1)
    del claims["cnf"]  # re-signed below without the holder's key: as a bearer token
    # Control: the same claims under `typ: at+jwt` with our key are honoured.
    genuine = sign_as_issuer(platform, {"typ": "at+jwt"}, claims)
    assert client.get(INSTRUMENTS, headers=bearer(genuine)).status_code == 200
    for typ in ("JWT", "jwt", "dpop+jwt", None):
        with subtests.test(typ=typ):
            other = sign_as_issuer(platform, {} if typ is None else {"typ": typ}, claims)
            assert_unauthorized(client.get(INSTRUMENTS, headers=bearer(other)))


def test_staff_token_is_refused_by_the_partner_api(client: TestClient[Any], platform: Platform) -> None:
    staff = staff_app(platform)
    token = staff.token(client)
    assert client.get(ADMIN_PARTNERS, headers=bearer(token)).status_code == 200
    assert_unauthorized(client.get(INSTRUMENTS, headers=bearer(token)))


def test_partner_token_is_refused_by_the_staff_api(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    token = bank.token(client)
    assert client.get(INSTRUMENTS, headers=bearer(token)).status_code == 200
    assert_unauthorized(client.get(ADMIN_PARTNERS, headers=bearer(token)))


def test_admin_audience_token_with_a_partner_scope_is_refused_by_the_partner_api(
    client: TestClient[Any], platform: Platform
) -> None:
    """Only the audience check stands between this token and the data: its scope would suffice."""
    bank = register_app(platform)
    claims = segment(bank.token(client), 1)
    admin_audience = f"{platform.settings.issuer(Environment.PRODUCTION)}/admin"
    forged = sign_as_issuer(platform, {"typ": "at+jwt"}, {**claims, "aud": admin_audience})
    assert_unauthorized(client.get(INSTRUMENTS, headers=bearer(forged)))


def test_token_in_the_query_string_is_refused(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    token = bank.token(client)
    with_header = client.get(INSTRUMENTS, params={"access_token": token}, headers=bearer(token))
    assert_unauthorized(with_header, error="invalid_request")
    assert_unauthorized(client.get(INSTRUMENTS, params={"access_token": token}), error="invalid_request")
    assert client.get(INSTRUMENTS, headers=bearer(token)).status_code == 200


def test_non_bearer_scheme_is_refused(
    client: TestClient[Any], platform: Platform, subtests: pytest.Subtests
) -> None:
    bank = register_app(platform)
    token = bank.token(client)
    for scheme in ("Basic", "DPoP", "Token", "MAC", "Bearer:"):
        with subtests.test(scheme=scheme):
            plain = {"Authorization": f"{scheme} {token}", PLAIN: "1"}  # no proof added for us
            # A bound token under its own scheme but without a proof is a proof error (RFC 9449 §7.1).
            error = "invalid_dpop_proof" if scheme == "DPoP" else "invalid_token"
            assert_unauthorized(client.get(INSTRUMENTS, headers=plain), error=error)
    # RFC 7235 §2.1: the scheme name is case-insensitive.
    assert client.get(INSTRUMENTS, headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_revoked_token(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    token = bank.token(client)
    assert client.get(INSTRUMENTS, headers=bearer(token)).status_code == 200  # now cached as valid
    form = {
        "token": token,
        "client_id": bank.client_id,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": bank.assertion(),
    }
    assert client.post("/oauth2/revoke", data=form).status_code == 200
    assert_unauthorized(client.get(INSTRUMENTS, headers=bearer(token)))


def test_token_of_a_partner_suspended_through_the_staff_api(
    client: TestClient[Any], platform: Platform
) -> None:
    bank = register_app(platform)
    token = bank.token(client)
    assert client.get(INSTRUMENTS, headers=bearer(token)).status_code == 200  # client now cached
    staff = staff_app(platform)
    suspended = client.post(
        f"/admin/partners/{bank.partner_id}/suspension",
        json={"reason": "suspended for this test"},  # ADR 0011: every suspension has a reason
        headers=staff.headers(client),
    )
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == PartnerStatus.SUSPENDED
    assert_unauthorized(client.get(INSTRUMENTS, headers=bearer(token)))


def test_token_of_a_partner_suspended_in_the_registry(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    token = bank.token(client)
    assert client.get(INSTRUMENTS, headers=bearer(token)).status_code == 200
    platform.registry.lifecycle.suspend(bank.partner_id, actor="staff:test", reason="test suspension")
    platform.clients.forget(bank.client_id)
    assert_unauthorized(client.get(INSTRUMENTS, headers=bearer(token)))


def test_insufficient_scope_is_forbidden(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    token = bank.token(client, scope=Scope.FUNDS_READ)
    response = client.get(INSTRUMENTS, headers=bearer(token))
    assert response.status_code == 403, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="market:read"' in challenge
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 403


def test_staff_routes_do_not_exist_in_the_sandbox(
    client: TestClient[Any], platform: Platform, subtests: pytest.Subtests
) -> None:
    staff = staff_app(platform)
    sandbox_partner = register_app(platform, environment=Environment.SANDBOX)
    for path in ("/sandbox/admin/partners", "/sandbox/admin/plans", "/sandbox/admin/audit/records"):
        with subtests.test(path=path):
            assert client.get(path).status_code == 404
            assert client.get(path, headers=staff.headers(client)).status_code == 404
            assert client.get(path, headers=sandbox_partner.headers(client)).status_code == 404
    assert client.get(ADMIN_PARTNERS, headers=staff.headers(client)).status_code == 200
