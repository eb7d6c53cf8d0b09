"""What every scenario runs against: a fresh gateway and a bench partner with a sandbox app."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from openplatform import Client, ClientAssertionSigner

from bench.harness.load import REQUEST_TIMEOUT
from bench.harness.server import GatewayServer, forget_redis_keys, loopback_env, run_gateway, serve
from gateway.demo import new_private_jwk, public_part
from gateway.domain.clock import SystemClock
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.storage.partners import SqlRegistryStore
from partners.models import PartnerType
from partners.service import Registry

ASSERTION_LIFETIME: Final = 240  # the gateway accepts at most 300 s


@dataclass(frozen=True, slots=True)
class BenchApp:
    """A sandbox app: its tokens are bearer tokens, so one header serves every read and one
    assertion every token request (a production token is DPoP-bound: a fresh proof per request)."""

    client_id: str
    private_jwk: dict[str, Any]
    base_url: str
    issuer: str
    token: str  # the setup token, from the SDK's client

    @property
    def prefix(self) -> str:
        return Environment.SANDBOX.path_prefix

    def assertions(self, count: int) -> list[str]:
        """Signed up front by the SDK's signer, each with its own jti."""
        signer = ClientAssertionSigner(self.client_id, self.private_jwk, self.issuer, time.time)
        return [signer.sign(lifetime=ASSERTION_LIFETIME) for _ in range(count)]


@dataclass(frozen=True, slots=True)
class Stage:
    server: GatewayServer
    app: BenchApp


@contextmanager
def stage(var_dir: Path, *, redis_url: str, workers: int) -> Iterator[Stage]:
    """Migrate, seed and serve in `var_dir` under a fresh namespace; stopped and its Redis keys gone."""
    env = loopback_env(var_dir, namespace=f"bench{secrets.token_hex(4)}", redis_url=redis_url)
    run_gateway("migrate", env=env)
    run_gateway("seed", env=env)
    server = serve(env, workers=workers, log=var_dir / "server.log")
    try:
        yield Stage(server, register_bench_app(server.settings))
    finally:
        server.stop()
        forget_redis_keys(redis_url, server.settings.namespace)


def register_bench_app(settings: Settings) -> BenchApp:
    """A partner on the enterprise plan (5000/second): far above what two workers serve here."""
    database = Database(settings.database(Environment.PRODUCTION))
    try:
        registry = Registry(SqlRegistryStore(database), SystemClock())
        partner = registry.create_partner(
            name=f"Bench partner {secrets.token_hex(4)}", type=PartnerType.INSTITUTION, region="CN"
        )
        private = new_private_jwk()
        app = registry.create_app(
            partner_id=partner.id,
            name="bench",
            environment=Environment.SANDBOX,
            jwks={"keys": [public_part(private)]},
            scopes=[Scope.MARKET_READ.value, Scope.COMPLIANCE_SUITABILITY.value],
            plan_id="enterprise",
        )
    finally:
        database.dispose()
    with Client(
        app.client_id,
        private,
        base_url=settings.base_url,
        use_dpop=False,
        timeout=REQUEST_TIMEOUT,
        max_retries=0,
    ) as client:
        token = client.access_token()
    return BenchApp(app.client_id, private, settings.base_url, settings.issuer(Environment.SANDBOX), token)
