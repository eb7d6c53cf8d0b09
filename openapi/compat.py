"""Breaking changes between the last released spec and the current one (docs/versioning.md).

A change is breaking when a client built against the released spec (an SDK, a partner's own code)
can fail against the current one: a request it sends is refused, or a response it decodes no
longer fits its types. Each rule below says one such way, in its docstring; the rule tables at the
end of the rule section are the whole policy. Breaking changes are allowed only with a major bump
of `info.version`; additive changes need none.

`python -m openapi.compat [RELEASED CURRENT]` exits 1 and prints the changes when the current spec
breaks the released one without that bump.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Generic, Literal, TypeVar

RELEASED_SPEC: Final = Path(__file__).parent / "released" / "v1.json"
CURRENT_SPEC: Final = Path(__file__).parent / "v1.json"
HTTP_METHODS: Final = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
SCHEMA_PREFIX: Final = "#/components/schemas/"
# Bounds a client may rely on, and the direction in which they tighten.
UPPER_BOUNDS: Final = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")
LOWER_BOUNDS: Final = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum")

Json = dict[str, Any]
Direction = Literal["request", "response"]


@dataclass(frozen=True, slots=True)
class Change:
    """One breaking change: where it is, the rule it breaks, and what changed."""

    operation: str  # "placeOrder (POST /v1/orders)"
    location: str  # "response 201 OrderOut.status"; empty for the operation itself
    rule: str
    detail: str

    def __str__(self) -> str:
        where = f"{self.operation} {self.location}".rstrip()
        return f"{where}: {self.detail} [{self.rule}]"


# --- Shapes: a schema with $ref, allOf, oneOf-with-null and type lists resolved ----------------


@dataclass(frozen=True, slots=True)
class Shape:
    """What a schema admits, in the terms the rules compare."""

    name: str | None  # the component it was reached through, if any
    types: frozenset[str]  # JSON types other than null; empty means any
    nullable: bool
    enum: frozenset[Any] | None  # allowed values other than null; `const` is a one-value enum
    bounds: Mapping[str, float]
    pattern: str | None
    properties: Mapping[str, Json]
    required: frozenset[str]
    closed: bool  # `additionalProperties: false`
    items: Json | None
    values: Json | None  # `additionalProperties` given as a schema (a map's values)
    variants: tuple[Json, ...]  # a union of several non-null schemas


def shape(schema: Json, components: Mapping[str, Json]) -> Shape:
    """Resolve a schema into a shape; `{"oneOf": [X, {"type": "null"}]}` is a nullable X."""
    name: str | None = None
    nullable = False
    variants: tuple[Json, ...] = ()
    for _ in range(64):  # a chain of references and wrappers; the bound stops a reference cycle
        if "$ref" in schema:
            ref = str(schema["$ref"])
            name = ref.removeprefix(SCHEMA_PREFIX)
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**components[name], **siblings}
            continue
        wrapper = next((k for k in ("oneOf", "anyOf", "allOf") if k in schema), None)
        if wrapper is None:
            break
        parts: list[Json] = list(schema[wrapper])
        siblings = {k: v for k, v in schema.items() if k != wrapper}
        if wrapper == "allOf":
            schema = _merge_all_of(parts, siblings, components)
            continue
        nulls = [p for p in parts if p.get("type") == "null"]
        others = [p for p in parts if p.get("type") != "null"]
        nullable = nullable or bool(nulls)
        if len(others) == 1:  # the siblings (pattern, bounds) constrain the one variant
            schema = {**others[0], **siblings}
            continue
        variants = tuple(others)
        schema = siblings
        break
    raw_type = schema.get("type")
    type_list = raw_type if isinstance(raw_type, list) else [] if raw_type is None else [raw_type]
    nullable = nullable or "null" in type_list
    types = {t for t in type_list if t != "null"}
    for variant in variants:
        types |= shape(variant, components).types
    enum: frozenset[Any] | None = None
    if "enum" in schema:
        nullable = nullable or None in schema["enum"]
        enum = frozenset(v for v in schema["enum"] if v is not None)
    elif "const" in schema:
        enum = frozenset({schema["const"]})
    extra = schema.get("additionalProperties")
    return Shape(
        name=name,
        types=frozenset(types),
        nullable=nullable,
        enum=enum,
        bounds={k: schema[k] for k in (*UPPER_BOUNDS, *LOWER_BOUNDS) if k in schema},
        pattern=schema.get("pattern"),
        properties=schema.get("properties", {}),
        required=frozenset(schema.get("required", ())),
        closed=extra is False,
        items=schema.get("items"),
        values=extra if isinstance(extra, dict) else None,
        variants=variants,
    )


def _merge_all_of(parts: list[Json], siblings: Json, components: Mapping[str, Json]) -> Json:
    if len(parts) == 1:
        return {**parts[0], **siblings}
    merged: Json = {"properties": {}, "required": []}
    for part in parts:
        resolved = components[part["$ref"].removeprefix(SCHEMA_PREFIX)] if "$ref" in part else part
        merged = {
            **merged,
            **resolved,
            "properties": {**merged["properties"], **resolved.get("properties", {})},
            "required": [*merged["required"], *resolved.get("required", [])],
        }
    return {**merged, **siblings}


def _member_key(member: Shape) -> str:
    """A union member is known by its component name, or else by its types."""
    return member.name or "|".join(sorted(member.types)) or "any"


def _members(union: Shape, components: Mapping[str, Json]) -> set[str]:
    """The members of a union; a value that is not a union is its own one member."""
    if not union.variants:
        return {_member_key(union)}
    return {_member_key(shape(variant, components)) for variant in union.variants}


# --- Rules ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation in both specs; `new` is None when the current spec no longer has it."""

    path: str
    method: str
    old: Json
    new: Json | None
    old_doc: Json
    new_doc: Json


