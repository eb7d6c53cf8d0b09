"""One real server per backend for the whole session: starting a pair costs ~30 s, so every e2e
module shares it and isolates its tests by partner, customer or consent instead."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import require_redis
from tests.e2e.servers import BACKENDS, Launch, RealServer


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RealServer]]:
    """Both backends' servers, started side by side: starting is mostly imports, CPU-bound and serial."""
    require_redis()
    launches = [Launch(backend, tmp_path_factory.mktemp(f"e2e-{backend}")) for backend in BACKENDS]
    try:
        with ThreadPoolExecutor(len(launches)) as pool:
            started = list(pool.map(Launch.start, launches))
        yield dict(zip(BACKENDS, started, strict=True))
    finally:
        for launch in launches:
            launch.stop()


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest, servers: dict[str, RealServer]) -> RealServer:
    return servers[request.param]
