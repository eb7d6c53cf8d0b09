"""`Idempotency-Key` on the compliance POSTs: replay byte for byte, refuse reuse with another body,
keys per client and per environment, and one execution under a burst of concurrent duplicates."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from litestar.testing import TestClient

from gateway.domain.environment import Environment
from gateway.edge.idempotency import IdempotencyPurger
from gateway.services import Platform
from gateway.storage.tables.compliance import ComplianceRecordRow
from gateway.storage.tables.idempotency import IdempotencyRow
from sandbox.clock import FrozenClock
from tests.conftest import BASE_URL
from tests.support import database_of, dpop_capable_async, register_app

SUITABILITY = "/v1/compliance/suitability-checks"
SCREENINGS = "/v1/compliance/screenings"
CHECK = {
    "customer": {"risk_level": "C2", "investor_class": "ordinary", "jurisdiction": "CN"},
    "product": {"risk": "R4", "product_type": "stock"},
    "reference": "order-4711",
}
SCREENING = {"name": "Li Wei", "country": "CN", "reference": "kyc-4711"}
BODIES = {SUITABILITY: CHECK, SCREENINGS: SCREENING}
records = ComplianceRecordRow.__table__
keys = IdempotencyRow.__table__


def stored_records(platform: Platform, partner_id: str, env: Environment = Environment.PRODUCTION) -> int:
    query = sa.select(sa.func.count()).select_from(records).where(records.c.partner_id == partner_id)
    with database_of(platform, env).read() as conn:
        return int(conn.execute(query).scalar_one())


def stored_keys(platform: Platform, client_id: str, env: Environment) -> list[str]:
    query = sa.select(keys.c.key).where(keys.c.client_id == client_id)
    with database_of(platform, env).read() as conn:
        return [str(key) for key in conn.execute(query).scalars()]


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["type"] == f"{BASE_URL}/problems/{slug}"
    assert problem["status"] == status
    return problem


@pytest.mark.parametrize("path", [SUITABILITY, SCREENINGS])
def test_same_key_and_body_replay_the_first_response(
    client: TestClient[Any], platform: Platform, path: str
) -> None:
    bank = register_app(platform)
    key = {"Idempotency-Key": "retry-7f3a"}
    first = client.post(path, json=BODIES[path], headers=bank.headers(client) | key)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers

    # A retry may come with a fresh token: keys belong to the client, not to one token.
    again = client.post(path, json=BODIES[path], headers=bank.headers(client) | key)

    assert again.status_code == first.status_code
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == first.headers["content-type"]
    # Per-request headers are fresh on the replay, never copied from the first response.
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    assert len(again.headers.get_list("ratelimit-remaining")) == 1
    assert stored_records(platform, bank.partner_id) == 1


def test_same_key_with_another_body_is_refused(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    headers = bank.headers(client) | {"Idempotency-Key": "order-4711-check"}
    first = client.post(SUITABILITY, json=CHECK, headers=headers)
    assert first.status_code == 201, first.text

    changed = client.post(SUITABILITY, json={**CHECK, "reference": "order-4712"}, headers=headers)
    other_path = client.post(SCREENINGS, json=SCREENING, headers=headers)

    for refused in (changed, other_path):
        problem = assert_problem(refused, 422, "idempotency-key-reused")
        assert problem["type"].endswith("/problems/idempotency-key-reused")
        assert "idempotent-replayed" not in refused.headers
    assert stored_records(platform, bank.partner_id) == 1
    # The refused attempts left the stored response alone.
    original = client.post(SUITABILITY, json=CHECK, headers=headers)
    assert original.content == first.content
    assert original.headers["idempotent-replayed"] == "true"


def test_keys_belong_to_one_client(client: TestClient[Any], platform: Platform) -> None:
    first_app = register_app(platform)
    second_app = register_app(platform, partner_id=first_app.partner_id)  # same partner, other client
    key = {"Idempotency-Key": "shared-key-1"}

    one = client.post(SUITABILITY, json=CHECK, headers=first_app.headers(client) | key)
    two = client.post(SUITABILITY, json=CHECK, headers=second_app.headers(client) | key)

    assert (one.status_code, two.status_code) == (201, 201), (one.text, two.text)
    assert "idempotent-replayed" not in two.headers
    assert one.json()["id"] != two.json()["id"]
    assert stored_records(platform, first_app.partner_id) == 2


def test_key_must_be_1_to_255_visible_characters(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    headers = bank.headers(client)

    for bad_key in ("k" * 256, "two words", "tab\tkey"):
        refused = client.post(SUITABILITY, json=CHECK, headers=headers | {"Idempotency-Key": bad_key})
        problem = assert_problem(refused, 400, "bad-request")
        assert problem["context"] == {"header": "Idempotency-Key"}
    assert stored_records(platform, bank.partner_id) == 0

    longest = client.post(SUITABILITY, json=CHECK, headers=headers | {"Idempotency-Key": "k" * 255})
    assert longest.status_code == 201, longest.text
    assert stored_records(platform, bank.partner_id) == 1


def test_a_server_error_is_not_stored(
    client: TestClient[Any], platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank = register_app(platform)
    headers = bank.headers(client) | {"Idempotency-Key": "after-outage"}
    compliance_records = platform.environments[Environment.PRODUCTION].compliance.records

    def outage(*_: Any) -> None:
        raise ConnectionError("database went away")

    monkeypatch.setattr(compliance_records, "add_suitability", outage)
    failed = client.post(SUITABILITY, json=CHECK, headers=headers)
    assert_problem(failed, 500, "internal-error")
    monkeypatch.undo()

    retried = client.post(SUITABILITY, json=CHECK, headers=headers)

    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert stored_records(platform, bank.partner_id) == 1


def test_sandbox_keys_are_apart_from_production(client: TestClient[Any], platform: Platform) -> None:
    live = register_app(platform)
    sandbox = register_app(
        platform, partner_id=live.partner_id, environment=Environment.SANDBOX, plan="sandbox"
    )
    key = {"Idempotency-Key": "same-key-both-environments"}

    in_live = client.post(SUITABILITY, json=CHECK, headers=live.headers(client) | key)
    in_sandbox = client.post(f"/sandbox{SUITABILITY}", json=CHECK, headers=sandbox.headers(client) | key)
    sandbox_again = client.post(f"/sandbox{SUITABILITY}", json=CHECK, headers=sandbox.headers(client) | key)

    assert (in_live.status_code, in_sandbox.status_code) == (201, 201), (in_live.text, in_sandbox.text)
    assert "idempotent-replayed" not in in_sandbox.headers
    assert sandbox_again.headers["idempotent-replayed"] == "true"
    assert sandbox_again.content == in_sandbox.content
    assert stored_records(platform, live.partner_id, Environment.PRODUCTION) == 1
    assert stored_records(platform, live.partner_id, Environment.SANDBOX) == 1
    # Each environment keeps its own keys in its own database.
    assert stored_keys(platform, live.client_id, Environment.PRODUCTION) == [key["Idempotency-Key"]]
    assert stored_keys(platform, sandbox.client_id, Environment.SANDBOX) == [key["Idempotency-Key"]]
    assert stored_keys(platform, sandbox.client_id, Environment.PRODUCTION) == []
    assert stored_keys(platform, live.client_id, Environment.SANDBOX) == []


async def test_concurrent_duplicates_execute_once(
    client: TestClient[Any], platform: Platform, app: Any
) -> None:
    bank = register_app(platform)
    headers = bank.headers(client) | {"Idempotency-Key": "burst-1"}
    # The app runs in this event loop, so the 50 requests interleave at its awaits (Litestar's
    # AsyncTestClient would run them one after another through its blocking portal).
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as burst:
        dpop_capable_async(burst)
        responses = await asyncio.gather(
            *(burst.post(SUITABILITY, json=CHECK, headers=headers) for _ in range(50))
        )
        settled = await burst.post(SUITABILITY, json=CHECK, headers=headers)

    created = [r for r in responses if r.status_code == 201]
    in_progress = [r for r in responses if r.status_code == 409]
    assert len(created) + len(in_progress) == 50, sorted({r.status_code for r in responses})
    assert in_progress, "the burst did not overlap, so it tested nothing"
    assert len({r.content for r in created}) == 1
    assert sum("idempotent-replayed" not in r.headers for r in created) == 1
    for response in in_progress:
        assert_problem(response, 409, "idempotency-in-progress")
        assert int(response.headers["retry-after"]) >= 1
    assert stored_records(platform, bank.partner_id) == 1
    assert settled.status_code == 201
    assert settled.content == created[0].content
    assert settled.headers["idempotent-replayed"] == "true"


def test_keys_are_kept_24_hours_then_purged(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    bank = register_app(platform)
    headers = {**bank.headers(client), "Idempotency-Key": "kept-a-day"}
    assert client.post(SUITABILITY, json=CHECK, headers=headers).status_code == 201
    purger = IdempotencyPurger([s.idempotency for s in platform.environments.values()], clock)

    clock.advance(timedelta(hours=23, minutes=59))
    purger.purge()
    assert stored_keys(platform, bank.client_id, Environment.PRODUCTION) == ["kept-a-day"]
    fresh = {**bank.headers(client), "Idempotency-Key": "kept-a-day"}  # the first token has expired
    replay = client.post(SUITABILITY, json=CHECK, headers=fresh)
    assert replay.headers["idempotent-replayed"] == "true"

    clock.advance(timedelta(minutes=2))
    assert purger.purge() >= 1
    assert stored_keys(platform, bank.client_id, Environment.PRODUCTION) == []
