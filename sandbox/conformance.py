"""The sandbox's conformance suite: what an app's real sandbox traffic shows, scored check by check,
and the signed evidence pack its review request carries (docs/sandbox/graduation.md).

Nothing here is reported by the app. The edge (gateway/edge/conformance.py) records what the
sandbox answered it, the consent service tells of revocations, and the sandbox sends the forged
webhook deliveries itself. A score reads the app's observations of the last 30 days (`WINDOW`).

A *delegating* app holds a redirect URI and a customer-delegated scope; a *webhook* app holds
`webhooks:manage`. The rules, one per check (required: always, unless said otherwise):

- `tokens`: tokens were issued, each to a client authenticated with `private_key_jwt`; one at least
  was DPoP-bound, and no bearer token was issued after the first DPoP-bound one.
- `delegation` (required of delegating apps): a pushed authorization request with PKCE `S256`, and
  an authorization code exchanged for tokens (the server makes codes only for such requests).
- `retry_after`: a request with an `Idempotency-Key` was answered 429 and the next request with that
  key came `Retry-After` seconds later or more; and no such next request came sooner.
- `conflicts` (never required): a request answered 409 was followed by a 2xx answer for the same
  `Idempotency-Key`, or for the same method and path.
- `forged_webhook` (required of webhook apps): a forged delivery (to an endpoint of the app, with a
  wrong signature) got an HTTP answer, and no forged delivery was answered 2xx.
- `revocation` (required of delegating apps): a consent of the app was revoked, and for each revoked
  consent the calls with its tokens after the revocation (each answered 401) all came within 5
  seconds of the first of them: the app stopped using them, or went on with a new consent.
- `scopes`: the app made calls, and at most 1% of them were answered 403 `insufficient_scope`.

A score passes when every required check passes. Times are the platform's, never a test clock's.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, Protocol

from gateway.domain.clock import Clock
from gateway.domain.environment import Environment
from gateway.domain.ids import new_id
from gateway.domain.scopes import CUSTOMER_DELEGATED, Scope
from partners.lifecycle import Evidence
from partners.models import Client, Partner
from partners.service import Registry
from partners.webhooks.models import EVENT_CATALOGUE, OutgoingRequest, Subscription, SubscriptionStatus
from partners.webhooks.ports import Sender
from partners.webhooks.service import WebhookService
from partners.webhooks.signing import WebhookSecret, headers

WINDOW: Final = timedelta(days=30)
STOP_GRACE: Final = timedelta(seconds=5)  # calls already on their way when the first 401 came back
MAX_SCOPE_REFUSALS: Final = Decimal("0.01")
MAX_LISTED: Final = 5  # ids a check's evidence names at most
MAX_FORGED: Final = 5  # subscriptions one request forges deliveries to (each send may take a timeout)
PACK_TYPE: Final = "conformance_evidence"
PACK_VERSION: Final = 1
PRIVATE_KEY_JWT: Final = "private_key_jwt"
PKCE_S256: Final = "S256"
AUTHORIZATION_CODE: Final = "authorization_code"


class ObservationKind(StrEnum):
    TOKEN = "token"  # noqa: S105 (a kind, not a secret): the token endpoint issued a token
    PUSHED_REQUEST = "par"  # the PAR endpoint accepted a request
    CALL = "call"  # one API call worth keeping: unsafe, or answered 401, 403 scope, 409 or 429
    CALLS = "calls"  # a count of the other API calls
    CONSENT_REVOKED = "consent_revoked"
    FORGED_WEBHOOK = "forged_webhook"  # the sandbox sent the app a delivery with a wrong signature


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """One fact about an app's sandbox traffic, as the sandbox saw it."""

    client_id: str
    kind: ObservationKind
    at: datetime
    status: int | None = None  # the answer's status; a forged delivery's: the receiver's (None: none)
    key: str | None = None  # the request's Idempotency-Key
    resource: str | None = None  # "POST /v1/orders"; a forged delivery's subscription id
    consent_id: str | None = None  # the consent behind the token used, or the one revoked
    retry_after: int | None = None  # a 429's Retry-After, in seconds
    grant: str | None = None  # a token's grant type; a pushed request's PKCE method
    dpop: bool | None = None  # a token bound to a DPoP key
    client_auth: str | None = None  # how the client authenticated at the token endpoint
    scope_refused: bool = False  # answered 403 insufficient_scope
    count: int = 1  # CALLS: how many calls


