"""The conformance checks on hand-built observations: each check passing and failing, which checks
an app needs, the window, and the evidence each check keeps."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.domain.environment import Environment
from partners.service import Registry
from sandbox.clock import FrozenClock
from sandbox.conformance import (
    WINDOW,
    AppProfile,
    CheckId,
    Conformance,
    Graduation,
    InvalidPackError,
    Observation,
    ObservationKind,
    Score,
    score,
)
from tests.partners.lifecycle.world import InMemoryLifecycleStore, public_key

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
END = START + WINDOW
APP = "sbx_app"
DELEGATING = AppProfile(client_id=APP, partner_id="prt_1", delegating=True, webhooks=True)
PLAIN = AppProfile(client_id=APP, partner_id="prt_1", delegating=False, webhooks=False)
K = ObservationKind


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def seen(kind: ObservationKind, seconds: float, **facts: Any) -> Observation:
    return Observation(client_id=APP, kind=kind, at=at(seconds), **facts)


def token(
    seconds: float, *, dpop: bool = True, grant: str = "client_credentials", **facts: Any
) -> Observation:
    return seen(K.TOKEN, seconds, dpop=dpop, grant=grant, client_auth="private_key_jwt", **facts)


def call(seconds: float, status: int, resource: str = "POST /v1/orders", **facts: Any) -> Observation:
    return seen(K.CALL, seconds, status=status, resource=resource, **facts)


def check(observations: list[Observation], which: CheckId, profile: AppProfile = DELEGATING) -> Any:
    result = score(profile, observations, start=START, end=END)
    return next(c for c in result.checks if c.id is which)


# A delegating webhook app that passes every check.
GOOD: list[Observation] = [
    token(1),
    seen(K.PUSHED_REQUEST, 2, grant="S256"),
    token(3, grant="authorization_code", consent_id="cns_1"),
    call(10, 429, key="k1", retry_after=2),
    call(12, 201, key="k1"),
    call(20, 409, key="k2"),
    call(21, 201, key="k2"),
    seen(K.FORGED_WEBHOOK, 30, status=400, resource="whs_1"),
    seen(K.CONSENT_REVOKED, 40, consent_id="cns_1"),
    call(41, 401, resource="GET /v1/accounts", consent_id="cns_1"),
    seen(K.CALLS, 50, count=200),
]


def test_an_app_that_behaves_passes_every_check() -> None:
    result = score(DELEGATING, GOOD, start=START, end=END)
    assert {c.id: c.passed for c in result.checks} == dict.fromkeys(CheckId, True)
    assert result.passed
    assert result.failed == ()


# -- tokens -----------------------------------------------------------------------------------------


def test_tokens_pass_once_the_app_holds_dpop_bound_tokens() -> None:
    # Bearer tokens while trying things out are fine, as long as none follows the first DPoP one.
    passed = check([token(1, dpop=False), token(2), token(3)], CheckId.TOKENS)
    assert passed.passed
    assert passed.evidence["tokens"] == 3
    assert passed.evidence["dpop_bound"] == 2
    assert passed.evidence["bearer_after_first_dpop"] == 0
    assert passed.evidence["grants"] == ["client_credentials:3"]
    assert passed.evidence["first_at"] == at(1).isoformat()
    assert passed.evidence["last_at"] == at(3).isoformat()


@pytest.mark.parametrize(
    "tokens",
    [
        [],
        [token(1, dpop=False)],
        [token(1), token(2, dpop=False)],
        [seen(K.TOKEN, 1, dpop=True, grant="client_credentials", client_auth="client_secret_basic")],
    ],
    ids=["none", "bearer only", "bearer after dpop", "not private_key_jwt"],
)
def test_tokens_fail(tokens: list[Observation]) -> None:
    assert not check(tokens, CheckId.TOKENS).passed


# -- delegation ------------------------------------------------------------------------------------


def test_delegation_needs_a_pushed_s256_request_and_an_exchanged_code() -> None:
    pushed = seen(K.PUSHED_REQUEST, 1, grant="S256")
    exchanged = token(2, grant="authorization_code")
    assert check([pushed, exchanged], CheckId.DELEGATION).passed
    assert not check([pushed], CheckId.DELEGATION).passed
    assert not check([exchanged], CheckId.DELEGATION).passed
    assert not check([seen(K.PUSHED_REQUEST, 1, grant="plain"), exchanged], CheckId.DELEGATION).passed
    evidence = check([pushed, exchanged], CheckId.DELEGATION).evidence
    assert (evidence["pushed_with_s256"], evidence["codes_exchanged"]) == (1, 1)


# -- retry after a 429 -----------------------------------------------------------------------------


def test_a_429_retried_after_retry_after_passes() -> None:
    result = check([call(10, 429, key="k", retry_after=3), call(13, 201, key="k")], CheckId.RETRY_AFTER)
    assert result.passed
    assert result.evidence["retried_after_retry_after"] == 1
    assert result.evidence["retried_too_soon"] == 0


@pytest.mark.parametrize(
    "calls",
    [
        [],
        [call(10, 429, key="k", retry_after=3)],  # never retried
        [call(10, 429, retry_after=3), call(14, 201)],  # no key to follow
        [call(10, 429, key="k", retry_after=3), call(12.9, 429, key="k", retry_after=1)],  # too soon
        [  # one honoured retry does not excuse an impatient one
            call(10, 429, key="a", retry_after=1),
            call(11, 201, key="a"),
            call(20, 429, key="b", retry_after=5),
            call(21, 201, key="b"),
        ],
    ],
    ids=["no 429", "not retried", "no key", "too soon", "one too soon"],
)
def test_a_429_check_fails(calls: list[Observation]) -> None:
    assert not check(calls, CheckId.RETRY_AFTER).passed


def test_a_retry_too_soon_is_named() -> None:
    result = check([call(10, 429, key="k", retry_after=3), call(11, 429, key="k")], CheckId.RETRY_AFTER)
    assert result.evidence["retried_too_soon"] == 1
    assert result.evidence["keys_retried_too_soon"] == ["k"]


# -- conflicts -------------------------------------------------------------------------------------


def test_a_409_followed_by_a_success_for_the_same_key_or_resource_passes() -> None:
    assert check(
        [call(1, 409, key="k"), call(2, 200, key="k", resource="POST /v1/other")], CheckId.CONFLICTS
    ).passed
    assert check([call(1, 409), call(2, 204)], CheckId.CONFLICTS).passed  # the same method and path


@pytest.mark.parametrize(
    "calls",
    [
        [],
        [call(1, 409, key="k")],
        [call(1, 200, key="k"), call(2, 409, key="k")],  # the success came first
        [call(1, 409, key="k"), call(2, 200, key="j", resource="POST /v1/other")],
        [call(1, 409, key="k"), call(2, 422, key="k")],
    ],
    ids=["none", "unresolved", "success before", "another key and resource", "not a success"],
)
def test_a_409_check_fails(calls: list[Observation]) -> None:
    assert not check(calls, CheckId.CONFLICTS).passed


def test_the_409_check_is_never_required() -> None:
    result = score(DELEGATING, [obs for obs in GOOD if obs.status != 409], start=START, end=END)
    assert not next(c for c in result.checks if c.id is CheckId.CONFLICTS).passed
    assert result.passed


# -- forged webhooks -------------------------------------------------------------------------------


def forged(seconds: float, status: int | None, subscription: str = "whs_1") -> Observation:
    return seen(K.FORGED_WEBHOOK, seconds, status=status, resource=subscription)


def test_a_refused_forgery_passes() -> None:
    result = check([forged(1, None), forged(2, 401)], CheckId.FORGED_WEBHOOK)
    assert result.passed
    assert (result.evidence["refused"], result.evidence["unanswered"]) == (1, 1)
    assert result.evidence["statuses"] == ["401"]


@pytest.mark.parametrize(
    "deliveries",
    [[], [forged(1, None)], [forged(1, 200)], [forged(1, 400), forged(2, 204, "whs_2")]],
    ids=["none sent", "no answer", "accepted", "one endpoint accepts"],
)
def test_a_forgery_check_fails(deliveries: list[Observation]) -> None:
    result = check(deliveries, CheckId.FORGED_WEBHOOK)
    assert not result.passed


def test_an_accepting_endpoint_is_named() -> None:
    result = check([forged(1, 400), forged(2, 204, "whs_2")], CheckId.FORGED_WEBHOOK)
    assert result.evidence["subscriptions_accepting"] == ["whs_2"]


# -- revocation ------------------------------------------------------------------------------------


def revoked(seconds: float, consent: str = "cns_1") -> Observation:
    return seen(K.CONSENT_REVOKED, seconds, consent_id=consent)


def used(seconds: float, consent: str = "cns_1") -> Observation:
    return call(seconds, 401, resource="GET /v1/accounts", consent_id=consent)


@pytest.mark.parametrize(
    "observations",
    [
        [revoked(10)],  # told by the consent.revoked webhook: never used again
        [revoked(10), used(11)],  # one 401, then it stopped
        [revoked(10), used(11), used(11.5), used(16)],  # calls on their way when the first 401 came
        [used(5), revoked(10)],  # uses before the revocation are not after it
    ],
    ids=["never used", "stopped at the first 401", "in flight", "used before"],
)
def test_the_tokens_of_a_revoked_consent_stop(observations: list[Observation]) -> None:
    assert check(observations, CheckId.REVOCATION).passed


@pytest.mark.parametrize(
    "observations",
    [
        [],
        [revoked(10), used(11), used(16.5)],
        [revoked(10), revoked(20, "cns_2"), used(21, "cns_2"), used(60, "cns_2")],
    ],
    ids=["no revocation", "kept using", "one of two kept using"],
)
def test_a_revoked_consents_tokens_in_use_fail(observations: list[Observation]) -> None:
    result = check(observations, CheckId.REVOCATION)
    assert not result.passed


def test_a_consent_kept_in_use_is_named() -> None:
    result = check([revoked(10), used(11), used(30)], CheckId.REVOCATION)
    assert result.evidence["consents_kept_in_use"] == ["cns_1"]
    assert result.evidence["calls_after_revocation"] == 2


# -- scopes ----------------------------------------------------------------------------------------


def refused(seconds: float) -> Observation:
    return call(seconds, 403, resource="GET /v1/accounts", scope_refused=True)


def test_calls_within_scopes_pass_with_at_most_one_percent_refused() -> None:
    result = check([refused(1), seen(K.CALLS, 2, count=99)], CheckId.SCOPES)
    assert result.passed
    assert (result.evidence["calls"], result.evidence["insufficient_scope"]) == (100, 1)
    assert result.evidence["resources_refused"] == ["GET /v1/accounts"]


@pytest.mark.parametrize(
    "observations",
    [[], [refused(1), seen(K.CALLS, 2, count=98)], [refused(1)]],
    ids=["no calls", "over one percent", "all refused"],
)
def test_calls_outside_scopes_fail(observations: list[Observation]) -> None:
    assert not check(observations, CheckId.SCOPES).passed


# -- which checks an app needs, and the window -------------------------------------------------------


def test_an_app_without_delegation_or_webhooks_is_not_held_to_those_checks() -> None:
    plain = [obs for obs in GOOD if obs.kind in (K.TOKEN, K.CALL, K.CALLS) and obs.consent_id is None]
    result = score(PLAIN, [*plain, token(4)], start=START, end=END)
    required = {c.id for c in result.checks if c.required}
    assert required == {CheckId.TOKENS, CheckId.RETRY_AFTER, CheckId.SCOPES}
    assert result.passed
    assert not score(DELEGATING, plain, start=START, end=END).passed
    assert set(score(DELEGATING, plain, start=START, end=END).failed) == {
        "delegation",
        "forged_webhook",
        "revocation",
    }


def test_a_required_failure_fails_the_score() -> None:
    without_tokens = [obs for obs in GOOD if obs.kind is not K.TOKEN]
    result = score(PLAIN, without_tokens, start=START, end=END)
    assert not result.passed
    assert result.failed == ("tokens",)


def test_only_the_window_counts() -> None:
    late = [replace(observation, at=observation.at + WINDOW + timedelta(minutes=1)) for observation in GOOD]
    result: Score = score(DELEGATING, late, start=START, end=END)
    assert not any(c.passed for c in result.checks)
    assert score(DELEGATING, late, start=START + WINDOW, end=END + WINDOW).passed


def test_at_the_same_moment_the_order_seen_decides() -> None:
    # A frozen clock (or a fast app) puts several observations at one moment: arrival order counts.
    assert not check([token(1), token(1, dpop=False)], CheckId.TOKENS).passed
    assert check([token(1, dpop=False), token(1)], CheckId.TOKENS).passed
    assert check([call(1, 409, key="k"), call(1, 200, key="k")], CheckId.CONFLICTS).passed
    assert not check([call(1, 200, key="k"), call(1, 409, key="k")], CheckId.CONFLICTS).passed
    assert check([used(10), revoked(10)], CheckId.REVOCATION).passed  # the use came before it


class RotatedSigner:
    """Signs like the sandbox, but its key is no longer published: nothing verifies any more."""

    issuer = "https://sandbox.example"

    def sign(self, claims: Mapping[str, Any]) -> str:
        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        return f"eyJhbGciOiJFUzI1NiJ9.{payload}.c2ln"

    def verify(self, pack: str) -> dict[str, Any]:
        raise InvalidPackError("the key that signed it is no longer published")


class NoObservations:
    def record(self, observation: Observation) -> None:
        raise AssertionError("nothing is recorded here")

    def observations(self, client_id: str, since: datetime) -> list[Observation]:
        return []


def test_a_pack_whose_key_is_gone_is_shown_unverified_with_its_recorded_verdict() -> None:
    clock = FrozenClock(END)
    registry = Registry(InMemoryLifecycleStore(), clock)
    registry.ensure_default_plans()
    partner = registry.create_developer(organisation="Ada Labs", region="SG")
    app = registry.create_developer_app(
        partner_id=partner.id,
        name="sandbox app",
        jwks=json.dumps({"keys": [public_key("k1")]}),
        scopes=["market:read"],
        redirect_uris=[],
        environment=Environment.SANDBOX,
    )
    webhooks: Any = None  # no deliveries are forged here
    graduation = Graduation(
        registry, Conformance(NoObservations(), webhooks, webhooks, clock), RotatedSigner(), clock
    )

    asked = graduation.request_review(partner.id, actor="developer:dev_1", reason="ready now")
    opened = graduation.evidence(partner.id)

    assert asked.pack is not None
    assert asked.pack.score.client_id == app.client_id
    assert opened is not None
    assert not opened.verified
    assert opened.evidence.passed is False
    assert [c.id for c in opened.checks] == list(CheckId)
    assert (opened.start, opened.end) == (clock.now() - WINDOW, clock.now())
