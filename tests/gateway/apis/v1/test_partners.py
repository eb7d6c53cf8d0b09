"""An app manages its own private_key_jwt keys (ADR 0011): list, add, rotate, remove, never the last."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from litestar.exceptions import PermissionDeniedException
from litestar.testing import TestClient

from gateway.apis.v1.partners.routes import own_app
from gateway.demo import new_private_jwk, public_part
from gateway.domain.consent.models import Consent
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.edge.principal import Principal
from gateway.services import Platform
from tests.support import PartnerApp, register_app

PATH = "/v1/app/keys"


def keyholder(platform: Platform, environment: Environment = Environment.PRODUCTION) -> PartnerApp:
    return register_app(platform, environment=environment, scopes=(Scope.MARKET_READ, Scope.PARTNER_MANAGE))


def kids(response: Any) -> list[str]:
    assert response.status_code in (200, 201), response.text
    return [key["kid"] for key in response.json()["keys"]]


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["type"].endswith(f"/problems/{slug}")
    return problem


def test_rotate_a_key_and_the_old_one_stops_working_at_once(
    client: TestClient[Any], platform: Platform
) -> None:
    app = keyholder(platform)
    headers = app.headers(client, scope="partner:manage")
    old_kid = app.private_jwk["kid"]
    listed = client.get(PATH, headers=headers)
    assert kids(listed) == [old_kid]
    assert listed.json()["client_id"] == app.client_id
    assert all("d" not in key for key in listed.json()["keys"])

    successor = new_private_jwk()
    added = client.post(PATH, json={"key": public_part(successor)}, headers=headers)
    assert added.status_code == 201, added.text
    assert kids(added) == [old_kid, successor["kid"]]
    rotated = replace(app, private_jwk=successor)
    assert client.post("/oauth2/token", data=rotated.token_form()).status_code == 200  # the new key signs

    removed = client.delete(f"{PATH}/{old_kid}", headers=headers)

    assert kids(removed) == [successor["kid"]]
    # The token endpoint refuses the removed key on the very next assertion (no stale client cache).
    stale = client.post("/oauth2/token", data=app.token_form())
    assert stale.status_code in (400, 401), stale.text
    assert stale.json()["error"] == "invalid_client"
    assert client.post("/oauth2/token", data=rotated.token_form()).status_code == 200
    assert kids(client.get(PATH, headers=rotated.headers(client, scope="partner:manage"))) == [
        successor["kid"]
    ]


def test_the_last_key_cannot_be_removed(client: TestClient[Any], platform: Platform) -> None:
    app = keyholder(platform)
    headers = app.headers(client, scope="partner:manage")
    problem = assert_problem(
        client.delete(f"{PATH}/{app.private_jwk['kid']}", headers=headers), 422, "rule-violation"
    )
    assert problem["context"]["field"] == "kid"
    assert_problem(client.delete(f"{PATH}/no-such-kid", headers=headers), 404, "not-found")
    assert kids(client.get(PATH, headers=headers)) == [app.private_jwk["kid"]]


def test_bad_keys_are_refused(client: TestClient[Any], platform: Platform) -> None:
    app = keyholder(platform)
    headers = app.headers(client, scope="partner:manage")
    private = new_private_jwk()
    duplicate = public_part(new_private_jwk()) | {"kid": app.private_jwk["kid"]}
    for body in (
        {"key": private},  # private member `d`
        {"key": duplicate},  # the kid is taken
        {"key": {"kty": "oct", "kid": "s", "k": "c2VjcmV0"}},  # a shared secret
        {"key": {"kty": "EC", "crv": "P-256", "kid": "y", "x": "AA", "y": "AA"}},  # not a point
        {"key": public_part(private), "client_id": "live_other"},  # unknown member
        {"keys": [public_part(private)]},
    ):
        response = client.post(PATH, json=body, headers=headers)
        assert response.status_code in (400, 422), (body, response.text)
    assert kids(client.get(PATH, headers=headers)) == [app.private_jwk["kid"]]


def test_an_app_manages_only_its_own_keys(client: TestClient[Any], platform: Platform) -> None:
    mine = keyholder(platform)
    sibling = register_app(
        platform, partner_id=mine.partner_id, scopes=(Scope.MARKET_READ, Scope.PARTNER_MANAGE)
    )
    other = keyholder(platform)
    headers = mine.headers(client, scope="partner:manage")

    client.post(PATH, json={"key": public_part(new_private_jwk())}, headers=headers)

    assert len(kids(client.get(PATH, headers=sibling.headers(client, scope="partner:manage")))) == 1
    assert len(kids(client.get(PATH, headers=other.headers(client, scope="partner:manage")))) == 1
    # A kid of another app is simply not one of mine.
    assert_problem(client.delete(f"{PATH}/{other.private_jwk['kid']}", headers=headers), 404, "not-found")
    assert len(platform.registry.app_keys(other.client_id)["keys"]) == 1


def test_key_management_needs_the_scope(client: TestClient[Any], platform: Platform) -> None:
    app = keyholder(platform)
    narrow = app.headers(client, scope="market:read")
    assert_problem(client.get(PATH, headers=narrow), 403, "forbidden")
    assert_problem(
        client.post(PATH, json={"key": public_part(new_private_jwk())}, headers=narrow), 403, "forbidden"
    )
    assert_problem(client.delete(f"{PATH}/{app.private_jwk['kid']}", headers=narrow), 403, "forbidden")
    assert client.get(PATH).status_code == 401
    assert len(platform.registry.app_keys(app.client_id)["keys"]) == 1


def test_a_sandbox_app_manages_its_keys_under_the_sandbox(
    client: TestClient[Any], platform: Platform
) -> None:
    app = keyholder(platform, Environment.SANDBOX)
    headers = app.headers(client, scope="partner:manage")
    added = client.post(f"/sandbox{PATH}", json={"key": public_part(new_private_jwk())}, headers=headers)
    assert len(kids(added)) == 2
    assert client.get(PATH, headers=headers).status_code == 401  # a sandbox token at production


def test_a_delegated_token_never_manages_keys() -> None:
    # Consents refuse partner-own scopes already (tests/gateway/apis/v1/test_consent.py);
    # this is the second lock.
    principal = Principal.__new__(Principal)
    principal.consent = object.__new__(Consent)
    with pytest.raises(PermissionDeniedException):
        own_app(principal)
