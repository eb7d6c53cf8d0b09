"""Settings from the environment: safe defaults, and unsafe configurations refused at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.domain.environment import Environment
from gateway.settings import DatabaseTarget, Settings, SettingsError

PRODUCTION, SANDBOX = Environment.PRODUCTION, Environment.SANDBOX
POSTGRES = "postgresql+psycopg://gateway:s3cret@db.internal:5432/platform"


def test_defaults_run_on_a_laptop() -> None:
    settings = Settings.from_env({})
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.workers == 1
    assert settings.redis_url is None
    assert settings.access_token_ttl_seconds == 600
    assert settings.var_dir == Path("var")
    assert settings.keys_dir == Path("var/keys")
    assert settings.demo_dir == Path("var/demo")


def test_by_default_each_environment_has_its_own_sqlite_file_under_var() -> None:
    settings = Settings.from_env({})
    production, sandbox = settings.database(PRODUCTION), settings.database(SANDBOX)
    assert production == DatabaseTarget("sqlite:///var/production.db")
    assert sandbox == DatabaseTarget("sqlite:///var/sandbox.db")
    assert production.sqlite_path == Path("var/production.db")
    assert sandbox.sqlite_path == Path("var/sandbox.db")
    assert production.is_sqlite
    assert production.schema is None


def test_the_var_dir_moves_both_databases_and_the_keys(tmp_path: Path) -> None:
    settings = Settings.from_env({"GATEWAY_VAR_DIR": str(tmp_path)})
    assert settings.database(PRODUCTION).sqlite_path == tmp_path / "production.db"
    assert settings.database(SANDBOX).sqlite_path == tmp_path / "sandbox.db"
    assert settings.keys_dir == tmp_path / "keys"


def test_postgres_gives_each_environment_its_own_schema() -> None:
    settings = Settings.from_env({"DATABASE_URL": POSTGRES})
    production, sandbox = settings.database(PRODUCTION), settings.database(SANDBOX)
    assert production == DatabaseTarget(POSTGRES, "gateway_production")
    assert sandbox == DatabaseTarget(POSTGRES, "gateway_sandbox")
    assert not production.is_sqlite
    assert production.sqlite_path is None


def test_the_schema_prefix_is_configurable() -> None:
    settings = Settings.from_env({"DATABASE_URL": POSTGRES, "DATABASE_SCHEMA_PREFIX": "opg_"})
    assert settings.database(PRODUCTION).schema == "opg_production"
    assert settings.database(SANDBOX).schema == "opg_sandbox"


def test_the_sandbox_may_have_a_database_of_its_own() -> None:
    other = "postgresql+psycopg://sandbox@sandbox-db.internal/sandbox"
    settings = Settings.from_env({"DATABASE_URL": POSTGRES, "SANDBOX_DATABASE_URL": other})
    assert settings.database(PRODUCTION) == DatabaseTarget(POSTGRES, "gateway_production")
    assert settings.database(SANDBOX) == DatabaseTarget(other, "gateway_sandbox")


def test_descriptions_never_show_database_credentials() -> None:
    described = Settings.from_env({"DATABASE_URL": POSTGRES}).database(PRODUCTION).describe()
    assert "s3cret" not in described
    assert "gateway:" not in described
    assert described == "postgresql+psycopg://db.internal/platform schema=gateway_production"


def test_changing_settings_later_is_checked_too() -> None:
    with pytest.raises(SettingsError, match="REDIS_URL"):
        Settings().with_changes(workers=4)


def test_several_workers_need_redis() -> None:
    with pytest.raises(SettingsError, match="REDIS_URL"):
        Settings.from_env({"GATEWAY_WORKERS": "2"})
    settings = Settings.from_env({"GATEWAY_WORKERS": "2", "REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert settings.workers == 2
    assert settings.redis_url == "redis://127.0.0.1:6379/0"


def test_an_empty_redis_url_counts_as_none() -> None:
    with pytest.raises(SettingsError, match="REDIS_URL"):
        Settings.from_env({"GATEWAY_WORKERS": "3", "REDIS_URL": ""})


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_at_least_one_worker(workers: str) -> None:
    with pytest.raises(SettingsError, match="GATEWAY_WORKERS"):
        Settings.from_env({"GATEWAY_WORKERS": workers, "REDIS_URL": "redis://127.0.0.1:6379/0"})


@pytest.mark.parametrize("ttl", ["0", "60", "299", "901", "3600", "864000"])
def test_access_tokens_live_five_to_fifteen_minutes(ttl: str) -> None:
    with pytest.raises(SettingsError, match="ACCESS_TOKEN_TTL_SECONDS"):
        Settings.from_env({"ACCESS_TOKEN_TTL_SECONDS": ttl})


@pytest.mark.parametrize("ttl", [300, 600, 900])
def test_access_token_lifetimes_inside_the_bounds_are_accepted(ttl: int) -> None:
    assert Settings.from_env({"ACCESS_TOKEN_TTL_SECONDS": str(ttl)}).access_token_ttl_seconds == ttl


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GATEWAY_PORT", "eighty"),
        ("GATEWAY_PORT", "80.5"),
        ("GATEWAY_PORT", ""),
        ("GATEWAY_WORKERS", "two"),
        ("ACCESS_TOKEN_TTL_SECONDS", "10m"),
        ("ACCESS_TOKEN_TTL_SECONDS", "6e2"),
    ],
)
def test_bad_integers_are_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name) as refused:
        Settings.from_env({name: value})
    assert repr(value) in str(refused.value)


@pytest.mark.parametrize(
    ("review", "block"),
    [
        ("0.95", "0.82"),  # review above block
        ("0.9", "0.9"),  # no room for a review
        ("0", "0.9"),
        ("-0.1", "0.9"),
        ("0.8", "1.01"),
        ("nan", "0.9"),
        ("0.8", "inf"),
    ],
)
def test_screening_thresholds_need_zero_below_review_below_block_up_to_one(review: str, block: str) -> None:
    with pytest.raises(SettingsError, match="screening thresholds"):
        Settings.from_env({"SCREENING_REVIEW_THRESHOLD": review, "SCREENING_BLOCK_THRESHOLD": block})


@pytest.mark.parametrize("name", ["SCREENING_REVIEW_THRESHOLD", "SCREENING_BLOCK_THRESHOLD"])
def test_screening_thresholds_must_be_numbers(name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: "high"})


def test_screening_thresholds_are_read() -> None:
    settings = Settings.from_env({"SCREENING_REVIEW_THRESHOLD": "0.7", "SCREENING_BLOCK_THRESHOLD": "1"})
    assert (settings.screening_review_threshold, settings.screening_block_threshold) == (0.7, 1.0)


def test_issuers_are_the_base_url_and_its_sandbox_path() -> None:
    settings = Settings.from_env({"GATEWAY_BASE_URL": "https://api.openplatform.example"})
    assert settings.issuer(PRODUCTION) == "https://api.openplatform.example"
    assert settings.issuer(SANDBOX) == "https://api.openplatform.example/sandbox"


def test_issuers_ignore_a_trailing_slash() -> None:
    settings = Settings.from_env({"GATEWAY_BASE_URL": "https://api.openplatform.example/"})
    assert settings.issuer(PRODUCTION) == "https://api.openplatform.example"
    assert settings.issuer(SANDBOX) == "https://api.openplatform.example/sandbox"


def test_the_base_url_follows_host_and_port() -> None:
    settings = Settings.from_env({"GATEWAY_HOST": "0.0.0.0", "GATEWAY_PORT": "9000"})
    assert (settings.host, settings.port) == ("0.0.0.0", 9000)
    assert settings.base_url == "http://0.0.0.0:9000"
    assert settings.issuer(SANDBOX) == "http://0.0.0.0:9000/sandbox"


@pytest.mark.parametrize(("value", "seeded"), [("1", True), ("0", False), ("yes", True)])
def test_demo_seeding_is_on_unless_switched_off(value: str, seeded: bool) -> None:
    assert Settings.from_env({"GATEWAY_SEED_DEMO": value}).seed_demo_data is seeded
