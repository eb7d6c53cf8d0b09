"""Wire format of the partner's self-service: the calling app's keys, the review request and the
conformance score and evidence pack it carries (sandbox/conformance.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from gateway.apis.admin.lifecycle import Reason
from gateway.apis.admin.schemas import PublicJwk
from gateway.apis.schemas import RequestBody
from partners.models import PartnerStage
from sandbox.conformance import Check, EvidencePack, ReviewRequest, Score


class AppKeysOut(msgspec.Struct, frozen=True, kw_only=True):
    """The app's public JWK Set, as the token endpoint checks client assertions against it."""

    client_id: str
    keys: list[dict[str, Any]]

    @classmethod
    def of(cls, client_id: str, jwks: dict[str, Any]) -> AppKeysOut:
        return cls(client_id=client_id, keys=[dict(key) for key in jwks.get("keys", [])])


class AppKeyIn(RequestBody):
    key: PublicJwk

    def jwk(self) -> dict[str, Any]:
        document: dict[str, Any] = msgspec.to_builtins(self.key)
        return document


class ReviewRequestIn(RequestBody):
    reason: Reason


class ConformanceCheckOut(msgspec.Struct, frozen=True, kw_only=True):
    """One check of the conformance suite (docs/sandbox/graduation.md) and what it saw."""

    id: str
    title: str
    required: bool  # graduation needs it to pass (some checks only for apps that can use them)
    passed: bool
    evidence: dict[str, Any]  # counts, first and last times, a few ids

    @classmethod
    def of(cls, check: Check) -> ConformanceCheckOut:
        return cls(
            id=check.id.value,
            title=check.title,
            required=check.required,
            passed=check.passed,
            evidence=dict(check.evidence),
        )


class ConformanceOut(msgspec.Struct, frozen=True, kw_only=True):
    """The calling app's conformance score now, from its sandbox traffic of the last 30 days."""

    object: Literal["conformance_score"] = "conformance_score"
    client_id: str
    partner_id: str
    period_start: datetime
    period_end: datetime
    passed: bool  # every required check passed
    failed: list[str]  # the required checks that failed
    checks: list[ConformanceCheckOut]

    @classmethod
    def of(cls, score: Score) -> ConformanceOut:
        return cls(
            client_id=score.client_id,
            partner_id=score.partner_id,
            period_start=score.start,
            period_end=score.end,
            passed=score.passed,
            failed=list(score.failed),
            checks=[ConformanceCheckOut.of(check) for check in score.checks],
        )


class EvidencePackOut(msgspec.Struct, frozen=True, kw_only=True):
    """The signed evidence pack a review request carries to staff."""

    object: Literal["evidence_pack"] = "evidence_pack"
    id: str
    issued_at: datetime
    # The checks, app, partner, period and issue time as a compact JWS (ES256, `typ` evidence+jwt),
    # signed by the sandbox issuer: verify it against the sandbox's JWKS.
    pack: str
    score: ConformanceOut

    @classmethod
    def of(cls, pack: EvidencePack) -> EvidencePackOut:
        return cls(id=pack.id, issued_at=pack.issued_at, pack=pack.token, score=ConformanceOut.of(pack.score))


class PartnerStageOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: Literal["partner"] = "partner"
    stage: PartnerStage
    evidence: EvidencePackOut | None = None  # a review request's pack; None: no sandbox app to score

    @classmethod
    def of_review(cls, review: ReviewRequest) -> PartnerStageOut:
        pack = review.pack
        return cls(
            id=review.partner.id,
            stage=review.partner.stage,
            evidence=EvidencePackOut.of(pack) if pack is not None else None,
        )
