"""The sandbox never starts on the production database: the app and every CLI command refuse it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.app import create_app
from gateway.cli import main
from gateway.domain.environment import Environment
from gateway.settings import DatabaseTarget, Settings
from sandbox.isolation import SandboxIsolationError, check_isolation

REFUSAL = "sandbox must not use the production database"
POSTGRES = "postgresql+psycopg://gateway:s3cret@db.internal:5432/platform"


@pytest.mark.parametrize(
    "environ",
    [
        {"SANDBOX_DATABASE_URL": "sqlite:///var/production.db"},
        {"DATABASE_URL": "sqlite:///var/shared.db"},
        {"DATABASE_URL": "sqlite:///var/shared.db", "SANDBOX_DATABASE_URL": "sqlite:///var/shared.db"},
    ],
    ids=["sandbox on the production file", "one file for both", "both named alike"],
)
def test_the_sandbox_refuses_to_start_on_the_production_database(environ: dict[str, str]) -> None:
    with pytest.raises(SandboxIsolationError, match=REFUSAL):
        create_app(Settings.from_env(environ))


def test_changing_settings_later_is_checked_at_start_too() -> None:
    settings = Settings()
    with pytest.raises(SandboxIsolationError, match=REFUSAL):
        create_app(settings.with_changes(sandbox_database_url=settings.database(Environment.PRODUCTION).url))


@pytest.mark.parametrize(
    "spelling", ["{cwd}/var/production.db", "./var/production.db", "var/../var/production.db"]
)
def test_the_sandbox_refuses_the_production_file_however_it_is_spelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({"SANDBOX_DATABASE_URL": "sqlite:///" + spelling.format(cwd=tmp_path)})
    with pytest.raises(SandboxIsolationError, match=REFUSAL):
        create_app(settings)


def test_every_command_refuses_before_it_opens_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "GATEWAY_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GATEWAY_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("SANDBOX_DATABASE_URL", f"sqlite:///{tmp_path / 'production.db'}")
    with pytest.raises(SandboxIsolationError, match=REFUSAL):
        main(["migrate"])
    assert list(tmp_path.iterdir()) == []


def test_postgresql_schemas_of_one_server_are_apart_and_the_same_schema_is_not() -> None:
    production = DatabaseTarget(POSTGRES, "gateway_production")
    check_isolation(production, DatabaseTarget(POSTGRES, "gateway_sandbox"))
    with pytest.raises(SandboxIsolationError, match=REFUSAL):
        check_isolation(production, DatabaseTarget(POSTGRES, "gateway_production"))


def test_the_refusal_names_the_database_without_credentials() -> None:
    with pytest.raises(SandboxIsolationError) as refused:
        check_isolation(DatabaseTarget(POSTGRES, "gateway_x"), DatabaseTarget(POSTGRES, "gateway_x"))
    assert "s3cret" not in str(refused.value)
