"""Real sandbox traffic becomes the observations the conformance checks read: tokens, the delegated
flow, 429s and their retries, 409s and their successes, forged webhooks, revoked consents and
scope refusals, seen by the edge (gateway/edge/conformance.py) and scored through the SDK."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from openplatform import RetryInfo
from openplatform.errors import ConflictError

from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.edge.conformance import ConformanceRecorder
from gateway.edge.idempotency import fingerprint
from gateway.services import Platform
from partners.models import Plan
from sandbox.clock import FrozenClock
from sandbox.conformance import AppProfile, CheckId, Conformance, Observation, ObservationKind
from tests.gateway.apis.v1.test_testing import delegate, workspace_app
from tests.receiver import webhook_inbox
from tests.support import PartnerApp, register_app

SANDBOX = Environment.SANDBOX
OWN = (Scope.MARKET_READ, Scope.SANDBOX_TESTING, Scope.WEBHOOKS_MANAGE, Scope.PARTNER_MANAGE)


def conformance_of(platform: Platform) -> Conformance:
    suite = platform.environments[SANDBOX].conformance
    assert suite is not None
    return suite


def observed(platform: Platform, app: PartnerApp, kind: ObservationKind) -> list[Observation]:
    since = platform.clock.now() - timedelta(days=1)
    return [o for o in conformance_of(platform).log.observations(app.client_id, since) if o.kind is kind]


def sandbox_app(platform: Platform, *, plan: str = "sandbox", scopes: tuple[Scope, ...] = OWN) -> PartnerApp:
    return register_app(platform, environment=SANDBOX, scopes=scopes, plan=plan)


def checks(client: TestClient[Any], app: PartnerApp) -> dict[str, Any]:
    """The app's score through the SDK, check by check."""
    score = app.sdk(client).testing.get_conformance()
    assert score.client_id == app.client_id
    return {check.id: check for check in score.checks}


def per_second(platform: Platform, amount: int) -> str:
    plan_id = f"burst-{secrets.token_hex(4)}"
    platform.registry.store.upsert_plan(Plan(plan_id, "Burst", (f"{amount}/second",)))
    return plan_id


def test_the_sdks_tokens_count_and_a_later_bearer_token_spoils_them(
    client: TestClient[Any], platform: Platform
) -> None:
    app = sandbox_app(platform)

    before = checks(client, app)  # the SDK's own token: private_key_jwt, bound to its DPoP key

    assert before[CheckId.TOKENS].passed
    assert before[CheckId.TOKENS].evidence["dpop_bound"] == 1
    [token] = observed(platform, app, ObservationKind.TOKEN)
    assert (token.grant, token.dpop, token.client_auth) == ("client_credentials", True, "private_key_jwt")

    app.token(client)  # a bearer token (no DPoP proof) after the DPoP-bound one

    after = checks(client, app)[CheckId.TOKENS]
    assert not after.passed
    assert after.evidence["bearer_after_first_dpop"] == 1


