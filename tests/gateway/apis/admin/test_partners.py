"""The staff API: the partner registry over HTTP, for operator apps in production only."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.demo import new_private_jwk, public_part
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.services import Platform
from partners.models import PartnerStatus, PartnerType
from tests.support import PartnerApp, register_app, staff_app

REASON = {"reason": "compliance review of the partner"}


def staff_headers(client: TestClient[Any], platform: Platform) -> dict[str, str]:
    return staff_app(platform).headers(client)


def unique(name: str) -> str:
    return f"{name} {secrets.token_hex(4)}"


def partner_names(client: TestClient[Any], headers: dict[str, str]) -> set[str]:
    response = client.get("/admin/partners", headers=headers)
    assert response.status_code == 200, response.text
    return {p["name"] for p in response.json()["data"]}


def create_partner(
    client: TestClient[Any],
    headers: dict[str, str],
    type: str = "institution",
    region: str = "CN",
    stage: str = "production",  # apps here; stages in tests/gateway/apis/admin/test_lifecycle.py
) -> dict[str, Any]:
    response = client.post(
        "/admin/partners",
        json={"name": unique("Partner"), "type": type, "region": region, "stage": stage},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    partner: dict[str, Any] = response.json()
    return partner


def app_body(
    environment: str = "production",
    scopes: tuple[str, ...] = ("market:read", "compliance:suitability"),
    **changes: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A create-app body with a fresh key, and that key's private half."""
    private = new_private_jwk()
    body = {
        "name": "Wealth app",
        "environment": environment,
        "jwks": {"keys": [public_part(private)]},
        "scopes": list(scopes),
        **changes,
    }
    return body, private


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["type"].endswith(f"/problems/{slug}")
    return problem


# -- partners ---------------------------------------------------------------------------------


def test_staff_create_list_and_read_partners(client: TestClient[Any], platform: Platform) -> None:
    headers = staff_headers(client, platform)
    name = unique("Harbour Securities")

    created = client.post(
        "/admin/partners", json={"name": name, "type": "institution", "region": "HK"}, headers=headers
    )

    assert created.status_code == 201, created.text
    partner = created.json()
    assert partner["id"].startswith("prt_")
    assert partner["object"] == "partner"
    assert (partner["name"], partner["type"], partner["region"]) == (name, "institution", "HK")
    assert partner["status"] == "active"
    assert partner["stage"] == "application"  # staff register applicants unless told otherwise
    listed = client.get("/admin/partners", headers=headers).json()["data"]
    assert [p for p in listed if p["id"] == partner["id"]] == [partner]
    assert client.get(f"/admin/partners/{partner['id']}", headers=headers).json() == partner
    assert platform.registry.partner(partner["id"]).operator is False


@pytest.mark.parametrize(
    ("field", "value"), [("status", "suspended"), ("id", "prt_chosen0000000"), ("operator", True)]
)
def test_server_owned_partner_fields_are_refused_and_nothing_is_created(
    client: TestClient[Any], platform: Platform, field: str, value: object
) -> None:
    headers = staff_headers(client, platform)
    name = unique("Sneaky Bank")
    body = {"name": name, "type": "institution", "region": "CN", field: value}

    response = client.post("/admin/partners", json=body, headers=headers)

    problem = assert_problem(response, 422, "validation-failed")
    assert field in problem["detail"]
    assert name not in partner_names(client, headers)
    assert platform.registry.find_partner_by_name(name) is None


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Bank", "type": "bank", "region": "CN"},
        {"name": "Bank", "type": "institution", "region": "XX"},
        {"name": "B", "type": "institution", "region": "CN"},
        {"type": "institution", "region": "CN"},
    ],
)
def test_invalid_partners_are_refused(
    client: TestClient[Any], platform: Platform, body: dict[str, Any]
) -> None:
    response = client.post("/admin/partners", json=body, headers=staff_headers(client, platform))
    assert_problem(response, 422, "validation-failed")


def test_a_duplicate_partner_name_is_a_conflict(client: TestClient[Any], platform: Platform) -> None:
    headers = staff_headers(client, platform)
    body = {"name": unique("Twin Bank"), "type": "institution", "region": "CN"}
    assert client.post("/admin/partners", json=body, headers=headers).status_code == 201

    again = client.post("/admin/partners", json={**body, "region": "HK"}, headers=headers)

    problem = assert_problem(again, 409, "conflict")
    assert problem["context"] == {"field": "name"}
    assert (
        sum(p["name"] == body["name"] for p in client.get("/admin/partners", headers=headers).json()["data"])
        == 1
    )


def test_an_unknown_partner_is_not_found(client: TestClient[Any], platform: Platform) -> None:
    headers = staff_headers(client, platform)
    missing = "prt_0000000000000000"
    assert_problem(client.get(f"/admin/partners/{missing}", headers=headers), 404, "not-found")
    assert_problem(client.get(f"/admin/partners/{missing}/apps", headers=headers), 404, "not-found")
    assert_problem(
        client.post(f"/admin/partners/{missing}/suspension", json=REASON, headers=headers), 404, "not-found"
    )
    body, _ = app_body()
    assert_problem(
        client.post(f"/admin/partners/{missing}/apps", json=body, headers=headers), 404, "not-found"
    )


