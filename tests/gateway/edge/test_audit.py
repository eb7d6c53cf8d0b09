"""The audit trail through the API: one record per state-changing call, none per read, a chain that
verifies, and tampering in the database found at the first bad record (SQLite and PostgreSQL).

These tests edit the chain with SQL, so each gets a pair of databases of its own (the `settings`
fixture below replaces the shared one): a broken chain never leaks into another test.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient, TestClient

from gateway.demo import new_private_jwk, public_part
from gateway.domain.audit.chain import AuditEntry, verify
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.services import Platform
from gateway.settings import Settings
from gateway.storage.audit import SqlAuditLog
from gateway.storage.audit import records as audit_records
from gateway.storage.database import Database
from gateway.storage.migrate import prepare
from partners.models import PartnerType
from sandbox.clock import FrozenClock
from tests.conftest import BASE_URL, POSTGRES_URL, require_postgres
from tests.support import database_of, dpop_capable_async, register_app, staff_app

CHECK = "/v1/compliance/suitability-checks"
BODY = {
    "customer": {"risk_level": "C3", "investor_class": "ordinary", "jurisdiction": "CN"},
    "product": {"risk": "R2", "product_type": "fund"},
}


def drop_schemas(settings: Settings) -> None:
    for environment in Environment:
        database = Database(settings.database(environment))
        if database.target.schema:
            with database.engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{database.target.schema}" CASCADE'))
        database.dispose()


@pytest.fixture
def settings(backend_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A fresh, migrated pair of databases on the same backend, with an empty audit chain."""
    own = backend_settings.with_changes(
        var_dir=tmp_path,
        namespace=f"t{secrets.token_hex(4)}",
        database_schema_prefix=f"a{secrets.token_hex(4)}_",
    )
    prepare(own)
    yield own
    drop_schemas(own)


def audit_trail(
    client: TestClient[Any], staff: dict[str, str], environment: Environment = Environment.PRODUCTION
) -> list[dict[str, Any]]:
    response = client.get(
        "/admin/audit/records", params={"environment": environment.value, "limit": 500}, headers=staff
    )
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["environment"] == environment.value
    records: list[dict[str, Any]] = page["data"]
    return records


