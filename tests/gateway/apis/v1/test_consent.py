"""Consents through the partner API: an app asks for what it holds, sees its own consents only
(404 for anyone else's), never the customer's internal id, and manages them only with its own
client-credentials token. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.demo import new_private_jwk, public_part
from gateway.domain.consent.models import ConsentStatus, EventKind
from gateway.domain.environment import Environment
from gateway.domain.paging import encode_cursor
from gateway.domain.scopes import Scope
from gateway.services import EnvironmentServices, Platform
from partners.models import PartnerType
from sandbox.clock import FrozenClock
from tests.conftest import BASE_URL
from tests.support import PartnerApp, register_app

CONSENTS = "/v1/consents"
REDIRECT = "https://shop.example/callback"
APP_SCOPES = (
    Scope.CONSENTS_MANAGE,
    Scope.ACCOUNTS_READ,
    Scope.ORDERS_READ,
    Scope.ORDERS_WRITE,
    Scope.POINTS_CONVERT,
    Scope.MARKET_READ,
)
OPERATIONS = [
    ("POST", CONSENTS),
    ("GET", CONSENTS),
    ("GET", CONSENTS + "/{id}"),
    ("POST", CONSENTS + "/{id}/revoke"),
]


def consent_app(
    platform: Platform,
    *,
    scopes: tuple[Scope, ...] = APP_SCOPES,
    redirect_uris: tuple[str, ...] = (REDIRECT,),
    partner_type: PartnerType = PartnerType.INSTITUTION,
) -> PartnerApp:
    """An app that can run the authorization code flow (tests/support.py has no redirect_uris)."""
    registry = platform.registry
    partner = registry.create_partner(
        name=f"Consent partner {secrets.token_hex(6)}", type=partner_type, region="HK"
    )
    private = new_private_jwk()
    app = registry.create_app(
        partner_id=partner.id,
        name="consent app",
        environment=Environment.PRODUCTION,
        jwks={"keys": [public_part(private)]},
        scopes=[scope.value for scope in scopes],
        plan_id="enterprise",
        redirect_uris=redirect_uris,
    )
    return PartnerApp(
        client_id=app.client_id,
        partner_id=partner.id,
        private_jwk=private,
        environment=Environment.PRODUCTION,
        issuer=platform.settings.issuer(Environment.PRODUCTION),
        clock=platform.clock,
        scopes=tuple(sorted(app.scopes)),
    )


def body(platform: Platform, **changes: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "permissions": ["points:convert", "accounts:read", "orders:write"],
        "purpose": "convert shopping points into money-market funds",
        "expires_at": (platform.clock.now() + timedelta(days=90)).isoformat(),
        "limits": [
            {
                "type": "points_conversion",
                "funds": ["F000001"],
                "max_points_per_month": 5000,
                "max_points_per_conversion": 500,
            },
            {
                "type": "order_placement",
                "max_notional_per_order": "10000.00",
                "currency": "CNY",
                "instruments": ["ETF", "FUND"],
            },
        ],
        "cross_border": True,
    }
    request.update(changes)
    return request


def create(client: TestClient[Any], headers: dict[str, str], request: dict[str, Any]) -> dict[str, Any]:
    response = client.post(CONSENTS, json=request, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def production(platform: Platform) -> EnvironmentServices:
    return platform.environments[Environment.PRODUCTION]


def authorize(platform: Platform, consent_id: str, customer_id: str = "cus_internal_4711") -> None:
    production(platform).consents.authorize(
        consent_id,
        customer_id=customer_id,
        granted=frozenset({Scope.ACCOUNTS_READ, Scope.POINTS_CONVERT}),
        opted_in_high_risk=False,
        allow_cross_border=False,
    )


def problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    document: dict[str, Any] = response.json()
    assert document["type"] == f"{BASE_URL}/problems/{slug}"
    return document


def stored_for(platform: Platform, partner_id: str) -> list[str]:
    page = production(platform).consents.list_for_partner(partner_id=partner_id, limit=100)
    return [consent.id for consent in page.items]


# Creating


def test_a_created_consent_awaits_the_customer(client: TestClient[Any], platform: Platform) -> None:
    app = consent_app(platform)
    headers = app.headers(client)
    created = create(client, headers, body(platform))

    assert created["id"].startswith("cns_")
    assert created == {
        "id": created["id"],
        "object": "consent",
        "status": "awaiting_authorization",
        "permissions": ["accounts:read", "orders:write", "points:convert"],
        "purpose": "convert shopping points into money-market funds",
        "expires_at": created["expires_at"],
        "limits": [
            {
                "type": "points_conversion",
                "funds": ["F000001"],
                "max_points_per_month": 5000,
                "max_points_per_conversion": 500,
            },
            {
                "type": "order_placement",
                "max_notional_per_order": "10000.00",
                "currency": "CNY",
                "instruments": ["etf", "fund"],
            },
        ],
        "cross_border": True,
        "created_at": created["created_at"],
        "updated_at": created["created_at"],
        "revoked_by": None,
    }
    read = client.get(f"{CONSENTS}/{created['id']}", headers=headers)
    assert read.status_code == 200, read.text
    assert read.json() == created
    events = production(platform).consents.repository.events(created["id"])
    assert [event.kind for event in events] == [EventKind.CREATED]
    assert events[0].actor == f"partner:{app.partner_id}"
    assert events[0].details["cross_border"] is True


def test_an_app_asks_only_for_delegated_scopes_it_holds(client: TestClient[Any], platform: Platform) -> None:
    app = consent_app(platform)
    headers = app.headers(client)
    permissions = ["accounts:read", "transactions:read", "market:read", "consents:manage", "no:such"]
    refused = client.post(CONSENTS, json=body(platform, permissions=permissions, limits=[]), headers=headers)
    document = problem(refused, 422, "rule-violation")
    assert document["context"] == {
        "field": "permissions",
        "refused": ["consents:manage", "market:read", "no:such", "transactions:read"],
    }
    assert stored_for(platform, app.partner_id) == []


def test_an_app_without_a_redirect_uri_cannot_ask(client: TestClient[Any], platform: Platform) -> None:
    app = consent_app(platform, redirect_uris=())
    refused = client.post(CONSENTS, json=body(platform), headers=app.headers(client))
    document = problem(refused, 422, "rule-violation")
    assert document["context"]["field"] == "redirect_uris"
    assert "authorization code flow" in document["detail"]
    assert stored_for(platform, app.partner_id) == []


@pytest.mark.parametrize("field", ["status", "customer_id", "partner_id", "client_id", "id", "revoked_by"])
def test_server_owned_fields_are_refused_and_nothing_is_stored(
    client: TestClient[Any], platform: Platform, field: str
) -> None:
    app = consent_app(platform)
    value = "authorized" if field == "status" else "cus_attacker"
    refused = client.post(CONSENTS, json=body(platform, **{field: value}), headers=app.headers(client))
    document = problem(refused, 422, "validation-failed")
    assert [error["field"] for error in document["errors"]] == [field]
    assert stored_for(platform, app.partner_id) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"expires_at": "2027-01-01T00:00:00"}, "expires_at"),  # no offset
        ({"permissions": []}, "permissions"),
        ({"purpose": ""}, "purpose"),
        ({"cross_border": "yes"}, "cross_border"),
        ({"limits": [{"type": "spending_cap", "max": 1}]}, "limits.0.type"),
        (
            {
                "limits": [
                    {
                        "type": "order_placement",
                        "max_notional_per_order": 10000.0,
                        "currency": "CNY",
                        "instruments": ["ETF"],
                    }
                ]
            },
            "limits.0.max_notional_per_order",
        ),
        (
            {
                "limits": [
                    {
                        "type": "order_placement",
                        "max_notional_per_order": "1e4",
                        "currency": "CNY",
                        "instruments": ["ETF"],
                    }
                ]
            },
            "limits.0.max_notional_per_order",
        ),
        (
            {
                "limits": [
                    {
                        "type": "order_placement",
                        "max_notional_per_order": "10.001",
                        "currency": "CNY",
                        "instruments": ["ETF"],
                    }
                ]
            },
            "limits.0.max_notional_per_order",
        ),
        (
            {
                "limits": [
                    {
                        "type": "points_conversion",
                        "funds": ["F000001"],
                        "max_points_per_month": 5000,
                        "max_points_per_conversion": 500,
                        "status": "authorized",
                    }
                ]
            },
            "limits.0.status",
        ),
    ],
)
def test_malformed_requests_name_the_field(
    client: TestClient[Any], platform: Platform, changes: dict[str, Any], field: str
) -> None:
    app = consent_app(platform)
    refused = client.post(CONSENTS, json=body(platform, **changes), headers=app.headers(client))
    document = problem(refused, 422, "validation-failed")
    assert field in [error["field"] for error in document["errors"]], document
    assert stored_for(platform, app.partner_id) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"expires_at_days": 366}, "expires_at"),
        ({"permissions": ["accounts:read"]}, "limits"),  # the limits need their permissions
        (
            {
                "limits": [
                    {
                        "type": "points_conversion",
                        "funds": ["F999999"],
                        "max_points_per_month": 10,
                        "max_points_per_conversion": 5,
                    }
                ]
            },
            "limits",
        ),
        (
            {
                "limits": [
                    {
                        "type": "points_conversion",
                        "funds": ["F000001"],
                        "max_points_per_month": 10,
                        "max_points_per_conversion": 50,
                    }
                ]
            },
            "max_points_per_conversion",
        ),
        (
            {
                "limits": [
                    {
                        "type": "order_placement",
                        "max_notional_per_order": "100.00",
                        "currency": "CNY",
                        "instruments": ["BOND"],
                    }
                ]
            },
            "instruments",
        ),
    ],
)
def test_consent_rules_are_problems_naming_the_field(
    client: TestClient[Any], platform: Platform, changes: dict[str, Any], field: str
) -> None:
    app = consent_app(platform)
    days = changes.pop("expires_at_days", None)
    if days is not None:
        changes["expires_at"] = (platform.clock.now() + timedelta(days=days)).isoformat()
    refused = client.post(CONSENTS, json=body(platform, **changes), headers=app.headers(client))
    assert problem(refused, 422, "rule-violation")["context"]["field"] == field
    assert stored_for(platform, app.partner_id) == []


# Who may call


def test_the_scope_is_required(client: TestClient[Any], platform: Platform) -> None:
    app = consent_app(platform, scopes=(Scope.MARKET_READ, Scope.ACCOUNTS_READ))
    headers = app.headers(client)
    for method, path in OPERATIONS:
        response = client.request(method, path.format(id="cns_0000"), json=body(platform), headers=headers)
        problem(response, 403, "forbidden")
        assert "insufficient_scope" in response.headers["www-authenticate"]


def test_a_token_acting_for_a_customer_cannot_manage_consents(
    client: TestClient[Any], platform: Platform
) -> None:
    app = consent_app(platform)
    consent = create(client, app.headers(client), body(platform))
    authorize(platform, consent["id"])
    tokens = production(platform).auth_server.tokens
    delegated, _ = tokens.issue(
        client_id=app.client_id,
        subject="pairwise-subject",
        scopes=frozenset({Scope.CONSENTS_MANAGE, Scope.ACCOUNTS_READ}),
        audience=tokens.api_audience,
        consent_id=consent["id"],
    )
    headers = {"Authorization": f"Bearer {delegated}"}
    for method, path in OPERATIONS:
        response = client.request(method, path.format(id=consent["id"]), json=body(platform), headers=headers)
        problem(response, 403, "forbidden")
    still = production(platform).consents.get(consent["id"], partner_id=app.partner_id)
    assert still.status is ConsentStatus.AUTHORIZED
    assert len(stored_for(platform, app.partner_id)) == 1


def anonymised(document: dict[str, Any], consent_id: str) -> str:
    return str({**document, "request_id": None}).replace(consent_id, "<id>")


@pytest.mark.parametrize("operation", ["get", "revoke"])
def test_another_partners_consent_is_not_found(
    client: TestClient[Any], platform: Platform, operation: str
) -> None:
    owner, stranger = consent_app(platform), consent_app(platform)
    consent = create(client, owner.headers(client), body(platform))
    authorize(platform, consent["id"])
    headers = stranger.headers(client)

    def call(consent_id: str) -> Any:
        if operation == "get":
            return client.get(f"{CONSENTS}/{consent_id}", headers=headers)
        return client.post(f"{CONSENTS}/{consent_id}/revoke", headers=headers)

    theirs = problem(call(consent["id"]), 404, "not-found")
    unknown_id = "cns_" + "0" * 20
    never = problem(call(unknown_id), 404, "not-found")
    assert anonymised(theirs, consent["id"]) == anonymised(never, unknown_id)
    owner_view = client.get(f"{CONSENTS}/{consent['id']}", headers=owner.headers(client)).json()
    assert owner_view["status"] == "authorized"
    assert consent["id"] not in str(client.get(CONSENTS, headers=headers).json())


# Reading and revoking


def test_the_partner_never_sees_the_internal_customer_id(client: TestClient[Any], platform: Platform) -> None:
    app = consent_app(platform)
    headers = app.headers(client)
    consent = create(client, headers, body(platform))
    authorize(platform, consent["id"], customer_id="cus_internal_secret")
    read = client.get(f"{CONSENTS}/{consent['id']}", headers=headers)
    listed = client.get(CONSENTS, headers=headers)
    revoked = client.post(f"{CONSENTS}/{consent['id']}/revoke", headers=headers)
    for response in (read, listed, revoked):
        assert response.status_code == 200, response.text
        assert "cus_internal_secret" not in response.text
        assert "customer_id" not in response.text
    view = read.json()
    assert view["status"] == "authorized"
    assert view["permissions"] == ["accounts:read", "points:convert"]  # as the customer narrowed it
    assert view["cross_border"] is False  # the customer dropped the transfer


def test_revocation_by_the_partner(client: TestClient[Any], platform: Platform, clock: FrozenClock) -> None:
    app = consent_app(platform)
    headers = app.headers(client)
    pending = create(client, headers, body(platform))
    not_yet = client.post(f"{CONSENTS}/{pending['id']}/revoke", headers=headers)
    assert problem(not_yet, 409, "conflict")["context"]["status"] == "awaiting_authorization"

    authorize(platform, pending["id"])
    clock.advance(timedelta(minutes=3))
    revoked = client.post(f"{CONSENTS}/{pending['id']}/revoke", headers=headers)
    assert revoked.status_code == 200, revoked.text
    view = revoked.json()
    assert view["status"] == "revoked"
    assert view["revoked_by"] == "partner"
    assert view["updated_at"] != view["created_at"]
    assert client.get(f"{CONSENTS}/{pending['id']}", headers=headers).json() == view

    again = client.post(f"{CONSENTS}/{pending['id']}/revoke", headers=headers)
    assert problem(again, 409, "conflict")["context"]["status"] == "revoked"
    events = production(platform).consents.repository.events(pending["id"])
    assert [event.kind for event in events] == [EventKind.CREATED, EventKind.AUTHORIZED, EventKind.REVOKED]
    assert events[-1].actor == f"partner:{app.partner_id}"


def test_pages_visit_each_consent_once_and_filter_by_status(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    app = consent_app(platform)
    headers = app.headers(client)
    created = []
    for _ in range(5):
        created.append(create(client, headers, body(platform))["id"])
        clock.advance(timedelta(seconds=1))
    create(client, consent_app(platform).headers(client), body(platform))  # another partner's
    authorize(platform, created[1])
    authorize(platform, created[3])

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get(CONSENTS, params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["object"] == "list"
        seen += [item["id"] for item in page["data"]]
        cursor = page["next_cursor"]
        assert page["has_more"] == (cursor is not None)
        if cursor is None:
            break
    assert seen == created

    authorized = client.get(CONSENTS, params={"status": "authorized"}, headers=headers).json()
    assert [item["id"] for item in authorized["data"]] == [created[1], created[3]]
    assert {item["status"] for item in authorized["data"]} == {"authorized"}


def test_bad_list_queries_are_problems(client: TestClient[Any], platform: Platform) -> None:
    app, other = consent_app(platform), consent_app(platform)
    headers = app.headers(client)
    create(client, headers, body(platform))
    theirs = create(client, other.headers(client), body(platform))
    bad_cursor = client.get(CONSENTS, params={"cursor": "not-a-cursor"}, headers=headers)
    assert problem(bad_cursor, 422, "rule-violation")["context"]["field"] == "cursor"
    for params in ({"limit": 0}, {"limit": 101}, {"status": "granted"}):
        refused = client.get(CONSENTS, params=params, headers=headers)
        assert [e["field"] for e in problem(refused, 422, "validation-failed")["errors"]] == list(params)
    # A cursor made from another partner's consent is no position in this partner's list.
    foreign = client.get(CONSENTS, params={"cursor": encode_cursor(theirs["id"])}, headers=headers)
    assert foreign.status_code == 200, foreign.text
    assert foreign.json()["data"] == []


def test_the_sandbox_keeps_its_own_consents(client: TestClient[Any], platform: Platform) -> None:
    live = consent_app(platform)
    consent = create(client, live.headers(client), body(platform))
    sandbox = register_app(
        platform,
        environment=Environment.SANDBOX,
        scopes=(Scope.CONSENTS_MANAGE,),
        partner_id=live.partner_id,
    )
    read = client.get(f"/sandbox{CONSENTS}/{consent['id']}", headers=sandbox.headers(client))
    problem(read, 404, "not-found")
