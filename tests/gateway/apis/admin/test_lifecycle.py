"""The partner lifecycle over the staff API: stage moves with reasons, pilot caps, suspension,
the history, the audit chain, environment gating at the token endpoint, and the review request."""

from __future__ import annotations

import secrets
from dataclasses import replace
from decimal import Decimal
from typing import Any

from litestar.testing import TestClient

from gateway.apis.admin.lifecycle import OVERRIDE_ACTION
from gateway.demo import new_private_jwk, public_part
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.services import Platform
from partners.lifecycle import LifecycleEvent, LifecycleEventKind
from partners.models import PartnerStage, PartnerStatus, PartnerType, PilotCaps
from tests.support import PartnerApp, register_app, staff_app, wait_until

CAPS = {"customers": 25, "daily_notional": "50000.00", "daily_points": 200000}
# No sandbox traffic stands behind these partners: their moves into pilot or production are
# overrides (tests/gateway/apis/admin/test_graduation.py tests the evidence itself).
OVERRIDE = "known institution, certified outside the sandbox"


def staff_headers(client: TestClient[Any], platform: Platform) -> tuple[PartnerApp, dict[str, str]]:
    staff = staff_app(platform)
    return staff, staff.headers(client)


def new_partner(client: TestClient[Any], headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"name": f"Applicant {secrets.token_hex(4)}", "type": "institution", "region": "CN", **fields}
    response = client.post("/admin/partners", json=body, headers=headers)
    assert response.status_code == 201, response.text
    partner: dict[str, Any] = response.json()
    return partner


def move(
    client: TestClient[Any], headers: dict[str, str], partner_id: str, stage: str, reason: str = "checked it"
) -> Any:
    body = {"stage": stage, "reason": reason}
    if stage in ("pilot", "production"):
        body["override_reason"] = OVERRIDE
    return client.post(f"/admin/partners/{partner_id}/stage", json=body, headers=headers)


def history(client: TestClient[Any], headers: dict[str, str], partner_id: str) -> dict[str, Any]:
    response = client.get(f"/admin/partners/{partner_id}/lifecycle", headers=headers)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["type"].endswith(f"/problems/{slug}")
    return problem


def audit_record(platform: Platform, request_id: str) -> dict[str, Any]:
    """The call's record in the production chain. The middleware appends after the response is
    sent and the trail flushes on the app's loop: read the log (not the trail) until it is there."""
    log = platform.environments[Environment.PRODUCTION].audit.log
    found: list[Any] = []

    def recorded() -> bool:
        found[:] = [
            r.entry
            for r in log.records()
            if r.entry.request_id == request_id and r.entry.action != OVERRIDE_ACTION
        ]
        return bool(found)

    wait_until(recorded, timeout=10)
    assert len(found) == 1, request_id
    entry = found[0]
    return {
        "actor": entry.actor,
        "action": entry.action,
        "outcome": entry.outcome,
        "details": dict(entry.details),
    }


def app_body(environment: str) -> dict[str, Any]:
    return {
        "name": "Wealth app",
        "environment": environment,
        "jwks": {"keys": [public_part(new_private_jwk())]},
        "scopes": ["market:read"],
    }


def test_staff_walk_an_applicant_to_production_with_reasons(
    client: TestClient[Any], platform: Platform
) -> None:
    staff, headers = staff_headers(client, platform)
    partner = new_partner(client, headers)
    assert partner["stage"] == "application"
    pid = partner["id"]

    assert move(client, headers, pid, "sandbox", "documents complete").json()["stage"] == "sandbox"
    assert move(client, headers, pid, "review", "asked by phone").json()["stage"] == "review"
    caps = client.put(
        f"/admin/partners/{pid}/pilot-caps", json={**CAPS, "reason": "pilot terms"}, headers=headers
    )
    assert caps.status_code == 200, caps.text
    assert caps.json()["pilot_caps"] == {**CAPS, "currency": "CNY"}
    piloting = move(client, headers, pid, "pilot", "review passed")
    assert piloting.status_code == 200, piloting.text
    assert piloting.json() == {
        "id": pid,
        "object": "partner_lifecycle",
        "stage": "pilot",
        "status": "active",
        "pilot_caps": {**CAPS, "currency": "CNY"},
    }
    assert move(client, headers, pid, "production", "pilot went well").json()["stage"] == "production"

    document = history(client, headers, pid)
    assert document["partner"]["stage"] == "production"
    assert [
        (e["kind"], e["from_stage"], e["to_stage"], e["reason"], e["actor"]) for e in document["data"]
    ] == [
        ("created", None, "application", "partner created", staff.client_id),
        ("stage_changed", "application", "sandbox", "documents complete", staff.client_id),
        ("stage_changed", "sandbox", "review", "asked by phone", staff.client_id),
        ("pilot_caps_set", "review", "review", "pilot terms", staff.client_id),
        ("stage_changed", "review", "pilot", "review passed", staff.client_id),
        ("stage_changed", "pilot", "production", "pilot went well", staff.client_id),
    ]
    assert all(e["at"] for e in document["data"])
    assert client.get(f"/admin/partners/{pid}", headers=headers).json()["stage"] == "production"
    assert platform.registry.partner(pid).pilot_caps == PilotCaps(
        customers=25, daily_notional=Decimal("50000.00"), daily_points=200000
    )


