"""The authorization server as an attacker meets it: token, discovery, JWKS, introspection, revocation."""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from joserfc import jwk, jwt
from joserfc.jwk import KeySet, OctKey
from litestar.testing import TestClient

from gateway.auth.keys import PUBLICATION_GRACE
from gateway.domain.environment import Environment
from gateway.domain.scopes import CUSTOMER_DELEGATED, STAFF, Scope
from gateway.services import Platform
from gateway.settings import Settings
from sandbox.clock import FrozenClock
from tests.support import ASSERTION_TYPE, PartnerApp, b64url, register_app, segment, staff_app

INSTRUMENTS = "/v1/market/instruments"
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})
DISCOVERY_PATHS = {
    Environment.PRODUCTION: ["/.well-known/oauth-authorization-server"],
    Environment.SANDBOX: [
        "/.well-known/oauth-authorization-server/sandbox",  # RFC 8414 §3: issuer path after the suffix
        "/sandbox/.well-known/oauth-authorization-server",
    ],
}


def claims_for(app: PartnerApp, **overrides: Any) -> dict[str, Any]:
    """The claims of a valid client assertion, as `PartnerApp.assertion` would sign them."""
    now = int(app.clock.now().timestamp())
    claims = {
        "iss": app.client_id,
        "sub": app.client_id,
        "aud": app.issuer,
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(12),
    }
    claims.update(overrides)
    return claims


def request_token(client: TestClient[Any], app: PartnerApp, **form: Any) -> httpx.Response:
    return client.post(f"{app.prefix}/oauth2/token", data={**app.token_form(), **form})


def authenticated(app: PartnerApp, **form: str) -> dict[str, str]:
    """An introspection or revocation form, authenticated with a fresh client assertion."""
    return {
        "client_id": app.client_id,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": app.assertion(),
        **form,
    }


def introspect(client: TestClient[Any], app: PartnerApp, token: str) -> httpx.Response:
    return client.post(f"{app.prefix}/oauth2/introspect", data=authenticated(app, token=token))


def revoke(client: TestClient[Any], app: PartnerApp, token: str) -> httpx.Response:
    return client.post(f"{app.prefix}/oauth2/revoke", data=authenticated(app, token=token))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def published_kids(client: TestClient[Any], prefix: str = "") -> set[str]:
    return {key["kid"] for key in client.get(f"{prefix}/oauth2/jwks").json()["keys"]}


def assert_invalid_client(response: httpx.Response) -> None:
    assert response.status_code in (400, 401), response.text
    assert response.json()["error"] == "invalid_client", response.text
    assert "access_token" not in response.json()


# -- issuing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("environment", list(Environment))
def test_valid_assertion_gets_a_short_lived_signed_access_token(
    client: TestClient[Any], platform: Platform, settings: Settings, environment: Environment
) -> None:
    bank = register_app(platform, environment=environment)
    response = client.post(f"{bank.prefix}/oauth2/token", data=bank.token_form())
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    # Production tokens are always DPoP-bound; the sandbox also issues bearer tokens.
    assert body["token_type"] == ("DPoP" if environment is Environment.PRODUCTION else "Bearer")
    assert 300 <= body["expires_in"] <= 900
    value: str = body["access_token"]

    header = segment(value, 0)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    jwks = client.get(f"{bank.prefix}/oauth2/jwks").json()
    assert header["kid"] in {key["kid"] for key in jwks["keys"]}
    claims = jwt.decode(value, KeySet.import_key_set(jwks), algorithms=["ES256"]).claims
    issuer = settings.issuer(environment)
    now = int(platform.clock.now().timestamp())
    assert claims["iss"] == issuer == bank.issuer
    assert claims["sub"] == claims["client_id"] == bank.client_id
    assert claims["aud"] == f"{issuer}/v1"
    assert claims["scope"] == body["scope"]
    assert claims["iat"] == now
    assert claims["exp"] == now + body["expires_in"]
    assert isinstance(claims["jti"], str)
    assert len(claims["jti"]) >= 16
    assert claims["env"] == environment.value


