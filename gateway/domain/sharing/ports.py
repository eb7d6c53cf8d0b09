"""What sharing needs from other capabilities: current positions and the disclosure log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gateway.domain.customers.models import Customer
from gateway.domain.sharing.models import DisclosureRecord


class CurrentPositions(Protocol):
    def current(self, customer: Customer) -> Customer:
        """The customer with cash and holdings as the ledger has them now."""
        ...


class DisclosureLog(Protocol):
    def add_disclosure(self, record: DisclosureRecord) -> None: ...
    def disclosures(self, customer_id: str, *, limit: int = 100) -> Sequence[DisclosureRecord]:
        """The customer's latest disclosures, newest first."""
        ...
