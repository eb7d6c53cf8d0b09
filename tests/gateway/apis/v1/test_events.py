"""Events on demand through the SDK: any event type, built by the real payload code over a synthetic
subject, marked `sandbox_trigger`, delivered through the outbox to the subscriptions of its type."""

from __future__ import annotations

import json
from typing import Any, Final, get_args

import pytest
from litestar.testing import TestClient
from openplatform import models

from gateway.apis.v1.testing.routes import sandbox_only
from gateway.domain.environment import Environment
from gateway.domain.errors import NotFoundError
from gateway.domain.scopes import Scope
from gateway.domain.trading.models import EventType
from gateway.services import Platform
from partners.webhooks.models import OutgoingRequest, SendResult
from partners.webhooks.url_guard import UrlPolicy
from tests.support import PartnerApp, register_app

SANDBOX = Environment.SANDBOX
SCOPES = (Scope.SANDBOX_TESTING, Scope.WEBHOOKS_MANAGE)
ORDER_FIELDS: Final = {"order_id", "client_order_id", "status", "instrument_id", "side", "filled_quantity"}
CONVERSION_FIELDS: Final = {
    "conversion_id",
    "partner_conversion_id",
    "state",
    "points",
    "points_returned",
    "amount",
    "units",
    "currency",
    "fund",
    "instrument_id",
}


class Sent:
    """A sender that answers 204 and keeps every request."""

    def __init__(self) -> None:
        self.requests: list[OutgoingRequest] = []

    def send(self, request: OutgoingRequest, policy: UrlPolicy) -> SendResult:
        self.requests.append(request)
        return SendResult(status_code=204, error=None, duration_ms=1)


def sandbox_app(platform: Platform) -> PartnerApp:
    return register_app(platform, environment=SANDBOX, scopes=SCOPES)


def deliver(platform: Platform, partner: PartnerApp) -> list[dict[str, Any]]:
    """One pass of the sandbox's delivery worker for the partner; the bodies it sent."""
    sent = Sent()
    platform.environments[SANDBOX].webhooks.dispatch(sent, "test", 500, partner_id=partner.partner_id)
    return [{"headers": r.headers, **json.loads(r.body)} for r in sent.requests]


def test_every_event_type_is_triggered_with_its_real_payload_and_the_marker(
    client: TestClient[Any], platform: Platform
) -> None:
    sdk = sandbox_app(platform).sdk(client)
    assert set(get_args(models.EventType)) == {t.value for t in EventType}  # the SDK offers every type
    subjects: dict[str, set[str]] = {"order": set(), "conversion": set()}
    for event_type in EventType:
        event = sdk.testing.trigger_event(type=event_type.value)
        assert (event.type, event.data["sandbox_trigger"]) == (event_type.value, True)
        assert event.id.startswith("evt_")
        fields = set(event.data) - {"sandbox_trigger"}
        if event_type.value.startswith("conversion."):
            expected = CONVERSION_FIELDS | (
                {"reasons"} if event_type is EventType.CONVERSION_REJECTED else set()
            )
            assert fields == expected
            assert event.data["state"] == event_type.value.split(".", 1)[1]
            subjects["conversion"].add(event.data["conversion_id"])
        else:
            extra = {"fill_id", "quantity"} if event_type is EventType.FILL_CREATED else set()
            assert fields == ORDER_FIELDS | extra
            subjects["order"].add(event.data["order_id"])
    # One synthetic subject per kind for the app (the cooling-off order is a fund subscription).
    assert len(subjects["conversion"]) == 1
    assert len(subjects["order"]) == 2
    assert sdk.testing.trigger_event(type="order.filled").data["status"] == "filled"
    assert sdk.testing.trigger_event(type="order.rejected").data["status"] == "rejected"
    assert sdk.testing.trigger_event(type="conversion.reversed").data["points_returned"] > 0


def test_a_triggered_event_is_delivered_to_the_subscriptions_of_its_type(
    client: TestClient[Any], platform: Platform
) -> None:
    partner = sandbox_app(platform)
    sdk = partner.sdk(client)
    sdk.webhooks.create_subscription(url="https://hooks.example.com/filled", event_types=["order.filled"])
    filled = sdk.testing.trigger_event(type="order.filled")
    sdk.testing.trigger_event(type="order.accepted")  # no subscription receives this type
    (delivered,) = deliver(platform, partner)
    assert delivered["headers"]["webhook-id"] == filled.id
    assert delivered["type"] == "order.filled"
    assert delivered["data"] == filled.data
    (logged,) = list(sdk.webhooks.list_deliveries())
    assert (logged.webhook_id, logged.state) == (filled.id, "succeeded")


def test_a_triggered_event_has_the_shape_a_real_order_event_has(
    client: TestClient[Any], platform: Platform
) -> None:
    """The oracle is a real order: the scenario's buy emits its events through order entry."""
    partner = sandbox_app(platform)
    sdk = partner.sdk(client)
    sdk.webhooks.create_subscription(
        url="https://hooks.example.com/all", event_types=["order.accepted", "order.filled", "fill.created"]
    )
    sdk.testing.run_scenario("market_crash")
    real = {body["type"]: body["data"] for body in deliver(platform, partner)}
    for event_type in ("order.accepted", "order.filled", "fill.created"):
        triggered = sdk.testing.trigger_event(type=event_type)
        assert set(triggered.data) - {"sandbox_trigger"} == set(real[event_type])
        assert "sandbox_trigger" not in real[event_type]


def test_an_unknown_type_is_refused_naming_the_field(client: TestClient[Any], platform: Platform) -> None:
    partner = sandbox_app(platform)
    for unknown in ("order.exploded", "consent.revoked", ""):
        answer = client.post(
            f"{partner.prefix}/v1/testing/events", json={"type": unknown}, headers=partner.headers(client)
        )
        assert answer.status_code == 422, answer.text
        problem = answer.json()
        assert problem["type"].endswith("/problems/validation-failed")
        assert "$.type" in problem["errors"][0]["message"]
    assert deliver(platform, partner) == []


def test_production_has_no_events_on_demand(client: TestClient[Any], platform: Platform) -> None:
    partner = register_app(platform, scopes=(Scope.MARKET_READ,))
    refused = client.post(
        "/v1/testing/events", json={"type": "order.filled"}, headers=partner.headers(client)
    )
    assert refused.status_code == 403  # no production app may hold `sandbox:testing`
    production = platform.environments[Environment.PRODUCTION]
    assert production.sandbox_events is None
    with pytest.raises(NotFoundError):
        sandbox_only(production.sandbox_events)
