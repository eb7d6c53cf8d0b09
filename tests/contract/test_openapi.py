"""The published contract: `openapi/v1.json` is what the app serves, valid, and complete for SDKs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from litestar.testing import TestClient
from openapi_spec_validator import validate

from gateway.apis.params import CURSOR_RULE
from gateway.apis.schemas import SCHEMA_RULE
from gateway.app import create_app
from gateway.cli import main
from gateway.domain.environment import Environment
from gateway.edge.access import SECURITY_SCHEME, access_of
from gateway.problems import PROBLEM_TYPES
from gateway.settings import Settings
from gateway.storage.migrate import prepare
from openapi.spec import LINKS, SPEC_FILE, OperationLink, committed

SPEC_BASE_URL: Final = "https://api.openplatform.example"  # what `gateway openapi` renders with
SERVED_BASE_URL: Final = "http://127.0.0.1:8000"
HTTP_METHODS: Final = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})
PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
PROBLEM_STATUSES: Final = ("400", "401", "403", "422", "429")
PUBLIC_OPERATIONS: Final = frozenset(
    {
        "getLiveness",
        "getProblemType",
        "issueToken",
        "introspectToken",
        "revokeToken",
        "pushAuthorizationRequest",
        "getJwks",
        "getAuthorizationServerMetadata",
    }
)
# Nested request structs that must be reached (and closed) through the top-level bodies.
NESTED_REQUEST_SCHEMAS: Final = frozenset({"MoneyIn", "CustomerIn", "ProductIn", "JwksIn", "PublicJwk"})
# Schema-valid requests that a positive-data schemathesis run (every phase, seed 20261121) saw
# answered with a 422, and the problem type they got.
RULES_MET_BY_THE_FUZZER: Final = {
    "listConsents": "rule-violation",  # an opaque cursor the API never issued, such as `0`
    "listFunds": "rule-violation",
    "listInstruments": "rule-violation",
    "listWebhookSubscriptions": "rule-violation",
    "listWebhookDeliveries": "rule-violation",
    "adminListAlerts": "rule-violation",
    "adminListRestrictions": "rule-violation",
    "createConsent": "rule-violation",  # a permission the app does not hold
    "createScreening": "rule-violation",  # a name without two letters
    "createWebhookSubscription": "unsafe-webhook-url",  # an http:// endpoint
    "addAppKey": "rule-violation",  # a key type or size the platform does not accept
    "getUsage": "rule-violation",  # `from` after `to`, or more than 366 days
    "adminGetUsage": "rule-violation",
}
# Variables that would point `gateway openapi` at shared infrastructure instead of the tmp dir.
ENVIRONMENT_VARIABLES: Final = (
    "DATABASE_URL",
    "SANDBOX_DATABASE_URL",
    "REDIS_URL",
    "GATEWAY_WORKERS",
    "GATEWAY_BASE_URL",
)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return committed()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    var_dir = tmp_path / "var"
    monkeypatch.setenv("GATEWAY_VAR_DIR", str(var_dir))
    return tmp_path


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """Follow a local `$ref` (as many times as needed); return the component name, if any."""
    name: str | None = None
    while "$ref" in schema:
        ref: str = schema["$ref"]
        assert ref.startswith("#/components/schemas/"), ref
        name = ref.rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return name, schema


def open_objects(spec: dict[str, Any], schema: dict[str, Any], where: str, seen: set[str]) -> Iterator[str]:
    """Every object schema reachable from `schema` that accepts unknown members; `seen` collects names."""
    name, schema = resolve(spec, schema)
    if name is not None:
        if name in seen:
            return
        seen.add(name)
        where = name
    is_object = schema.get("type") == "object" or "properties" in schema
    if is_object and schema.get("additionalProperties") is not False:
        yield where
    for key, child in schema.get("properties", {}).items():
        yield from open_objects(spec, child, f"{where}.{key}", seen)
    for keyword in ("oneOf", "anyOf", "allOf"):
        for index, child in enumerate(schema.get(keyword, [])):
            yield from open_objects(spec, child, f"{where}/{keyword}[{index}]", seen)
    for keyword in ("items", "additionalProperties"):
        child = schema.get(keyword)
        if isinstance(child, dict):
            yield from open_objects(spec, child, f"{where}[]", seen)


def partner_operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [op for op in operations(spec) if op[0].startswith(("/v1/", "/admin/"))]


# (a) drift


def test_committed_spec_matches_the_app(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["openapi", "--check"]) == 0, capsys.readouterr().err
    assert "matches the app" in capsys.readouterr().out


def test_a_tampered_spec_is_detected(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = cli_env / "v1.json"
    copy.write_text(SPEC_FILE.read_text())
    assert main(["openapi", "--check", "--output", str(copy)]) == 0
    document = json.loads(copy.read_text())
    document["paths"]["/v1/funds"]["get"]["summary"] = "tampered"
    copy.write_text(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    capsys.readouterr()
    assert main(["openapi", "--check", "--output", str(copy)]) == 1
    assert "differs from the app" in capsys.readouterr().err


def test_a_missing_spec_is_detected(cli_env: Path) -> None:
    assert main(["openapi", "--check", "--output", str(cli_env / "absent.json")]) == 1


def test_the_served_spec_is_the_committed_one_at_another_base_url(
    spec: dict[str, Any], tmp_path: Path
) -> None:
    settings = Settings(base_url=SERVED_BASE_URL, var_dir=tmp_path)
    prepare(settings)
    with TestClient(app=create_app(settings), base_url=SERVED_BASE_URL) as client:
        response = client.get("/docs/openapi.json")
    assert response.status_code == 200
    expected = json.loads(json.dumps(spec).replace(SPEC_BASE_URL, SERVED_BASE_URL))
    assert response.json() == expected


# (b) validity


def test_committed_spec_is_valid_openapi(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1")
    validate(spec)


# (c) problem responses and closed request bodies


def test_partner_and_staff_operations_exist(spec: dict[str, Any]) -> None:
    paths = {path for path, _, _ in partner_operations(spec)}
    assert any(path.startswith("/v1/") for path in paths)
    assert any(path.startswith("/admin/") for path in paths)


def test_every_operation_declares_problem_responses(spec: dict[str, Any]) -> None:
    missing = []
    for path, method, operation in partner_operations(spec):
        for status in PROBLEM_STATUSES:
            response = operation["responses"].get(status, {})
            content = response.get("content", {})
            schema = content.get(PROBLEM_MEDIA_TYPE, {}).get("schema", {})
            if resolve(spec, schema)[0] != "Problem":
                missing.append(f"{method.upper()} {path} {status}")
    assert missing == []


def test_every_post_body_refuses_unknown_members(spec: dict[str, Any]) -> None:
    open_bodies: list[str] = []
    reached: set[str] = set()
    bodies = 0
    for path, method, operation in partner_operations(spec):
        if method != "post" or "requestBody" not in operation:
            continue
        content = operation["requestBody"]["content"]
        assert set(content) == {"application/json"}, f"POST {path}: {set(content)}"
        bodies += 1
        seen: set[str] = set()
        found = open_objects(spec, content["application/json"]["schema"], f"POST {path}", seen)
        open_bodies.extend(found)
        reached |= seen
    assert bodies >= 4
    assert open_bodies == []
    assert reached >= NESTED_REQUEST_SCHEMAS


def test_the_body_walker_finds_an_open_nested_struct(spec: dict[str, Any]) -> None:
    """Guard the guard: an open struct two `$ref`s deep is reported."""
    tampered = json.loads(json.dumps(spec))
    del tampered["components"]["schemas"]["MoneyIn"]["additionalProperties"]
    body = {"$ref": "#/components/schemas/SuitabilityCheckIn"}
    assert list(open_objects(tampered, body, "body", set())) == ["MoneyIn"]


# (d) identity and security


def test_operation_ids_are_unique(spec: dict[str, Any]) -> None:
    ids = [operation.get("operationId") for _, _, operation in operations(spec)]
    assert None not in ids
    assert len(ids) == len(set(ids))


def test_every_operation_is_secured_unless_public(spec: dict[str, Any]) -> None:
    unsecured = set()
    for path, method, operation in operations(spec):
        requirements = operation.get("security") or []
        if not requirements:
            unsecured.add(operation["operationId"])
            continue
        for requirement in requirements:
            assert set(requirement) == {SECURITY_SCHEME}, f"{method.upper()} {path}"
            assert requirement[SECURITY_SCHEME], f"{method.upper()} {path} names no scope"
    assert "security" not in spec  # no global default that public operations would inherit
    assert unsecured == PUBLIC_OPERATIONS


def test_the_spec_security_matches_the_routes_access_policy(tmp_path: Path) -> None:
    """Each route's declared scopes (what the middleware enforces) are what the spec publishes."""
    settings = Settings(base_url=SERVED_BASE_URL, var_dir=tmp_path)
    app = create_app(settings)
    checked = 0
    paths = app.openapi_schema.paths or {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if not handler.resolve_include_in_schema():
                continue
            access = access_of(handler)
            assert access is not None, f"{route.path} declares no access policy"
            for method in handler.http_methods:
                operation = getattr(paths[route.path_format], method.lower())
                published = operation.security or []
                if access.public:
                    assert published == [], route.path
                else:
                    assert published == [{SECURITY_SCHEME: sorted(access.scopes)}], route.path
                checked += 1
    assert checked == sum(1 for _ in operations(committed()))


# (e) servers


def test_production_and_sandbox_servers_are_listed(spec: dict[str, Any]) -> None:
    urls = [server["url"] for server in spec["servers"]]
    assert urls == [
        Environment.PRODUCTION.issuer(SPEC_BASE_URL),
        Environment.SANDBOX.issuer(SPEC_BASE_URL),
    ]
    assert urls == [SPEC_BASE_URL, f"{SPEC_BASE_URL}/sandbox"]
    token_url = spec["components"]["securitySchemes"][SECURITY_SCHEME]["flows"]["clientCredentials"]
    assert token_url["tokenUrl"] == f"{SPEC_BASE_URL}/oauth2/token"


# (f) what the spec promises beyond shapes: rules, links, problem types, deprecations


def test_the_problem_type_catalogue_is_published_sorted_by_slug(spec: dict[str, Any]) -> None:
    catalogue = spec["x-problem-types"]
    assert [entry["slug"] for entry in catalogue] == sorted(PROBLEM_TYPES)
    assert catalogue == [
        {"slug": slug, "status": kind.status, "title": kind.title}
        for slug, kind in sorted(PROBLEM_TYPES.items())
    ]


def documented_rules(operation: dict[str, Any]) -> list[tuple[str, str]]:
    """The (problem type, condition) pairs that an operation's 422 description lists."""
    description: str = operation["responses"].get("422", {}).get("description", "")
    return [
        (line[3:].split("`", 1)[0], line.split(" when ", 1)[1])
        for line in description.splitlines()
        if line.startswith("- `")
    ]


def test_every_422_names_its_problem_types_and_when(spec: dict[str, Any]) -> None:
    for path, method, operation in partner_operations(spec):
        rules = documented_rules(operation)
        assert rules[0] == ("validation-failed", SCHEMA_RULE.when), f"{method.upper()} {path}"
        for slug, _ in rules:
            assert PROBLEM_TYPES[slug].status == 422, f"{method.upper()} {path}: {slug}"


def test_every_paged_operation_documents_the_cursor_rule(spec: dict[str, Any]) -> None:
    paged = set()
    for _, _, operation in partner_operations(spec):
        if any(parameter["name"] == "cursor" for parameter in operation.get("parameters", [])):
            paged.add(operation["operationId"])
            assert (CURSOR_RULE.slug, CURSOR_RULE.when) in documented_rules(operation), operation[
                "operationId"
            ]
    assert len(paged) >= 9


def test_the_rules_the_fuzzer_met_are_documented(spec: dict[str, Any]) -> None:
    """Schema-valid requests that schemathesis saw answered 422: each operation names a rule for it."""
    by_id = {operation["operationId"]: operation for _, _, operation in operations(spec)}
    for operation_id, slug in RULES_MET_BY_THE_FUZZER.items():
        assert slug in {found for found, _ in documented_rules(by_id[operation_id])[1:]}, operation_id


def pointer_target(spec: dict[str, Any], schema: dict[str, Any], pointer: str) -> dict[str, Any] | None:
    """The schema a JSON pointer (RFC 6901) of a response body reaches, or None."""
    for token in pointer.strip("/").split("/"):
        schema = resolve(spec, schema)[1]
        if schema.get("type") == "array" and token.isdigit():
            schema = schema["items"]
        elif token in schema.get("properties", {}):
            schema = schema["properties"][token]
        else:
            return None
    return resolve(spec, schema)[1]


def test_every_link_reaches_a_path_parameter_from_a_string_of_the_answer(spec: dict[str, Any]) -> None:
    by_id = {operation["operationId"]: operation for _, _, operation in operations(spec)}
    found = 0
    for source_id, source in by_id.items():
        for status, response in source["responses"].items():
            for name, link in response.get("links", {}).items():
                assert status.startswith("2"), f"{source_id} {status}"
                target = by_id[link["operationId"]]
                assert name == link["operationId"]
                path_parameters = {p["name"] for p in target.get("parameters", []) if p["in"] == "path"}
                assert set(link["parameters"]) == path_parameters, f"{source_id} -> {name}"
                schema = response["content"]["application/json"]["schema"]
                for expression in link["parameters"].values():
                    prefix = "$response.body#"
                    assert expression.startswith(prefix), expression
                    reached = pointer_target(spec, schema, expression[len(prefix) :])
                    assert reached is not None, f"{source_id}: {expression}"
                    assert reached.get("type") == "string", f"{source_id}: {expression}"
                found += 1
    declared = {(link.source, link.target) for link in LINKS}
    assert found >= len(declared) == len(LINKS)


def test_every_create_and_list_of_a_readable_resource_links_to_its_read(spec: dict[str, Any]) -> None:
    linked = {(link.source, link.target) for link in LINKS}
    assert {
        ("createConsent", "getConsent"),
        ("placeOrder", "getOrder"),
        ("convertPoints", "getPointsConversion"),
        ("createWebhookSubscription", "getWebhookSubscription"),
        ("createScreening", "getScreening"),
        ("createSuitabilityCheck", "getSuitabilityCheck"),
        ("createProposal", "getProposal"),
        ("createWhiteLabelProposal", "getWhiteLabelProposal"),
        ("adminCreatePartner", "adminGetPartner"),
        ("listConsents", "getConsent"),
        ("listOrders", "getOrder"),
        ("listPointsConversions", "getPointsConversion"),
        ("listWebhookSubscriptions", "getWebhookSubscription"),
        ("listWebhookDeliveries", "getWebhookDelivery"),
        ("listInstruments", "getInstrument"),
        ("adminListPartners", "adminGetPartner"),
        ("adminListAlerts", "adminGetAlert"),
    } <= linked


def test_a_link_to_an_operation_that_does_not_exist_fails_the_build(tmp_path: Path) -> None:
    """Guard the table: a renamed operation cannot leave a dangling link in the spec."""
    app = create_app(Settings(base_url=SERVED_BASE_URL, var_dir=tmp_path))
    dangling = (OperationLink("listConsents", "getGhost", {"id": "$response.body#/id"}),)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("openapi.spec.LINKS", dangling)
        with pytest.raises(KeyError, match="getGhost"):
            app.openapi_schema.to_schema()