class ConformanceLog(Protocol):
    def record(self, observation: Observation) -> None: ...

    def observations(self, client_id: str, since: datetime) -> Sequence[Observation]:
        """The app's observations at or after `since`, oldest first."""
        ...


class CheckId(StrEnum):
    TOKENS = "tokens"
    DELEGATION = "delegation"
    RETRY_AFTER = "retry_after"
    CONFLICTS = "conflicts"
    FORGED_WEBHOOK = "forged_webhook"
    REVOCATION = "revocation"
    SCOPES = "scopes"


TITLES: Final[Mapping[CheckId, str]] = {
    CheckId.TOKENS: "Tokens with private_key_jwt and DPoP",
    CheckId.DELEGATION: "Pushed authorization request with PKCE S256, code exchanged",
    CheckId.RETRY_AFTER: "429 answered, the same Idempotency-Key retried after Retry-After",
    CheckId.CONFLICTS: "409 answered, a later success for the same key or resource",
    CheckId.FORGED_WEBHOOK: "A forged webhook delivery refused",
    CheckId.REVOCATION: "After a consent is revoked, its tokens stop",
    CheckId.SCOPES: "Calls within the app's scopes",
}

EvidenceValue = int | str | list[str] | None


@dataclass(frozen=True, slots=True)
class Check:
    id: CheckId
    title: str
    required: bool
    passed: bool
    evidence: Mapping[str, EvidenceValue]

    def as_document(self) -> dict[str, Any]:
        return {
            "id": self.id.value,
            "title": self.title,
            "required": self.required,
            "passed": self.passed,
            "evidence": dict(self.evidence),
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Check:
        return cls(
            id=CheckId(document["id"]),
            title=str(document["title"]),
            required=bool(document["required"]),
            passed=bool(document["passed"]),
            evidence=dict(document.get("evidence", {})),
        )


@dataclass(frozen=True, slots=True)
class AppProfile:
    """What of an app's registration decides which checks it needs."""

    client_id: str
    partner_id: str
    delegating: bool  # a redirect URI and a customer-delegated scope: the code flow applies
    webhooks: bool  # holds webhooks:manage: it can receive deliveries

    @classmethod
    def of(cls, client: Client) -> AppProfile:
        app = client.app
        return cls(
            client_id=app.client_id,
            partner_id=client.partner.id,
            delegating=bool(app.redirect_uris) and bool(frozenset(app.scopes) & CUSTOMER_DELEGATED),
            webhooks=Scope.WEBHOOKS_MANAGE in app.scopes,
        )


@dataclass(frozen=True, slots=True)
class Score:
    client_id: str
    partner_id: str
    start: datetime
    end: datetime
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        """Every required check passed."""
        return all(check.passed for check in self.checks if check.required)

    @property
    def failed(self) -> tuple[str, ...]:
        """The required checks that failed."""
        return tuple(c.id.value for c in self.checks if c.required and not c.passed)


def score(
    profile: AppProfile, observations: Iterable[Observation], *, start: datetime, end: datetime
) -> Score:
    """Score the app's observations from `start` to `end` (both included) against every check.

    "After" is the order the sandbox saw things in: by time, and by arrival at the same moment.
    """
    seen = sorted((o for o in observations if start <= o.at <= end), key=lambda o: o.at)  # stable
    of = _by_kind(seen)
    results = {
        CheckId.TOKENS: _tokens(of[ObservationKind.TOKEN]),
        CheckId.DELEGATION: _delegation(of[ObservationKind.PUSHED_REQUEST], of[ObservationKind.TOKEN]),
        CheckId.RETRY_AFTER: _retry_after(of[ObservationKind.CALL]),
        CheckId.CONFLICTS: _conflicts(of[ObservationKind.CALL]),
        CheckId.FORGED_WEBHOOK: _forged_webhook(of[ObservationKind.FORGED_WEBHOOK]),
        CheckId.REVOCATION: _revocation(seen),
        CheckId.SCOPES: _scopes(of[ObservationKind.CALL], of[ObservationKind.CALLS]),
    }
    required = {
        CheckId.TOKENS: True,
        CheckId.DELEGATION: profile.delegating,
        CheckId.RETRY_AFTER: True,
        CheckId.CONFLICTS: False,
        CheckId.FORGED_WEBHOOK: profile.webhooks,
        CheckId.REVOCATION: profile.delegating,
        CheckId.SCOPES: True,
    }
    checks = tuple(
        Check(check, TITLES[check], required[check], passed, evidence)
        for check, (passed, evidence) in results.items()
    )
    return Score(profile.client_id, profile.partner_id, start, end, checks)


Result = tuple[bool, dict[str, EvidenceValue]]


def _by_kind(observations: Sequence[Observation]) -> dict[ObservationKind, list[Observation]]:
    grouped: dict[ObservationKind, list[Observation]] = {kind: [] for kind in ObservationKind}
    for observation in observations:
        grouped[observation.kind].append(observation)
    return grouped


def _moment(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _span(observations: Sequence[Observation]) -> dict[str, EvidenceValue]:
    return {
        "first_at": _moment(observations[0].at) if observations else None,
        "last_at": _moment(observations[-1].at) if observations else None,
    }


def _listed(values: Iterable[str | None]) -> list[str]:
    return sorted({value for value in values if value is not None})[:MAX_LISTED]


def _tokens(tokens: Sequence[Observation]) -> Result:
    first_bound = next((index for index, t in enumerate(tokens) if t.dpop), None)
    bearer_after = [] if first_bound is None else [t for t in tokens[first_bound:] if not t.dpop]
    other_auth = [t for t in tokens if t.client_auth != PRIVATE_KEY_JWT]
    bound = sum(1 for t in tokens if t.dpop)
    passed = bool(tokens) and not other_auth and first_bound is not None and not bearer_after
    grants: dict[str, int] = {}
    for token in tokens:
        grants[token.grant or "unknown"] = grants.get(token.grant or "unknown", 0) + 1
    return passed, {
        "tokens": len(tokens),
        "dpop_bound": bound,
        "bearer": len(tokens) - bound,
        "bearer_after_first_dpop": len(bearer_after),
        "private_key_jwt": len(tokens) - len(other_auth),
        "grants": [f"{grant}:{count}" for grant, count in sorted(grants.items())],
        **_span(tokens),
    }


def _delegation(pushed: Sequence[Observation], tokens: Sequence[Observation]) -> Result:
    s256 = [p for p in pushed if p.grant == PKCE_S256]
    exchanged = [t for t in tokens if t.grant == AUTHORIZATION_CODE]
    return bool(s256) and bool(exchanged), {
        "pushed_requests": len(pushed),
        "pushed_with_s256": len(s256),
        "codes_exchanged": len(exchanged),
        **_span(exchanged),
    }


def _retry_after(calls: Sequence[Observation]) -> Result:
    """Each 429 of a keyed request is judged by the next request with the same key."""
    limited = [c for c in calls if c.status == 429]
    honoured: list[Observation] = []
    early: list[Observation] = []
    unanswered = 0
    for index, refusal in enumerate(calls):
        if refusal.status != 429 or refusal.key is None:
            continue
        retry = next((c for c in calls[index + 1 :] if c.key == refusal.key), None)
        if retry is None:
            unanswered += 1
        elif retry.at >= refusal.at + timedelta(seconds=refusal.retry_after or 0):
            honoured.append(retry)
        else:
            early.append(retry)
    return bool(honoured) and not early, {
        "rate_limited": len(limited),
        "rate_limited_with_key": len(limited) - sum(1 for c in limited if c.key is None),
        "retried_after_retry_after": len(honoured),
        "retried_too_soon": len(early),
        "not_retried": unanswered,
        "keys_retried_too_soon": _listed(c.key for c in early),
        **_span(limited),
    }


def _succeeded(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def _conflicts(calls: Sequence[Observation]) -> Result:
    conflicts = [c for c in calls if c.status == 409]
    resolved = [
        conflict
        for index, conflict in enumerate(calls)
        if conflict.status == 409
        and any(
            _succeeded(c.status)
            and ((conflict.key is not None and c.key == conflict.key) or c.resource == conflict.resource)
            for c in calls[index + 1 :]
        )
    ]
    return bool(resolved), {
        "conflicts": len(conflicts),
        "resolved": len(resolved),
        "unresolved": len(conflicts) - len(resolved),
        **_span(conflicts),
    }


def _forged_webhook(forged: Sequence[Observation]) -> Result:
    answered = [f for f in forged if f.status is not None]
    accepted = [f for f in answered if _succeeded(f.status)]
    return bool(answered) and not accepted, {
        "forged": len(forged),
        "refused": len(answered) - len(accepted),
        "accepted": len(accepted),
        "unanswered": len(forged) - len(answered),
        "statuses": sorted({str(f.status) for f in answered}),
        "subscriptions_accepting": _listed(f.resource for f in accepted),
        **_span(forged),
    }


def _revocation(seen: Sequence[Observation]) -> Result:
    revoked = [o for o in seen if o.kind is ObservationKind.CONSENT_REVOKED]
    used_after: list[str] = []
    kept_using: list[str] = []
    calls_after = 0
    for index, revocation in enumerate(seen):
        if revocation.kind is not ObservationKind.CONSENT_REVOKED:
            continue
        uses = [
            c
            for c in seen[index + 1 :]
            if c.kind is ObservationKind.CALL and c.consent_id == revocation.consent_id
        ]
        if not uses:
            continue
        calls_after += len(uses)
        used_after.append(str(revocation.consent_id))
        if uses[-1].at > uses[0].at + STOP_GRACE:
            kept_using.append(str(revocation.consent_id))
    return bool(revoked) and not kept_using, {
        "consents_revoked": len(revoked),
        "consents_used_after_revocation": len(used_after),
        "calls_after_revocation": calls_after,
        "consents_kept_in_use": _listed(kept_using),
        **_span(revoked),
    }


def _scopes(calls: Sequence[Observation], counted: Sequence[Observation]) -> Result:
    total = len(calls) + sum(c.count for c in counted)
    refused = [c for c in calls if c.scope_refused]
    passed = total > 0 and Decimal(len(refused)) <= MAX_SCOPE_REFUSALS * total
    return passed, {
        "calls": total,
        "insufficient_scope": len(refused),
        "resources_refused": _listed(c.resource for c in refused),
        **_span(refused),
    }


# --- the suite as a service -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ForgedDelivery:
    subscription_id: str
    url: str
    status: int | None  # the receiver's answer; None when there was none (`error` says why)
    error: str | None

    @property
    def refused(self) -> bool:
        return self.status is not None and not _succeeded(self.status)


def forged_request(subscription: Subscription, now: datetime) -> OutgoingRequest:
    """A delivery that looks like a real one, to the subscription's endpoint, signed with a secret
    that is not the subscription's: a receiver that checks signatures refuses it."""
    event_type = next((t for t in sorted(EVENT_CATALOGUE) if subscription.receives(t)), "order.accepted")
    document = {"type": event_type, "timestamp": now.isoformat(), "data": {"id": new_id("evt")}}
    body = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    signed = headers([WebhookSecret.generate()], new_id("msg"), int(now.timestamp()), body)
    return OutgoingRequest(
        url=subscription.url, headers={**signed, "content-type": "application/json"}, body=body
    )


@dataclass(frozen=True, slots=True)
class Conformance:
    """The sandbox's suite: scores an app on its observations and sends it forged deliveries."""

    log: ConformanceLog
    webhooks: WebhookService
    # Sends every forged delivery for real: a `/sbx-fail-N` endpoint must not answer for the app.
    sender: Sender
    clock: Clock
    window: timedelta = WINDOW

    def score(self, profile: AppProfile) -> Score:
        end = self.clock.now()
        start = end - self.window
        return score(profile, self.log.observations(profile.client_id, start), start=start, end=end)

    def forge_webhooks(self, client_id: str) -> list[ForgedDelivery]:
        """One forged delivery to each of the app's newest active subscriptions, sent now."""
        active = [s for s in self.webhooks.subscriptions(client_id) if s.status is SubscriptionStatus.ACTIVE]
        sent: list[ForgedDelivery] = []
        for subscription in active[:MAX_FORGED]:
            now = self.clock.now()
            result = self.sender.send(forged_request(subscription, now), self.webhooks.policy)
            self.log.record(
                Observation(
                    client_id=client_id,
                    kind=ObservationKind.FORGED_WEBHOOK,
                    at=now,
                    status=result.status_code,
                    resource=subscription.id,
                )
            )
            sent.append(ForgedDelivery(subscription.id, subscription.url, result.status_code, result.error))
        return sent


# --- the evidence pack ---------------------------------------------------------------------------


class InvalidPackError(Exception):
    """The text is not an evidence pack this sandbox signed."""


class PackSigner(Protocol):
    @property
    def issuer(self) -> str: ...

    def sign(self, claims: Mapping[str, Any]) -> str:
        """A compact JWS of `claims` under the sandbox issuer's current signing key."""
        ...

    def verify(self, pack: str) -> dict[str, Any]:
        """The claims of a pack this sandbox signed; raises InvalidPackError for anything else."""
        ...


@dataclass(frozen=True, slots=True)
class EvidencePack:
    """A score, signed: what the review request carries to staff."""

    id: str
    issuer: str
    issued_at: datetime
    score: Score
    token: str  # the compact JWS

    @property
    def evidence(self) -> Evidence:
        return Evidence(
            id=self.id,
            client_id=self.score.client_id,
            passed=self.score.passed,
            failed=self.score.failed,
            issued_at=self.issued_at,
            pack=self.token,
        )


def pack_claims(pack_id: str, issuer: str, result: Score, issued_at: datetime) -> dict[str, Any]:
    """The pack's JSON: the checks, the app and partner, the period and when it was issued."""
    return {
        "iss": issuer,
        "sub": result.client_id,
        "jti": pack_id,
        "iat": int(issued_at.timestamp()),
        "type": PACK_TYPE,
        "version": PACK_VERSION,
        "partner_id": result.partner_id,
        "client_id": result.client_id,
        "period": {"start": result.start.isoformat(), "end": result.end.isoformat()},
        "issued_at": issued_at.isoformat(),
        "passed": result.passed,
        "checks": [check.as_document() for check in result.checks],
    }


@dataclass(frozen=True, slots=True)
class OpenedEvidence:
    """A partner's evidence as staff read it: the verdict recorded, the checks of its pack."""

    evidence: Evidence
    partner_id: str
    start: datetime
    end: datetime
    checks: tuple[Check, ...]
    verified: bool  # the signature checks out against the sandbox's published keys today


@dataclass(frozen=True, slots=True)
class ReviewRequest:
    partner: Partner
    pack: EvidencePack | None  # None: the partner has no sandbox app to score


@dataclass(frozen=True, slots=True)
class Graduation:
    """The road out of the sandbox: an app's score, and the signed pack its review request carries."""

    registry: Registry
    conformance: Conformance
    signer: PackSigner
    clock: Clock

    def pack(self, profile: AppProfile) -> EvidencePack:
        result = self.conformance.score(profile)
        pack_id = new_id("evp", random_bytes=8)
        issued_at = result.end
        token = self.signer.sign(pack_claims(pack_id, self.signer.issuer, result, issued_at))
        return EvidencePack(pack_id, self.signer.issuer, issued_at, result, token)

    def request_review(
        self, partner_id: str, *, actor: str, reason: str, client: Client | None = None
    ) -> ReviewRequest:
        """Move the partner into review with the pack of `client`, the calling app; without one
        (the developer portal), of its sandbox app whose score passes most."""
        profile = AppProfile.of(client) if client is not None else self._best_app(partner_id)
        pack = self.pack(profile) if profile is not None else None
        partner = self.registry.lifecycle.request_review(
            partner_id, actor=actor, reason=reason, evidence=pack.evidence if pack is not None else None
        )
        return ReviewRequest(partner, pack)

    def _best_app(self, partner_id: str) -> AppProfile | None:
        clients = [
            self.registry.get_client(app.client_id)
            for app in self.registry.list_apps(partner_id)
            if app.environment is Environment.SANDBOX
        ]
        profiles = [AppProfile.of(c) for c in clients if c is not None and c.active]
        if not profiles:
            return None

        def rank(profile: AppProfile) -> tuple[bool, int, int, str]:
            result = self.conformance.score(profile)
            required = sum(1 for c in result.checks if c.required and c.passed)
            return result.passed, required, sum(1 for c in result.checks if c.passed), profile.client_id

        return max(profiles, key=rank)

    def evidence(self, partner_id: str) -> OpenedEvidence | None:
        """The partner's evidence (`Lifecycle.evidence`), its pack opened for staff."""
        evidence = self.registry.lifecycle.evidence(partner_id)
        if evidence is None:
            return None
        try:
            claims = self.signer.verify(evidence.pack)
            verified = True
        except InvalidPackError:
            # Signed with a key the sandbox no longer publishes: the verdict stands as recorded.
            claims, verified = unverified_claims(evidence.pack), False
        period = claims.get("period", {})
        return OpenedEvidence(
            evidence=evidence,
            partner_id=str(claims.get("partner_id", partner_id)),
            start=datetime.fromisoformat(period["start"]),
            end=datetime.fromisoformat(period["end"]),
            checks=tuple(Check.from_document(document) for document in claims.get("checks", [])),
            verified=verified,
        )


def unverified_claims(pack: str) -> dict[str, Any]:
    """The payload of a compact JWS, without checking its signature (for display only)."""
    try:
        part = pack.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError, binascii.Error) as exc:
        raise InvalidPackError("not a compact JWS") from exc
    if not isinstance(claims, dict):
        raise InvalidPackError("the payload is not a JSON object")
    return claims
