"""What the consent service needs from storage; `storage/` and the in-memory adapters satisfy it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from gateway.domain.consent.models import Consent, ConsentEvent, ConsentStatus, EventKind


class ConsentStore(Protocol):
    def add(self, consent: Consent) -> None: ...
    def get(self, consent_id: str) -> Consent | None: ...
    def replace(self, consent: Consent, *, expected: ConsentStatus) -> bool:
        """Store `consent` only if the stored one still has status `expected` (compare and set)."""
        ...

    def list_for_partner(self, partner_id: str, status: ConsentStatus | None = None) -> Sequence[Consent]: ...


class ConsentLedger(Protocol):
    """Append-only and hash-chained: each event commits to the one before it."""

    def append(
        self, *, consent_id: str, kind: EventKind, at: datetime, actor: str, details: Mapping[str, object]
    ) -> ConsentEvent: ...

    def events(self, consent_id: str | None = None) -> Sequence[ConsentEvent]: ...
