"""Webhook subscriptions and deliveries through the API, on SQLite and PostgreSQL (ADR 0010)."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient
from standardwebhooks import Webhook

from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.services import Platform
from gateway.settings import Settings
from gateway.storage.tables.outbox import OutboxRow
from gateway.storage.tables.webhooks import WebhookSubscriptionRow
from partners.webhooks.models import DeliveryState, OutgoingRequest, SendResult
from partners.webhooks.service import WebhookService
from partners.webhooks.url_guard import UrlPolicy
from sandbox.clock import FrozenClock
from tests.support import PartnerApp, database_of, register_app

SANDBOX = Environment.SANDBOX
SCOPES = (Scope.WEBHOOKS_MANAGE, Scope.MARKET_READ)
URLS: set[str] = set()  # the endpoints the running test subscribed


@pytest.fixture(autouse=True)
def no_background_delivery(settings: Settings) -> None:
    """The worker runs by hand here: no background task may race the assertions."""
    assert not settings.background_jobs


@pytest.fixture(autouse=True)
def only_this_tests_endpoints() -> None:
    URLS.clear()


@dataclass
class Receiver:
    """A fake sender: answers this test's endpoints from a script and keeps what they were sent.

    The databases are shared by the whole run, so other tests' due deliveries may show up in a
    worker pass: they are answered 204 and not recorded.
    """

    answers: Callable[[int], int] = lambda _n: 204
    sent: list[OutgoingRequest] = field(default_factory=list)

    def send(self, request: OutgoingRequest, policy: UrlPolicy) -> SendResult:
        if request.url not in URLS:
            return SendResult(status_code=204, error=None, duration_ms=1)
        self.sent.append(request)
        status = self.answers(len(self.sent))
        return SendResult(status_code=status, error=None, duration_ms=3, snippet="x" * 500)


def sandbox_app(platform: Platform, partner_id: str | None = None) -> PartnerApp:
    return register_app(platform, environment=SANDBOX, scopes=SCOPES, partner_id=partner_id)


def subscribe(
    client: TestClient[Any], app: PartnerApp, headers: dict[str, str], events: list[str] | None = None
) -> dict[str, Any]:
    url = f"https://hooks.partner.example.com/in/{secrets.token_hex(6)}"
    response = client.post(
        f"{app.prefix}/v1/webhooks/subscriptions",
        json={"url": url, "event_types": events or ["order.*"]},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    URLS.add(url)
    return body


def emit(platform: Platform, partner_id: str, event_type: str, at: datetime, **payload: Any) -> str:
    event_id = f"evt_{secrets.token_hex(10)}"
    database = database_of(platform, SANDBOX)
    with database.write() as conn:
        conn.execute(
            OutboxRow.__table__.insert().values(
                id=event_id,
                type=event_type,
                partner_id=partner_id,
                subject_id="ord_1",
                payload={"order_id": "ord_1", **payload},
                created_at=at,
            )
        )
    return event_id


def service(platform: Platform, draw: float = 1.0) -> WebhookService:
    """The sandbox's service with a fixed jitter draw (1.0: every wait is the full ceiling)."""
    return replace(platform.environments[SANDBOX].webhooks, random=lambda: draw)


def test_the_secret_is_shown_once_and_sealed_at_rest(client: TestClient[Any], platform: Platform) -> None:
    app = sandbox_app(platform)
    headers = app.headers(client)
    created = subscribe(client, app, headers)
    assert created["id"].startswith("whs_")
    assert created["secret"].startswith("whsec_")
    assert created["status"] == "active"
    read = client.get(f"{app.prefix}/v1/webhooks/subscriptions/{created['id']}", headers=headers).json()
    listed = client.get(f"{app.prefix}/v1/webhooks/subscriptions", headers=headers).json()
    assert "secret" not in read
    assert [s["id"] for s in listed["data"]] == [created["id"]]
    assert "secret" not in listed["data"][0]
    raw = created["secret"].removeprefix("whsec_")
    table = WebhookSubscriptionRow.__table__
    with database_of(platform, SANDBOX).read() as conn:
        stored = conn.execute(sa.select(table.c.secret).where(table.c.id == created["id"])).scalar_one()
    assert raw not in stored
    assert stored.startswith("s1.")


