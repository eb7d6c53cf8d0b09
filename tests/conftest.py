"""Fixtures: every app-level test runs on SQLite and on PostgreSQL; missing services fail loudly."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from litestar.testing import TestClient

from gateway.app import create_app
from gateway.demo import seed_personas
from gateway.domain.environment import Environment
from gateway.services import Platform
from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.storage.migrate import prepare
from sandbox.clock import FrozenClock
from tests.support import dpop_capable

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
BASE_URL = "http://127.0.0.1:8000"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class SharedApp:
    """An app and its client shared by the tests of one backend, handed out fresh to each test."""

    def __init__(self, app: Any, client: TestClient[Any]) -> None:
        self.app = app
        self.client = client

    @contextmanager
    def fresh(self) -> Iterator[None]:
        """No cookies, hooks or rate-limit counts of an earlier test; the test's own undone after it."""
        platform: Platform = self.app.state.platform
        self.client.cookies.clear()
        hooks = {name: list(items) for name, items in self.client.event_hooks.items()}
        headers = self.client.headers.copy()
        self.client.blocking_portal.call(
            platform.quotas.storage.reset
        )  # one limits storage: rate limits and quotas
        try:
            yield
        finally:
            self.client.event_hooks = hooks
            self.client.headers = headers
            self.client.cookies.clear()


def require_postgres() -> None:
    try:
        engine = sa.create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:  # the failure must be loud: a silent skip would hide half the suite
        pytest.fail(f"PostgreSQL is required at {POSTGRES_URL} and is not reachable: {exc}", pytrace=False)


def require_redis() -> None:
    try:
        client = redis.Redis.from_url(REDIS_URL)
        client.ping()
        client.close()
    except Exception as exc:
        pytest.fail(f"Redis is required at {REDIS_URL} and is not reachable: {exc}", pytrace=False)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """One migrated pair of databases per backend for the whole run; tests isolate by partner."""
    var_dir = tmp_path_factory.mktemp(f"var-{request.param}")
    if request.param == "postgresql":
        require_postgres()
        prefix = f"t{secrets.token_hex(4)}_"
        settings = Settings(
            base_url=BASE_URL,
            var_dir=var_dir,
            database_url=POSTGRES_URL,
            database_schema_prefix=prefix,
            background_jobs=False,  # in-process apps: tests run the jobs by hand
        )
    else:
        settings = Settings(base_url=BASE_URL, var_dir=var_dir, background_jobs=False)
    prepare(settings)
    sandbox = Database(settings.database(Environment.SANDBOX))
    seed_personas(sandbox, FrozenClock(_now()))  # the published personas, as `gateway seed` makes them
    sandbox.dispose()
    yield settings
    databases = [Database(settings.database(env)) for env in Environment]
    for database in databases:
        if database.target.schema:
            with database.engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{database.target.schema}" CASCADE'))
        database.dispose()


@pytest.fixture(scope="session")
def session_clock() -> FrozenClock:
    return FrozenClock(_now())


@pytest.fixture
def clock(session_clock: FrozenClock) -> FrozenClock:
    """The test's clock, reset to the present: the clock of the shared app too."""
    session_clock.set(_now())
    return session_clock


@pytest.fixture(scope="session")
def shared_app(backend_settings: Settings, session_clock: FrozenClock) -> Iterator[SharedApp]:
    """One app per backend for every test that needs no settings of its own (building an app
    costs a Litestar registration of every route, the bulk of an app-level test's time)."""
    settings = backend_settings.with_changes(namespace=f"t{secrets.token_hex(4)}")
    application = create_app(settings, clock=session_clock)
    with TestClient(app=application, base_url=BASE_URL) as test_client:
        dpop_capable(test_client)
        yield SharedApp(application, test_client)


@pytest.fixture
def settings(shared_app: SharedApp) -> Settings:
    """The shared app's settings; a test that needs other settings overrides this fixture."""
    result: Settings = shared_app.app.state.settings
    return result


@pytest.fixture
def app(settings: Settings, clock: FrozenClock, request: pytest.FixtureRequest) -> Iterator[Any]:
    shared: SharedApp = request.getfixturevalue("shared_app")
    if settings is shared.app.state.settings and clock is shared.app.state.platform.clock:
        yield shared.app
        return
    application = create_app(settings.with_changes(namespace=f"t{secrets.token_hex(4)}"), clock=clock)
    yield application
    # Tests that never start the app's lifespan must not leak its database connections either.
    for services in application.state.platform.environments.values():
        services.database.dispose()


@pytest.fixture
def client(app: Any, request: pytest.FixtureRequest) -> Iterator[TestClient[Any]]:
    shared: SharedApp = request.getfixturevalue("shared_app")
    if app is shared.app:
        with shared.fresh():
            yield shared.client
        return
    with TestClient(app=app, base_url=BASE_URL) as test_client:
        dpop_capable(test_client)
        yield test_client


@pytest.fixture
def platform(app: Any) -> Platform:
    result: Platform = app.state.platform
    return result


@pytest.fixture
def var_dir(settings: Settings) -> Path:
    return settings.var_dir


@pytest.fixture
def two_workers(settings: Settings, clock: FrozenClock) -> Iterator[tuple[TestClient[Any], TestClient[Any]]]:
    """Two app instances (as two worker processes would be) sharing Redis and the databases."""
    require_redis()
    shared = settings.with_changes(redis_url=REDIS_URL, namespace=f"t{secrets.token_hex(4)}")
    apps = [create_app(shared, clock=clock), create_app(shared, clock=clock)]
    try:
        with (
            TestClient(app=apps[0], base_url=BASE_URL) as first,
            TestClient(app=apps[1], base_url=BASE_URL) as second,
        ):
            for worker in (first, second):
                dpop_capable(worker)
            yield first, second
    finally:
        for application in apps:
            for services in application.state.platform.environments.values():
                services.database.dispose()
