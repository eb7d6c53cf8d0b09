"""The operator's command line, run in-process against SQLite files in a temporary var/."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from joserfc import jwk, jws, jwt

from gateway.auth.dpop import access_token_hash
from gateway.cli import main
from gateway.demo import new_private_jwk, public_part
from gateway.domain.audit.chain import AuditEntry
from gateway.domain.clock import SystemClock
from gateway.domain.environment import Environment
from gateway.domain.jwk import thumbprint
from gateway.settings import Settings
from gateway.storage.audit import SqlAuditLog
from gateway.storage.database import Database
from gateway.storage.partners import SqlRegistryStore
from partners.service import Registry

CREDENTIAL_KEYS = {"partner", "type", "environment", "client_id", "scopes", "private_jwk"}
# Anything the developer's shell exports must not send these tests to a real database.
ENVIRONMENT = (
    "DATABASE_URL",
    "SANDBOX_DATABASE_URL",
    "DATABASE_SCHEMA_PREFIX",
    "REDIS_URL",
    "GATEWAY_WORKERS",
    "GATEWAY_BASE_URL",
    "ACCESS_TOKEN_TTL_SECONDS",
)


@pytest.fixture
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GATEWAY_VAR_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def migrated(var_dir: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["migrate"]) == 0
    capsys.readouterr()
    return var_dir


@pytest.fixture
def seeded(migrated: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["seed"]) == 0
    capsys.readouterr()
    return migrated


@pytest.fixture
def production(migrated: Path) -> Iterator[Database]:
    database = Database(Settings.from_env().database(Environment.PRODUCTION))
    yield database
    database.dispose()


def credentials(var_dir: Path) -> list[dict[str, Any]]:
    document: list[dict[str, Any]] = json.loads((var_dir / "demo" / "credentials.json").read_text())
    return document


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_migrate_prepares_both_databases_and_their_keys(
    var_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "migrate")
    assert code == 0
    assert (var_dir / "production.db").is_file()
    assert (var_dir / "sandbox.db").is_file()
    assert (var_dir / "keys" / "production" / "ring.json").is_file()
    assert (var_dir / "keys" / "sandbox" / "ring.json").is_file()
    assert "production: schema up to date" in out
    assert "sandbox: schema up to date" in out
    assert run(capsys, "migrate")[0] == 0  # idempotent


def test_seed_writes_the_demo_credentials_privately(seeded: Path) -> None:
    path = seeded / "demo" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    items = credentials(seeded)
    assert isinstance(items, list)
    assert items
    for item in items:
        assert set(item) == CREDENTIAL_KEYS
        assert item["client_id"].startswith(Environment(item["environment"]).client_id_prefix)
        assert item["private_jwk"]["d"]
        assert item["private_jwk"]["kid"]
        assert item["scopes"] == sorted(item["scopes"])
    assert {"institution", "lifestyle_platform", "developer"} <= {item["type"] for item in items}
    bank = [i for i in items if i["type"] == "institution"]
    assert {i["environment"] for i in bank} == {"production", "sandbox"}
    assert all("bank" in i["partner"].lower() for i in bank)
    shop = [i for i in items if i["type"] == "lifestyle_platform"]
    assert {i["environment"] for i in shop} == {"production", "sandbox"}
    assert all("points:valuations:write" in i["scopes"] for i in shop)
    developer = [i for i in items if i["type"] == "developer"]
    assert [i["environment"] for i in developer] == ["sandbox"]
    assert all(i["client_id"].startswith("sbx_") for i in developer)


def test_the_registry_holds_only_the_public_half_of_the_demo_keys(seeded: Path) -> None:
    database = Database(Settings.from_env().database(Environment.PRODUCTION))
    try:
        store = SqlRegistryStore(database)
        for item in credentials(seeded):
            client = store.get_client(item["client_id"])
            assert client is not None
            assert client.active
            assert client.app.environment.value == item["environment"]
            assert sorted(client.app.scopes) == item["scopes"]
            (key,) = client.app.jwks["keys"]
            assert "d" not in key
            assert key == {k: v for k, v in item["private_jwk"].items() if k != "d"}
    finally:
        database.dispose()


def test_seeding_twice_keeps_the_same_clients(seeded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = credentials(seeded)
    code, out = run(capsys, "seed")
    assert code == 0
    assert credentials(seeded) == first
    for item in first:
        assert item["client_id"] in out
    assert "private_jwk" not in out
    assert first[0]["private_jwk"]["d"] not in out


def test_keys_rotate_keeps_the_old_key_published(migrated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, before = run(capsys, "keys", "list")
    assert code == 0
    assert [line.split()[0] for line in before.splitlines()] == ["production", "sandbox"]

    code, rotated = run(capsys, "keys", "rotate")
    assert code == 0
    assert rotated.count("new signing key") == 2

    code, after = run(capsys, "keys", "list")
    assert code == 0
    lines = after.splitlines()
    for environment in ("production", "sandbox"):
        rows = [line for line in lines if line.split()[0] == environment]
        assert len(rows) == 2
        assert sum(line.endswith("signing") for line in rows) == 1
        assert sum("retired" in line for line in rows) == 1
        assert len({line.split()[1] for line in rows}) == 2
    old_kids = {line.split()[1] for line in before.splitlines()}
    assert old_kids <= {line.split()[1] for line in lines}
    assert "retired" not in before


def test_keys_rotate_one_environment(migrated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "keys", "rotate", "--environment", "sandbox")[0] == 0
    _, listed = run(capsys, "keys", "list")
    environments = [line.split()[0] for line in listed.splitlines()]
    assert environments.count("sandbox") == 2
    assert environments.count("production") == 1


def test_audit_verify_passes_on_a_fresh_chain(migrated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "audit", "verify")
    assert code == 0
    assert "production: audit chain verifies (0 records)" in out
    assert "sandbox: audit chain verifies (0 records)" in out


def test_audit_verify_fails_after_tampering(
    production: Database, migrated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = SqlAuditLog(production)
    for n in range(3):
        log.append(
            AuditEntry(
                datetime.now(UTC), "live_demo", "POST /admin/partners", "/admin/partners", 201, f"req_{n}"
            )
        )
    code, out = run(capsys, "audit", "verify")
    assert code == 0
    assert "production: audit chain verifies (3 records)" in out

    with production.write() as conn:
        conn.execute(sa.text("UPDATE audit_records SET outcome = 403 WHERE seq = 2"))

    code, out = run(capsys, "audit", "verify")
    assert code == 1
    assert "production: AUDIT CHAIN BROKEN at record 2" in out
    assert "sandbox: audit chain verifies" in out
    assert run(capsys, "audit", "verify", "--environment", "sandbox")[0] == 0
    assert run(capsys, "audit", "verify", "--environment", "production")[0] == 1


def test_partners_list_prints_the_demo_partners(seeded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "partners", "list")
    assert code == 0
    for item in credentials(seeded):
        assert item["partner"] in out
        assert item["client_id"] in out
    assert "institution" in out
    assert "lifestyle_platform" in out
    assert "developer" in out
    assert credentials(seeded)[0]["private_jwk"]["d"] not in out


def test_partners_create_suspend_and_reactivate(
    production: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(
        capsys, "partners", "create", "--name", "Harbour Bank", "--type", "institution", "--region", "HK"
    )
    assert code == 0
    partner_id = out.strip()
    assert partner_id.startswith("prt_")
    reason = ("--reason", "unpaid invoices")
    assert run(capsys, "partners", "suspend", partner_id, *reason) == (0, f"{partner_id} is suspended\n")
    assert run(capsys, "partners", "reactivate", partner_id, *reason) == (0, f"{partner_id} is active\n")
    history = Registry(SqlRegistryStore(production), SystemClock()).lifecycle.history(partner_id)
    assert [(e.actor.startswith("cli:"), e.reason) for e in history[-2:]] == [(True, "unpaid invoices")] * 2
    _, listed = run(capsys, "partners", "list")
    assert "Harbour Bank" in listed


def test_a_refused_command_exits_2_with_the_reason(
    migrated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["partners", "create", "--name", "Nowhere Bank", "--type", "institution", "--region", "XX"])
    assert code == 2
    assert "refused: region must be one of" in capsys.readouterr().err
    assert main(["partners", "suspend", "prt_missing", "--reason", "test"]) == 2


def test_partners_add_app_registers_a_public_key(
    migrated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = run(
        capsys, "partners", "create", "--name", "Key Bank", "--type", "institution", "--region", "CN"
    )
    partner_id = out.strip()
    bad = {"keys": [{**public_part(new_private_jwk()), "d": "private"}]}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    add_app = ["partners", "add-app", partner_id, "--environment", "sandbox", "--scopes", "market:read"]
    assert main([*add_app, "--jwks", str(tmp_path / "bad.json")]) == 2
    assert "public keys only" in capsys.readouterr().err

    (tmp_path / "good.json").write_text(json.dumps({"keys": [public_part(new_private_jwk())]}))
    code, out = run(
        capsys,
        "partners",
        "add-app",
        partner_id,
        "--environment",
        "sandbox",
        "--jwks",
        str(tmp_path / "good.json"),
        "--scopes",
        "market:read compliance:screening",
    )
    assert code == 0
    assert out.strip().startswith("sbx_")


def test_demo_token_assertion_only_prints_an_assertion_for_the_sandbox_issuer(
    seeded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (developer,) = [i for i in credentials(seeded) if i["type"] == "developer"]

    code, out = run(
        capsys, "demo", "token", "--partner", "developer", "--environment", "sandbox", "--assertion-only"
    )

    assert code == 0
    printed = json.loads(out)
    assert printed["client_id"] == developer["client_id"]
    public = jwk.import_key(public_part(developer["private_jwk"]))
    token = jwt.decode(printed["client_assertion"], public, algorithms=["ES256"])
    assert token.header["kid"] == developer["private_jwk"]["kid"]
    assert token.claims["iss"] == token.claims["sub"] == developer["client_id"]
    assert token.claims["aud"] == Settings.from_env().issuer(Environment.SANDBOX)
    assert token.claims["exp"] - token.claims["iat"] == 60


def test_demo_proof_is_signed_by_the_demo_key_kept_privately(
    seeded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "http://127.0.0.1:8000/v1/accounts"

    first = run(capsys, "demo", "proof", "get", f"{url}?limit=5", "--token", "tok")
    second = run(capsys, "demo", "proof", "GET", url)

    key_file = seeded / "demo" / "dpop.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    demo_key = jwk.import_key(json.loads(key_file.read_text()))
    proofs = []
    for code, out in (first, second):
        assert code == 0
        proof = jws.deserialize_compact(out.strip(), demo_key, algorithms=["ES256"])
        assert proof.headers()["typ"] == "dpop+jwt"
        assert "d" not in proof.headers()["jwk"]
        assert thumbprint(proof.headers()["jwk"]) == demo_key.thumbprint()
        proofs.append(json.loads(proof.payload))
    assert {p["htm"] for p in proofs} == {"GET"}
    assert {p["htu"] for p in proofs} == {url}  # RFC 9449 §4.2: without the query
    assert proofs[0]["ath"] == access_token_hash("tok")
    assert "ath" not in proofs[1]
    assert proofs[0]["jti"] != proofs[1]["jti"]