def test_a_429_retried_by_the_sdk_after_retry_after_passes(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    app = sandbox_app(platform, plan=per_second(platform, 2))
    retries: list[RetryInfo] = []

    def waited(info: RetryInfo) -> None:  # the SDK sleeps for real; the platform's clock follows it
        retries.append(info)
        clock.advance(timedelta(seconds=info.delay))

    sdk = app.sdk(client, max_retries=1, on_retry=waited)
    for _ in range(3):
        sdk.testing.reset_personas()

    assert [(r.reason, r.delay) for r in retries] == [("429", 1.0)]
    refused = [o for o in observed(platform, app, ObservationKind.CALL) if o.status == 429]
    assert [(o.key, o.retry_after) for o in refused] == [(retries[0].idempotency_key, 1)]
    result = checks(client, app)[CheckId.RETRY_AFTER]
    assert result.passed
    assert result.evidence["retried_after_retry_after"] == 1


def test_a_429_retried_at_once_fails(client: TestClient[Any], platform: Platform) -> None:
    app = sandbox_app(platform, plan=per_second(platform, 1))
    headers = {**app.headers(client), "Idempotency-Key": "impatient-1"}
    first = client.post("/sandbox/v1/testing/personas/reset", headers=headers)
    assert first.status_code == 200, first.text
    refused = client.post("/sandbox/v1/testing/personas/reset", headers={**headers, "Idempotency-Key": "k2"})
    assert refused.status_code == 429
    again = client.post("/sandbox/v1/testing/personas/reset", headers={**headers, "Idempotency-Key": "k2"})
    assert again.status_code == 429  # the same key, before Retry-After

    limited = [o for o in observed(platform, app, ObservationKind.CALL) if o.status == 429]
    assert [(o.key, o.resource) for o in limited] == [("k2", "POST /v1/testing/personas/reset")] * 2
    assert limited[0].retry_after is not None
    result = conformance_of(platform).score(_profile(platform, app))
    retry = next(c for c in result.checks if c.id is CheckId.RETRY_AFTER)
    assert not retry.passed
    assert retry.evidence["keys_retried_too_soon"] == ["k2"]


def _profile(platform: Platform, app: PartnerApp) -> AppProfile:
    found = platform.registry.get_client(app.client_id)
    assert found is not None
    return AppProfile.of(found)


def test_a_409_then_a_success_for_the_same_key(client: TestClient[Any], platform: Platform) -> None:
    app = sandbox_app(platform)
    sdk = app.sdk(client)
    store = platform.environments[SANDBOX].idempotency
    now = platform.clock.now()
    # Another worker is running this very request: the platform answers 409 until it is done.
    request: Any = {"method": "POST", "path": "/v1/testing/personas/reset", "query_string": b""}
    same = fingerprint(request, b"")
    store.claim(
        client_id=app.client_id, key="busy-1", fingerprint=same, now=now, expires_at=now + timedelta(1)
    )

    with pytest.raises(ConflictError) as busy:
        sdk.testing.reset_personas(idempotency_key="busy-1")
    store.release(client_id=app.client_id, key="busy-1")
    sdk.testing.reset_personas(idempotency_key="busy-1")

    assert busy.value.status == 409
    statuses = [(o.status, o.key) for o in observed(platform, app, ObservationKind.CALL)]
    assert statuses == [(409, "busy-1"), (200, "busy-1")]
    result = checks(client, app)[CheckId.CONFLICTS]
    assert result.passed
    assert (result.evidence["conflicts"], result.evidence["resolved"]) == (1, 1)


def test_a_forged_delivery_reaches_the_endpoint_and_its_refusal_counts(
    client: TestClient[Any], platform: Platform
) -> None:
    app = sandbox_app(platform)
    sdk = app.sdk(client)
    assert not checks(client, app)[CheckId.FORGED_WEBHOOK].passed  # nothing sent yet
    with webhook_inbox() as (inbox, url):
        subscription = sdk.webhooks.create_subscription(url=url, event_types=["order.*"])
        inbox.secret = subscription.secret

        sent = sdk.testing.send_forged_webhooks()

        assert [(d.subscription_id, d.status_code, d.refused) for d in sent.data] == [
            (subscription.id, 400, True)
        ]
        [(headers, body, verified)] = inbox.received
    assert not verified  # the reference library refuses the signature, as any receiver should
    assert headers["webhook-signature"].startswith("v1,")
    assert b'"type":"order.' in body
    result = checks(client, app)[CheckId.FORGED_WEBHOOK]
    assert result.passed
    assert result.required  # the app holds webhooks:manage
    assert result.evidence["statuses"] == ["400"]


def test_the_delegated_flow_and_a_revocation_the_app_stops_at(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    partner = workspace_app(platform)
    grant = delegate(client, partner)
    assert checks(client, partner.app)[CheckId.DELEGATION].passed
    pushed = observed(platform, partner.app, ObservationKind.PUSHED_REQUEST)
    assert [p.grant for p in pushed] == ["S256"]

    partner.app.sdk(client).testing.reset_personas()  # revokes the app's consents
    first = partner.call(client, "GET", "/v1/accounts", grant["access_token"])
    assert first.status_code == 401
    revocation = checks(client, partner.app)[CheckId.REVOCATION]
    assert revocation.passed
    assert revocation.required
    assert (revocation.evidence["consents_revoked"], revocation.evidence["calls_after_revocation"]) == (1, 1)

    clock.advance(timedelta(seconds=30))  # and again, long after the first 401
    assert partner.call(client, "GET", "/v1/accounts", grant["access_token"]).status_code == 401

    kept = checks(client, partner.app)[CheckId.REVOCATION]
    assert not kept.passed
    [revoked] = observed(platform, partner.app, ObservationKind.CONSENT_REVOKED)
    assert kept.evidence["consents_kept_in_use"] == [revoked.consent_id]


def test_a_call_outside_the_apps_scopes_is_counted(client: TestClient[Any], platform: Platform) -> None:
    app = sandbox_app(platform, scopes=(Scope.MARKET_READ, Scope.SANDBOX_TESTING))
    headers = app.headers(client, scope=Scope.MARKET_READ.value)
    assert client.get("/sandbox/v1/market/instruments", headers=headers).status_code == 200
    refused = client.get("/sandbox/v1/testing/personas", headers=headers)
    assert refused.status_code == 403

    [observation] = [o for o in observed(platform, app, ObservationKind.CALL) if o.scope_refused]
    assert observation.resource == "GET /v1/testing/personas"
    result = checks(client, app)[CheckId.SCOPES]
    assert not result.passed  # one refusal in three calls is far above 1%
    assert result.evidence["insufficient_scope"] == 1
    assert result.evidence["calls"] == 2


def test_production_traffic_is_not_observed(client: TestClient[Any], platform: Platform) -> None:
    live = register_app(platform, scopes=(Scope.MARKET_READ,))
    assert client.get("/v1/market/instruments", headers=live.headers(client)).status_code == 200
    since = platform.clock.now() - timedelta(days=1)
    assert conformance_of(platform).log.observations(live.client_id, since) == []
    refused = client.get("/v1/testing/conformance", headers=live.headers(client))
    assert refused.status_code == 403  # production apps never hold sandbox:testing


class FlakyStore:
    """An observation store that fails once, then keeps what it is given."""

    def __init__(self) -> None:
        self.rows: list[Observation] = []
        self.fail = True

    def add(self, batch: Sequence[Observation]) -> None:
        if self.fail:
            self.fail = False
            raise OSError("database unavailable")
        self.rows.extend(batch)

    def since(self, client_id: str, since: datetime) -> list[Observation]:
        return [o for o in self.rows if o.client_id == client_id and o.at >= since]


def test_the_recorder_keeps_what_a_failed_flush_could_not_write(clock: FrozenClock) -> None:
    store = FlakyStore()
    recorder = ConformanceRecorder(store, clock, max_batch=2)
    revoked = Observation(client_id="sbx_a", kind=ObservationKind.CONSENT_REVOKED, at=clock.now())
    recorder.count_call("sbx_a")
    recorder.count_call("sbx_a")
    recorder.record(revoked)
    recorder.record(revoked)  # a full buffer flushes; the failure is logged, never raised to the call
    assert store.rows == []

    seen = recorder.observations("sbx_a", clock.now() - timedelta(seconds=1))

    assert [o.kind for o in seen] == [ObservationKind.CONSENT_REVOKED] * 2 + [ObservationKind.CALLS]
    assert seen[-1].count == 2