def test_illegal_moves_are_conflicts_that_change_nothing(client: TestClient[Any], platform: Platform) -> None:
    _, headers = staff_headers(client, platform)
    pid = new_partner(client, headers, stage="production")["id"]

    problem = assert_problem(move(client, headers, pid, "pilot"), 409, "conflict")
    assert problem["context"]["from_stage"] == "production"
    assert problem["context"]["allowed"] == []
    review = new_partner(client, headers, stage="review")["id"]
    needs_caps = assert_problem(move(client, headers, review, "pilot"), 409, "conflict")
    assert needs_caps["context"]["field"] == "pilot_caps"
    assert [e["kind"] for e in history(client, headers, pid)["data"]] == ["created"]
    assert platform.registry.partner(review).stage is PartnerStage.REVIEW


BAD_MOVES: list[dict[str, Any]] = [
    {"stage": "sandbox"},
    {"stage": "sandbox", "reason": ""},
    {"stage": "sandbox", "reason": "x" * 501},
    {"stage": "sandbox", "reason": "   "},
    {"stage": "limbo", "reason": "because"},
    {"stage": "sandbox", "reason": "because", "actor": "someone else"},
]
BAD_CAPS: list[dict[str, Any]] = [
    {"customers": 0},
    {"customers": 1.5},
    {"daily_notional": 1000},
    {"daily_notional": "1e5"},
    {"daily_notional": "NaN"},
    {"daily_notional": "-5.00"},
    {"daily_notional": "1.001"},
    {"daily_notional": "0"},
    {"daily_points": -1},
    {"currency": "XAU"},
    {"reason": None},
]


