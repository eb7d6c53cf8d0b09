"""What advice needs from storage and from other capabilities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from gateway.domain.advisory.models import Proposal
from gateway.domain.compliance.suitability import Jurisdiction
from gateway.domain.customers.models import Customer
from gateway.domain.market.models import Instrument
from gateway.domain.sharing.categories import DataCategory
from gateway.domain.sharing.crossborder import PolicyDecision
from gateway.domain.sharing.models import DisclosureRecord
from gateway.domain.trading.ledger import Balance


class Prices(Protocol):
    def reference_price(self, instrument: Instrument, moment: datetime) -> Decimal:
        """The price (or NAV) to value `instrument` at `moment`, in the instrument's currency."""
        ...


class ProposalStore(Protocol):
    def add(self, partner_id: str, client_id: str, customer_id: str | None, proposal: Proposal) -> None:
        """Keep a proposal; `customer_id` is None for a white-label proposal."""
        ...

    def get(self, proposal_id: str, partner_id: str, customer_id: str | None) -> Proposal | None:
        """The proposal if this partner asked for it under this customer (None: a white-label one)."""
        ...


class CustomerRecords(Protocol):
    def get(self, customer_id: str) -> Customer | None: ...


class LedgerBalances(Protocol):
    def balances(self, account_ids: Sequence[str]) -> Mapping[tuple[str, str], Balance]:
        """Every balance of these accounts by (account id, asset), read without a write lock."""
        ...


class DisclosureLog(Protocol):
    def add_disclosure(self, record: DisclosureRecord) -> None: ...


class TransferPolicy(Protocol):
    def __call__(
        self,
        residency: Jurisdiction,
        partner_region: str,
        category: DataCategory,
        cross_border_permitted: bool,
    ) -> PolicyDecision:
        """May this category of a customer's data go to a partner in that region."""
        ...
