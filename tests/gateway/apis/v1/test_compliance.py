from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from gateway.domain.scopes import Scope
from gateway.services import Platform
from tests.support import register_app


def test_paging_the_catalogue_visits_every_instrument_once(
    client: TestClient[Any], platform: Platform
) -> None:
    headers = register_app(platform).headers(client)
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(20):  # bounded: 50 instruments at 7 a page
        params: dict[str, Any] = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/market/instruments", params=params, headers=headers).json()
        seen += [item["id"] for item in page["data"]]
        cursor = page["next_cursor"]
        assert page["has_more"] == (cursor is not None)
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == len(platform.catalogue)
    assert seen == sorted(seen)


def test_filters_and_funds(client: TestClient[Any], platform: Platform) -> None:
    headers = register_app(platform).headers(client)
    hk = client.get("/v1/market/instruments", params={"market": "HK", "limit": 100}, headers=headers).json()
    assert hk["data"]
    assert {i["market"] for i in hk["data"]} == {"HK"}
    low = client.get("/v1/market/instruments", params={"max_risk": 2, "limit": 100}, headers=headers).json()
    assert low["data"]
    assert all(i["risk"] in ("R1", "R2") for i in low["data"])
    funds = client.get("/v1/funds", params={"limit": 100}, headers=headers).json()["data"]
    assert funds
    assert all(f["type"] == "fund" and f["fund"]["minimum_subscription"] for f in funds)
    money_market = [f for f in funds if f["fund"]["money_market"]]
    assert money_market
    assert all(f["fund"]["minimum_subscription"] == "1.00" for f in money_market)
    one = client.get(f"/v1/market/instruments/{funds[0]['id']}", headers=headers)
    assert one.status_code == 200
    assert one.json() == funds[0]


def test_bad_catalogue_queries_are_problems(client: TestClient[Any], platform: Platform) -> None:
    headers = register_app(platform).headers(client)
    bad_cursor = client.get("/v1/market/instruments", params={"cursor": "not-a-cursor"}, headers=headers)
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["context"]["field"] == "cursor"
    zero = client.get("/v1/market/instruments", params={"limit": 0}, headers=headers)
    assert zero.status_code == 422
    assert [e["field"] for e in zero.json()["errors"]] == ["limit"]
    assert zero.headers["content-type"].startswith("application/problem+json")
    missing = client.get("/v1/market/instruments/ins_doesnotexist", headers=headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_funds_need_their_own_scope(client: TestClient[Any], platform: Platform) -> None:
    market_only = register_app(platform, scopes=(Scope.MARKET_READ,))
    refused = client.get("/v1/funds", headers=market_only.headers(client))
    assert refused.status_code == 403
    assert "insufficient_scope" in refused.headers["www-authenticate"]


def test_acknowledging_the_disclosure_makes_a_one_level_uplift_suitable(
    client: TestClient[Any], platform: Platform
) -> None:
    headers = register_app(platform).headers(client)
    body: dict[str, Any] = {
        "customer": {"risk_level": "C3", "investor_class": "ordinary", "jurisdiction": "CN"},
        "product": {"risk": "R4", "product_type": "stock"},
    }
    first = client.post("/v1/compliance/suitability-checks", json=body, headers=headers).json()
    assert first["decision"] == "requires_acknowledgement"
    codes = [d["code"] for d in first["required_acknowledgements"]]
    assert codes == ["risk_mismatch_disclosure"]
    second = client.post(
        "/v1/compliance/suitability-checks", json={**body, "acknowledged": codes}, headers=headers
    ).json()
    assert second["decision"] == "suitable"
    assert second["required_acknowledgements"] == []


def test_screening_decisions_through_the_api(client: TestClient[Any], platform: Platform) -> None:
    headers = register_app(platform).headers(client)

    def screen(**subject: Any) -> dict[str, Any]:
        response = client.post("/v1/compliance/screenings", json=subject, headers=headers)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    assert screen(name="Weiguo Chen")["decision"] == "block"
    assert screen(name="陈伟国")["hits"][0]["primary_name"] == "Chen Weiguo"
    assert screen(name="jose muller oberg")["decision"] == "block"
    clear = screen(name="Emily Thompson")
    assert clear["decision"] == "clear"
    assert clear["hits"] == []
    too_short = client.post("/v1/compliance/screenings", json={"name": "."}, headers=headers)
    assert too_short.status_code == 422
    assert too_short.json()["context"]["field"] == "name"
