"""Every bench scenario, a moment each against one single-worker gateway: the bench cannot rot.

Counts and status codes only; a benchmark's timings are never asserted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pytest

from bench.harness.load import PythonDriver
from bench.harness.results import report, write
from bench.run import run_scenarios, scenarios
from bench.stage import Stage, stage
from tests.conftest import REDIS_URL, require_redis

pytestmark = pytest.mark.slow

SECONDS: Final = 0.3
CONNECTIONS: Final = 2
ASSERTIONS: Final = 20  # token issuance stops at the last one: a bounded number of tokens
# What each scenario answers when the gateway works; a new scenario needs its line here.
STATUSES: Final = {
    "bare /livez": 200,
    "authenticated read": 200,
    "suitability check": 201,
    "token issuance": 200,
}


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    require_redis()
    with stage(tmp_path_factory.mktemp("bench"), redis_url=REDIS_URL, workers=1) as started:
        yield started


def test_every_scenario_has_an_expected_status(bench: Stage) -> None:
    assert [scenario.name for scenario in scenarios(bench.app)] == list(STATUSES)


@pytest.mark.parametrize("name", STATUSES)
def test_scenario_completes_requests_with_its_status(bench: Stage, name: str) -> None:
    scenario = next(s for s in scenarios(bench.app) if s.name == name)
    assertions = bench.app.assertions(ASSERTIONS) if scenario.single_use else None
    driver = PythonDriver(bench.server.host, bench.server.port)
    sample = driver.run(scenario, SECONDS, CONNECTIONS, assertions)
    assert sample.broken == 0
    assert sample.statuses.total() > 0
    assert sample.statuses == {STATUSES[name]: len(sample.latencies)}
    if scenario.single_use:
        assert sample.statuses.total() <= ASSERTIONS  # each assertion sent once, never replayed


def test_a_run_writes_every_scenario_to_its_results(bench: Stage, tmp_path: Path) -> None:
    driver = PythonDriver(bench.server.host, bench.server.port)
    measured = run_scenarios(driver, bench.app, duration=1, warmup=0, connections=CONNECTIONS)
    summary = report(
        started_at=datetime.now(UTC),
        workers=1,
        driver=driver.name,
        connections=CONNECTIONS,
        duration=1,
        warmup=0,
        load_average_before=0.0,
        results=measured,
    )
    path = write(summary, measured, tmp_path)
    written = json.loads(path.read_text())
    assert [(s["scenario"], s["errors"]) for s in written["scenarios"]] == [(n, 0) for n in STATUSES]
    assert all(s["requests"] > 0 for s in written["scenarios"])
    latest = (tmp_path / "latest.md").read_text()
    assert all(f"| {name} |" in latest for name in STATUSES)
