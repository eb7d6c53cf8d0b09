"""In-memory adapters for the consent ports: tests and single-process demos."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from gateway.domain.audit.chain import GENESIS
from gateway.domain.consent.models import Consent, ConsentEvent, ConsentStatus, EventKind, link_event


class InMemoryConsentStore:
    def __init__(self) -> None:
        self._consents: dict[str, Consent] = {}

    def add(self, consent: Consent) -> None:
        self._consents[consent.id] = consent

    def get(self, consent_id: str) -> Consent | None:
        return self._consents.get(consent_id)

    def replace(self, consent: Consent, *, expected: ConsentStatus) -> bool:
        current = self._consents.get(consent.id)
        if current is None or current.status is not expected:
            return False
        self._consents[consent.id] = consent
        return True

    def list_for_partner(self, partner_id: str, status: ConsentStatus | None = None) -> Sequence[Consent]:
        return [
            consent
            for consent in self._consents.values()
            if consent.partner_id == partner_id and (status is None or consent.status is status)
        ]


class InMemoryConsentLedger:
    def __init__(self) -> None:
        self._events: list[ConsentEvent] = []

    def append(
        self, *, consent_id: str, kind: EventKind, at: datetime, actor: str, details: Mapping[str, object]
    ) -> ConsentEvent:
        prev = self._events[-1].hash if self._events else GENESIS
        event = link_event(
            len(self._events) + 1, prev, consent_id=consent_id, kind=kind, at=at, actor=actor, details=details
        )
        self._events.append(event)
        return event

    def events(self, consent_id: str | None = None) -> Sequence[ConsentEvent]:
        return [event for event in self._events if consent_id is None or event.consent_id == consent_id]