@dataclass(frozen=True, slots=True)
class Parameter:
    """One parameter (by location and name) in both specs; either side may be missing."""

    old: Json | None
    new: Json | None


@dataclass(frozen=True, slots=True)
class Pair:
    """A schema in both specs, resolved, with the components needed to resolve its children."""

    old: Shape
    new: Shape
    old_components: Mapping[str, Json]
    new_components: Mapping[str, Json]


Subject = TypeVar("Subject")
# A rule yields (suffix to the location, detail): ".status" names the member the change is about.
Finding = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Rule(Generic[Subject]):
    """A named way to break clients; the check's docstring says which, and why it breaks them."""

    name: str
    check: Callable[[Subject], Iterator[Finding]]
    directions: frozenset[Direction] = field(default=frozenset({"request", "response"}))

    @property
    def description(self) -> str:
        return (self.check.__doc__ or "").strip()


def operation_removed(op: Operation) -> Iterator[Finding]:
    """An operation (path + method) of the released spec is gone: its callers get 404 or 405."""
    if op.new is None:
        yield "", "operation removed"


def operation_id_changed(op: Operation) -> Iterator[Finding]:
    """The operationId names the SDK method (`placeOrder` is `place_order`): renaming it removes one."""
    if op.new is not None and op.new.get("operationId") != op.old.get("operationId"):
        yield "", f"operationId {op.old.get('operationId')!r} became {op.new.get('operationId')!r}"


def scope_added(op: Operation) -> Iterator[Finding]:
    """A token that was enough for the operation must stay enough: no new scope or scheme required.

    Each security requirement of the released spec must still contain one of the current ones
    (an added alternative is fine; a wider one is not).
    """
    if op.new is None:
        return
    old = _requirements(op.old, op.old_doc)
    new = _requirements(op.new, op.new_doc)
    if not new:
        return
    for granted in old or [{}]:
        if any(_satisfies(granted, wanted) for wanted in new):
            continue
        closest = min(new, key=lambda wanted: len(_missing(granted, wanted)))
        yield "", f"security now requires {', '.join(sorted(_missing(granted, closest)))}"


