"""What the consent service needs from storage; `storage/` and the in-memory adapter satisfy it."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from gateway.domain.audit.chain import ChainHead
from gateway.domain.consent.models import Consent, ConsentEvent, ConsentStatus, NewEvent


class ConsentRepository(Protocol):
    """Consents and their hash-chained ledger: each write changes both in one transaction."""

    def add(self, consent: Consent, event: NewEvent) -> ConsentEvent:
        """Store a new consent and append its event to the ledger, atomically."""
        ...

    def transition(
        self, updated: Consent, *, expected: ConsentStatus, event: NewEvent
    ) -> ConsentEvent | None:
        """Store `updated` and append `event` only if the stored status is still `expected`.

        Compare and set: of two concurrent steps from the same status exactly one lands; the other
        gets None and nothing of it is stored.
        """
        ...

    def get(self, consent_id: str) -> Consent | None: ...

    def list_for_partner(
        self,
        partner_id: str,
        *,
        status: ConsentStatus | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> Sequence[Consent]:
        """Oldest first by (created_at, id); `after` is the id of the last consent already seen.

        An `after` that is not one of this partner's consents gives an empty page.
        """
        ...

    def list_for_customer(self, customer_id: str) -> Sequence[Consent]:
        """Oldest first by (created_at, id)."""
        ...

    def lapsed(
        self, now: datetime, *, limit: int = 100, customer_ids: Collection[str] | None = None
    ) -> Sequence[str]:
        """Ids of authorized consents whose expiry is at or before `now`, soonest first; of these
        customers only, unless None."""
        ...

    def earliest_expiry(self, customer_ids: Collection[str]) -> datetime | None:
        """The soonest expiry of an authorized consent of these customers, lapsed or not."""
        ...

    def events(self, consent_id: str | None = None) -> Sequence[ConsentEvent]:
        """The ledger in seq order, or one consent's events."""
        ...

    def head(self) -> ChainHead | None:
        """The last seq and hash, kept apart from the events (None before the first event)."""
        ...
