"""Quotes and NAV history from the deterministic price feed, as of the injected clock."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from litestar.testing import TestClient

from gateway.services import Platform
from sandbox.clock import FrozenClock
from tests.support import register_app
from tests.trading import CN_EQUITY_FUND, CN_MORNING, CN_STOCK, US_STOCK


def test_a_quote_says_the_price_and_whether_the_market_is_open(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    clock.set(CN_MORNING)
    headers = register_app(platform).headers(client)
    cn = client.get(f"/v1/market/instruments/{CN_STOCK}/quote", headers=headers).json()
    assert cn["market_open"] is True
    assert Decimal(cn["price"]) == platform.prices.reference_price(
        platform.catalogue.get(CN_STOCK), CN_MORNING
    )
    us = client.get(f"/v1/market/instruments/{US_STOCK}/quote", headers=headers).json()
    assert us["market_open"] is False
    assert us["next_open"] == "2026-11-23T14:30:00Z"  # 09:30 in New York
    assert client.get("/v1/market/instruments/ins_0000000000/quote", headers=headers).status_code == 404


def test_nav_history_covers_published_dealing_days_only(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    clock.set(CN_MORNING)  # Monday 10:00 in Shanghai: Monday's NAV is not out yet
    headers = register_app(platform).headers(client)
    response = client.get(
        f"/v1/funds/{CN_EQUITY_FUND}/nav-history", params={"from": "2026-11-16"}, headers=headers
    )
    assert response.status_code == 200, response.text
    days = [point["dealing_day"] for point in response.json()["data"]]
    assert days == ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"]
    fund = platform.catalogue.get(CN_EQUITY_FUND)
    assert response.json()["data"][-1]["nav"] == str(platform.prices.nav(fund, date(2026, 11, 20)))
    for params in ({"from": "2026-11-20", "to": "2026-11-10"}, {"from": "2025-01-01", "to": "2026-11-20"}):
        refused = client.get(f"/v1/funds/{CN_EQUITY_FUND}/nav-history", params=params, headers=headers)
        assert refused.status_code == 422
        assert refused.json()["context"]["field"] == "from"
    assert client.get(f"/v1/funds/{CN_STOCK}/nav-history", headers=headers).status_code == 404
