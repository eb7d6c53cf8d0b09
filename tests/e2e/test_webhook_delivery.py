"""Webhooks end to end: real outbox events (consents) go over real HTTP to a loopback receiver that
checks them with the Standard Webhooks reference library (ADR 0010). Once in-process with a frozen
clock (backoff, dead, redelivery, rotation) on both backends, once through the real two-worker server."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import standardwebhooks.webhooks
from litestar.testing import TestClient
from standardwebhooks import Webhook, WebhookVerificationError

from gateway.adapters.webhook_sender import HttpSender
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.services import Platform
from gateway.settings import Settings
from partners.webhooks.delivery import DeliveryWorker, Lane
from sandbox.clock import FrozenClock
from tests.delegation import REDIRECT_URI
from tests.e2e.servers import E2EApp, RealServer, run_cli
from tests.receiver import Inbox, webhook_inbox
from tests.support import PartnerApp, register_app, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, str]]:
    with webhook_inbox() as receiver:
        yield receiver


@pytest.fixture
def settings(backend_settings: Settings) -> Settings:
    # In-process runs drive the worker by hand; the real server keeps its embedded task.
    return backend_settings.with_changes(namespace=f"t{secrets.token_hex(4)}", webhooks_embedded=False)


def replayed_later(secret: str, body: bytes, headers: dict[str, str]) -> None:
    """Verify the captured message as if it arrived again six minutes later: the library refuses it."""
    later = datetime.now(UTC) + timedelta(minutes=6)

    class Later(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Later:
            return cls.fromtimestamp(later.timestamp(), tz)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(standardwebhooks.webhooks, "datetime", Later)
        with pytest.raises(WebhookVerificationError, match="too old"):
            Webhook(secret).verify(body, headers)


def test_in_process_delivery_backoff_dead_redelivery_and_rotation(
    client: TestClient[Any], platform: Platform, clock: FrozenClock, inbox: tuple[Inbox, str]
) -> None:
    box, url = inbox
    app: PartnerApp = register_app(
        platform,
        environment=Environment.SANDBOX,
        scopes=(Scope.WEBHOOKS_MANAGE, Scope.CONSENTS_MANAGE, Scope.ACCOUNTS_READ),
        redirect_uris=(REDIRECT_URI,),
    )
    env = platform.environments[Environment.SANDBOX]
    webhooks = replace(env.webhooks, random=lambda: 1.0)  # every backoff wait is its full ceiling
    sender = HttpSender(timeout_seconds=5)
    worker = DeliveryWorker([Lane(webhooks, sender)], name="e2e", batch=500)

    def api(method: str, path: str, **kwargs: Any) -> Any:
        response = client.request(method, f"/sandbox{path}", headers=app.headers(client), **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def consent() -> str:
        body = {
            "permissions": ["accounts:read"],
            "purpose": "Show balances in the bank app",
            "expires_at": (clock.now() + timedelta(days=30)).isoformat(),
        }
        consent_id: str = api("POST", "/v1/consents", json=body)["id"]
        return consent_id

    try:
        subscription = api(
            "POST", "/v1/webhooks/subscriptions", json={"url": url, "event_types": ["consent.*"]}
        )
        box.secret = subscription["secret"]

        # Delivered over HTTP, verified by the reference library; a replay later is refused.
        consent_id = consent()
        worker.run_once()
        [(headers, body)] = box.verified()
        assert json.loads(body)["data"]["consent_id"] == consent_id
        assert headers["webhook-timestamp"] == str(int(clock.now().timestamp()))
        replayed_later(subscription["secret"], body, headers)

        # A receiver that fails: retried on the backoff schedule, dead after the last attempt.
        box.status = 500
        consent()
        started = clock.now()
        worker.run_once()
        for wait in (5, 10, 20, 40, 80, 160, 320)[: platform.settings.webhook_max_attempts - 1]:
            clock.advance(timedelta(seconds=wait))
            worker.run_once()
        failing_id = box.received[-1][0]["webhook-id"]
        tries = [h for h, _, _ in box.received if h["webhook-id"] == failing_id]
        assert len(tries) == platform.settings.webhook_max_attempts
        assert len({h["webhook-timestamp"] for h in tries}) == len(tries)  # a fresh timestamp each time
        dead = api("GET", "/v1/webhooks/deliveries", params={"state": "dead"})["data"]
        assert [d["webhook_id"] for d in dead] == [failing_id]

        # The receiver is fixed; the partner asks for a redelivery: same webhook-id, verified.
        clock.set(started)  # back to wall-clock time, so the library's 5-minute window holds
        box.status = 204
        queued = api("POST", f"/v1/webhooks/deliveries/{dead[0]['id']}/redelivery")
        assert queued["state"] == "pending"
        worker.run_once()
        redelivered = box.received[-1]
        assert (redelivered[0]["webhook-id"], redelivered[2]) == (failing_id, True)
        assert api("GET", f"/v1/webhooks/deliveries/{dead[0]['id']}")["state"] == "succeeded"

        # A rotation: one message, two signatures; an old-secret and a new-secret receiver accept it.
        rotated = api("POST", f"/v1/webhooks/subscriptions/{subscription['id']}/secret-rotation")
        consent()
        worker.run_once()
        headers, body, _ = box.received[-1]
        assert len(headers["webhook-signature"].split(" ")) == 2
        Webhook(subscription["secret"]).verify(body, headers)
        Webhook(rotated["secret"]).verify(body, headers)
    finally:
        sender.close()


def sandbox_app(server: RealServer) -> E2EApp:
    return server.new_app(
        environment=Environment.SANDBOX,
        scopes=(Scope.WEBHOOKS_MANAGE, Scope.CONSENTS_MANAGE, Scope.ACCOUNTS_READ),
        redirect_uris=(REDIRECT_URI,),
    )


def create_consent(client: httpx.Client) -> str:
    response = client.post(
        "/v1/consents",
        json={
            "permissions": ["accounts:read"],
            "purpose": "Show balances in the bank app",
            "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        },
    )
    assert response.status_code == 201, response.text
    consent_id: str = response.json()["id"]
    return consent_id


def test_the_server_delivers_signed_events_retries_and_redelivers(
    server: RealServer, inbox: tuple[Inbox, str]
) -> None:
    box, url = inbox
    app = sandbox_app(server)
    token = server.token(app)
    base = server.issuer(Environment.SANDBOX)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        created = client.post("/v1/webhooks/subscriptions", json={"url": url, "event_types": ["consent.*"]})
        assert created.status_code == 201, created.text
        subscription = created.json()
        box.secret = subscription["secret"]

        # 1. A consent writes `consent.created` into the outbox; a worker of the server delivers it.
        consent_id = create_consent(client)
        wait_until(lambda: len(box.verified()) == 1)
        headers, body = box.verified()[0]
        message = json.loads(body)
        assert message["type"] == "consent.created"
        assert message["data"]["consent_id"] == consent_id
        assert set(message) == {"type", "timestamp", "data"}
        assert abs(int(headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 60

        # 2. A replay of the captured message six minutes later fails the library's 5-minute window
        #    (the receiver's clock is moved, the message is byte for byte the same).
        replayed_later(subscription["secret"], body, headers)
        Webhook(subscription["secret"]).verify(body, headers)  # still fine right now

        # 3. A failing receiver: the delivery fails, is retried with the same webhook-id; while it
        #    waits for its backoff, a redelivery sends it again at once.
        box.status = 500
        create_consent(client)
        wait_until(lambda: len(box.verified()) >= 2)
        listing = client.get("/v1/webhooks/deliveries", params={"subscription_id": subscription["id"]})
        failed = [d for d in listing.json()["data"] if d["last_status_code"] == 500]
        assert failed, listing.text
        delivery = failed[0]
        box.status = 204
        again = client.post(f"/v1/webhooks/deliveries/{delivery['id']}/redelivery")
        assert again.status_code in (202, 409), again.text  # 409: the backoff retry won the race

        def delivered() -> bool:
            one = client.get(f"/v1/webhooks/deliveries/{delivery['id']}").json()
            return bool(one["state"] == "succeeded")

        wait_until(delivered)
        detail = client.get(f"/v1/webhooks/deliveries/{delivery['id']}").json()
        assert [a["status_code"] for a in detail["attempt_log"]][:1] == [500]
        assert detail["attempt_log"][-1]["status_code"] == 204
        ids = [h["webhook-id"] for h, _ in box.verified() if h["webhook-id"] == delivery["webhook_id"]]
        assert len(ids) >= 2  # the same webhook-id on the failed try and on the successful one

        # 4. Two server workers ran their delivery loops the whole time, yet the first message
        #    reached the receiver exactly once (a lease keeps a message with one worker at a time).
        first_id = headers["webhook-id"]
        assert [h["webhook-id"] for h, _, _ in box.received].count(first_id) == 1

    # 5. `gateway worker --once` runs a pass over both environments and exits.
    assert "attempt(s)" in run_cli("worker", "--once", env=server.env)
