"""The in-memory consent repository: tests and single-process demos; one lock stands in for a
database transaction, so a write changes the consent, the ledger and its head together."""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime

from gateway.domain.audit.chain import GENESIS, ChainHead
from gateway.domain.consent.models import Consent, ConsentEvent, ConsentStatus, NewEvent, link_event


class InMemoryConsentRepository:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._consents: dict[str, Consent] = {}
        self._events: list[ConsentEvent] = []
        self._head: ChainHead | None = None

    def add(self, consent: Consent, event: NewEvent) -> ConsentEvent:
        with self._lock:
            if consent.id in self._consents:
                raise ValueError(f"consent {consent.id} exists already")
            self._consents[consent.id] = consent
            return self._append(event)

    def transition(
        self, updated: Consent, *, expected: ConsentStatus, event: NewEvent
    ) -> ConsentEvent | None:
        with self._lock:
            current = self._consents.get(updated.id)
            if current is None or current.status is not expected:
                return None
            self._consents[updated.id] = updated
            return self._append(event)

    def _append(self, event: NewEvent) -> ConsentEvent:
        # Like the SQL adapter, link from the head, not from the last event in the list.
        head = self._head or ChainHead(0, GENESIS)
        linked = link_event(head.seq + 1, head.hash, event)
        self._events.append(linked)
        self._head = ChainHead(linked.seq, linked.hash)
        return linked

    def get(self, consent_id: str) -> Consent | None:
        return self._consents.get(consent_id)

    def list_for_partner(
        self,
        partner_id: str,
        *,
        status: ConsentStatus | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> Sequence[Consent]:
        mine = sorted(
            (consent for consent in self._consents.values() if consent.partner_id == partner_id),
            key=lambda consent: (consent.created_at, consent.id),
        )
        if after is not None:
            last = self._consents.get(after)
            if last is None or last.partner_id != partner_id:
                return []
            mine = [
                consent for consent in mine if (consent.created_at, consent.id) > (last.created_at, last.id)
            ]
        return [consent for consent in mine if status is None or consent.status is status][:limit]

    def list_for_customer(self, customer_id: str) -> Sequence[Consent]:
        return sorted(
            (consent for consent in self._consents.values() if consent.customer_id == customer_id),
            key=lambda consent: (consent.created_at, consent.id),
        )

    def lapsed(
        self, now: datetime, *, limit: int = 100, customer_ids: Collection[str] | None = None
    ) -> Sequence[str]:
        due = [c for c in self._authorized(customer_ids) if c.expires_at <= now]
        return [c.id for c in sorted(due, key=lambda consent: (consent.expires_at, consent.id))[:limit]]

    def earliest_expiry(self, customer_ids: Collection[str]) -> datetime | None:
        return min((c.expires_at for c in self._authorized(customer_ids)), default=None)

    def _authorized(self, customer_ids: Collection[str] | None) -> Iterator[Consent]:
        wanted = None if customer_ids is None else set(customer_ids)
        for consent in list(self._consents.values()):
            if consent.status is ConsentStatus.AUTHORIZED and (
                wanted is None or consent.customer_id in wanted
            ):
                yield consent

    def events(self, consent_id: str | None = None) -> Sequence[ConsentEvent]:
        return [event for event in self._events if consent_id is None or event.consent_id == consent_id]

    def head(self) -> ChainHead | None:
        return self._head
