"""The published spec: request bodies refuse unknown members, and the export/drift check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import msgspec
from litestar.openapi.spec import OpenAPI, Reference, Schema

SPEC_FILE: Final = Path(__file__).parent / "v1.json"


def _strict_struct_names() -> set[str]:
    from gateway.apis import schemas as wire  # the structs that set forbid_unknown_fields

    names: set[str] = set()
    pending: list[type[Any]] = [wire.RequestBody]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        names.add(cls.__name__)
    from gateway.apis.admin.schemas import PublicJwk

    names.add(PublicJwk.__name__)
    return names


def forbid_additional_properties(spec: OpenAPI) -> None:
    """Publish `additionalProperties: false` for every body struct that refuses unknown fields."""
    strict = _strict_struct_names()
    schemas = spec.components.schemas if spec.components and spec.components.schemas else {}
    for name, schema in schemas.items():
        if isinstance(schema, Schema) and name.rsplit("_", 1)[-1] in strict and schema.type is not None:
            schema.additional_properties = False
    _ = Reference  # schema entries may also be references; those are left as they are


def render(spec: OpenAPI) -> str:
    document = msgspec.to_builtins(spec.to_schema())
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def committed() -> dict[str, Any]:
    result: dict[str, Any] = msgspec.json.decode(SPEC_FILE.read_bytes())
    return result
