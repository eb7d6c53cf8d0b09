"""Object-level access: compliance records belong to one partner in one environment; anyone else
gets the same 404 as for an id that never existed."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.domain.environment import Environment
from gateway.services import Platform
from tests.conftest import BASE_URL
from tests.support import PartnerApp, register_app

SUITABILITY = "/v1/compliance/suitability-checks"
SCREENINGS = "/v1/compliance/screenings"
CHECK = {
    "customer": {"risk_level": "C4", "investor_class": "professional", "jurisdiction": "HK"},
    "product": {"risk": "R2", "product_type": "bond"},
    "reference": "a-private-ref-0193",
}
SCREENING = {"name": "Chen Jiayi", "country": "HK", "reference": "a-private-kyc-0193"}
KINDS = pytest.mark.parametrize(
    ("path", "body", "unknown_id"),
    [(SUITABILITY, CHECK, "sut_00000000000000000000"), (SCREENINGS, SCREENING, "scr_00000000000000000000")],
    ids=["suitability-check", "screening"],
)


def create(client: TestClient[Any], owner: PartnerApp, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"{owner.prefix}{path}", json=body, headers=owner.headers(client))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def assert_not_found(response: Any) -> dict[str, Any]:
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["type"] == f"{BASE_URL}/problems/not-found"
    return problem


def anonymised(problem: dict[str, Any], record_id: str) -> str:
    """The problem as text, without what differs per request: the id asked for and the request id."""
    return str({**problem, "request_id": None}).replace(record_id, "<id>")


@KINDS
def test_another_partner_gets_404_and_nothing_of_the_record(
    client: TestClient[Any], platform: Platform, path: str, body: dict[str, Any], unknown_id: str
) -> None:
    owner = register_app(platform)
    stranger = register_app(platform)  # another partner with the same scopes
    record = create(client, owner, path, body)

    owner_reads = client.get(f"{path}/{record['id']}", headers=owner.headers(client))
    stranger_reads = client.get(f"{path}/{record['id']}", headers=stranger.headers(client))
    stranger_guesses = client.get(f"{path}/{unknown_id}", headers=stranger.headers(client))

    assert owner_reads.status_code == 200, owner_reads.text
    assert owner_reads.json() == record
    problem = assert_not_found(stranger_reads)
    for secret in (body["reference"], owner.partner_id, owner.client_id, record["created_at"]):
        assert secret not in stranger_reads.text
    # Same answer as for an id that never existed: no oracle for which ids are taken.
    assert anonymised(problem, record["id"]) == anonymised(assert_not_found(stranger_guesses), unknown_id)


@KINDS
def test_records_stay_in_their_environment(
    client: TestClient[Any], platform: Platform, path: str, body: dict[str, Any], unknown_id: str
) -> None:
    live = register_app(platform)
    sandbox = register_app(
        platform, partner_id=live.partner_id, environment=Environment.SANDBOX, plan="sandbox"
    )
    live_record = create(client, live, path, body)
    sandbox_record = create(client, sandbox, path, body)

    sandbox_reads_live = client.get(f"/sandbox{path}/{live_record['id']}", headers=sandbox.headers(client))
    live_reads_sandbox = client.get(f"{path}/{sandbox_record['id']}", headers=live.headers(client))

    assert_not_found(sandbox_reads_live)
    assert_not_found(live_reads_sandbox)
    assert body["reference"] not in sandbox_reads_live.text + live_reads_sandbox.text
    own = client.get(f"/sandbox{path}/{sandbox_record['id']}", headers=sandbox.headers(client))
    assert own.json() == sandbox_record


def test_records_belong_to_the_partner_not_to_the_app(client: TestClient[Any], platform: Platform) -> None:
    first_app = register_app(platform)
    second_app = register_app(platform, partner_id=first_app.partner_id)
    check = create(client, first_app, SUITABILITY, CHECK)
    screening = create(client, first_app, SCREENINGS, SCREENING)

    for path, record in ((SUITABILITY, check), (SCREENINGS, screening)):
        response = client.get(f"{path}/{record['id']}", headers=second_app.headers(client))
        assert response.status_code == 200, response.text
        assert response.json() == record
