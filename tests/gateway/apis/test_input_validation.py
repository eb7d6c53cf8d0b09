"""Input at the edge: no mass assignment, money as plain decimal strings, strict types, bounded
bodies, and every error an RFC 9457 problem whose `type` resolves."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from litestar.testing import TestClient

from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.problems import PROBLEM_TYPES
from gateway.services import Platform
from gateway.storage.tables.compliance import ComplianceRecordRow
from tests.conftest import BASE_URL
from tests.support import database_of, register_app

SUITABILITY = "/v1/compliance/suitability-checks"
SCREENINGS = "/v1/compliance/screenings"
CUSTOMER = {"risk_level": "C3", "investor_class": "ordinary", "jurisdiction": "CN"}
PRODUCT = {"risk": "R3", "product_type": "fund"}
CHECK: dict[str, Any] = {"customer": CUSTOMER, "product": PRODUCT}
SCREENING: dict[str, Any] = {"name": "Li Wei", "country": "CN"}
MAX_BODY = 64 * 1024
records = ComplianceRecordRow.__table__


def stored_records(platform: Platform, partner_id: str) -> int:
    query = sa.select(sa.func.count()).select_from(records).where(records.c.partner_id == partner_id)
    with database_of(platform, Environment.PRODUCTION).read() as conn:
        return int(conn.execute(query).scalar_one())


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """An RFC 9457 problem with the members partners rely on."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail", "request_id"} <= problem.keys(), problem
    assert problem["type"] == f"{BASE_URL}/problems/{slug}"
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    assert problem["request_id"] == response.headers["x-request-id"]
    return problem


def invalid_fields(response: httpx.Response) -> set[str]:
    problem = assert_problem(response, 422, "validation-failed")
    return {error["field"] for error in problem["errors"]}


@pytest.mark.parametrize(
    ("path", "body", "fields"),
    [
        (SUITABILITY, CHECK, ("id", "decision", "partner_id", "status", "created_at", "risk_level")),
        (SCREENINGS, SCREENING, ("id", "decision", "partner_id", "status", "created_at", "hits")),
    ],
    ids=["suitability-check", "screening"],
)
def test_server_owned_fields_are_refused(
    client: TestClient[Any], platform: Platform, path: str, body: dict[str, Any], fields: tuple[str, ...]
) -> None:
    bank = register_app(platform)
    headers = bank.headers(client)
    value = {"partner_id": "prt_someone_else", "created_at": "2020-01-01T00:00:00Z", "risk_level": "C5"}

    named = {
        field: invalid_fields(client.post(path, json={**body, field: value.get(field, "x")}, headers=headers))
        for field in fields
    }

    assert named == {field: {field} for field in fields}
    assert stored_records(platform, bank.partner_id) == 0


