"""Consents between a customer and a partner app: created by the app, authorized or rejected by the
customer, revoked by either, expired by time; every step is an event in the hash-chained ledger."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.domain.clock import Clock
from gateway.domain.consent.errors import (
    ConsentMissingError,
    ConsentNotActiveError,
    ConsentNotFoundError,
    ConsentTransitionError,
)
from gateway.domain.consent.models import (
    Consent,
    ConsentLimit,
    ConsentStatus,
    EventKind,
    Revoker,
)
from gateway.domain.consent.ports import ConsentLedger, ConsentStore
from gateway.domain.scopes import Scope

SYSTEM_ACTOR = "system"


@dataclass(frozen=True, slots=True)
class ConsentService:
    store: ConsentStore
    ledger: ConsentLedger
    clock: Clock

    def create(
        self,
        *,
        partner_id: str,
        client_id: str,
        permissions: frozenset[Scope],
        purpose: str,
        expires_at: datetime,
        limits: tuple[ConsentLimit, ...] = (),
    ) -> Consent:
        now = self.clock.now()
        consent = Consent.new(
            partner_id=partner_id,
            client_id=client_id,
            permissions=permissions,
            purpose=purpose,
            expires_at=expires_at,
            limits=limits,
            now=now,
        )
        self.store.add(consent)
        self._record(
            consent,
            EventKind.CREATED,
            actor=f"partner:{partner_id}",
            details={
                "client_id": client_id,
                "permissions": sorted(str(scope) for scope in consent.permissions),
                "purpose": consent.purpose,
                "expires_at": consent.expires_at.isoformat(),
                "limits": [limit.as_document() for limit in consent.limits],
            },
        )
        return consent

    def get(self, consent_id: str, *, partner_id: str) -> Consent:
        """A partner sees its own consents only; anyone else's reads as not found."""
        consent = self.store.get(consent_id)
        if consent is None or consent.partner_id != partner_id:
            raise ConsentNotFoundError("no such consent", consent_id=consent_id)
        return consent

    def list_for_partner(self, *, partner_id: str, status: ConsentStatus | None = None) -> Sequence[Consent]:
        return self.store.list_for_partner(partner_id, status)

    def authorize(
        self, consent_id: str, *, customer_id: str, granted: frozenset[Scope], opted_in_high_risk: bool
    ) -> Consent:
        current = self._load(consent_id)
        now = self.clock.now()
        updated = current.authorize(customer_id, granted, opted_in_high_risk=opted_in_high_risk, now=now)
        return self._commit(
            current,
            updated,
            EventKind.AUTHORIZED,
            actor=f"customer:{customer_id}",
            details={
                "customer_id": customer_id,
                "granted": sorted(str(scope) for scope in updated.permissions),
                "opted_in_high_risk": opted_in_high_risk,
            },
        )

    def reject(self, consent_id: str, *, customer_id: str) -> Consent:
        current = self._load(consent_id)
        updated = current.reject(now=self.clock.now())
        return self._commit(current, updated, EventKind.REJECTED, actor=f"customer:{customer_id}", details={})

    def revoke(self, consent_id: str, *, by: Revoker, party_id: str) -> Consent:
        """The customer who authorized the consent, or the partner that owns it, withdraws it."""
        current = self._load(consent_id)
        owner = current.customer_id if by == "customer" else current.partner_id
        if owner != party_id:
            raise ConsentNotFoundError("no such consent", consent_id=consent_id)
        updated = current.revoke(by, now=self.clock.now())
        return self._commit(current, updated, EventKind.REVOKED, actor=f"{by}:{party_id}", details={"by": by})

    def expire(self, consent_id: str) -> Consent:
        current = self._load(consent_id)
        updated = current.expire(now=self.clock.now())
        return self._commit(
            current,
            updated,
            EventKind.EXPIRED,
            actor=SYSTEM_ACTOR,
            details={"expires_at": current.expires_at.isoformat()},
        )

    def check(self, consent_id: str, partner_id: str, scope: Scope) -> Consent:
        """The consent that lets this partner use `scope` right now; the edge calls it on every request."""
        consent = self.store.get(consent_id)
        if consent is None or consent.partner_id != partner_id:
            raise ConsentMissingError(
                "no consent of this partner grants the scope", consent_id=consent_id, scope=str(scope)
            )
        now = self.clock.now()
        if not consent.is_active(now):
            # An authorized consent past its expiry is refused before a sweep marks it expired.
            status = ConsentStatus.EXPIRED if consent.status is ConsentStatus.AUTHORIZED else consent.status
            raise ConsentNotActiveError(
                f"the consent is {status}", consent_id=consent_id, scope=str(scope), status=str(status)
            )
        if scope not in consent.permissions:
            raise ConsentMissingError(
                "the consent does not grant the scope", consent_id=consent_id, scope=str(scope)
            )
        return consent

    def _load(self, consent_id: str) -> Consent:
        consent = self.store.get(consent_id)
        if consent is None:
            raise ConsentNotFoundError("no such consent", consent_id=consent_id)
        return consent

    def _commit(
        self,
        current: Consent,
        updated: Consent,
        kind: EventKind,
        *,
        actor: str,
        details: Mapping[str, object],
    ) -> Consent:
        # Compare and set: of two concurrent steps from the same status, only one lands.
        if not self.store.replace(updated, expected=current.status):
            raise ConsentTransitionError(
                "the consent changed meanwhile", consent_id=current.id, status=str(current.status)
            )
        self._record(updated, kind, actor=actor, details=details)
        return updated

    def _record(
        self, consent: Consent, kind: EventKind, *, actor: str, details: Mapping[str, object]
    ) -> None:
        self.ledger.append(
            consent_id=consent.id, kind=kind, at=consent.updated_at, actor=actor, details=details
        )
