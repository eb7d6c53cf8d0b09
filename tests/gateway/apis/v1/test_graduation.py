"""The review request carries the app's conformance score as an evidence pack signed by the sandbox
issuer: it verifies against the sandbox's published JWKS (with joserfc, not our own code), fails
when tampered with, is never an access token, and is kept with the review request."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import timedelta
from typing import Any

import pytest
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError
from joserfc.jwk import KeySet
from litestar.testing import TestClient
from openplatform import RetryInfo

from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.services import Platform
from partners.lifecycle import Evidence, LifecycleEventKind
from partners.models import PartnerStage, PartnerType, Plan
from sandbox.clock import FrozenClock
from tests.support import PartnerApp, register_app

SANDBOX = Environment.SANDBOX
SCOPES = (Scope.MARKET_READ, Scope.SANDBOX_TESTING, Scope.PARTNER_MANAGE)


def developer_in_sandbox(platform: Platform, *, plan: str = "sandbox") -> PartnerApp:
    partner = platform.registry.create_partner(
        name=f"Dev {secrets.token_hex(4)}",
        type=PartnerType.DEVELOPER,
        region="SG",
        stage=PartnerStage.SANDBOX,
    )
    return register_app(
        platform,
        partner_type=PartnerType.DEVELOPER,
        environment=SANDBOX,
        scopes=SCOPES,
        plan=plan,
        partner_id=partner.id,
    )


def conforming_developer(client: TestClient[Any], platform: Platform, clock: FrozenClock) -> PartnerApp:
    """A sandbox app whose traffic passes every check it needs: DPoP tokens from the SDK, a 429
    retried after Retry-After, and calls within its scopes."""
    plan_id = f"burst-{secrets.token_hex(4)}"
    platform.registry.store.upsert_plan(Plan(plan_id, "Burst", ("2/second",)))
    app = developer_in_sandbox(platform, plan=plan_id)

    def waited(info: RetryInfo) -> None:
        clock.advance(timedelta(seconds=info.delay))

    sdk = app.sdk(client, max_retries=1, on_retry=waited)
    for _ in range(3):
        sdk.testing.reset_personas()
    client.blocking_portal.call(platform.quotas.storage.reset)  # the burst is over: a fresh second
    assert sdk.testing.get_conformance().passed
    return app


def sandbox_jwks(client: TestClient[Any]) -> KeySet:
    metadata = client.get("/.well-known/oauth-authorization-server/sandbox").json()
    path = metadata["jwks_uri"].removeprefix("http://127.0.0.1:8000")
    return KeySet.import_key_set(client.get(path).json())


def test_the_score_before_asking_is_what_the_pack_signs(
    client: TestClient[Any], platform: Platform, clock: FrozenClock
) -> None:
    app = conforming_developer(client, platform, clock)
    sdk = app.sdk(client)
    client.blocking_portal.call(platform.quotas.storage.reset)
    before = sdk.testing.get_conformance()

    review = sdk.partner.request_review(reason="our fund explorer is ready")

    assert review.stage == "review"
    assert review.evidence is not None
    assert review.evidence.score.passed
    assert [(c.id, c.passed) for c in review.evidence.score.checks] == [
        (c.id, c.passed) for c in before.checks
    ]
    decoded = jwt.decode(review.evidence.pack, sandbox_jwks(client), algorithms=["ES256"])
    claims = decoded.claims
    assert decoded.header["typ"] == "evidence+jwt"
    assert (claims["client_id"], claims["partner_id"], claims["sub"]) == (
        app.client_id,
        app.partner_id,
        app.client_id,
    )
    assert claims["iss"] == platform.settings.issuer(SANDBOX)
    assert claims["jti"] == review.evidence.id
    assert claims["passed"] is True
    assert claims["issued_at"] == review.evidence.issued_at.isoformat()
    assert claims["period"]["end"] == claims["issued_at"]
    assert {c["id"]: c["required"] for c in claims["checks"]} == {
        "tokens": True,
        "delegation": False,
        "retry_after": True,
        "conflicts": False,
        "forged_webhook": False,
        "revocation": False,
        "scopes": True,
    }
    assert "aud" not in claims
    assert "scope" not in claims


def test_a_tampered_pack_fails_and_a_pack_is_no_access_token(
    client: TestClient[Any], platform: Platform
) -> None:
    app = developer_in_sandbox(platform)
    review = app.sdk(client).partner.request_review(reason="please have a look")
    assert review.evidence is not None
    pack = review.evidence.pack
    assert not review.evidence.score.passed  # no 429 was ever retried
    header, payload, signature = pack.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["passed"] = True
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    keys = sandbox_jwks(client)

    assert jws.deserialize_compact(pack, keys, algorithms=["ES256"]).protected["kid"]
    with pytest.raises(BadSignatureError):
        jws.deserialize_compact(f"{header}.{forged}.{signature}", keys, algorithms=["ES256"])
    production = KeySet.import_key_set(client.get("/oauth2/jwks").json())
    with pytest.raises(InvalidKeyIdError):  # the sandbox's key, unknown to production
        jws.deserialize_compact(pack, production, algorithms=["ES256"])
    refused = client.get("/sandbox/v1/market/instruments", headers={"Authorization": f"Bearer {pack}"})
    assert refused.status_code == 401  # typ evidence+jwt is never at+jwt


def test_the_pack_is_kept_with_the_review_request(client: TestClient[Any], platform: Platform) -> None:
    app = developer_in_sandbox(platform)
    review = app.sdk(client).partner.request_review(reason="please have a look")
    assert review.evidence is not None

    asked = platform.registry.lifecycle.history(app.partner_id)[-1]

    assert asked.kind is LifecycleEventKind.REVIEW_REQUESTED
    assert asked.actor == f"partner:{app.client_id}"
    kept = Evidence.of(asked.details)
    assert kept is not None
    assert (kept.id, kept.client_id, kept.pack) == (review.evidence.id, app.client_id, review.evidence.pack)
    assert not kept.passed
    assert set(kept.failed) == set(review.evidence.score.failed) == {"retry_after", "scopes"}  # no calls yet
    assert platform.registry.lifecycle.evidence(app.partner_id) == kept


def test_without_a_calling_app_the_review_packs_the_best_sandbox_app(
    client: TestClient[Any], platform: Platform
) -> None:
    quiet = developer_in_sandbox(platform)
    busy = register_app(
        platform,
        partner_type=PartnerType.DEVELOPER,
        environment=SANDBOX,
        scopes=SCOPES,
        plan="sandbox",
        partner_id=quiet.partner_id,
    )
    busy.sdk(client).testing.get_conformance()  # a DPoP token and a call within its scopes

    review = platform.graduation.request_review(busy.partner_id, actor="developer:dev_1", reason="ready now")

    assert review.pack is not None
    assert review.pack.score.client_id == busy.client_id
    assert {c.id.value for c in review.pack.score.checks if c.passed} >= {"tokens", "scopes"}
    assert platform.registry.lifecycle.history(busy.partner_id)[-1].actor == "developer:dev_1"


def test_a_partner_without_a_sandbox_app_asks_without_evidence(platform: Platform) -> None:
    partner = platform.registry.create_partner(
        name=f"Dev {secrets.token_hex(4)}",
        type=PartnerType.DEVELOPER,
        region="SG",
        stage=PartnerStage.SANDBOX,
    )
    review = platform.graduation.request_review(partner.id, actor="developer:dev_2", reason="ready now")
    assert review.pack is None
    assert review.partner.stage is PartnerStage.REVIEW
    assert platform.registry.lifecycle.evidence(partner.id) is None
