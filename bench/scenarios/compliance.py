"""A suitability check: a validated body, the rulebook and a durable, audited record."""

from __future__ import annotations

import json
from typing import Final

from bench.harness.load import Scenario
from bench.stage import BenchApp

SUITABILITY_BODY: Final = {
    "customer": {"risk_level": "C3", "investor_class": "ordinary", "jurisdiction": "CN"},
    "product": {"risk": "R3", "product_type": "fund"},
}


def scenario(app: BenchApp) -> Scenario:
    return Scenario(
        "suitability check",
        "POST",
        f"{app.prefix}/v1/compliance/suitability-checks",
        "auth + rate limit + rulebook + durable record + audit append (SQLite)",
        headers=(("Authorization", f"Bearer {app.token}"), ("Content-Type", "application/json")),
        body=json.dumps(SUITABILITY_BODY).encode(),
    )