def test_a_move_without_a_proper_reason_is_refused(client: TestClient[Any], platform: Platform) -> None:
    _, headers = staff_headers(client, platform)
    pid = new_partner(client, headers)["id"]
    for body in BAD_MOVES:
        response = client.post(f"/admin/partners/{pid}/stage", json=body, headers=headers)
        assert response.status_code in (400, 422), (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert platform.registry.partner(pid).stage is PartnerStage.APPLICATION
    assert [e["kind"] for e in history(client, headers, pid)["data"]] == ["created"]


def test_bad_pilot_caps_are_refused(client: TestClient[Any], platform: Platform) -> None:
    _, headers = staff_headers(client, platform)
    pid = new_partner(client, headers, stage="review")["id"]
    for changes in BAD_CAPS:
        body = {k: v for k, v in {**CAPS, "reason": "terms", **changes}.items() if v is not None}
        response = client.put(f"/admin/partners/{pid}/pilot-caps", json=body, headers=headers)
        assert response.status_code in (400, 422), (changes, response.text)
    assert platform.registry.partner(pid).pilot_caps is None
    production = new_partner(client, headers, stage="production")["id"]
    refused = client.put(
        f"/admin/partners/{production}/pilot-caps", json={**CAPS, "reason": "terms"}, headers=headers
    )
    assert_problem(refused, 409, "conflict")


def test_suspension_needs_a_reason_and_is_in_the_history(client: TestClient[Any], platform: Platform) -> None:
    staff, headers = staff_headers(client, platform)
    bank = register_app(platform)
    bank_headers = bank.headers(client, scope="market:read")

    no_reason = client.post(f"/admin/partners/{bank.partner_id}/suspension", json={}, headers=headers)
    assert no_reason.status_code in (400, 422)
    assert platform.registry.partner(bank.partner_id).status is PartnerStatus.ACTIVE

    suspended = client.post(
        f"/admin/partners/{bank.partner_id}/suspension", json={"reason": "AML investigation"}, headers=headers
    )
    assert suspended.status_code == 200, suspended.text
    assert client.get("/v1/market/instruments", headers=bank_headers).status_code == 401
    again = client.post(
        f"/admin/partners/{bank.partner_id}/suspension", json={"reason": "AML investigation"}, headers=headers
    )
    assert_problem(again, 409, "conflict")
    reactivated = client.post(
        f"/admin/partners/{bank.partner_id}/reactivation",
        json={"reason": "investigation closed"},
        headers=headers,
    )
    assert reactivated.json()["status"] == "active"

    events = history(client, headers, bank.partner_id)["data"]
    assert [(e["kind"], e["reason"], e["actor"]) for e in events[1:]] == [
        ("suspended", "AML investigation", staff.client_id),
        ("reactivated", "investigation closed", staff.client_id),
    ]
    # The staff call itself is in the production audit chain, with its outcome and the partner.
    record = audit_record(platform, suspended.headers["x-request-id"])
    assert record["actor"] == staff.client_id
    assert record["action"] == "POST /admin/partners/{partner_id}/suspension"
    assert record["outcome"] == 200
    assert record["details"]["object_id"] == bank.partner_id
    assert audit_record(platform, again.headers["x-request-id"])["outcome"] == 409


def test_stage_moves_and_caps_are_in_the_audit_chain(client: TestClient[Any], platform: Platform) -> None:
    staff, headers = staff_headers(client, platform)
    pid = new_partner(client, headers, stage="review")["id"]
    caps = client.put(f"/admin/partners/{pid}/pilot-caps", json={**CAPS, "reason": "terms"}, headers=headers)
    moved = move(client, headers, pid, "pilot", "approved")
    for response, action in (
        (caps, "PUT /admin/partners/{partner_id}/pilot-caps"),
        (moved, "POST /admin/partners/{partner_id}/stage"),
    ):
        record = audit_record(platform, response.headers["x-request-id"])
        assert (record["actor"], record["action"], record["outcome"]) == (staff.client_id, action, 200)
        assert record["details"]["object_id"] == pid


def test_the_stage_gates_environments_at_creation_and_at_the_token_endpoint(
    client: TestClient[Any], platform: Platform
) -> None:
    _, headers = staff_headers(client, platform)
    pid = new_partner(client, headers)["id"]
    for environment in ("sandbox", "production"):
        refused = client.post(f"/admin/partners/{pid}/apps", json=app_body(environment), headers=headers)
        assert assert_problem(refused, 422, "rule-violation")["context"]["field"] == "environment"
    move(client, headers, pid, "sandbox")
    sandbox_app = client.post(f"/admin/partners/{pid}/apps", json=app_body("sandbox"), headers=headers)
    assert sandbox_app.status_code == 201, sandbox_app.text
    assert (
        client.post(f"/admin/partners/{pid}/apps", json=app_body("production"), headers=headers).status_code
        == 422
    )

    # A pilot holds production apps; sent back to review it loses them at the token endpoint at once.
    move(client, headers, pid, "review")
    client.put(f"/admin/partners/{pid}/pilot-caps", json={**CAPS, "reason": "terms"}, headers=headers)
    move(client, headers, pid, "pilot")
    live = register_app(platform, partner_id=pid)
    live_headers = live.headers(client, scope="market:read")
    assert client.get("/v1/market/instruments", headers=live_headers).status_code == 200

    move(client, headers, pid, "review", "complaints during the pilot")

    assert client.get("/v1/market/instruments", headers=live_headers).status_code == 401
    assert client.post("/oauth2/token", data=live.token_form()).status_code in (400, 401)


def test_staff_pick_the_initial_stage_and_default_to_application(
    client: TestClient[Any], platform: Platform
) -> None:
    _, headers = staff_headers(client, platform)
    assert new_partner(client, headers)["stage"] == "application"
    assert new_partner(client, headers, stage="sandbox")["stage"] == "sandbox"
    listed = client.get("/admin/partners", headers=headers).json()["data"]
    assert {p["stage"] for p in listed} >= {"application", "sandbox"}


def test_unknown_partners_are_not_found(client: TestClient[Any], platform: Platform) -> None:
    _, headers = staff_headers(client, platform)
    missing = "prt_0000000000000000"
    assert_problem(client.get(f"/admin/partners/{missing}/lifecycle", headers=headers), 404, "not-found")
    assert_problem(move(client, headers, missing, "sandbox"), 404, "not-found")
    assert_problem(
        client.put(
            f"/admin/partners/{missing}/pilot-caps", json={**CAPS, "reason": "terms"}, headers=headers
        ),
        404,
        "not-found",
    )


def test_partners_cannot_use_the_lifecycle_staff_api(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform, scopes=(Scope.MARKET_READ, Scope.PARTNER_MANAGE))
    headers = bank.headers(client)
    for response in (
        client.get(f"/admin/partners/{bank.partner_id}/lifecycle", headers=headers),
        move(client, headers, bank.partner_id, "sandbox"),
        client.put(
            f"/admin/partners/{bank.partner_id}/pilot-caps", json={**CAPS, "reason": "x" * 5}, headers=headers
        ),
    ):
        assert_problem(response, 401, "unauthorized")


# -- the review request (the partner's own move) ---------------------------------------------------


def sandbox_developer(platform: Platform) -> PartnerApp:
    partner = platform.registry.create_partner(
        name=f"Dev {secrets.token_hex(4)}",
        type=PartnerType.DEVELOPER,
        region="SG",
        stage=PartnerStage.SANDBOX,
    )
    return register_app(
        platform,
        partner_type=PartnerType.DEVELOPER,
        environment=Environment.SANDBOX,
        scopes=(Scope.MARKET_READ, Scope.PARTNER_MANAGE),
        partner_id=partner.id,
    )


def test_a_sandbox_partner_asks_for_review_once(client: TestClient[Any], platform: Platform) -> None:
    developer = sandbox_developer(platform)
    headers = developer.headers(client)
    path = "/sandbox/v1/partner/review-request"

    asked = client.post(path, json={"reason": "our robo-advisor is ready"}, headers=headers)

    assert asked.status_code == 200, asked.text
    answer = asked.json()
    assert {k: answer[k] for k in ("id", "object", "stage")} == {
        "id": developer.partner_id,
        "object": "partner",
        "stage": "review",
    }
    assert answer["evidence"]["score"]["client_id"] == developer.client_id  # docs/sandbox/graduation.md
    assert_problem(client.post(path, json={"reason": "again please"}, headers=headers), 409, "conflict")
    _, staff = staff_headers(client, platform)
    events = history(client, staff, developer.partner_id)["data"]
    assert [(e["kind"], e["actor"], e["to_stage"]) for e in events] == [
        ("created", "self-service", "sandbox"),
        ("review_requested", f"partner:{developer.client_id}", "review"),
    ]
    # In review the sandbox still works.
    assert client.get("/sandbox/v1/market/instruments", headers=developer.headers(client)).status_code == 200


def test_a_review_request_needs_the_scope_and_a_reason(client: TestClient[Any], platform: Platform) -> None:
    developer = sandbox_developer(platform)
    path = "/sandbox/v1/partner/review-request"
    narrow = developer.headers(client, scope="market:read")
    assert_problem(client.post(path, json={"reason": "ready now"}, headers=narrow), 403, "forbidden")
    headers = developer.headers(client)
    assert client.post(path, json={}, headers=headers).status_code in (400, 422)
    assert client.post(path, json={"reason": "ok", "stage": "production"}, headers=headers).status_code in (
        400,
        422,
    )
    assert platform.registry.partner(developer.partner_id).stage is PartnerStage.SANDBOX


def test_the_store_refuses_a_stale_change_and_records_nothing(platform: Platform) -> None:
    """Two staff members acting at once: the second one's view of the partner is stale (ADR 0011)."""
    lifecycle = platform.registry.lifecycle
    seen = platform.registry.create_partner(
        name=f"Contested {secrets.token_hex(4)}",
        type=PartnerType.INSTITUTION,
        region="CN",
        stage=PartnerStage.REVIEW,
    )
    lifecycle.move(seen.id, PartnerStage.SANDBOX, actor="first", reason="tests missing")
    late = LifecycleEvent(
        id=f"ple_{secrets.token_hex(8)}",
        partner_id=seen.id,
        kind=LifecycleEventKind.STAGE_CHANGED,
        actor="second",
        from_stage=PartnerStage.REVIEW,
        to_stage=PartnerStage.PRODUCTION,
        reason="approved",
        at=platform.clock.now(),
    )

    assert not lifecycle.store.change_partner(seen, replace(seen, stage=PartnerStage.PRODUCTION), late)
    assert platform.registry.partner(seen.id).stage is PartnerStage.SANDBOX
    assert [e.actor for e in lifecycle.history(seen.id)] == ["system", "first"]