def verification(
    client: TestClient[Any], staff: dict[str, str], environment: Environment = Environment.PRODUCTION
) -> dict[str, Any]:
    response = client.get(
        "/admin/audit/verification", params={"environment": environment.value}, headers=staff
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert result["environment"] == environment.value
    return result


def record_of(records: list[dict[str, Any]], request_id: str) -> dict[str, Any]:
    matches = [r for r in records if r["request_id"] == request_id]
    assert len(matches) == 1, (request_id, records)
    return matches[0]


def test_each_state_changing_call_appends_one_record(client: TestClient[Any], platform: Platform) -> None:
    bank, staff = register_app(platform), staff_app(platform)
    issued = client.post("/oauth2/token", data=bank.token_form())
    assert issued.status_code == 200
    bank_headers = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    check = client.post(CHECK, json=BODY, headers=bank_headers)
    assert check.status_code == 201, check.text
    staff_headers = staff.headers(client)
    created = client.post(
        "/admin/partners",
        json={"name": f"Audited Bank {secrets.token_hex(3)}", "type": "institution", "region": "HK"},
        headers=staff_headers,
    )
    assert created.status_code == 201, created.text

    records = audit_trail(client, staff_headers)

    assert [r["seq"] for r in records] == [1, 2, 3, 4]  # bank token, check, staff token, partner
    token = record_of(records, issued.headers["x-request-id"])
    assert token["actor"] == bank.client_id
    assert token["action"] == "POST /oauth2/token"
    assert token["outcome"] == 200
    suitability = record_of(records, check.headers["x-request-id"])
    assert suitability["actor"] == bank.client_id
    assert suitability["action"] == f"POST {CHECK}"
    assert suitability["resource"] == CHECK
    assert suitability["outcome"] == 201
    assert suitability["details"]["partner_id"] == bank.partner_id
    assert "idempotent_replay" not in suitability["details"]
    partner = record_of(records, created.headers["x-request-id"])
    assert partner["actor"] == staff.client_id
    assert partner["action"] == "POST /admin/partners"
    assert partner["outcome"] == 201
    assert partner["details"]["object_id"] == created.json()["id"]
    assert records[2]["action"] == "POST /oauth2/token"
    assert records[2]["actor"] == staff.client_id


def test_a_refused_call_is_recorded_with_its_outcome(client: TestClient[Any], platform: Platform) -> None:
    staff = staff_app(platform)
    headers = staff.headers(client)
    refused = client.post(
        "/admin/partners", json={"name": "X", "type": "bank", "region": "CN"}, headers=headers
    )
    assert refused.status_code == 422
    bad_token = client.post("/oauth2/token", data=staff.token_form(assertion="e30.e30.sig"))
    assert bad_token.status_code in (400, 401)
    records = audit_trail(client, headers)
    assert record_of(records, refused.headers["x-request-id"])["outcome"] == 422
    assert record_of(records, bad_token.headers["x-request-id"])["outcome"] == bad_token.status_code


def test_reads_append_nothing(client: TestClient[Any], platform: Platform) -> None:
    bank, staff = register_app(platform), staff_app(platform)
    bank_headers, staff_headers = bank.headers(client), staff.headers(client)
    check = client.post(CHECK, json=BODY, headers=bank_headers).json()
    before = audit_trail(client, staff_headers)

    assert client.get(f"{CHECK}/{check['id']}", headers=bank_headers).status_code == 200
    assert client.get("/admin/partners", headers=staff_headers).status_code == 200
    assert client.get("/livez").status_code == 200
    assert client.get("/oauth2/jwks").status_code == 200
    assert verification(client, staff_headers)["ok"] is True

    assert audit_trail(client, staff_headers) == before


def test_an_idempotent_replay_is_recorded_as_one(client: TestClient[Any], platform: Platform) -> None:
    bank, staff = register_app(platform), staff_app(platform)
    headers = {**bank.headers(client), "Idempotency-Key": "check-0001"}
    first = client.post(CHECK, json=BODY, headers=headers)
    replay = client.post(CHECK, json=BODY, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == first.content

    records = audit_trail(client, staff.headers(client))
    original = record_of(records, first.headers["x-request-id"])
    replayed = record_of(records, replay.headers["x-request-id"])
    assert "idempotent_replay" not in original["details"]
    assert replayed["details"]["idempotent_replay"] is True
    assert replayed["actor"] == bank.client_id
    assert replayed["outcome"] == 201


def test_the_chain_verifies(client: TestClient[Any], platform: Platform) -> None:
    bank, staff = register_app(platform), staff_app(platform)
    headers = bank.headers(client)
    for _ in range(3):
        assert client.post(CHECK, json=BODY, headers=headers).status_code == 201
    staff_headers = staff.headers(client)
    assert verification(client, staff_headers) == {
        "environment": "production",
        "ok": True,
        "records": 5,
        "first_bad_seq": None,
        "problem": None,
    }
    assert verification(client, staff_headers, Environment.SANDBOX)["ok"] is True


def test_the_audit_api_is_for_staff_with_the_audit_scope(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    registrar = register_app(
        platform, partner_type=PartnerType.SERVICE_PROVIDER, scopes=(Scope.ADMIN_PARTNERS,), operator=True
    )
    assert client.get("/admin/audit/verification").status_code == 401
    assert client.get("/admin/audit/verification", headers=bank.headers(client)).status_code == 401
    assert client.get("/admin/audit/records", headers=registrar.headers(client)).status_code == 403


Tamper = Callable[[sa.Connection], None]


def sql(statement: str) -> Tamper:
    def tamper(conn: sa.Connection) -> None:
        conn.execute(sa.text(statement))

    return tamper


def backdate_record_2(conn: sa.Connection) -> None:
    moment = conn.execute(sa.select(audit_records.c.occurred_at).where(audit_records.c.seq == 2)).scalar_one()
    conn.execute(
        audit_records.update()
        .where(audit_records.c.seq == 2)
        .values(occurred_at=moment - timedelta(minutes=5))
    )


def swap_records_2_and_3(conn: sa.Connection) -> None:
    for old, new in ((2, -2), (3, 2), (-2, 3)):
        conn.execute(
            sa.text("UPDATE audit_records SET seq = :new WHERE seq = :old"), {"old": old, "new": new}
        )


# The chain below has five records: the bank's token, three checks and the staff token.
TAMPERING: dict[str, tuple[Tamper, int, str]] = {
    "actor": (sql("UPDATE audit_records SET actor = 'live_mallory' WHERE seq = 2"), 2, "changed"),
    "details": (
        sql("""UPDATE audit_records SET details = '{"operation": "issueToken"}' WHERE seq = 4"""),
        4,
        "changed",
    ),
    "occurred_at": (backdate_record_2, 2, "changed"),
    "delete": (sql("DELETE FROM audit_records WHERE seq = 2"), 2, "missing"),
    "swap": (swap_records_2_and_3, 2, "link to the previous record"),
    "truncate": (sql("DELETE FROM audit_records WHERE seq >= 4"), 4, "truncated"),
    "head hash": (sql("UPDATE audit_head SET hash = 'forged'"), 5, "head"),
    "head deleted": (sql("DELETE FROM audit_head"), 1, "head is missing"),
}


@pytest.mark.parametrize("change", list(TAMPERING))
def test_tampering_in_the_database_is_found_at_the_first_bad_record(
    client: TestClient[Any], platform: Platform, change: str
) -> None:
    tamper, first_bad, problem = TAMPERING[change]
    bank = register_app(platform)
    headers = bank.headers(client)
    for _ in range(3):
        assert client.post(CHECK, json=BODY, headers=headers).status_code == 201
    staff_headers = staff_app(platform).headers(client)
    assert verification(client, staff_headers)["records"] == 5

    with database_of(platform, Environment.PRODUCTION).write() as conn:
        tamper(conn)

    result = verification(client, staff_headers)
    assert result["ok"] is False
    assert result["first_bad_seq"] == first_bad
    assert problem in result["problem"]
    assert verification(client, staff_headers, Environment.SANDBOX)["ok"] is True


def test_sandbox_calls_go_to_the_sandbox_chain(client: TestClient[Any], platform: Platform) -> None:
    developer = register_app(
        platform,
        partner_type=PartnerType.DEVELOPER,
        environment=Environment.SANDBOX,
        scopes=(Scope.COMPLIANCE_SUITABILITY,),
        plan="sandbox",
    )
    token = client.post("/sandbox/oauth2/token", data=developer.token_form())
    check = client.post(f"/sandbox{CHECK}", json=BODY, headers=developer.headers(client))
    assert token.status_code == 200
    assert check.status_code == 201, check.text
    staff = staff_app(platform)
    staff_headers = staff.headers(client)

    production = audit_trail(client, staff_headers)
    sandbox = audit_trail(client, staff_headers, Environment.SANDBOX)

    assert [(r["actor"], r["action"]) for r in production] == [(staff.client_id, "POST /oauth2/token")]
    assert [r["seq"] for r in sandbox] == [1, 2, 3]  # two tokens and the check
    assert {r["actor"] for r in sandbox} == {developer.client_id}
    recorded = record_of(sandbox, check.headers["x-request-id"])
    assert recorded["action"] == f"POST {CHECK}"
    assert recorded["resource"] == CHECK
    assert record_of(sandbox, token.headers["x-request-id"])["action"] == "POST /oauth2/token"
    assert verification(client, staff_headers, Environment.SANDBOX)["records"] == 3

    with database_of(platform, Environment.SANDBOX).write() as conn:
        conn.execute(sa.text("UPDATE audit_records SET outcome = 500 WHERE seq = 2"))
    assert verification(client, staff_headers, Environment.SANDBOX)["first_bad_seq"] == 2
    assert verification(client, staff_headers)["ok"] is True


def test_no_secret_reaches_the_audit_trail(client: TestClient[Any], platform: Platform) -> None:
    bank, staff = register_app(platform), staff_app(platform)
    assertion = bank.assertion()
    issued = client.post("/oauth2/token", data=bank.token_form(assertion=assertion))
    access_token = issued.json()["access_token"]
    headers = {"Authorization": f"Bearer {access_token}"}
    assert client.post(CHECK, json=BODY, headers=headers).status_code == 201
    refused = client.post("/oauth2/token", data=bank.token_form(assertion=assertion))  # replayed jti
    assert refused.status_code in (400, 401)
    assert client.post(CHECK, json=BODY, params={"access_token": access_token}).status_code == 401
    staff_assertion = staff.assertion()
    staff_token = client.post("/oauth2/token", data=staff.token_form(assertion=staff_assertion))
    staff_headers = {"Authorization": f"Bearer {staff_token.json()['access_token']}"}
    private = new_private_jwk()
    created = client.post(
        f"/admin/partners/{bank.partner_id}/apps",
        json={
            "name": "second app",
            "environment": "production",
            "jwks": {"keys": [public_part(private)]},
            "scopes": ["market:read"],
        },
        headers=staff_headers,
    )
    assert created.status_code == 201, created.text

    published = json.dumps(audit_trail(client, staff_headers))
    with database_of(platform, Environment.PRODUCTION).read() as conn:
        stored = json.dumps([list(row) for row in conn.execute(audit_records.select())], default=str)

    assert len(audit_trail(client, staff_headers)) == 5
    secrets_seen = {
        "access token": access_token,
        "access token signature": access_token.rsplit(".", 1)[1],
        "staff access token": staff_headers["Authorization"].removeprefix("Bearer "),
        "client assertion": assertion,
        "client assertion signature": assertion.rsplit(".", 1)[1],
        "staff client assertion": staff_assertion,
        "new app private key": private["d"],
        "bank private key": bank.private_jwk["d"],
        "staff private key": staff.private_jwk["d"],
    }
    for text in (published, stored):
        leaked = [name for name, value in secrets_seen.items() if value in text]
        assert leaked == []


async def test_concurrent_posts_keep_the_chain_whole(app: Any, platform: Platform) -> None:
    bank, staff = register_app(platform), staff_app(platform)
    async with AsyncTestClient(app=app, base_url=BASE_URL) as client:
        dpop_capable_async(client)
        issued = await client.post("/oauth2/token", data=bank.token_form())
        headers = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        responses = await asyncio.gather(*(client.post(CHECK, json=BODY, headers=headers) for _ in range(20)))
        assert [r.status_code for r in responses] == [201] * 20
        staff_token = await client.post("/oauth2/token", data=staff.token_form())
        staff_headers = {"Authorization": f"Bearer {staff_token.json()['access_token']}"}
        checked = await client.get("/admin/audit/verification", headers=staff_headers)
        page = await client.get("/admin/audit/records", params={"limit": 500}, headers=staff_headers)

    assert checked.json()["ok"] is True
    assert checked.json()["records"] == 22
    records = page.json()["data"]
    assert [r["seq"] for r in records] == list(range(1, 23))
    assert {r["request_id"] for r in records} >= {r.headers["x-request-id"] for r in responses}


def test_appends_from_many_threads_keep_the_chain_whole(settings: Settings, clock: FrozenClock) -> None:
    """Several writers, racing for the very first record too (before the head row exists)."""
    database = Database(settings.database(Environment.SANDBOX))
    log = SqlAuditLog(database)

    def append(n: int) -> int:
        entry = AuditEntry(clock.now(), f"sbx_{n}", "POST /x", "/x", 201, f"req_{n:04d}")
        return log.append(entry).seq

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            seqs = list(pool.map(append, range(40)))
        result = verify(log.records(), log.head())
    finally:
        database.dispose()

    assert sorted(seqs) == list(range(1, 41))
    assert result.ok, result
    assert result.records == 40


@pytest.fixture
def postgres_settings(tmp_path: Path) -> Iterator[Settings]:
    require_postgres()
    own = Settings(
        base_url=BASE_URL,
        var_dir=tmp_path,
        database_url=POSTGRES_URL,
        database_schema_prefix=f"z{secrets.token_hex(4)}_",
    )
    prepare(own)
    yield own
    drop_schemas(own)


@pytest.mark.postgres
def test_the_chain_verifies_whatever_the_database_session_time_zone(
    postgres_settings: Settings, clock: FrozenClock
) -> None:
    """A PostgreSQL server set to Asia/Shanghai hands timestamps back at +08:00."""
    database = Database(postgres_settings.database(Environment.PRODUCTION))

    @sa.event.listens_for(database.engine, "connect")
    def shanghai(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SET TIME ZONE 'Asia/Shanghai'")
        cursor.close()

    log = SqlAuditLog(database)
    try:
        for n in range(3):
            log.append(AuditEntry(clock.now(), "live_a", "POST /x", "/x", 201, f"req_{n}"))
        first = next(log.records())
        result = verify(log.records(), log.head())
    finally:
        database.dispose()

    assert first.entry.occurred_at.utcoffset() == timedelta(hours=8)
    assert first.entry.occurred_at == clock.now()
    assert result.ok, result
