"""The baseline: every other scenario is reported as a share of its rate."""

from __future__ import annotations

from bench.harness.load import Scenario
from bench.stage import BenchApp


def scenario(app: BenchApp) -> Scenario:
    return Scenario("bare /livez", "GET", "/livez", "Litestar JSON endpoint, no auth: the baseline")