# -- apps -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "prefix"), [(Environment.PRODUCTION, "live_"), (Environment.SANDBOX, "sbx_")]
)
def test_staff_create_an_app_that_can_get_tokens(
    client: TestClient[Any], platform: Platform, environment: Environment, prefix: str
) -> None:
    headers = staff_headers(client, platform)
    partner = create_partner(client, headers)
    body, private = app_body(environment.value)

    created = client.post(f"/admin/partners/{partner['id']}/apps", json=body, headers=headers)

    assert created.status_code == 201, created.text
    app = created.json()
    assert app["client_id"].startswith(prefix)
    assert app["partner_id"] == partner["id"]
    assert app["environment"] == environment.value
    assert app["scopes"] == ["compliance:suitability", "market:read"]
    assert app["plan_id"] == ("starter" if environment is Environment.PRODUCTION else "sandbox")
    assert app["jwks"] == body["jwks"]  # the public key as sent: no private, no empty members
    listed = client.get(f"/admin/partners/{partner['id']}/apps", headers=headers).json()["data"]
    assert [a["client_id"] for a in listed] == [app["client_id"]]
    partner_app = PartnerApp(
        client_id=app["client_id"],
        partner_id=partner["id"],
        private_jwk=private,
        environment=environment,
        issuer=platform.settings.issuer(environment),
        clock=platform.clock,
    )
    assert partner_app.token(client, scope="market:read")


def test_staff_choose_an_app_plan(client: TestClient[Any], platform: Platform) -> None:
    headers = staff_headers(client, platform)
    partner = create_partner(client, headers)
    body, _ = app_body(plan_id="growth")
    created = client.post(f"/admin/partners/{partner['id']}/apps", json=body, headers=headers)
    assert created.json()["plan_id"] == "growth"
    unknown, _ = app_body(plan_id="platinum")
    refused = client.post(f"/admin/partners/{partner['id']}/apps", json=unknown, headers=headers)
    assert assert_problem(refused, 404, "not-found")["context"]["plan_id"] == "platinum"


def test_staff_list_the_plans(client: TestClient[Any], platform: Platform) -> None:
    response = client.get("/admin/plans", headers=staff_headers(client, platform))
    assert response.status_code == 200
    plans = {p["id"]: p for p in response.json()["data"]}
    assert {"sandbox", "starter", "growth", "enterprise"} <= plans.keys()
    assert all(p["rate_limits"] for p in plans.values())


