"""The spec never breaks its last release without a major bump: the rule table, rule by rule."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import pytest

from openapi.compat import (
    CURRENT_SPEC,
    OPERATION_RULES,
    PARAMETER_RULES,
    RELEASED_SPEC,
    SCHEMA_RULES,
    Change,
    Rule,
    breaking_changes,
    check,
    major,
    shape,
)

Json = dict[str, Any]
Mutation = Callable[[Json], None]

THING: Final = "createThing (POST /v1/things)"


def ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def things() -> Json:
    """A released spec of one operation that exercises every rule."""
    problem = {"description": "problem", "content": {"application/problem+json": {"schema": {}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Things", "version": "1.0.0"},
        "paths": {
            "/v1/things": {
                "post": {
                    "operationId": "createThing",
                    "security": [{"oauth2": ["things:write"]}],
                    "parameters": [
                        {"in": "query", "name": "dry_run", "required": False, "schema": {"type": "boolean"}},
                        {"in": "header", "name": "Idempotency-Key", "schema": {"type": "string"}},
                    ],
                    "requestBody": {
                        "required": False,
                        "content": {"application/json": {"schema": ref("ThingIn")}},
                    },
                    "responses": {
                        "201": {
                            "description": "created",
                            "content": {"application/json": {"schema": ref("ThingOut")}},
                        },
                        "422": problem,
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "ThingIn": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "maxLength": 40, "pattern": "^[a-z]+$"},
                        "colour": ref("Colour"),
                        "note": {"oneOf": [{"type": "string"}, {"type": "null"}]},
                        "count": {"type": "integer", "minimum": 0, "maximum": 10},
                        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
                        "shape": {"oneOf": [ref("Circle"), ref("Square")]},
                    },
                },
                "ThingOut": {
                    "type": "object",
                    "required": ["id", "status", "colour"],
                    "properties": {
                        "id": {"type": "string"},
                        "status": ref("Status"),
                        "colour": ref("Colour"),
                        "label": {"type": "string"},
                        "size": {"type": "integer"},
                        "shape": {"oneOf": [ref("Circle"), ref("Square"), {"type": "null"}]},
                    },
                },
                "Colour": {"type": "string", "enum": ["red", "blue"]},
                "Status": {"type": "string", "enum": ["open", "done"]},
                "Circle": {"type": "object", "properties": {"radius": {"type": "number"}}},
                "Square": {"type": "object", "properties": {"side": {"type": "number"}}},
            }
        },
    }


def _post(spec: Json) -> Json:
    operation: Json = spec["paths"]["/v1/things"]["post"]
    return operation


def _schema(spec: Json, name: str) -> Json:
    schema: Json = spec["components"]["schemas"][name]
    return schema


def _param(spec: Json, name: str) -> Json:
    return next(p for p in _post(spec)["parameters"] if p["name"] == name)


def _rename(spec: Json) -> None:
    _post(spec)["operationId"] = "makeThing"


def _move_created(spec: Json) -> None:
    responses = _post(spec)["responses"]
    responses["200"] = responses.pop("201")


def _body_as_xml(spec: Json) -> None:
    content = _post(spec)["requestBody"]["content"]
    content["application/xml"] = content.pop("application/json")


def _new_required_header(spec: Json) -> None:
    _post(spec)["parameters"].append({"in": "header", "name": "X-Tenant", "required": True, "schema": {}})


def _union_in(spec: Json, members: list[Json], name: str) -> None:
    _schema(spec, name)["properties"]["shape"] = {"oneOf": members}
    spec["components"]["schemas"]["Triangle"] = {"type": "object", "properties": {"base": {"type": "number"}}}


# (rule, mutation of the released spec, where the change is reported)
CASES: Final[list[tuple[str, Mutation, str]]] = [
    ("operation-removed", lambda s: s["paths"]["/v1/things"].pop("post"), ""),
    ("operation-id-changed", _rename, ""),
    ("scope-added", lambda s: _post(s)["security"][0]["oauth2"].append("things:admin"), ""),
    ("scope-added", lambda s: _post(s).update(security=[{"oauth2": ["things:write"], "mtls": []}]), ""),
    ("success-status-removed", _move_created, ""),
    ("request-body-narrowed", _body_as_xml, ""),
    ("request-body-narrowed", lambda s: _post(s)["requestBody"].update(required=True), ""),
    ("parameter-removed", lambda s: _post(s)["parameters"].pop(0), "query parameter dry_run"),
    ("parameter-required", lambda s: _param(s, "dry_run").update(required=True), "query parameter dry_run"),
    ("parameter-required", _new_required_header, "header parameter X-Tenant"),
    (
        "type-changed",
        lambda s: _param(s, "dry_run").update(schema={"type": "string"}),
        "query parameter dry_run",
    ),
    (
        "type-changed",
        lambda s: _schema(s, "ThingIn")["properties"].update(count={"type": "string"}),
        "ThingIn.count",
    ),
    (
        "type-changed",
        lambda s: _schema(s, "ThingIn")["properties"].update(note={"type": "string"}),
        "ThingIn.note",
    ),
    (
        "type-changed",
        lambda s: _schema(s, "ThingOut")["properties"].update(size={"type": "number"}),
        "ThingOut.size",
    ),
    ("union-member-removed", lambda s: _union_in(s, [ref("Circle")], "ThingIn"), "ThingIn.shape"),
    (
        "union-member-added",
        lambda s: _union_in(s, [ref("Circle"), ref("Square"), ref("Triangle"), {"type": "null"}], "ThingOut"),
        "ThingOut.shape",
    ),
    (
        "request-property-required",
        lambda s: _schema(s, "ThingIn")["required"].append("count"),
        "ThingIn.count",
    ),
    (
        "request-property-required",
        lambda s: _schema(s, "ThingIn")["required"].append("owner"),
        "ThingIn.owner",
    ),
    ("request-property-removed", lambda s: _schema(s, "ThingIn")["properties"].pop("note"), "ThingIn.note"),
    ("request-enum-value-removed", lambda s: _schema(s, "Colour")["enum"].remove("blue"), "ThingIn.colour"),
    (
        "request-constraint-tightened",
        lambda s: _schema(s, "ThingIn")["properties"]["name"].update(maxLength=30),
        "ThingIn.name",
    ),
    (
        "request-constraint-tightened",
        lambda s: _schema(s, "ThingIn")["properties"]["count"].update(minimum=1),
        "ThingIn.count",
    ),
    (
        "request-constraint-tightened",
        lambda s: _schema(s, "ThingIn")["properties"]["tags"].update(maxItems=3),
        "ThingIn.tags",
    ),
    (
        "request-constraint-tightened",
        lambda s: _schema(s, "ThingIn")["properties"]["name"].update(pattern="^[a-z]{1,8}$"),
        "ThingIn.name",
    ),
    (
        "request-constraint-tightened",
        lambda s: _schema(s, "ThingIn")["properties"]["note"].update(pattern="^[a-z ]*$"),
        "ThingIn.note",
    ),
    (
        "response-property-removed",
        lambda s: _schema(s, "ThingOut")["properties"].pop("label"),
        "ThingOut.label",
    ),
    (
        "response-property-optional",
        lambda s: _schema(s, "ThingOut")["required"].remove("status"),
        "ThingOut.status",
    ),
    (
        "response-property-nullable",
        lambda s: _schema(s, "ThingOut")["properties"].update(
            id={"oneOf": [{"type": "string"}, {"type": "null"}]}
        ),
        "ThingOut.id",
    ),
    (
        "response-enum-value-added",
        lambda s: _schema(s, "Status")["enum"].append("archived"),
        "ThingOut.status",
    ),
]


def _changed(mutate: Mutation, released: Json | None = None) -> tuple[Json, Json]:
    before = released if released is not None else things()
    after = json.loads(json.dumps(before))
    mutate(after)
    return before, after


@pytest.mark.parametrize(("rule", "mutate", "location"), CASES, ids=[f"{c[0]} {c[2]}".strip() for c in CASES])
def test_each_rule_finds_its_breaking_change(rule: str, mutate: Mutation, location: str) -> None:
    released, current = _changed(mutate)

    changes = breaking_changes(released, current)

    assert [(c.operation, c.rule) for c in changes] == [(THING, rule)], changes
    assert changes[0].location.endswith(location)


def test_every_rule_of_the_table_has_a_case_and_a_docstring() -> None:
    rules: list[Rule[Any]] = [*OPERATION_RULES, *PARAMETER_RULES, *SCHEMA_RULES]

    assert {r.name for r in rules} == {case[0] for case in CASES}
    assert all(r.description for r in rules)


def test_additive_changes_are_not_breaking() -> None:
    def grow(spec: Json) -> None:
        spec["paths"]["/v1/things"]["get"] = {"operationId": "listThings", "responses": {"200": {}}}
        post = _post(spec)
        post["description"] = "Creates a thing."
        post["x-problem-types"] = ["thing-exists"]
        post["parameters"].append({"in": "query", "name": "verbose", "required": False, "schema": {}})
        post["responses"]["200"] = {"description": "replayed", "content": {}}
        post["responses"]["404"] = {"description": "problem"}
        post["responses"]["201"]["links"] = {"GetThing": {"operationId": "getThing"}}
        post["security"].append({"oauth2": ["things:admin"]})  # an alternative, not a new requirement
        thing_in, thing_out = _schema(spec, "ThingIn"), _schema(spec, "ThingOut")
        thing_in["properties"]["owner"] = {"type": "string", "pattern": "^usr_[a-z0-9]+$"}
        thing_in["properties"]["name"]["maxLength"] = 80
        thing_in["properties"]["count"]["type"] = "number"  # every integer is still a number
        thing_in["properties"]["note"] = {"type": ["null", "string"], "description": "Free text."}
        thing_out["properties"]["created_at"] = {"type": "string", "format": "date-time"}
        thing_out["required"].append("label")
        thing_in["properties"]["colour"] = {"type": "string", "enum": ["red", "blue", "green"]}
        _schema(spec, "Status")["enum"].remove("done")  # sent no more; clients still decode it

    released, current = _changed(grow)

    assert breaking_changes(released, current) == []


def test_one_of_with_null_is_a_nullable_value() -> None:
    nullable = shape({"oneOf": [{"type": "string"}, {"type": "null"}], "pattern": "^a$"}, {})
    listed = shape({"type": ["null", "string"], "pattern": "^a$"}, {})
    enum = shape({"type": ["null", "string"], "enum": ["a", None]}, {})

    assert (nullable.types, nullable.nullable, nullable.pattern) == (frozenset({"string"}), True, "^a$")
    assert (listed.types, listed.nullable, listed.pattern) == (frozenset({"string"}), True, "^a$")
    assert (enum.enum, enum.nullable) == (frozenset({"a"}), True)


def test_a_recursive_schema_is_compared_once() -> None:
    def recurse(spec: Json) -> None:
        _schema(spec, "ThingOut")["properties"]["parent"] = ref("ThingOut")

    base = things()
    recurse(base)
    released, current = _changed(lambda s: _schema(s, "ThingOut")["properties"].pop("size"), base)

    assert [c.location for c in breaking_changes(released, current)] == ["response 201 ThingOut.size"]


# --- The real spec ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def released_text() -> str:
    return RELEASED_SPEC.read_text(encoding="utf-8")


def test_the_live_spec_does_not_break_the_release_without_a_major_bump(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = check(RELEASED_SPEC, CURRENT_SPEC)

    assert status == 0, capsys.readouterr().out


def test_the_snapshot_is_the_release_of_major_1(released_text: str) -> None:
    assert major(json.loads(released_text)) == 1


def test_a_removed_response_field_fails_until_the_major_is_bumped(
    released_text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current: Json = json.loads(released_text)
    order = current["components"]["schemas"]["OrderOut"]
    del order["properties"]["status"]
    order["required"].remove("status")
    spec = tmp_path / "v1.json"
    spec.write_text(json.dumps(current), encoding="utf-8")

    assert check(RELEASED_SPEC, spec) == 1
    report = capsys.readouterr().out
    assert (
        "getOrder (GET /v1/orders/{order_id}) response 200 OrderOut.status: response property removed"
        in report
    )

    current["info"]["version"] = "2.0.0"
    spec.write_text(json.dumps(current), encoding="utf-8")
    assert check(RELEASED_SPEC, spec) == 0


def _order_status_expired(spec: Json) -> None:
    spec["components"]["schemas"]["OrderStatus"]["enum"].append("expired")


def _place_order(spec: Json) -> Json:
    operation: Json = spec["paths"]["/v1/orders"]["post"]
    return operation


def _client_order_id_pattern(spec: Json) -> None:
    spec["components"]["schemas"]["OrderIn"]["properties"]["client_order_id"]["pattern"] = (
        "^[A-Za-z0-9]{1,32}$"
    )


def _list_orders_limit_required(spec: Json) -> None:
    limit = next(p for p in spec["paths"]["/v1/orders"]["get"]["parameters"] if p["name"] == "limit")
    limit["required"] = True


REAL_CASES: Final[list[tuple[Mutation, Change]]] = [
    (
        _order_status_expired,
        Change(
            "getOrder (GET /v1/orders/{order_id})",
            "response 200 OrderOut.status",
            "response-enum-value-added",
            "enum values added: 'expired'",
        ),
    ),
    (
        lambda s: _place_order(s).update(operationId="submitOrder"),
        Change(
            "placeOrder (POST /v1/orders)",
            "",
            "operation-id-changed",
            "operationId 'placeOrder' became 'submitOrder'",
        ),
    ),
    (
        lambda s: _place_order(s)["security"][0]["oauth2"].append("orders:admin"),
        Change("placeOrder (POST /v1/orders)", "", "scope-added", "security now requires orders:admin"),
    ),
    (
        _client_order_id_pattern,
        Change(
            "placeOrder (POST /v1/orders)",
            "request application/json OrderIn.client_order_id",
            "request-constraint-tightened",
            "pattern changed from '^[A-Za-z0-9._:\\\\-]{1,64}$' to '^[A-Za-z0-9]{1,32}$'",
        ),
    ),
    (
        _list_orders_limit_required,
        Change(
            "listOrders (GET /v1/orders)",
            "query parameter limit",
            "parameter-required",
            "parameter became required",
        ),
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), REAL_CASES, ids=[c[1].rule for c in REAL_CASES])
def test_a_deliberate_change_to_the_real_spec_is_named(
    released_text: str, mutate: Mutation, expected: Change
) -> None:
    released = json.loads(released_text)
    current = json.loads(released_text)
    mutate(current)

    assert expected in breaking_changes(released, current)
