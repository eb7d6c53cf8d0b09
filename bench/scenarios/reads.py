"""An authenticated read: the hot path of every partner call."""

from __future__ import annotations

from bench.harness.load import Scenario
from bench.stage import BenchApp


def scenario(app: BenchApp) -> Scenario:
    return Scenario(
        "authenticated read",
        "GET",
        f"{app.prefix}/v1/market/instruments?limit=20",
        "JWT (cached) + client cache + Redis rate limit + 20-instrument page",
        budget=">= 50% of bare",
        min_ratio=0.5,
        headers=(("Authorization", f"Bearer {app.token}"),),
    )