def success_status_removed(op: Operation) -> Iterator[Finding]:
    """A success status (2xx) or its media type is gone: a client that handles it never sees it again."""
    if op.new is None:
        return
    new_responses = op.new.get("responses", {})
    for status, response in op.old.get("responses", {}).items():
        if not status.startswith("2"):
            continue
        if status not in new_responses:
            yield "", f"success status {status} removed"
            continue
        for media in response.get("content", {}):
            if media not in new_responses[status].get("content", {}):
                yield "", f"response {status} no longer returns {media}"


def request_body_narrowed(op: Operation) -> Iterator[Finding]:
    """A request body becomes required, or a media type the server accepted is no longer accepted."""
    if op.new is None:
        return
    old, new = op.old.get("requestBody"), op.new.get("requestBody")
    if new is not None and new.get("required", False) and not (old or {}).get("required", False):
        yield "", "request body became required"
    if old is not None and new is not None:
        for media in old.get("content", {}):
            if media not in new.get("content", {}):
                yield "", f"request body no longer accepts {media}"


def parameter_removed(param: Parameter) -> Iterator[Finding]:
    """A parameter is gone: clients that send it are refused or silently get another result."""
    if param.old is not None and param.new is None:
        yield "", "parameter removed"


def parameter_required(param: Parameter) -> Iterator[Finding]:
    """A parameter becomes required, or a new required one appears: existing calls lack it."""
    if param.new is None or not param.new.get("required", False):
        return
    if param.old is None:
        yield "", "new required parameter"
    elif not param.old.get("required", False):
        yield "", "parameter became required"


def request_type_narrowed(pair: Pair) -> Iterator[Finding]:
    """A request value's type changes so that a value the server accepted is refused (null included)."""
    old, new = pair.old, pair.new
    if new.types:
        accepted = new.types | ({"integer"} if "number" in new.types else set())
        lost = (old.types or {"any type"}) - accepted
        if lost:
            yield "", f"type {_types(old)} became {_types(new)}"
    if old.nullable and not new.nullable:
        yield "", "null is no longer accepted"


def response_type_widened(pair: Pair) -> Iterator[Finding]:
    """A response value's type changes so that the server may send what the client does not decode."""
    old, new = pair.old, pair.new
    if old.types and (not new.types or new.types - old.types):
        yield "", f"type {_types(old)} became {_types(new)}"


def request_variant_removed(pair: Pair) -> Iterator[Finding]:
    """A member of a request union (`oneOf`) is gone: bodies of that kind are refused."""
    if pair.old.variants:
        kept = _members(pair.new, pair.new_components)
        for key in sorted(_members(pair.old, pair.old_components) - kept):
            yield "", f"union member {key} removed"


def response_variant_added(pair: Pair) -> Iterator[Finding]:
    """A new member in a response union: the SDK types unions closed and cannot decode it."""
    if pair.new.variants:
        known = _members(pair.old, pair.old_components)
        for key in sorted(_members(pair.new, pair.new_components) - known):
            yield "", f"union member {key} added"


def request_property_required(pair: Pair) -> Iterator[Finding]:
    """A request property becomes required, or a new required property appears: old bodies lack it."""
    for name in sorted(pair.new.required - pair.old.required):
        if name in pair.old.properties:
            yield f".{name}", "property became required"
        else:
            yield f".{name}", "new required property"


def request_property_removed(pair: Pair) -> Iterator[Finding]:
    """A property is removed from a body that refuses unknown members: old bodies that send it get 422."""
    if pair.new.closed:
        for name in sorted(set(pair.old.properties) - set(pair.new.properties)):
            yield f".{name}", "property removed from a body that refuses unknown members"


def request_enum_value_removed(pair: Pair) -> Iterator[Finding]:
    """A request enum loses a value (or an enum appears): clients that send that value are refused."""
    old, new = pair.old.enum, pair.new.enum
    if new is None:
        return
    if old is None:
        yield "", f"values restricted to {_values(new)}"
    elif old - new:
        yield "", f"enum values removed: {_values(old - new)}"


