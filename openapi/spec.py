"""The published spec: request bodies refuse unknown members, and the export/drift check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import msgspec
from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.openapi.spec import OpenAPI, Reference, Schema

SPEC_FILE: Final = Path(__file__).parent / "v1.json"


# JSON Schema keywords of an array's items that Litestar drops and msgspec enforces.
ITEM_CONSTRAINTS: Final = {
    "pattern": "pattern",
    "minLength": "min_length",
    "maxLength": "max_length",
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusiveMinimum": "exclusive_minimum",
    "exclusiveMaximum": "exclusive_maximum",
}


def _strict_structs() -> dict[str, type[Any]]:
    from gateway.apis import schemas as wire  # the structs that set forbid_unknown_fields

    structs: dict[str, type[Any]] = {}
    pending: list[type[Any]] = [wire.RequestBody]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        structs[cls.__name__] = cls
    from gateway.apis.admin.schemas import PublicJwk

    structs[PublicJwk.__name__] = PublicJwk
    return structs


class _StrictOpenAPIPlugin(OpenAPIPlugin):
    """Litestar's OpenAPI plugin, whose spec, built on first use, refuses unknown body members."""

    __slots__ = ()

    def provide_openapi(self) -> OpenAPI:
        if not self._openapi:
            spec = self._build_openapi()
            forbid_additional_properties(spec)
            self._openapi = spec
        return self._openapi


def strict_openapi(app: Litestar) -> None:
    """Make the app's spec strict when it is first built (`/docs`, `gateway openapi`), not at startup.

    Building the spec costs a third of a second: every test app and every worker would pay it at
    creation, though few ever serve it. Litestar creates its OpenAPI plugin itself, with no hook after
    the build, so the plugin's class is narrowed to one that adds the strictness (same slots, same state).
    """
    plugin = app.plugins.get(OpenAPIPlugin)
    plugin.__class__ = _StrictOpenAPIPlugin


def forbid_additional_properties(spec: OpenAPI) -> None:
    """Publish `additionalProperties: false` for every body struct that refuses unknown fields.

    Also publishes the constraints on array items of those structs (`list[Annotated[str,
    Meta(pattern=...)]]`) that Litestar 2 leaves out, so that the spec refuses what msgspec refuses.
    """
    strict = _strict_structs()
    schemas = spec.components.schemas if spec.components and spec.components.schemas else {}
    for name, schema in schemas.items():
        struct = strict.get(name.rsplit("_", 1)[-1])
        if isinstance(schema, Schema) and struct is not None and schema.type is not None:
            schema.additional_properties = False
            _publish_item_constraints(schema, struct)
    _ = Reference  # schema entries may also be references; those are left as they are


def _publish_item_constraints(schema: Schema, struct: type[Any]) -> None:
    (_,), components = msgspec.json.schema_components([struct])
    reference = components[struct.__name__]
    for field, published in (schema.properties or {}).items():
        items = published.items if isinstance(published, Schema) else None
        enforced = reference["properties"].get(field, {}).get("items", {})
        if not isinstance(items, Schema):
            continue
        for keyword, attribute in ITEM_CONSTRAINTS.items():
            if keyword in enforced and getattr(items, attribute) is None:
                setattr(items, attribute, enforced[keyword])


def render(spec: OpenAPI) -> str:
    document = msgspec.to_builtins(spec.to_schema())
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def committed() -> dict[str, Any]:
    result: dict[str, Any] = msgspec.json.decode(SPEC_FILE.read_bytes())
    return result