def test_every_token_has_its_own_jti(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    jtis = {segment(bank.token(client), 1)["jti"] for _ in range(3)}
    assert len(jtis) == 3


def test_no_scope_requested_grants_all_of_the_apps_scopes(
    client: TestClient[Any], platform: Platform
) -> None:
    bank = register_app(platform)
    response = client.post("/oauth2/token", data=bank.token_form())
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == " ".join(bank.scopes)
    assert segment(response.json()["access_token"], 1)["scope"] == " ".join(bank.scopes)


def test_requested_scope_narrows_the_token(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    response = client.post("/oauth2/token", data=bank.token_form(scope=Scope.MARKET_READ))
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "market:read"
    assert segment(response.json()["access_token"], 1)["scope"] == "market:read"


REFUSED_SCOPES = (
    "orders:write",  # customer-delegated: never by client credentials
    "admin:partners",  # staff
    "market:read points:valuations:write",  # one held, one not held by this app
    "market:read no-such-scope",
)


def test_scope_the_app_does_not_hold_is_refused(
    client: TestClient[Any], platform: Platform, subtests: pytest.Subtests
) -> None:
    bank = register_app(platform)
    for scope in REFUSED_SCOPES:
        with subtests.test(scope=scope):
            response = client.post("/oauth2/token", data=bank.token_form(scope=scope))
            assert response.status_code == 400, response.text
            assert response.json()["error"] == "invalid_scope"
            assert "access_token" not in response.json()


def test_password_and_implicit_grants_are_never_served(
    client: TestClient[Any], platform: Platform, subtests: pytest.Subtests
) -> None:
    bank = register_app(platform)
    for grant_type in ("password", "implicit", "token", "urn:ietf:params:oauth:grant-type:jwt-bearer"):
        with subtests.test(grant_type=grant_type):
            response = request_token(client, bank, grant_type=grant_type, username="u", password="p")
            assert response.status_code == 400, response.text
            assert response.json()["error"] == "unsupported_grant_type"
            assert "access_token" not in response.json()


def test_an_app_without_redirect_uris_cannot_use_the_code_flow_grants(
    client: TestClient[Any], platform: Platform, subtests: pytest.Subtests
) -> None:
    bank = register_app(platform)
    for grant_type in ("authorization_code", "refresh_token"):
        with subtests.test(grant_type=grant_type):
            response = request_token(client, bank, grant_type=grant_type, code="x", refresh_token="rt_x")
            assert response.status_code == 400, response.text
            assert response.json()["error"] == "unauthorized_client"


# -- private_key_jwt negatives ------------------------------------------------------------------

ClaimTampering = Callable[[PartnerApp, int], dict[str, Any]]
TAMPERED_CLAIMS: dict[str, ClaimTampering] = {
    "aud of a stranger": lambda app, now: {"aud": "https://attacker.example/oauth2/token"},
    "aud of the sandbox issuer": lambda app, now: {"aud": f"{app.issuer}/sandbox"},
    "aud of the resource server": lambda app, now: {"aud": f"{app.issuer}/v1"},
    "expired": lambda app, now: {"iat": now - 120, "exp": now - 60},
    "exp missing": lambda app, now: {"exp": None},
    "exp not a number": lambda app, now: {"exp": str(now + 60)},
    "lifetime over 300 s": lambda app, now: {"exp": now + 3600},
    "issued in the future": lambda app, now: {"iat": now + 120, "exp": now + 180},
    "jti missing": lambda app, now: {"jti": None},
    "jti empty": lambda app, now: {"jti": ""},
    "sub is another client": lambda app, now: {"sub": "live_" + secrets.token_hex(12)},
    "iss is another client": lambda app, now: {"iss": "live_" + secrets.token_hex(12)},
}


@pytest.mark.parametrize("tamper", TAMPERED_CLAIMS.values(), ids=TAMPERED_CLAIMS.keys())
def test_assertion_with_bad_claims_is_refused(
    client: TestClient[Any], platform: Platform, tamper: ClaimTampering
) -> None:
    bank = register_app(platform)
    now = int(platform.clock.now().timestamp())
    assertion = bank.assertion(**tamper(bank, now))
    assert_invalid_client(client.post("/oauth2/token", data=bank.token_form(assertion)))


def test_assertion_with_long_but_allowed_lifetime_is_accepted(
    client: TestClient[Any], platform: Platform, settings: Settings
) -> None:
    bank = register_app(platform)
    now = int(platform.clock.now().timestamp())
    assertion = bank.assertion(exp=now + settings.client_assertion_max_age_seconds)
    assert client.post("/oauth2/token", data=bank.token_form(assertion)).status_code == 200


def test_hs256_assertion_is_refused(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    secret = OctKey.generate_key(256)
    assertion = jwt.encode({"alg": "HS256"}, claims_for(bank), secret, algorithms=["HS256"])
    assert_invalid_client(client.post("/oauth2/token", data=bank.token_form(assertion)))


def test_unsigned_assertion_is_refused(
    client: TestClient[Any], platform: Platform, subtests: pytest.Subtests
) -> None:
    bank = register_app(platform)
    for alg in ("none", "None", "NONE"):
        with subtests.test(alg=alg):
            header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
            payload = b64url(json.dumps(claims_for(bank)).encode())
            assertion = f"{header}.{payload}."
            assert_invalid_client(client.post("/oauth2/token", data=bank.token_form(assertion)))


def test_assertion_signed_with_an_unregistered_key_is_refused(
    client: TestClient[Any], platform: Platform
) -> None:
    bank = register_app(platform)
    impostor_key = jwk.generate_key(
        "EC", "P-256", parameters={"kid": bank.private_jwk["kid"], "alg": "ES256"}, private=True
    )
    impostor = dataclasses.replace(bank, private_jwk=dict(impostor_key.as_dict(private=True)))
    assert_invalid_client(client.post("/oauth2/token", data=impostor.token_form()))


def test_assertion_signed_with_another_clients_key_is_refused(
    client: TestClient[Any], platform: Platform
) -> None:
    bank = register_app(platform)
    other = register_app(platform)
    impostor = dataclasses.replace(bank, private_jwk=other.private_jwk)
    assert_invalid_client(client.post("/oauth2/token", data=impostor.token_form()))


def test_unknown_client_is_refused(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    ghost = dataclasses.replace(bank, client_id="live_" + secrets.token_hex(12))
    assert_invalid_client(client.post("/oauth2/token", data=ghost.token_form()))


@pytest.mark.parametrize(
    ("registered_in", "presented_at"),
    [
        (Environment.SANDBOX, Environment.PRODUCTION),
        (Environment.PRODUCTION, Environment.SANDBOX),
    ],
)
def test_client_of_one_environment_is_refused_by_the_other(
    client: TestClient[Any],
    platform: Platform,
    settings: Settings,
    registered_in: Environment,
    presented_at: Environment,
) -> None:
    app = register_app(platform, environment=registered_in)
    # The assertion is addressed to the other environment's issuer: only the environment check refuses it.
    stray = dataclasses.replace(app, environment=presented_at, issuer=settings.issuer(presented_at))
    assert_invalid_client(client.post(f"{stray.prefix}/oauth2/token", data=stray.token_form()))
    assert client.post(f"{app.prefix}/oauth2/token", data=app.token_form()).status_code == 200


def test_suspended_partner_gets_no_token(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    platform.registry.lifecycle.suspend(bank.partner_id, actor="staff:test", reason="test suspension")
    assert_invalid_client(client.post("/oauth2/token", data=bank.token_form()))
    platform.registry.lifecycle.reactivate(bank.partner_id, actor="staff:test", reason="test reactivation")
    assert client.post("/oauth2/token", data=bank.token_form()).status_code == 200


def test_replayed_assertion_is_refused(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    form = bank.token_form()
    assert client.post("/oauth2/token", data=form).status_code == 200
    assert_invalid_client(client.post("/oauth2/token", data=form))


def test_reused_jti_is_refused_even_in_a_freshly_signed_assertion(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    bank = register_app(platform)
    assert client.post("/oauth2/token", data=bank.token_form(bank.assertion(jti="once"))).status_code == 200
    clock.advance(timedelta(seconds=5))
    assert_invalid_client(client.post("/oauth2/token", data=bank.token_form(bank.assertion(jti="once"))))


def test_jti_of_one_client_does_not_block_another(client: TestClient[Any], platform: Platform) -> None:
    first, second = register_app(platform), register_app(platform)
    for app in (first, second):
        form = app.token_form(app.assertion(jti="shared"))
        assert client.post("/oauth2/token", data=form).status_code == 200


def test_repeated_form_parameter_is_refused(
    client: TestClient[Any], platform: Platform, subtests: pytest.Subtests
) -> None:
    bank = register_app(platform)
    for name in ("client_assertion", "client_id", "grant_type", "scope"):
        with subtests.test(parameter=name):
            form: dict[str, Any] = bank.token_form(scope=Scope.MARKET_READ)
            form[name] = [form[name], bank.assertion() if name == "client_assertion" else form[name]]
            response = client.post("/oauth2/token", data=form)
            assert response.status_code == 400, response.text
            # RFC 6749 §3.2 and §5.2: a parameter included more than once is an `invalid_request`.
            assert response.json()["error"] == "invalid_request"
            assert "access_token" not in response.json()


def test_wrong_client_assertion_type_is_refused(
    client: TestClient[Any], platform: Platform, subtests: pytest.Subtests
) -> None:
    bank = register_app(platform)
    wrong_types = (
        "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
        ASSERTION_TYPE.upper(),
        "",
        None,
    )
    for assertion_type in wrong_types:
        with subtests.test(assertion_type=assertion_type):
            form = bank.token_form()
            if assertion_type is None:
                del form["client_assertion_type"]
            else:
                form["client_assertion_type"] = assertion_type
            assert_invalid_client(client.post("/oauth2/token", data=form))


def test_missing_client_assertion_is_refused(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    form = bank.token_form()
    del form["client_assertion"]
    assert_invalid_client(client.post("/oauth2/token", data=form))


def test_client_secret_is_not_a_way_in(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    form = {"grant_type": "client_credentials", "client_id": bank.client_id, "client_secret": "guess"}
    assert_invalid_client(client.post("/oauth2/token", data=form))
    basic = base64.b64encode(f"{bank.client_id}:guess".encode()).decode()
    response = client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert_invalid_client(response)


# -- discovery ----------------------------------------------------------------------------------


def test_discovery_names_a_different_issuer_per_environment(
    client: TestClient[Any], settings: Settings
) -> None:
    issuers = {}
    for environment, paths in DISCOVERY_PATHS.items():
        documents = [client.get(path) for path in paths]
        assert all(d.status_code == 200 for d in documents)
        assert all(d.json() == documents[0].json() for d in documents)
        metadata = documents[0].json()
        issuer = settings.issuer(environment)
        assert metadata["issuer"] == issuer
        assert metadata["token_endpoint"] == f"{issuer}/oauth2/token"
        assert metadata["jwks_uri"] == f"{issuer}/oauth2/jwks"
        assert metadata["introspection_endpoint"] == f"{issuer}/oauth2/introspect"
        assert metadata["revocation_endpoint"] == f"{issuer}/oauth2/revoke"
        issuers[environment] = issuer
    assert issuers[Environment.PRODUCTION] != issuers[Environment.SANDBOX]


def test_discovery_advertises_only_what_is_safe(client: TestClient[Any], subtests: pytest.Subtests) -> None:
    for path in [p for paths in DISCOVERY_PATHS.values() for p in paths]:
        with subtests.test(path=path):
            metadata = client.get(path).json()
            assert metadata["grant_types_supported"] == [
                "authorization_code",
                "client_credentials",
                "refresh_token",
            ]
            assert metadata["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
            # FAPI 2.0 Security Profile §5.3: code flow only, PAR required, PKCE S256 only, RFC 9207 iss.
            assert metadata["response_types_supported"] == ["code"]
            assert metadata["response_modes_supported"] == ["query"]
            assert metadata["require_pushed_authorization_requests"] is True
            assert metadata["pushed_authorization_request_endpoint"] == f"{metadata['issuer']}/oauth2/par"
            assert metadata["authorization_endpoint"] == f"{metadata['issuer']}/oauth2/authorize"
            assert metadata["code_challenge_methods_supported"] == ["S256"]
            assert metadata["authorization_response_iss_parameter_supported"] is True
            assert "ES256" in metadata["dpop_signing_alg_values_supported"]
            for name, value in metadata.items():
                if name.endswith("_auth_methods_supported"):
                    assert value == ["private_key_jwt"], name
                if name.endswith("_alg_values_supported"):
                    assert value, name
                    unsafe = [alg for alg in value if alg.lower() == "none" or alg.upper().startswith("HS")]
                    assert not unsafe, name
            assert metadata["access_token_signing_alg_values_supported"] == ["ES256"]
            assert not {"implicit", "password"} & set(metadata["grant_types_supported"])
            assert not STAFF & set(metadata["scopes_supported"])
            assert set(metadata["scopes_supported"]) >= CUSTOMER_DELEGATED


# -- JWKS and rotation --------------------------------------------------------------------------


@pytest.mark.parametrize("environment", list(Environment))
def test_jwks_publishes_public_keys_only(
    client: TestClient[Any], platform: Platform, environment: Environment
) -> None:
    response = client.get(f"{environment.path_prefix}/oauth2/jwks")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys
    for key in keys:
        assert not PRIVATE_MEMBERS & key.keys(), key
        assert key["kty"] == "EC"
        assert key["alg"] == "ES256"
        assert key["use"] == "sig"
    assert platform.environments[environment].keys.signing_key().kid in {key["kid"] for key in keys}


def test_environments_sign_with_different_keys(client: TestClient[Any]) -> None:
    production = published_kids(client)
    sandbox = published_kids(client, "/sandbox")
    assert production
    assert sandbox
    assert not production & sandbox


def test_key_rotation_keeps_issued_tokens_valid_until_they_expire(
    client: TestClient[Any], platform: Platform, settings: Settings, clock: FrozenClock
) -> None:
    bank = register_app(platform, scopes=(Scope.MARKET_READ,))
    old_token = bank.token(client)
    old_kid = segment(old_token, 0)["kid"]

    new_kid = platform.environments[Environment.PRODUCTION].keys.rotate().kid
    # First use after the rotation: the resource server has nothing cached for this token.
    assert client.get(INSTRUMENTS, headers=bearer(old_token)).status_code == 200
    new_token = bank.token(client)
    assert segment(new_token, 0)["kid"] == new_kid != old_kid
    assert client.get(INSTRUMENTS, headers=bearer(new_token)).status_code == 200
    assert {old_kid, new_kid} <= published_kids(client)

    clock.advance(timedelta(seconds=settings.access_token_ttl_seconds - 1) + PUBLICATION_GRACE)
    assert old_kid in published_kids(client)
    clock.advance(timedelta(seconds=1))
    kids = published_kids(client)
    assert old_kid not in kids
    assert new_kid in kids
    assert client.get(INSTRUMENTS, headers=bearer(old_token)).status_code == 401
    assert client.get(INSTRUMENTS, headers=bearer(bank.token(client))).status_code == 200


def test_key_ring_file_is_private(app: Any, settings: Settings) -> None:
    for environment in Environment:
        ring = settings.keys_dir / environment.value / "ring.json"
        assert ring.stat().st_mode & 0o777 == 0o600


# -- introspection (RFC 7662) -------------------------------------------------------------------


def test_introspection_describes_the_clients_own_token(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    token = bank.token(client)
    response = introspect(client, bank, token)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {"active": True, "token_type": "DPoP", **segment(token, 1)}  # production


def test_introspection_of_another_partners_token_reveals_nothing(
    client: TestClient[Any], platform: Platform
) -> None:
    bank, snoop = register_app(platform), register_app(platform)
    response = introspect(client, snoop, bank.token(client))
    assert response.status_code == 200, response.text
    assert response.json() == {"active": False}


def test_introspection_of_garbage_is_inactive(
    client: TestClient[Any], platform: Platform, subtests: pytest.Subtests
) -> None:
    bank = register_app(platform)
    for token in ("garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "x" * 4096):
        with subtests.test(token=token[:40]):
            response = introspect(client, bank, token)
            assert response.status_code == 200, response.text
            assert response.json() == {"active": False}


def test_introspection_of_an_expired_token_is_inactive(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    bank = register_app(platform)
    response = client.post("/oauth2/token", data=bank.token_form())
    clock.advance(timedelta(seconds=response.json()["expires_in"]))
    assert introspect(client, bank, response.json()["access_token"]).json() == {"active": False}


def test_introspection_of_a_token_from_the_other_environment_is_inactive(
    client: TestClient[Any], platform: Platform
) -> None:
    sandbox = register_app(platform, environment=Environment.SANDBOX)
    production = register_app(platform, partner_id=sandbox.partner_id)
    assert introspect(client, production, sandbox.token(client)).json() == {"active": False}


def test_introspection_needs_client_authentication(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    token = bank.token(client)
    response = client.post("/oauth2/introspect", data={"token": token, "client_id": bank.client_id})
    assert_invalid_client(response)
    replayed = authenticated(bank, token=token)
    assert client.post("/oauth2/introspect", data=replayed).status_code == 200
    assert_invalid_client(client.post("/oauth2/introspect", data=replayed))


# -- revocation (RFC 7009) ----------------------------------------------------------------------


def test_revoked_token_is_refused_and_inactive(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    token = bank.token(client)
    assert client.get(INSTRUMENTS, headers=bearer(token)).status_code == 200
    response = revoke(client, bank, token)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    refused = client.get(INSTRUMENTS, headers=bearer(token))
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert introspect(client, bank, token).json() == {"active": False}
    assert client.get(INSTRUMENTS, headers=bank.headers(client)).status_code == 200  # only that token


def test_another_client_cannot_revoke_my_token(client: TestClient[Any], platform: Platform) -> None:
    bank, rival = register_app(platform), register_app(platform)
    token = bank.token(client)
    response = revoke(client, rival, token)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant"
    assert client.get(INSTRUMENTS, headers=bearer(token)).status_code == 200
    assert introspect(client, bank, token).json()["active"] is True


def test_revocation_needs_client_authentication(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    token = bank.token(client)
    assert_invalid_client(client.post("/oauth2/revoke", data={"token": token, "client_id": bank.client_id}))
    assert client.get(INSTRUMENTS, headers=bearer(token)).status_code == 200


def test_revoking_an_unknown_token_is_a_quiet_success(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    response = revoke(client, bank, "not-a-token")  # RFC 7009 §2.2: invalid tokens do not cause an error
    assert response.status_code == 200, response.text


def test_staff_token_comes_with_the_admin_audience(client: TestClient[Any], platform: Platform) -> None:
    staff = staff_app(platform)
    claims = segment(staff.token(client), 1)
    assert claims["aud"] == f"{staff.issuer}/admin"
    assert claims["scope"] == "admin:audit admin:compliance admin:partners"


def test_introspection_and_revocation_answer_401_to_a_failed_client(
    client: TestClient[Any], platform: Platform
) -> None:
    bank = register_app(platform)
    token = bank.token(client)
    for endpoint in ("/oauth2/introspect", "/oauth2/revoke"):
        forged = {
            **bank.token_form(assertion=bank.assertion(aud="https://elsewhere.example")),
            "token": token,
        }
        forged.pop("grant_type")
        response = client.post(endpoint, data=forged)
        assert response.status_code == 401, endpoint
        assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "audience",
    [
        "{issuer}/oauth2/token",  # an endpoint URL: FAPI 2.0 accepts the issuer only
        "{issuer}/oauth2/par",
        ["{issuer}"],  # an array, even holding the issuer
        "{issuer}/",
    ],
)
def test_a_client_assertion_is_for_the_issuer_alone(
    client: TestClient[Any], platform: Platform, audience: str | list[str]
) -> None:
    bank = register_app(platform)
    aud = (
        [a.format(issuer=bank.issuer) for a in audience]
        if isinstance(audience, list)
        else audience.format(issuer=bank.issuer)
    )
    response = client.post("/oauth2/token", data=bank.token_form(assertion=bank.assertion(aud=aud)))
    assert response.status_code in (400, 401), response.text  # RFC 6749 §5.2 allows either
    assert response.json()["error"] == "invalid_client"
    assert "issuer" in response.json()["error_description"]