def request_constraint_tightened(pair: Pair) -> Iterator[Finding]:
    """A request constraint tightens: a smaller maximum or larger minimum, a new or changed pattern,
    or a body that starts refusing unknown members.

    A pattern on a new property breaks nobody; on a property that existed, any new or changed
    pattern is treated as breaking (whether one regular expression admits less than another
    cannot be decided in general).
    """
    old, new = pair.old, pair.new
    for key in UPPER_BOUNDS:
        if key in new.bounds and (key not in old.bounds or new.bounds[key] < old.bounds[key]):
            yield "", f"{key} tightened from {old.bounds.get(key, 'none')} to {new.bounds[key]}"
    for key in LOWER_BOUNDS:
        if key in new.bounds and (key not in old.bounds or new.bounds[key] > old.bounds[key]):
            yield "", f"{key} tightened from {old.bounds.get(key, 'none')} to {new.bounds[key]}"
    if new.pattern is not None and new.pattern != old.pattern:
        before = "none" if old.pattern is None else repr(old.pattern)
        yield "", f"pattern changed from {before} to {new.pattern!r}"
    if new.closed and not old.closed and "object" in new.types:
        yield "", "now refuses unknown members (additionalProperties: false)"


def response_property_removed(pair: Pair) -> Iterator[Finding]:
    """A response property is gone: clients that read it break."""
    for name in sorted(set(pair.old.properties) - set(pair.new.properties)):
        yield f".{name}", "response property removed"


def response_property_optional(pair: Pair) -> Iterator[Finding]:
    """A required response property becomes optional: clients typed to always find it break."""
    for name in sorted(pair.old.required - pair.new.required):
        if name in pair.new.properties:
            yield f".{name}", "required response property became optional"


def response_nullable(pair: Pair) -> Iterator[Finding]:
    """A response value becomes nullable (`oneOf` with `{"type": "null"}`): clients typed non-null break."""
    if pair.new.nullable and not pair.old.nullable:
        yield "", "response value became nullable"


def response_enum_value_added(pair: Pair) -> Iterator[Finding]:
    """A response enum gains a value: the SDK types enums closed, so older SDKs fail to decode it."""
    old, new = pair.old.enum, pair.new.enum
    if old is None:
        return
    if new is None:
        yield "", "response values no longer restricted to an enum"
    elif new - old:
        yield "", f"enum values added: {_values(new - old)}"


OPERATION_RULES: Final[tuple[Rule[Operation], ...]] = (
    Rule("operation-removed", operation_removed),
    Rule("operation-id-changed", operation_id_changed),
    Rule("scope-added", scope_added),
    Rule("success-status-removed", success_status_removed),
    Rule("request-body-narrowed", request_body_narrowed),
)
PARAMETER_RULES: Final[tuple[Rule[Parameter], ...]] = (
    Rule("parameter-removed", parameter_removed),
    Rule("parameter-required", parameter_required),
)
REQUEST: Final[frozenset[Direction]] = frozenset({"request"})
RESPONSE: Final[frozenset[Direction]] = frozenset({"response"})
# Schema rules apply to request bodies and parameters ("request") or to 2xx bodies ("response").
SCHEMA_RULES: Final[tuple[Rule[Pair], ...]] = (
    Rule("type-changed", request_type_narrowed, REQUEST),
    Rule("type-changed", response_type_widened, RESPONSE),
    Rule("union-member-removed", request_variant_removed, REQUEST),
    Rule("union-member-added", response_variant_added, RESPONSE),
    Rule("request-property-required", request_property_required, REQUEST),
    Rule("request-property-removed", request_property_removed, REQUEST),
    Rule("request-enum-value-removed", request_enum_value_removed, REQUEST),
    Rule("request-constraint-tightened", request_constraint_tightened, REQUEST),
    Rule("response-property-removed", response_property_removed, RESPONSE),
    Rule("response-property-optional", response_property_optional, RESPONSE),
    Rule("response-property-nullable", response_nullable, RESPONSE),
    Rule("response-enum-value-added", response_enum_value_added, RESPONSE),
)