def test_unsafe_urls_and_unknown_events_are_422_naming_field_and_rule(
    client: TestClient[Any], platform: Platform
) -> None:
    app = register_app(platform, scopes=SCOPES)  # production: https only, no loopback
    headers = app.headers(client)
    for url, rule in (
        ("http://hooks.partner.example.com/in", "https_required"),
        ("https://127.0.0.1/in", "loopback_address"),
        ("https://169.254.169.254/latest", "metadata_address"),
        ("https://10.0.0.8/in", "private_address"),
        ("https://me:pw@hooks.partner.example.com/in", "credentials_in_url"),
        ("gopher://hooks.partner.example.com/in", "scheme_not_allowed"),
    ):
        refused = client.post(
            "/v1/webhooks/subscriptions", json={"url": url, "event_types": ["order.*"]}, headers=headers
        )
        assert refused.status_code == 422, url
        problem = refused.json()
        assert problem["type"].endswith("/problems/unsafe-webhook-url")
        assert problem["context"] == {"field": "url", "rule": rule}
    unknown = client.post(
        "/v1/webhooks/subscriptions",
        json={"url": "https://hooks.partner.example.com/in", "event_types": ["order.*", "order.exploded"]},
        headers=headers,
    )
    assert unknown.status_code == 422
    assert unknown.json()["context"]["field"] == "event_types.1"
    assert unknown.json()["context"]["rule"] == "unknown_event_type"
    mass = client.post(
        "/v1/webhooks/subscriptions",
        json={"url": "https://hooks.partner.example.com/in", "event_types": ["order.*"], "status": "active"},
        headers=headers,
    )
    assert mass.status_code == 422
    assert [e["field"] for e in mass.json()["errors"]] == ["status"]


def test_the_sandbox_accepts_local_receivers_production_does_not(
    client: TestClient[Any], platform: Platform
) -> None:
    body = {"url": "http://127.0.0.1:9000/in", "event_types": ["consent.*"]}
    sandbox = sandbox_app(platform)
    local = client.post("/sandbox/v1/webhooks/subscriptions", json=body, headers=sandbox.headers(client))
    assert local.status_code == 201, local.text
    production = register_app(platform, scopes=SCOPES)
    refused = client.post("/v1/webhooks/subscriptions", json=body, headers=production.headers(client))
    assert refused.status_code == 422
    assert refused.json()["context"]["rule"] == "https_required"


def test_a_token_without_webhooks_manage_is_refused(client: TestClient[Any], platform: Platform) -> None:
    app = register_app(platform, environment=SANDBOX, scopes=(Scope.MARKET_READ,))
    response = client.get("/sandbox/v1/webhooks/subscriptions", headers=app.headers(client))
    assert response.status_code == 403


