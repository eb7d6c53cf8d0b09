"""The published spec: closed request bodies, links, problem types, deprecations; export and drift check."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final

import msgspec
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Link, OpenAPI, OpenAPIResponse, Operation, Reference, Schema

from gateway.problems import PROBLEM_TYPES

SPEC_FILE: Final = Path(__file__).parent / "v1.json"
HTTP_METHODS: Final = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True, slots=True)
class OperationLink:
    """An OpenAPI link (OAS 3.1 §4.8.20): a value of the source's answer fills a target's parameter."""

    source: str
    target: str
    parameters: dict[str, str]


def _created(source: str, target: str, parameter: str, member: str = "id") -> OperationLink:
    return OperationLink(source, target, {parameter: f"$response.body#/{member}"})


def _listed(source: str, target: str, parameter: str, member: str = "id") -> OperationLink:
    return OperationLink(source, target, {parameter: f"$response.body#/data/0/{member}"})


# Create -> read and list -> read, so that SDKs and schemathesis' stateful runs can chain the calls.
LINKS: Final = (
    _created("createConsent", "getConsent", "consent_id"),
    _created("placeOrder", "getOrder", "order_id", "order_id"),
    _created("convertPoints", "getPointsConversion", "conversion_id", "conversion_id"),
    _created("createWebhookSubscription", "getWebhookSubscription", "subscription_id"),
    _created("createScreening", "getScreening", "screening_id"),
    _created("createSuitabilityCheck", "getSuitabilityCheck", "check_id"),
    _created("createProposal", "getProposal", "proposal_id"),
    _created("createWhiteLabelProposal", "getWhiteLabelProposal", "proposal_id"),
    _created("redeliverWebhook", "getWebhookDelivery", "delivery_id"),
    _created("adminCreatePartner", "adminGetPartner", "partner_id"),
    _created("adminCreatePartner", "adminGetPartnerLifecycle", "partner_id"),
    _created("adminCreateApp", "adminGetPartner", "partner_id", "partner_id"),
    _created("getInstrument", "getQuote", "instrument_id"),
    _listed("listConsents", "getConsent", "consent_id"),
    _listed("listOrders", "getOrder", "order_id", "order_id"),
    _listed("listPointsConversions", "getPointsConversion", "conversion_id", "conversion_id"),
    _listed("listWebhookSubscriptions", "getWebhookSubscription", "subscription_id"),
    _listed("listWebhookDeliveries", "getWebhookDelivery", "delivery_id"),
    _listed("listInstruments", "getInstrument", "instrument_id"),
    _listed("listFunds", "getNavHistory", "instrument_id"),
    _listed("adminListPartners", "adminGetPartner", "partner_id"),
    _listed("adminListAlerts", "adminGetAlert", "alert_id"),
)


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


@dataclass
class PublishedOpenAPI(OpenAPI):
    """The built spec, made strict and linked once, plus the problem catalogue for the SDK generator."""

    finished: bool = False

    @property
    def _exclude_fields(self) -> set[str]:
        return {"finished"}

    def to_schema(self) -> dict[str, Any]:
        if not self.finished:
            forbid_additional_properties(self)
            add_links(self)
            self.finished = True
        document = super().to_schema()
        # One typed exception per problem type (RFC 9457 §4.2 `type` URIs).
        document["x-problem-types"] = [
            {"slug": slug, "status": kind.status, "title": kind.title}
            for slug, kind in sorted(PROBLEM_TYPES.items())
        ]
        return document


@dataclass
class PublishedOpenAPIConfig(OpenAPIConfig):
    """Litestar's OpenAPI configuration, whose spec is published strict (`PublishedOpenAPI`).

    Litestar builds the spec on first use (`/docs`, `gateway openapi`), not at startup: building it
    costs a third of a second that every test app and every worker would otherwise pay.
    """

    def to_openapi_schema(self) -> OpenAPI:
        built = super().to_openapi_schema()
        return PublishedOpenAPI(**{item.name: getattr(built, item.name) for item in fields(built)})


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


def _operations(spec: OpenAPI) -> Iterator[Operation]:
    for path_item in (spec.paths or {}).values():
        for method in HTTP_METHODS:
            operation = getattr(path_item, method)
            if isinstance(operation, Operation):
                yield operation


def add_links(spec: OpenAPI) -> None:
    """Attach LINKS to every 2xx answer with a body of their source operation."""
    by_id = {operation.operation_id: operation for operation in _operations(spec)}
    for link in LINKS:
        source = by_id[link.source]
        _ = by_id[link.target]  # a renamed or removed operation fails the build, not the client
        for status, response in (source.responses or {}).items():
            if status.startswith("2") and isinstance(response, OpenAPIResponse) and response.content:
                links = response.links if response.links is not None else {}
                links[link.target] = Link(operation_id=link.target, parameters=dict(link.parameters))
                response.links = links


def render(spec: OpenAPI) -> str:
    document = msgspec.to_builtins(spec.to_schema())
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def committed() -> dict[str, Any]:
    result: dict[str, Any] = msgspec.json.decode(SPEC_FILE.read_bytes())
    return result
