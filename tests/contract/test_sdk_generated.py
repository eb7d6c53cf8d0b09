"""The SDK's generated layer is exactly what the spec makes, and the SDK stands on its own."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import msgspec
import pytest

from openapi import sdkgen

SDK = Path(__file__).resolve().parents[2] / "sdk" / "openplatform"
SERVER_PACKAGES = ("gateway", "partners", "sandbox", "litestar", "sqlmodel", "sqlalchemy")


def test_a_regeneration_changes_no_byte() -> None:
    assert sdkgen.main(["--check"]) == 0, "run `make sdk`"


def test_the_check_fails_when_the_spec_moves(tmp_path: Path) -> None:
    spec = json.loads(sdkgen.SPEC.read_text())
    del spec["components"]["schemas"]["OrderOut"]["properties"]["status"]
    moved = tmp_path / "v1.json"
    moved.write_text(json.dumps(spec))
    generated = sdkgen.generate(moved)
    assert generated["models.py"] != (sdkgen.TARGET / "models.py").read_text()


def test_the_sdk_never_imports_the_server() -> None:
    offenders = []
    for path in SDK.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [
                f"{path.relative_to(SDK)}: {n}" for n in names if n.split(".")[0] in SERVER_PACKAGES
            ]
    assert offenders == []


def test_every_operation_of_the_spec_is_in_the_table_and_every_problem_has_a_class() -> None:
    from openplatform._generated import operations
    from openplatform.errors import PROBLEM_CLASSES

    spec = json.loads(sdkgen.SPEC.read_text())
    ids = {
        op["operationId"] for item in spec["paths"].values() for op in item.values() if "operationId" in op
    }
    assert set(operations.BY_ID) == ids
    assert set(PROBLEM_CLASSES) == {kind["slug"] for kind in spec.get("x-problem-types", [])}


def test_method_names_come_from_the_operation_ids() -> None:
    names = {
        "placeOrder": "orders.place",
        "listOrders": "orders.list",
        "coolOffOrder": "orders.cool_off",
        "convertPoints": "points.convert",
        "listPointsConversions": "points.list_conversions",
        "createWebhookSubscription": "webhooks.create_subscription",
        "adminListPartners": "admin.list_partners",
    }
    from openplatform._generated import resources

    for operation_id, dotted in names.items():
        resource, method = dotted.split(".")
        cls = getattr(resources, sdkgen.camel(resource) + "Resource")
        source = ast.unparse(ast.parse(Path(resources.__file__).read_text()))
        assert hasattr(cls, method), dotted
        assert f"ops.{sdkgen.const_name(operation_id)}" in source


def test_tagged_unions_round_trip() -> None:
    from openplatform import models

    consent = msgspec.convert(
        {
            "permissions": ["points:convert"],
            "purpose": "convert points",
            "expires_at": "2027-01-01T00:00:00Z",
            "limits": [
                {
                    "type": "points_conversion",
                    "funds": ["F1"],
                    "max_points_per_month": 5,
                    "max_points_per_conversion": 5,
                }
            ],
        },
        models.ConsentIn,
    )
    assert isinstance(consent.limits[0], models.PointsConversionLimitIn)  # type: ignore[index]
    assert b'"type":"points_conversion"' in msgspec.json.encode(consent)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"type": "unknown"}, models.PointsConversionLimitIn | models.OrderPlacementLimitIn)