def test_another_partner_never_sees_or_touches_a_subscription(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    owner = sandbox_app(platform)
    owner_headers = owner.headers(client)
    created = subscribe(client, owner, owner_headers)
    emit(platform, owner.partner_id, "order.filled", clock.now())
    service(platform).dispatch(Receiver(answers=lambda _n: 500), "w1", limit=500)
    delivery = client.get("/sandbox/v1/webhooks/deliveries", headers=owner_headers).json()["data"][0]
    other = sandbox_app(platform)
    other_headers = other.headers(client)
    base = "/sandbox/v1/webhooks"
    for method, path in (
        ("GET", f"{base}/subscriptions/{created['id']}"),
        ("DELETE", f"{base}/subscriptions/{created['id']}"),
        ("POST", f"{base}/subscriptions/{created['id']}/secret-rotation"),
        ("GET", f"{base}/deliveries/{delivery['id']}"),
        ("POST", f"{base}/deliveries/{delivery['id']}/redelivery"),
        ("GET", f"{base}/deliveries?subscription_id={created['id']}"),
    ):
        response = client.request(method, path, headers=other_headers)
        assert response.status_code == 404, (method, path, response.text)
        assert created["id"] not in response.text or "subscription_id" in response.text
    assert client.get(f"{base}/subscriptions", headers=other_headers).json()["data"] == []
    assert client.get(f"{base}/deliveries", headers=other_headers).json()["data"] == []
    # Even a second app of the same partner: subscriptions belong to the app.
    sibling = sandbox_app(platform, partner_id=owner.partner_id)
    sibling_get = client.get(f"{base}/subscriptions/{created['id']}", headers=sibling.headers(client))
    assert sibling_get.status_code == 404
    still = client.get(f"{base}/subscriptions/{created['id']}", headers=owner_headers).json()
    assert still["status"] == "active"


def test_events_fan_out_to_matching_subscriptions_of_their_partner_only(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    app = sandbox_app(platform)
    headers = app.headers(client)
    emit(platform, app.partner_id, "order.filled", clock.now() - timedelta(seconds=1))  # before both
    orders = subscribe(client, app, headers, ["order.*"])
    consents = subscribe(client, app, headers, ["consent.revoked"])
    filled = emit(platform, app.partner_id, "order.filled", clock.now())
    emit(platform, app.partner_id, "consent.created", clock.now())  # nobody subscribed
    revoked = emit(platform, app.partner_id, "consent.revoked", clock.now())
    stranger = sandbox_app(platform)
    theirs = subscribe(client, stranger, stranger.headers(client), ["order.*"])
    cancelled = emit(platform, stranger.partner_id, "order.cancelled", clock.now())
    receiver = Receiver()
    service(platform).dispatch(receiver, "w1", limit=500)
    sent = {(r.url, r.headers["webhook-id"]) for r in receiver.sent}
    assert {(url, event) for url, event in sent if url != theirs["url"]} == {
        (orders["url"], filled),
        (consents["url"], revoked),
    }  # not `before`: older than both subscriptions
    assert {event for url, event in sent if url == theirs["url"]} == {cancelled}
    listed = client.get("/sandbox/v1/webhooks/deliveries", headers=headers).json()["data"]
    assert {(d["subscription_id"], d["event_type"]) for d in listed} == {
        (orders["id"], "order.filled"),
        (consents["id"], "consent.revoked"),
    }
    assert all(d["state"] == "succeeded" and d["attempts"] == 1 for d in listed)


def test_failing_receiver_goes_dead_on_the_backoff_schedule_and_redelivery_succeeds(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    max_attempts = platform.settings.webhook_max_attempts
    app = sandbox_app(platform)
    headers = app.headers(client)
    created = subscribe(client, app, headers)
    message = emit(platform, app.partner_id, "order.filled", clock.now())
    webhooks = service(platform, draw=1.0)
    failing = Receiver(answers=lambda _n: 500)
    webhooks.dispatch(failing, "w1", limit=500)
    assert len(failing.sent) == 1
    expected_waits = [5, 10, 20, 40, 80, 160, 320]
    for number, wait in enumerate(expected_waits[: max_attempts - 1], start=2):
        clock.advance(timedelta(seconds=wait - 1))
        webhooks.dispatch(failing, "w1", limit=500)
        assert len(failing.sent) == number - 1  # not due a second early
        clock.advance(timedelta(seconds=1))
        webhooks.dispatch(failing, "w1", limit=500)
        assert len(failing.sent) == number
    clock.advance(timedelta(hours=2))
    webhooks.dispatch(failing, "w1", limit=500)
    assert len(failing.sent) == max_attempts  # dead: never tried again by itself
    assert {r.headers["webhook-id"] for r in failing.sent} == {message}
    stamps = [int(r.headers["webhook-timestamp"]) for r in failing.sent]
    assert [b - a for a, b in itertools.pairwise(stamps)] == expected_waits
    headers = app.headers(client)  # the clock moved past the first token's expiry
    dead_page = client.get("/sandbox/v1/webhooks/deliveries", params={"state": "dead"}, headers=headers)
    assert dead_page.status_code == 200, dead_page.text
    listing = dead_page.json()["data"]
    assert len(listing) == 1
    dead = listing[0]
    assert (dead["attempts"], dead["last_status_code"], dead["next_attempt_at"]) == (max_attempts, 500, None)
    detail = client.get(f"/sandbox/v1/webhooks/deliveries/{dead['id']}", headers=headers).json()
    assert [a["number"] for a in detail["attempt_log"]] == list(range(1, max_attempts + 1))
    assert all(a["status_code"] == 500 and len(a["response_snippet"]) == 200 for a in detail["attempt_log"])

    again = client.post(f"/sandbox/v1/webhooks/deliveries/{dead['id']}/redelivery", headers=headers)
    assert again.status_code == 202, again.text
    assert again.json()["state"] == "pending"
    healthy = Receiver()
    webhooks.dispatch(healthy, "w1", limit=500)
    assert len(healthy.sent) == 1
    assert healthy.sent[0].headers["webhook-id"] == message
    # The frozen clock is hours ahead of the wall clock now, so check the signature without the
    # library's 5-minute window: the library signs the same content and we compare.
    resent = healthy.sent[0]
    moment = datetime.fromtimestamp(int(resent.headers["webhook-timestamp"]), UTC)
    expected = Webhook(created["secret"]).sign(message, moment, resent.body.decode())
    assert resent.headers["webhook-signature"] == expected
    done = client.get(f"/sandbox/v1/webhooks/deliveries/{dead['id']}", headers=headers).json()
    assert (done["state"], done["attempts"], done["last_status_code"]) == ("succeeded", 1, 204)
    assert len(done["attempt_log"]) == max_attempts + 1
    refused = client.post(f"/sandbox/v1/webhooks/deliveries/{dead['id']}/redelivery", headers=headers)
    assert refused.status_code == 409  # a succeeded delivery is not sent again


def test_410_gone_disables_the_subscription(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    app = sandbox_app(platform)
    headers = app.headers(client)
    created = subscribe(client, app, headers)
    emit(platform, app.partner_id, "order.filled", clock.now())
    service(platform).dispatch(Receiver(answers=lambda _n: 410), "w1", limit=500)
    read = client.get(f"/sandbox/v1/webhooks/subscriptions/{created['id']}", headers=headers).json()
    assert read["status"] == "disabled"
    assert "410" in read["disabled_reason"]
    delivery = client.get("/sandbox/v1/webhooks/deliveries", headers=headers).json()["data"][0]
    assert delivery["state"] == "dead"
    emit(platform, app.partner_id, "order.filled", clock.now())
    later = Receiver()
    service(platform).dispatch(later, "w1", limit=500)
    assert later.sent == []
    redelivery = client.post(f"/sandbox/v1/webhooks/deliveries/{delivery['id']}/redelivery", headers=headers)
    assert redelivery.status_code == 409


def test_deleting_disables_and_pending_deliveries_die(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    app = sandbox_app(platform)
    headers = app.headers(client)
    created = subscribe(client, app, headers)
    emit(platform, app.partner_id, "order.filled", clock.now())
    webhooks = service(platform)
    webhooks.fan_out()
    deleted = client.delete(f"/sandbox/v1/webhooks/subscriptions/{created['id']}", headers=headers)
    assert deleted.status_code == 204
    receiver = Receiver()
    webhooks.dispatch(receiver, "w1", limit=500)
    assert receiver.sent == []
    delivery = client.get("/sandbox/v1/webhooks/deliveries", headers=headers).json()["data"][0]
    assert (delivery["state"], delivery["last_error"]) == ("dead", "subscription_disabled")
    rotate = client.post(
        f"/sandbox/v1/webhooks/subscriptions/{created['id']}/secret-rotation", headers=headers
    )
    assert rotate.status_code == 409


def test_rotation_signs_with_both_secrets_for_24_hours(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    app = sandbox_app(platform)
    headers = app.headers(client)
    created = subscribe(client, app, headers)
    rotated = client.post(
        f"/sandbox/v1/webhooks/subscriptions/{created['id']}/secret-rotation", headers=headers
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != created["secret"]
    emit(platform, app.partner_id, "order.filled", clock.now())
    receiver = Receiver()
    service(platform).dispatch(receiver, "w1", limit=500)
    message = receiver.sent[0]
    assert len(message.headers["webhook-signature"].split(" ")) == 2
    for secret in (created["secret"], new_secret):  # an old-secret and a new-secret receiver
        Webhook(secret).verify(message.body, message.headers)
    clock.advance(timedelta(hours=24))
    emit(platform, app.partner_id, "order.filled", clock.now())
    service(platform).dispatch(receiver, "w1", limit=500)
    assert len(receiver.sent[1].headers["webhook-signature"].split(" ")) == 1


def test_deliveries_filter_and_page(client: TestClient[Any], platform: Platform, clock: FrozenClock) -> None:
    app = sandbox_app(platform)
    headers = app.headers(client)
    first = subscribe(client, app, headers, ["order.*"])
    second = subscribe(client, app, headers, ["order.filled"])
    for _ in range(3):
        emit(platform, app.partner_id, "order.filled", clock.now())
        clock.advance(timedelta(seconds=1))
    service(platform).dispatch(Receiver(answers=lambda n: 204 if n % 2 else 500), "w1", limit=500)
    seen: list[str] = []
    cursor = ""
    for _ in range(5):
        page = client.get(
            "/sandbox/v1/webhooks/deliveries", params={"limit": 2, "cursor": cursor}, headers=headers
        ).json()
        seen += [d["id"] for d in page["data"]]
        cursor = page["next_cursor"] or ""
        if not page["has_more"]:
            break
    assert len(seen) == len(set(seen)) == 6
    only = client.get(
        "/sandbox/v1/webhooks/deliveries", params={"subscription_id": second["id"]}, headers=headers
    ).json()["data"]
    assert {d["subscription_id"] for d in only} == {second["id"]}
    assert len(only) == 3
    failed = client.get("/sandbox/v1/webhooks/deliveries", params={"state": "failed"}, headers=headers).json()
    assert failed["data"]
    assert all(d["state"] == "failed" for d in failed["data"])
    assert first["id"] != second["id"]
    bad = client.get("/sandbox/v1/webhooks/deliveries", params={"state": "exploded"}, headers=headers)
    assert bad.status_code == 422


def test_two_workers_never_hold_the_same_delivery(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    app = sandbox_app(platform)
    subscribe(client, app, app.headers(client))
    for _ in range(6):
        emit(platform, app.partner_id, "order.filled", clock.now())
    webhooks = service(platform)
    webhooks.fan_out()

    def claim(worker: str, limit: int) -> set[str]:
        # Other tests' due deliveries may be claimed too (shared databases): count this app's only.
        return {
            c.delivery.id
            for c in webhooks.claim(worker, limit=limit)
            if c.delivery.client_id == app.client_id
        }

    first = claim("w1", 100)
    second = claim("w2", 100)
    assert len(first) == 6
    assert second == set()
    clock.advance(webhooks.lease + timedelta(seconds=1))  # a worker died: its leases lapse
    third = claim("w3", 100)
    assert third == first
    assert claim("w4", 100) == set()


def test_the_portal_view_of_an_app(client: TestClient[Any], platform: Platform, clock: FrozenClock) -> None:
    app = sandbox_app(platform)
    created = subscribe(client, app, app.headers(client))
    emit(platform, app.partner_id, "order.filled", clock.now())
    webhooks = platform.environments[SANDBOX].webhooks
    webhooks.dispatch(Receiver(), "w1", limit=500)
    [subscription] = webhooks.subscriptions(app.client_id)
    assert (subscription.id, subscription.client_id, subscription.url) == (
        created["id"],
        app.client_id,
        created["url"],
    )
    assert subscription.event_types == ("order.*",)
    [delivery] = webhooks.deliveries(app.client_id, limit=50)
    assert (delivery.subscription_id, delivery.event_type, delivery.state) == (
        created["id"],
        "order.filled",
        DeliveryState.SUCCEEDED,
    )
    assert (delivery.attempts, delivery.last_status_code, delivery.next_attempt_at) == (1, 204, None)
    assert delivery.created_at == clock.now()
