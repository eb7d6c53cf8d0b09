"""Graduation on evidence over the staff API: a partner moves into pilot or production on a passing
evidence pack, or by an override reason that the history and the audit chain keep as an override;
production apps come only after that move."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.apis.admin.lifecycle import OVERRIDE_ACTION
from gateway.demo import new_private_jwk, public_part
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.services import Platform
from partners.errors import InvalidAppError
from partners.models import PartnerStage
from sandbox.clock import FrozenClock
from tests.gateway.apis.admin.test_lifecycle import CAPS, assert_problem, history, staff_headers
from tests.gateway.apis.v1.test_graduation import conforming_developer, developer_in_sandbox
from tests.support import PartnerApp, wait_until

OVERRIDE = "pilot bank certified the integration with its own test report"


def in_review(client: TestClient[Any], app: PartnerApp) -> Any:
    review = app.sdk(client).partner.request_review(reason="ready for review")
    assert review.stage == "review"
    return review


def move(client: TestClient[Any], headers: dict[str, str], partner_id: str, stage: str, **extra: str) -> Any:
    body = {"stage": stage, "reason": "review done", **extra}
    return client.post(f"/admin/partners/{partner_id}/stage", json=body, headers=headers)


def audit_entries(platform: Platform, request_id: str, count: int) -> list[Any]:
    log = platform.environments[Environment.PRODUCTION].audit.log
    found: list[Any] = []

    def recorded() -> bool:
        found[:] = [r.entry for r in log.records() if r.entry.request_id == request_id]
        return len(found) >= count

    wait_until(recorded, timeout=10)
    return found


def production_app(platform: Platform, partner_id: str) -> Any:
    return platform.registry.create_app(
        partner_id=partner_id,
        name="live",
        environment=Environment.PRODUCTION,
        jwks={"keys": [public_part(new_private_jwk())]},
        scopes=[Scope.MARKET_READ.value],
    )


def test_staff_approval_without_passing_evidence_needs_an_audited_override(
    client: TestClient[Any], platform: Platform
) -> None:
    app = developer_in_sandbox(platform)
    review = in_review(client, app)
    assert not review.evidence.score.passed
    staff, headers = staff_headers(client, platform)
    caps = client.put(
        f"/admin/partners/{app.partner_id}/pilot-caps", json={**CAPS, "reason": "terms"}, headers=headers
    )
    assert caps.status_code == 200, caps.text

    refused = assert_problem(move(client, headers, app.partner_id, "pilot"), 409, "conflict")
    short = move(client, headers, app.partner_id, "pilot", override_reason="the bank says ok")
    blank = move(client, headers, app.partner_id, "pilot", override_reason=" " * 30)

    assert refused["context"]["rule"] == "evidence_required"
    assert refused["context"]["evidence"] == "failed"
    assert set(refused["context"]["failed"]) == {"retry_after", "scopes"}
    assert_problem(short, 422, "validation-failed")
    assert_problem(blank, 422, "validation-failed")
    assert platform.registry.partner(app.partner_id).stage is PartnerStage.REVIEW
    with pytest.raises(InvalidAppError):
        production_app(platform, app.partner_id)  # production credentials only after the move

    moved = move(client, headers, app.partner_id, "pilot", override_reason=OVERRIDE)

    assert moved.status_code == 200, moved.text
    assert moved.json()["stage"] == "pilot"
    event = history(client, headers, app.partner_id)["data"][-1]
    assert (event["kind"], event["to_stage"], event["actor"]) == ("stage_changed", "pilot", staff.client_id)
    assert event["details"] == {
        "override": "true",
        "override_reason": OVERRIDE,
        "evidence": "failed",
        "evidence_failed": ",".join(review.evidence.score.failed),
        "evidence_id": review.evidence.id,
    }
    entries = audit_entries(platform, moved.headers["x-request-id"], 2)
    override = next(e for e in entries if e.action == OVERRIDE_ACTION)
    assert (override.actor, override.outcome, override.resource) == (
        staff.client_id,
        200,
        f"partners/{app.partner_id}",
    )
    assert override.details["override"] is True
    assert override.details["override_reason"] == OVERRIDE
    assert override.details["to_stage"] == "pilot"
    assert set(override.details["failed_checks"]) == {"retry_after", "scopes"}
    assert override.details["lifecycle_event_id"] == event["id"]
    assert production_app(platform, app.partner_id).environment is Environment.PRODUCTION


def test_a_passing_pack_graduates_without_an_override(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    app = conforming_developer(client, platform, clock)
    client.blocking_portal.call(platform.quotas.storage.reset)
    review = in_review(client, app)
    assert review.evidence.score.passed
    _, headers = staff_headers(client, platform)

    needless = move(client, headers, app.partner_id, "production", override_reason=OVERRIDE)
    moved = move(client, headers, app.partner_id, "production")

    assert assert_problem(needless, 422, "rule-violation")["context"]["field"] == "override_reason"
    assert moved.status_code == 200, moved.text
    assert history(client, headers, app.partner_id)["data"][-1]["details"] == {
        "evidence": "passed",
        "evidence_id": review.evidence.id,
    }
    entries = audit_entries(platform, moved.headers["x-request-id"], 1)
    assert [e.action for e in entries] == ["POST /admin/partners/{partner_id}/stage"]  # no override