@pytest.mark.parametrize(
    ("member", "key"),
    [
        ("d", lambda private: {**public_part(private), "d": private["d"]}),
        ("k", lambda private: {"kty": "oct", "kid": "shared", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"}),
    ],
)
def test_an_app_key_with_private_material_is_refused(
    client: TestClient[Any], platform: Platform, member: str, key: Any
) -> None:
    headers = staff_headers(client, platform)
    partner = create_partner(client, headers)
    body, private = app_body()
    body["jwks"] = {"keys": [key(private)]}

    response = client.post(f"/admin/partners/{partner['id']}/apps", json=body, headers=headers)

    assert_problem(response, 422, "validation-failed")
    assert client.get(f"/admin/partners/{partner['id']}/apps", headers=headers).json()["data"] == []
    assert private["d"] not in response.text


def test_the_stage_not_the_type_decides_a_developers_production_app(
    client: TestClient[Any], platform: Platform
) -> None:
    headers = staff_headers(client, platform)
    body, _ = app_body("production", scopes=("market:read",))
    in_review = create_partner(client, headers, type="developer", stage="review")
    refused = client.post(f"/admin/partners/{in_review['id']}/apps", json=body, headers=headers)
    assert assert_problem(refused, 422, "rule-violation")["context"]["field"] == "environment"

    graduated = create_partner(client, headers, type="developer", stage="production")
    created = client.post(f"/admin/partners/{graduated['id']}/apps", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["environment"] == "production"


def test_a_shop_cannot_ask_customers_for_deep_analysis(client: TestClient[Any], platform: Platform) -> None:
    headers = staff_headers(client, platform)
    shop = create_partner(client, headers, type="lifestyle_platform")
    body, _ = app_body(scopes=("market:read", "points:convert", "transactions:read"))

    response = client.post(f"/admin/partners/{shop['id']}/apps", json=body, headers=headers)

    problem = assert_problem(response, 422, "rule-violation")
    assert problem["context"]["refused"] == ["transactions:read"]


def test_redirect_uris_are_registered_exactly_and_https_only_in_production(
    client: TestClient[Any], platform: Platform
) -> None:
    headers = staff_headers(client, platform)
    bank = create_partner(client, headers)
    good, _ = app_body(scopes=("accounts:read",), redirect_uris=["https://bank.example/cb"])
    created = client.post(f"/admin/partners/{bank['id']}/apps", json=good, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["redirect_uris"] == ["https://bank.example/cb"]
    for uri in (
        "http://bank.example/cb",
        "http://127.0.0.1:9000/cb",
        "https://*.bank.example/cb",
        "https://bank.example/cb#x",
    ):
        body, _ = app_body(redirect_uris=[uri])
        response = client.post(f"/admin/partners/{bank['id']}/apps", json=body, headers=headers)
        assert assert_problem(response, 422, "rule-violation")["context"]["field"] == "redirect_uris", uri
    loopback, _ = app_body(environment="sandbox", redirect_uris=["http://127.0.0.1:9000/cb"])
    assert (
        client.post(f"/admin/partners/{bank['id']}/apps", json=loopback, headers=headers).status_code == 201
    )


@pytest.mark.parametrize("scope", ["admin:partners", "admin:audit", "points:valuations:write"])
def test_an_institution_cannot_hold_scopes_outside_its_type(
    client: TestClient[Any], platform: Platform, scope: str
) -> None:
    headers = staff_headers(client, platform)
    institution = create_partner(client, headers)
    body, _ = app_body(scopes=("market:read", scope))

    response = client.post(f"/admin/partners/{institution['id']}/apps", json=body, headers=headers)

    problem = assert_problem(response, 422, "rule-violation")
    assert problem["context"]["field"] == "scopes"
    assert problem["context"]["refused"] == [scope]
    assert client.get(f"/admin/partners/{institution['id']}/apps", headers=headers).json()["data"] == []


# -- suspension -------------------------------------------------------------------------------


def test_a_suspended_partner_is_refused_until_reactivated(
    client: TestClient[Any], platform: Platform
) -> None:
    headers = staff_headers(client, platform)
    bank = register_app(platform)
    bank_headers = bank.headers(client, scope="market:read")
    assert client.get("/v1/market/instruments", headers=bank_headers).status_code == 200

    suspended = client.post(f"/admin/partners/{bank.partner_id}/suspension", json=REASON, headers=headers)

    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"
    refused = client.get("/v1/market/instruments", headers=bank_headers)
    assert refused.status_code == 401
    assert "invalid_token" in refused.headers["www-authenticate"]
    assert client.post("/oauth2/token", data=bank.token_form()).status_code in (400, 401)
    assert client.get(f"/admin/partners/{bank.partner_id}", headers=headers).json()["status"] == "suspended"

    reactivated = client.post(f"/admin/partners/{bank.partner_id}/reactivation", json=REASON, headers=headers)

    assert reactivated.status_code == 200
    assert reactivated.json()["status"] == "active"
    fresh = bank.headers(client, scope="market:read")
    assert client.get("/v1/market/instruments", headers=fresh).status_code == 200


# -- who may call -----------------------------------------------------------------------------


def test_a_partner_token_is_refused_by_the_staff_api(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    headers = bank.headers(client)
    for response in (
        client.get("/admin/partners", headers=headers),
        client.post(
            "/admin/partners",
            json={"name": unique("Mine"), "type": "institution", "region": "CN"},
            headers=headers,
        ),
        client.get("/admin/plans", headers=headers),
        client.post(f"/admin/partners/{bank.partner_id}/suspension", json=REASON, headers=headers),
    ):
        assert_problem(response, 401, "unauthorized")
        assert "aud" in response.json()["detail"]
    assert client.get("/admin/partners").status_code == 401
    assert platform.registry.partner(bank.partner_id).status is PartnerStatus.ACTIVE


def test_staff_need_the_partners_scope(client: TestClient[Any], platform: Platform) -> None:
    auditor = register_app(
        platform, partner_type=PartnerType.SERVICE_PROVIDER, scopes=(Scope.ADMIN_AUDIT,), operator=True
    )
    response = client.get("/admin/partners", headers=auditor.headers(client))
    assert_problem(response, 403, "forbidden")


def test_there_is_no_staff_api_in_the_sandbox(client: TestClient[Any], platform: Platform) -> None:
    headers = staff_headers(client, platform)
    developer = register_app(
        platform,
        partner_type=PartnerType.DEVELOPER,
        environment=Environment.SANDBOX,
        plan="sandbox",
        scopes=(Scope.MARKET_READ,),
    )
    for response in (
        client.get("/sandbox/admin/partners", headers=headers),
        client.get("/sandbox/admin/partners", headers=developer.headers(client)),
        client.get("/sandbox/admin/plans"),
        client.get("/sandbox/admin/audit/verification", headers=headers),
        client.post(
            "/sandbox/admin/partners",
            json={"name": unique("Sandboxed"), "type": "institution", "region": "CN"},
            headers=headers,
        ),
    ):
        assert_problem(response, 404, "not-found")
    assert client.get("/admin/partners", headers=headers).status_code == 200


def test_an_audit_position_beyond_64_bits_is_refused_not_a_500(
    client: TestClient[Any], platform: Platform
) -> None:
    staff = staff_app(platform)
    response = client.get("/admin/audit/records", params={"after": 2**63}, headers=staff.headers(client))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
