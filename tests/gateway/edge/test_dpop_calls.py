"""DPoP (RFC 9449) through the real app: bound tokens at the token endpoint, proofs at resources."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from gateway.auth.dpop import PROOF_ALGORITHMS, access_token_hash
from gateway.domain.environment import Environment
from gateway.services import Platform
from sandbox.clock import FrozenClock
from tests.conftest import BASE_URL
from tests.support import PLAIN, Holder, PartnerApp, register_app

INSTRUMENTS = "/v1/market/instruments"


def claims_of(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def token_url(app: PartnerApp) -> str:
    return f"{app.issuer}/oauth2/token"


def resource_url(app: PartnerApp, path: str = INSTRUMENTS) -> str:
    return f"{app.issuer}{path}"


def bound_token(client: TestClient[Any], app: PartnerApp, holder: Holder) -> str:
    response = client.post(
        f"{app.prefix}/oauth2/token",
        data=app.token_form(),
        headers={"DPoP": holder.proof("POST", token_url(app))},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "DPoP"
    value: str = body["access_token"]
    return value


def dpop_headers(token: str, proof: str) -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": proof}


def assert_dpop_refused(response: httpx.Response, error: str, status: int = 401) -> None:
    assert response.status_code == status, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("DPoP ")
    assert f'error="{error}"' in challenge
    if status == 401:
        assert f'algs="{" ".join(PROOF_ALGORITHMS)}"' in challenge
        assert response.json()["status"] == 401
    else:
        assert response.json()["error"] == error


@pytest.fixture
def bank(platform: Platform) -> PartnerApp:
    return register_app(platform)


@pytest.fixture
def holder(clock: FrozenClock) -> Holder:
    return Holder(clock)


# The token endpoint ---------------------------------------------------------------------------


@pytest.mark.parametrize("environment", list(Environment))
def test_token_endpoint_binds_the_token_to_the_proof_key(
    client: TestClient[Any], platform: Platform, holder: Holder, environment: Environment
) -> None:
    app = register_app(platform, environment=environment)
    response = client.post(
        f"{app.prefix}/oauth2/token",
        data=app.token_form(),
        headers={"DPoP": holder.proof("POST", token_url(app))},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "DPoP"
    assert response.headers["cache-control"] == "no-store"
    assert claims_of(body["access_token"])["cnf"] == {"jkt": holder.jkt}


def test_production_refuses_a_token_request_without_a_proof(
    client: TestClient[Any], bank: PartnerApp
) -> None:
    response = client.post("/oauth2/token", data=bank.token_form(), headers={PLAIN: "1"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"
    assert "access_token" not in response.json()


def test_a_sandbox_token_without_a_proof_stays_a_bearer_token(
    client: TestClient[Any], platform: Platform
) -> None:
    sandbox = register_app(platform, environment=Environment.SANDBOX)
    body = client.post("/sandbox/oauth2/token", data=sandbox.token_form()).json()
    assert body["token_type"] == "Bearer"
    assert "cnf" not in claims_of(body["access_token"])


def test_introspection_reports_the_binding(client: TestClient[Any], bank: PartnerApp, holder: Holder) -> None:
    token = bound_token(client, bank, holder)
    form = {key: value for key, value in bank.token_form().items() if key != "grant_type"}
    body = client.post("/oauth2/introspect", data={**form, "token": token}).json()
    assert body["active"] is True
    assert body["token_type"] == "DPoP"
    assert body["cnf"] == {"jkt": holder.jkt}


def test_discovery_names_the_proof_algorithms(client: TestClient[Any]) -> None:
    for path in (
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server/sandbox",
    ):
        metadata = client.get(path).json()
        assert metadata["dpop_signing_alg_values_supported"] == list(PROOF_ALGORITHMS)


def test_token_endpoint_refuses_bad_proofs(
    client: TestClient[Any], bank: PartnerApp, holder: Holder, clock: FrozenClock, subtests: pytest.Subtests
) -> None:
    now = int(clock.now().timestamp())
    replayed = holder.proof("POST", token_url(bank))
    assert client.post("/oauth2/token", data=bank.token_form(), headers={"DPoP": replayed}).status_code == 200
    cases = {
        "wrong htm": holder.proof("GET", token_url(bank)),
        "wrong htu": holder.proof("POST", resource_url(bank)),
        "sandbox htu": holder.proof("POST", f"{BASE_URL}/sandbox/oauth2/token"),
        "stale iat": holder.proof("POST", token_url(bank), iat=now - 3600),
        "replayed jti": replayed,
        "wrong typ": holder.proof("POST", token_url(bank), header={"typ": "JWT"}),
        "garbage": "not-a-proof",
    }
    for name, proof in cases.items():
        with subtests.test(name):
            response = client.post("/oauth2/token", data=bank.token_form(), headers={"DPoP": proof})
            assert_dpop_refused(response, "invalid_dpop_proof", status=400)
            assert response.headers["cache-control"] == "no-store"


def test_token_endpoint_refuses_two_proofs(client: TestClient[Any], bank: PartnerApp, holder: Holder) -> None:
    headers = [
        ("DPoP", holder.proof("POST", token_url(bank))),
        ("DPoP", holder.proof("POST", token_url(bank))),
    ]
    response = client.post("/oauth2/token", data=bank.token_form(), headers=headers)
    assert_dpop_refused(response, "invalid_dpop_proof", status=400)


# Resources -----------------------------------------------------------------------------------


@pytest.mark.parametrize("environment", list(Environment))
def test_the_correct_proof_works(
    client: TestClient[Any], platform: Platform, holder: Holder, environment: Environment
) -> None:
    app = register_app(platform, environment=environment)
    token = bound_token(client, app, holder)
    for _ in range(2):  # the token is cached after the first call; each call needs its own proof
        proof = holder.proof("GET", resource_url(app), token=token)
        response = client.get(
            f"{app.prefix}{INSTRUMENTS}?market=HK&limit=2", headers=dpop_headers(token, proof)
        )
        assert response.status_code == 200, response.text


def test_the_correct_proof_works_for_a_post(
    client: TestClient[Any], bank: PartnerApp, holder: Holder
) -> None:
    token = bound_token(client, bank, holder)
    path = "/v1/compliance/screenings"
    proof = holder.proof("POST", resource_url(bank, path), token=token)
    response = client.post(path, headers=dpop_headers(token, proof), json={"name": "Chan Wai Kwok"})
    assert response.status_code == 201, response.text


def test_the_dpop_negative_matrix(
    client: TestClient[Any], bank: PartnerApp, holder: Holder, clock: FrozenClock, subtests: pytest.Subtests
) -> None:
    token = bound_token(client, bank, holder)
    url = resource_url(bank)
    now = int(clock.now().timestamp())
    replayed = holder.proof("GET", url, token=token)
    assert client.get(INSTRUMENTS, headers=dpop_headers(token, replayed)).status_code == 200
    other_key = Holder(clock)
    proofs = {
        "wrong htm": ("invalid_dpop_proof", holder.proof("POST", url, token=token)),
        "wrong htu": (
            "invalid_dpop_proof",
            holder.proof("GET", resource_url(bank, "/v1/funds"), token=token),
        ),
        "sandbox htu": (
            "invalid_dpop_proof",
            holder.proof("GET", f"{BASE_URL}/sandbox{INSTRUMENTS}", token=token),
        ),
        "stale iat": ("invalid_dpop_proof", holder.proof("GET", url, token=token, iat=now - 61)),
        "future iat": ("invalid_dpop_proof", holder.proof("GET", url, token=token, iat=now + 61)),
        "replayed jti": ("invalid_dpop_proof", replayed),
        "wrong ath": (
            "invalid_dpop_proof",
            holder.proof("GET", url, token=token, ath=access_token_hash("x")),
        ),
        "no ath": ("invalid_dpop_proof", holder.proof("GET", url)),
        "key not matching cnf.jkt": ("invalid_token", other_key.proof("GET", url, token=token)),
        "wrong typ": ("invalid_dpop_proof", holder.proof("GET", url, token=token, header={"typ": "JWT"})),
    }
    for name, (error, proof) in proofs.items():
        with subtests.test(name):
            assert_dpop_refused(client.get(INSTRUMENTS, headers=dpop_headers(token, proof)), error)
    with subtests.test("no proof"):
        response = client.get(INSTRUMENTS, headers={"Authorization": f"DPoP {token}"})
        assert_dpop_refused(response, "invalid_dpop_proof")
    with subtests.test("two proofs"):
        proof = holder.proof("GET", url, token=token)
        headers = [("Authorization", f"DPoP {token}"), ("DPoP", proof), ("DPoP", proof)]
        assert_dpop_refused(client.get(INSTRUMENTS, headers=headers), "invalid_dpop_proof")
    with subtests.test("the correct proof still works"):
        proof = holder.proof("GET", url, token=token)
        assert client.get(INSTRUMENTS, headers=dpop_headers(token, proof)).status_code == 200


def test_bearer_downgrade_is_refused(client: TestClient[Any], bank: PartnerApp, holder: Holder) -> None:
    token = bound_token(client, bank, holder)
    proof = holder.proof("GET", resource_url(bank), token=token)
    for headers in (
        {"Authorization": f"Bearer {token}"},
        {"Authorization": f"Bearer {token}", "DPoP": proof},
    ):
        assert_dpop_refused(client.get(INSTRUMENTS, headers=headers), "invalid_token")


def test_an_unbound_token_with_the_dpop_scheme_is_refused(
    client: TestClient[Any], platform: Platform, holder: Holder
) -> None:
    sandbox = register_app(platform, environment=Environment.SANDBOX)  # bearer tokens: sandbox only
    token = sandbox.token(client)
    proof = holder.proof("GET", resource_url(sandbox), token=token)
    response = client.get(f"/sandbox{INSTRUMENTS}", headers=dpop_headers(token, proof))
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="open-platform", error="invalid_token"')
    assert (
        client.get(f"/sandbox{INSTRUMENTS}", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )


def test_an_expired_bound_token_gets_a_dpop_challenge(
    client: TestClient[Any], bank: PartnerApp, holder: Holder, clock: FrozenClock
) -> None:
    token = bound_token(client, bank, holder)
    clock.advance(timedelta(hours=1))
    proof = holder.proof("GET", resource_url(bank), token=token)
    assert_dpop_refused(client.get(INSTRUMENTS, headers=dpop_headers(token, proof)), "invalid_token")


@pytest.mark.redis
def test_a_replayed_jti_is_refused_by_another_worker(
    two_workers: tuple[TestClient[Any], TestClient[Any]], clock: FrozenClock
) -> None:
    first, second = two_workers
    bank = register_app(first.app.state.platform)
    holder = Holder(clock)
    token = bound_token(first, bank, holder)
    proof = holder.proof("GET", resource_url(bank), token=token)
    assert first.get(INSTRUMENTS, headers=dpop_headers(token, proof)).status_code == 200
    assert_dpop_refused(second.get(INSTRUMENTS, headers=dpop_headers(token, proof)), "invalid_dpop_proof")
    fresh = holder.proof("GET", resource_url(bank), token=token)
    assert second.get(INSTRUMENTS, headers=dpop_headers(token, fresh)).status_code == 200
    # and at the token endpoint
    token_proof = holder.proof("POST", token_url(bank))
    assert (
        first.post("/oauth2/token", data=bank.token_form(), headers={"DPoP": token_proof}).status_code == 200
    )
    refused = second.post("/oauth2/token", data=bank.token_form(), headers={"DPoP": token_proof})
    assert_dpop_refused(refused, "invalid_dpop_proof", status=400)