def _requirements(operation: Json, document: Json) -> list[dict[str, frozenset[str]]]:
    declared: list[Json] = operation["security"] if "security" in operation else document.get("security", [])
    return [{scheme: frozenset(scopes) for scheme, scopes in req.items()} for req in declared]


def _missing(granted: Mapping[str, frozenset[str]], wanted: Mapping[str, frozenset[str]]) -> set[str]:
    missing: set[str] = set()
    for scheme, scopes in wanted.items():
        if scheme not in granted:
            missing |= {f"{scheme}:{scope}" for scope in scopes} or {f"scheme {scheme}"}
        else:
            missing |= scopes - granted[scheme]
    return missing


def _satisfies(granted: Mapping[str, frozenset[str]], wanted: Mapping[str, frozenset[str]]) -> bool:
    return not _missing(granted, wanted)


def _types(s: Shape) -> str:
    return "|".join(sorted(s.types)) or "any"


def _values(values: frozenset[Any]) -> str:
    return ", ".join(sorted(repr(v) for v in values))


# --- Walking both specs --------------------------------------------------------------------------


@dataclass(slots=True)
class _Walk:
    old_components: Mapping[str, Json]
    new_components: Mapping[str, Json]
    changes: list[Change] = field(default_factory=list)

    def schemas(self, operation: str, context: str, old: Json, new: Json, direction: Direction) -> None:
        self._schema(operation, context, "", old, new, direction, frozenset())

    def _schema(
        self,
        operation: str,
        context: str,  # "response 201", "query parameter limit"
        path: str,  # "OrderOut.status": the component it is in, then the members
        old_raw: Json,
        new_raw: Json,
        direction: Direction,
        seen: frozenset[tuple[str | None, str | None]],
    ) -> None:
        pair = Pair(
            shape(old_raw, self.old_components),
            shape(new_raw, self.new_components),
            self.old_components,
            self.new_components,
        )
        old, new = pair.old, pair.new
        base = new.name or path  # members are named in the component that declares them
        for rule in SCHEMA_RULES:
            if direction in rule.directions:
                for suffix, detail in rule.check(pair):
                    here = f"{base}{suffix}" if suffix else path or base
                    location = f"{context} {here}".rstrip()
                    self.changes.append(Change(operation, location, rule.name, detail))
        key = (old.name, new.name)
        if old.name is not None and key in seen:
            return  # a recursive schema: its members were compared higher up
        seen = seen | {key}
        for name in sorted(set(old.properties) & set(new.properties)):
            old_member, new_member = old.properties[name], new.properties[name]
            self._schema(operation, context, f"{base}.{name}", old_member, new_member, direction, seen)
        if old.items is not None and new.items is not None:
            self._schema(operation, context, f"{base}[]", old.items, new.items, direction, seen)
        if old.values is not None and new.values is not None:
            self._schema(operation, context, f"{base}{{}}", old.values, new.values, direction, seen)
        if old.variants or new.variants:  # compare the members both unions have
            old_members = self._by_member(old, old_raw, self.old_components)
            new_members = self._by_member(new, new_raw, self.new_components)
            for member in sorted(set(old_members) & set(new_members)):
                self._schema(
                    operation, context, "", old_members[member], new_members[member], direction, seen
                )

    @staticmethod
    def _by_member(union: Shape, raw: Json, components: Mapping[str, Json]) -> dict[str, Json]:
        if not union.variants:
            return {_member_key(union): raw}
        return {_member_key(shape(variant, components)): variant for variant in union.variants}


