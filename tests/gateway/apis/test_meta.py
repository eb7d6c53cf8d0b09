from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from gateway.services import Platform
from tests.support import register_app


def test_liveness_and_request_id(client: TestClient[Any]) -> None:
    response = client.get("/livez", headers={"X-Request-Id": "abc-123"})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"] == "abc-123"
    generated = client.get("/livez", headers={"X-Request-Id": "bad id with spaces"})
    assert generated.headers["x-request-id"].startswith("req_")


def test_partner_gets_a_token_and_a_suitability_decision(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    body = {
        "customer": {"risk_level": "C2", "investor_class": "ordinary", "jurisdiction": "CN"},
        "product": {"risk": "R4", "product_type": "stock"},
    }
    response = client.post("/v1/compliance/suitability-checks", json=body, headers=bank.headers(client))
    assert response.status_code == 201, response.text
    check = response.json()
    assert check["decision"] == "unsuitable"
    assert [r["code"] for r in check["reasons"]] == ["risk_two_or_more_levels_above"]
    again = client.get(f"/v1/compliance/suitability-checks/{check['id']}", headers=bank.headers(client))
    assert again.json() == check