def test_unknown_nested_fields_are_refused(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    headers = bank.headers(client)
    bodies = {
        "customer.status": {**CHECK, "customer": {**CUSTOMER, "status": "vip"}},
        "product.partner_id": {**CHECK, "product": {**PRODUCT, "partner_id": "prt_x"}},
        "amount.decision": {**CHECK, "amount": {"amount": "1.00", "currency": "CNY", "decision": "suitable"}},
    }

    named = {
        field: invalid_fields(client.post(SUITABILITY, json=body, headers=headers))
        for field, body in bodies.items()
    }

    assert named == {field: {field} for field in bodies}
    assert stored_records(platform, bank.partner_id) == 0


def test_money_is_a_plain_decimal_string(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    headers = bank.headers(client)
    refused: list[Any] = [
        10.5,
        1000,
        "NaN",
        "Infinity",
        "1e5",
        "-1.00",
        "1.001",
        "0001.00",
        "99999999999999.00",
        "",
        " 1.00",
    ]

    outcomes = {
        repr(amount): client.post(
            SUITABILITY, json={**CHECK, "amount": {"amount": amount, "currency": "CNY"}}, headers=headers
        )
        for amount in refused
    }

    assert {amount: invalid_fields(response) for amount, response in outcomes.items()} == {
        amount: {"amount.amount"} for amount in outcomes
    }
    assert stored_records(platform, bank.partner_id) == 0
    accepted = client.post(
        SUITABILITY, json={**CHECK, "amount": {"amount": "1000.00", "currency": "CNY"}}, headers=headers
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["amount"] == {"amount": "1000.00", "currency": "CNY"}
    assert stored_records(platform, bank.partner_id) == 1


def test_wrong_types_and_values_name_the_field(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    headers = bank.headers(client)
    cases: dict[str, tuple[str, dict[str, Any]]] = {
        "customer.risk_level": (SUITABILITY, {**CHECK, "customer": {**CUSTOMER, "risk_level": "C9"}}),
        "customer.islamic_account": (
            SUITABILITY,
            {**CHECK, "customer": {**CUSTOMER, "islamic_account": "yes"}},
        ),
        "product.product_type": (SUITABILITY, {**CHECK, "product": {**PRODUCT, "product_type": "tulip"}}),
        "amount.currency": (SUITABILITY, {**CHECK, "amount": {"amount": "1.00", "currency": "XXX"}}),
        "context": (SUITABILITY, {**CHECK, "context": 3}),
        "acknowledged": (SUITABILITY, {**CHECK, "acknowledged": "risk_disclosure"}),
        "customer.investor_class": (
            SUITABILITY,
            {**CHECK, "customer": {"risk_level": "C3", "jurisdiction": "CN"}},
        ),
        "birth_date": (SCREENINGS, {**SCREENING, "birth_date": "31/12/1980"}),
        "country": (SCREENINGS, {**SCREENING, "country": "china"}),
    }

    named = {
        field: invalid_fields(client.post(path, json=body, headers=headers))
        for field, (path, body) in cases.items()
    }

    assert named == {field: {field} for field in cases}
    assert stored_records(platform, bank.partner_id) == 0


def test_malformed_json_is_a_bad_request(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    headers = bank.headers(client) | {"Content-Type": "application/json"}

    for body in (b'{"customer": ', b"{'customer': 1}", b"\xff\xfe"):
        assert_problem(client.post(SUITABILITY, content=body, headers=headers), 400, "bad-request")
    assert stored_records(platform, bank.partner_id) == 0


def test_bodies_over_64_kib_are_refused(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform)
    headers = bank.headers(client) | {"Content-Type": "application/json"}
    oversized = b'{"reference": "' + b"a" * MAX_BODY + b'"}'

    for extra in ({}, {"Idempotency-Key": "big-1"}):
        refused = client.post(SUITABILITY, content=oversized, headers=headers | extra)
        assert_problem(refused, 413, "payload-too-large")
    assert stored_records(platform, bank.partner_id) == 0
    # The refused body never claimed its key: a proper request with it executes.
    executed = client.post(SUITABILITY, json=CHECK, headers=headers | {"Idempotency-Key": "big-1"})
    assert executed.status_code == 201, executed.text
    assert "idempotent-replayed" not in executed.headers


def test_errors_are_problems_whose_type_resolves(client: TestClient[Any], platform: Platform) -> None:
    bank = register_app(platform, scopes=(Scope.COMPLIANCE_SCREENING,))
    headers = bank.headers(client)
    problems = [
        assert_problem(client.get("/v1/no-such-thing"), 404, "not-found"),
        assert_problem(client.delete(SUITABILITY), 405, "method-not-allowed"),
        assert_problem(client.put("/livez"), 405, "method-not-allowed"),
        assert_problem(client.get("/v1/market/instruments"), 401, "unauthorized"),
        assert_problem(client.get("/v1/market/instruments", headers=headers), 403, "forbidden"),
        assert_problem(client.get("/problems/no-such-problem"), 404, "not-found"),
    ]

    for problem in problems:
        slug = problem["type"].removeprefix(f"{BASE_URL}/problems/")
        documented = client.get(f"/problems/{slug}")
        assert documented.status_code == 200, documented.text
        assert documented.json() == {"slug": slug, **_documented(slug)}
    for slug in PROBLEM_TYPES:  # every type the gateway can emit is documented
        assert client.get(f"/problems/{slug}").status_code == 200


def _documented(slug: str) -> dict[str, Any]:
    kind = PROBLEM_TYPES[slug]
    return {"status": kind.status, "title": kind.title, "description": kind.description}


def test_json_numbers_are_not_booleans_and_strings_are_not_numbers(
    client: TestClient[Any], platform: Platform
) -> None:
    bank = register_app(platform)
    headers = bank.headers(client)
    lenient = {
        "product.shariah_compliant": {**CHECK, "product": {**PRODUCT, "shariah_compliant": 0}},
        "customer.islamic_account": {**CHECK, "customer": {**CUSTOMER, "islamic_account": "true"}},
    }
    named = {
        field: invalid_fields(client.post(SUITABILITY, json=body, headers=headers))
        for field, body in lenient.items()
    }
    assert named == {field: {field} for field in lenient}
    assert stored_records(platform, bank.partner_id) == 0


def test_options_lists_every_method_of_the_path(client: TestClient[Any]) -> None:
    response = client.options("/admin/partners")
    assert response.status_code == 204
    assert set(response.headers["allow"].split(", ")) == {"GET", "POST", "OPTIONS"}