def breaking_changes(released: Json, current: Json) -> list[Change]:
    """Every way in which `current` can break a client built against `released`."""
    walk = _Walk(
        released.get("components", {}).get("schemas", {}),
        current.get("components", {}).get("schemas", {}),
    )
    for path, item in released.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method not in item:
                continue
            new_op = current.get("paths", {}).get(path, {}).get(method)
            op = Operation(path, method, item[method], new_op, released, current)
            name = f"{item[method].get('operationId', '?')} ({method.upper()} {path})"
            for op_rule in OPERATION_RULES:
                for suffix, detail in op_rule.check(op):
                    walk.changes.append(Change(name, suffix, op_rule.name, detail))
            if new_op is not None:
                _compare_operation(walk, name, item, current["paths"][path], item[method], new_op)
    return list(dict.fromkeys(walk.changes))  # a component reached twice is reported once


def _compare_operation(walk: _Walk, name: str, old_item: Json, new_item: Json, old: Json, new: Json) -> None:
    old_params = _parameters(old_item, old)
    new_params = _parameters(new_item, new)
    for key in [*old_params, *(k for k in new_params if k not in old_params)]:
        old_param, new_param = old_params.get(key), new_params.get(key)
        label = f"{key[0]} parameter {(old_param or new_param or {}).get('name', key[1])}"
        param = Parameter(old_param, new_param)
        for rule in PARAMETER_RULES:
            for suffix, detail in rule.check(param):
                walk.changes.append(Change(name, label + suffix, rule.name, detail))
        if param.old is not None and param.new is not None:
            walk.schemas(name, label, param.old.get("schema", {}), param.new.get("schema", {}), "request")
    old_body = old.get("requestBody", {}).get("content", {})
    new_body = new.get("requestBody", {}).get("content", {})
    for media in sorted(set(old_body) & set(new_body)):
        old_schema, new_schema = old_body[media].get("schema", {}), new_body[media].get("schema", {})
        walk.schemas(name, f"request {media}", old_schema, new_schema, "request")
    new_responses = new.get("responses", {})
    for status, response in old.get("responses", {}).items():
        if not status.startswith("2") or status not in new_responses:
            continue
        new_content = new_responses[status].get("content", {})
        for media, content in response.get("content", {}).items():
            if media in new_content:
                old_schema, new_schema = content.get("schema", {}), new_content[media].get("schema", {})
                walk.schemas(name, f"response {status}", old_schema, new_schema, "response")


def _parameters(item: Json, operation: Json) -> dict[tuple[str, str], Json]:
    """Path-level and operation-level parameters; header names compare case-insensitively."""
    found: dict[tuple[str, str], Json] = {}
    for param in [*item.get("parameters", []), *operation.get("parameters", [])]:
        where = str(param.get("in"))
        found[(where, str(param["name"]).lower() if where == "header" else str(param["name"]))] = param
    return found


def major(document: Json) -> int:
    """The major of `info.version` ("1.4.0" is 1)."""
    return int(str(document["info"]["version"]).split(".", 1)[0])


def check(released_path: Path, current_path: Path) -> int:
    """Print the breaking changes; 1 if there are any and the major version was not bumped."""
    released = json.loads(released_path.read_text(encoding="utf-8"))
    current = json.loads(current_path.read_text(encoding="utf-8"))
    changes = breaking_changes(released, current)
    bumped = major(current) > major(released)
    for change in changes:
        print(change)
    if not changes:
        print(f"{current_path}: no breaking change against {released_path}")
        return 0
    if bumped:
        print(f"{len(changes)} breaking changes, allowed by the major version {major(current)}")
        return 0
    print(
        f"{len(changes)} breaking changes against {released_path} without a major version bump "
        f"(info.version {current['info']['version']}; docs/versioning.md)"
    )
    return 1


def main(argv: list[str]) -> int:
    if not argv:
        return check(RELEASED_SPEC, CURRENT_SPEC)
    if len(argv) == 2:
        return check(Path(argv[0]), Path(argv[1]))
    print("usage: python -m openapi.compat [RELEASED_SPEC CURRENT_SPEC]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
