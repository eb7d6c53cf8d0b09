"""Frozen settings read from the environment, with embedded defaults that run on a laptop."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from gateway.domain.environment import Environment


class SettingsError(ValueError):
    """The configuration is unsafe or inconsistent; the gateway refuses to start with it."""


@dataclass(frozen=True, slots=True)
class DatabaseTarget:
    """One environment's database: a URL and, on PostgreSQL, the schema that holds its tables."""

    url: str
    schema: str | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        return Path(self.url.split("///", 1)[1])

    def describe(self) -> str:
        """Name the target without credentials (for logs and errors)."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        where = f"{parts.scheme}://{host}{parts.path}" if host else self.url
        return f"{where} schema={self.schema}" if self.schema else where


@dataclass(frozen=True, slots=True)
class Settings:
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    var_dir: Path = Path("var")
    database_url: str | None = None
    sandbox_database_url: str | None = None
    database_schema_prefix: str = "gateway_"
    redis_url: str | None = None
    namespace: str = "gw"
    access_token_ttl_seconds: int = 600
    client_assertion_max_age_seconds: int = 300
    max_body_bytes: int = 64 * 1024
    idempotency_retention_hours: int = 24
    screening_review_threshold: float = 0.82
    screening_block_threshold: float = 0.95
    seed_demo_data: bool = True
    dpop_nonce_required: bool = False  # RFC 9449 §8: DPOP_NONCE_REQUIRED=1 makes every proof carry one
    # Never read from the environment: only code (the schema fuzzing test) may relax it.
    production_requires_dpop: bool = True
    # A request that claimed an Idempotency-Key and then vanished (its worker was killed) holds the
    # key this long; after it a retry runs again, and the operation's own dedup keeps it exactly once.
    idempotency_lease_seconds: int = 30
    # Test hook (tests/e2e): the worker SIGKILLs itself at these named points, e.g. "order_committed".
    crash_at: frozenset[str] = frozenset()
    # Never read from the environment: in-process test apps live for a second and run the jobs by
    # hand; a job started by each of them would race the test's own assertions on shared databases.
    background_jobs: bool = True
    # Usage metering (ADR 0012): each worker adds its buffered counts to the database this often.
    usage_flush_seconds: int = 5
    # Webhooks (ADR 0010): the server delivers them itself unless a separate `gateway worker` does
    # (WEBHOOKS_EMBEDDED=0); environments whose endpoints may be http and loopback (local receivers).
    webhooks_embedded: bool = True
    webhook_max_attempts: int = 8
    webhook_timeout_seconds: int = 5
    webhook_loopback_environments: frozenset[str] = frozenset({"sandbox"})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()

        def text(name: str, default: str) -> str:
            return env.get(name, default)

        def optional(name: str) -> str | None:
            return env.get(name) or None

        def number(name: str, default: int) -> int:
            raw = env.get(name)
            if raw is None:
                return default
            try:
                return int(raw)
            except ValueError as exc:
                raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc

        def ratio(name: str, default: float) -> float:
            raw = env.get(name)
            if raw is None:
                return default
            try:
                return float(raw)
            except ValueError as exc:
                raise SettingsError(f"{name} must be a number, got {raw!r}") from exc

        port = number("GATEWAY_PORT", defaults.port)
        host = text("GATEWAY_HOST", defaults.host)
        settings = cls(
            base_url=text("GATEWAY_BASE_URL", f"http://{host}:{port}"),
            host=host,
            port=port,
            workers=number("GATEWAY_WORKERS", defaults.workers),
            var_dir=Path(text("GATEWAY_VAR_DIR", str(defaults.var_dir))),
            database_url=optional("DATABASE_URL"),
            sandbox_database_url=optional("SANDBOX_DATABASE_URL"),
            database_schema_prefix=text("DATABASE_SCHEMA_PREFIX", defaults.database_schema_prefix),
            redis_url=optional("REDIS_URL"),
            namespace=text("GATEWAY_NAMESPACE", defaults.namespace),
            access_token_ttl_seconds=number("ACCESS_TOKEN_TTL_SECONDS", defaults.access_token_ttl_seconds),
            screening_review_threshold=ratio(
                "SCREENING_REVIEW_THRESHOLD", defaults.screening_review_threshold
            ),
            screening_block_threshold=ratio("SCREENING_BLOCK_THRESHOLD", defaults.screening_block_threshold),
            seed_demo_data=text("GATEWAY_SEED_DEMO", "1") != "0",
            dpop_nonce_required=text("DPOP_NONCE_REQUIRED", "0") == "1",
            idempotency_lease_seconds=number("IDEMPOTENCY_LEASE_SECONDS", defaults.idempotency_lease_seconds),
            crash_at=frozenset(p for p in text("GATEWAY_CRASH_AT", "").split(",") if p),
            usage_flush_seconds=number("USAGE_FLUSH_SECONDS", defaults.usage_flush_seconds),
            webhooks_embedded=text("WEBHOOKS_EMBEDDED", "1") != "0",
            webhook_max_attempts=number("WEBHOOK_MAX_ATTEMPTS", defaults.webhook_max_attempts),
            webhook_timeout_seconds=number("WEBHOOK_TIMEOUT_SECONDS", defaults.webhook_timeout_seconds),
            webhook_loopback_environments=frozenset(
                e for e in text("WEBHOOK_LOOPBACK_ENVIRONMENTS", "sandbox").split(",") if e
            ),
        )
        settings.validate()
        return settings

    def with_changes(self, **changes: object) -> Settings:
        updated = replace(self, **changes)  # type: ignore[arg-type]
        updated.validate()
        return updated

    def validate(self) -> None:
        """Refuse configurations that would be unsafe in a financial gateway."""
        if not 300 <= self.access_token_ttl_seconds <= 900:
            # Short-lived access tokens (5-15 min); never authlib's ten-day default.
            raise SettingsError("ACCESS_TOKEN_TTL_SECONDS must be between 300 and 900")
        if not 1 <= self.idempotency_lease_seconds <= 300:
            raise SettingsError("IDEMPOTENCY_LEASE_SECONDS must be between 1 and 300")
        if self.workers < 1:
            raise SettingsError("GATEWAY_WORKERS must be at least 1")
        if not 1 <= self.usage_flush_seconds <= 300:
            raise SettingsError("USAGE_FLUSH_SECONDS must be between 1 and 300")
        if not 1 <= self.webhook_max_attempts <= 20:
            raise SettingsError("WEBHOOK_MAX_ATTEMPTS must be between 1 and 20")
        if not 1 <= self.webhook_timeout_seconds <= 30:
            raise SettingsError("WEBHOOK_TIMEOUT_SECONDS must be between 1 and 30")
        if not self.webhook_loopback_environments <= {e.value for e in Environment}:
            raise SettingsError("WEBHOOK_LOOPBACK_ENVIRONMENTS names only sandbox and production")
        if self.workers > 1 and self.redis_url is None:
            raise SettingsError(
                "in-memory rate limits and replay caches are per process: set REDIS_URL "
                "when GATEWAY_WORKERS is more than 1"
            )
        if not 0 < self.screening_review_threshold < self.screening_block_threshold <= 1:
            raise SettingsError("screening thresholds need 0 < review < block <= 1")

    def database(self, environment: Environment) -> DatabaseTarget:
        """Each environment has its own database: a SQLite file, or a PostgreSQL schema."""
        if environment is Environment.SANDBOX and self.sandbox_database_url:
            return _target(self.sandbox_database_url, self.database_schema_prefix + environment.value)
        if self.database_url:
            return _target(self.database_url, self.database_schema_prefix + environment.value)
        return DatabaseTarget(f"sqlite:///{self.var_dir / (environment.value + '.db')}")

    def issuer(self, environment: Environment) -> str:
        return environment.issuer(self.base_url)

    @property
    def keys_dir(self) -> Path:
        return self.var_dir / "keys"

    @property
    def demo_dir(self) -> Path:
        return self.var_dir / "demo"


def _target(url: str, schema: str) -> DatabaseTarget:
    if url.startswith("sqlite"):
        return DatabaseTarget(url)
    return DatabaseTarget(url, schema)
