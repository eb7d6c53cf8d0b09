"""Consents between a customer and a partner app: created by the app, authorized or rejected by the
customer, revoked by either, expired by time; every step is an event in the hash-chained ledger,
written in the same transaction as the step itself."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

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
    NewEvent,
    Revoker,
)
from gateway.domain.consent.ports import ConsentRepository
from gateway.domain.errors import RuleViolationError
from gateway.domain.paging import Page
from gateway.domain.scopes import Scope

SYSTEM_ACTOR: Final = "system"
MAX_PAGE_LIMIT: Final = 100
log = logging.getLogger("gateway.consent")

Listener = Callable[[Consent], None]


@dataclass(frozen=True, slots=True)
class ConsentService:
    repository: ConsentRepository
    clock: Clock
    # Told of every committed status change, after the commit (e.g. revocation kills tokens at once).
    listeners: tuple[Listener, ...] = ()

    def create(
        self,
        *,
        partner_id: str,
        client_id: str,
        permissions: frozenset[Scope],
        purpose: str,
        expires_at: datetime,
        limits: tuple[ConsentLimit, ...] = (),
        cross_border: bool = False,
    ) -> Consent:
        now = self.clock.now()
        consent = Consent.new(
            partner_id=partner_id,
            client_id=client_id,
            permissions=permissions,
            purpose=purpose,
            expires_at=expires_at,
            limits=limits,
            cross_border=cross_border,
            now=now,
        )
        details = {
            "client_id": client_id,
            "permissions": sorted(str(scope) for scope in consent.permissions),
            "purpose": consent.purpose,
            "expires_at": consent.expires_at.isoformat(),
            "limits": [limit.as_document() for limit in consent.limits],
            "cross_border": consent.cross_border,
        }
        self.repository.add(consent, _event(consent, EventKind.CREATED, f"partner:{partner_id}", details))
        return consent

    def get(self, consent_id: str, *, partner_id: str) -> Consent:
        """A partner sees its own consents only; anyone else's reads as not found."""
        consent = self.repository.get(consent_id)
        if consent is None or consent.partner_id != partner_id:
            raise ConsentNotFoundError("no such consent", consent_id=consent_id)
        return consent

    def list_for_partner(
        self,
        *,
        partner_id: str,
        status: ConsentStatus | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> Page[Consent]:
        """One page, oldest first; `after` is the `next_after` of the page before."""
        if not 1 <= limit <= MAX_PAGE_LIMIT:
            raise RuleViolationError(
                f"limit must be between 1 and {MAX_PAGE_LIMIT}", field="limit", value=limit
            )
        # One more than asked tells whether another page follows, without a count query.
        found = self.repository.list_for_partner(partner_id, status=status, after=after, limit=limit + 1)
        return Page.of(found, limit)

    def list_for_customer(self, customer_id: str) -> Sequence[Consent]:
        return self.repository.list_for_customer(customer_id)

    def authorize(
        self,
        consent_id: str,
        *,
        customer_id: str,
        granted: frozenset[Scope],
        opted_in_high_risk: bool,
        allow_cross_border: bool,
    ) -> Consent:
        current = self._load(consent_id)
        updated = current.authorize(
            customer_id,
            granted,
            opted_in_high_risk=opted_in_high_risk,
            allow_cross_border=allow_cross_border,
            now=self.clock.now(),
        )
        return self._commit(
            current,
            updated,
            EventKind.AUTHORIZED,
            actor=f"customer:{customer_id}",
            details={
                "customer_id": customer_id,
                "granted": sorted(str(scope) for scope in updated.permissions),
                "opted_in_high_risk": opted_in_high_risk,
                "cross_border": updated.cross_border,
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

    def expire_lapsed(self, customers: Collection[str] | None = None) -> int:
        """Record `expired` in the ledger for every authorized consent past its expiry; returns how many.

        Calls are refused at expiry already (`check`); the sweep makes the ledger and the listeners
        (refresh tokens) say so. Two workers sweeping at once: the compare-and-set lets one win.
        `customers` limits the sweep to these customers' consents (a test clock's); None sweeps all.
        """
        if customers is not None and not customers:
            return 0
        done = 0
        for consent_id in self.repository.lapsed(self.clock.now(), customer_ids=customers):
            try:
                self.expire(consent_id)
            except ConsentTransitionError:
                continue  # another worker (or a revocation) got there first
            done += 1
        return done

    def next_due(self, customers: Collection[str], after: datetime) -> datetime | None:
        """When `expire_lapsed` next has a consent of these customers to expire: the earliest
        expiry strictly after `after` of their authorized consents, or None when none is authorized.

        A consent that lapsed by `after` but is not recorded as expired yet is due at once: the
        answer is `after` itself, and a sweep then expires it.
        """
        if not customers:
            return None
        earliest = self.repository.earliest_expiry(customers)
        return max(earliest, after) if earliest is not None else None

    def check(self, consent_id: str, partner_id: str, scope: Scope) -> Consent:
        """The consent that lets this partner use `scope` right now; the edge calls it on every request."""
        consent = self.repository.get(consent_id)
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
        consent = self.repository.get(consent_id)
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
        # Compare and set, with the ledger event in the same transaction: of two concurrent steps
        # from the same status only one lands, and no event is ever written for the loser.
        event = _event(updated, kind, actor, details)
        if self.repository.transition(updated, expected=current.status, event=event) is None:
            raise ConsentTransitionError(
                "the consent changed meanwhile", consent_id=current.id, status=str(current.status)
            )
        self._notify(updated)
        return updated

    def _notify(self, consent: Consent) -> None:
        """Tell every listener, even when one fails; then raise the first failure (never swallow it)."""
        failure: Exception | None = None
        for listener in self.listeners:
            try:
                listener(consent)
            except Exception as exc:
                log.exception("consent listener %r failed for %s", listener, consent.id)
                failure = failure or exc
        if failure is not None:
            raise failure


def _event(consent: Consent, kind: EventKind, actor: str, details: Mapping[str, object]) -> NewEvent:
    return NewEvent(consent_id=consent.id, kind=kind, at=consent.updated_at, actor=actor, details=details)
