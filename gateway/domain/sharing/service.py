"""Customer data for a partner under the customer's consent: minimised views, each disclosure logged."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

from gateway.domain.clock import Clock
from gateway.domain.customers.models import Customer
from gateway.domain.customers.ports import CustomerRecords
from gateway.domain.customers.service import customer_behind
from gateway.domain.sharing.categories import categories_for
from gateway.domain.sharing.models import DisclosureRecord, Recipient
from gateway.domain.sharing.ports import CurrentPositions, DisclosureLog
from gateway.domain.sharing.views import (
    Audience,
    SharedCollection,
    SharedView,
    account_views,
    holding_views,
    kyc_profile_view,
    risk_profile_view,
    transaction_views,
)

NO_CUSTOMER: Final = "this operation needs a token delegated by a customer"

_View = TypeVar("_View", SharedView, SharedCollection)


@dataclass(frozen=True, slots=True)
class SharingService:
    customers: CustomerRecords
    positions: CurrentPositions
    disclosures: DisclosureLog
    clock: Clock

    def accounts(self, recipient: Recipient) -> SharedCollection:
        return self._share(recipient, "/v1/accounts", account_views)

    def holdings(self, recipient: Recipient) -> SharedCollection:
        return self._share(recipient, "/v1/holdings", holding_views)

    def transactions(self, recipient: Recipient) -> SharedCollection:
        return self._share(recipient, "/v1/transactions", transaction_views)

    def risk_profile(self, recipient: Recipient) -> SharedView:
        return self._share(recipient, "/v1/profile/risk", risk_profile_view)

    def kyc_profile(self, recipient: Recipient) -> SharedView:
        return self._share(recipient, "/v1/profile", kyc_profile_view)

    def disclosures_of(self, customer_id: str) -> Sequence[DisclosureRecord]:
        """Who received the customer's data, what and when, newest first, for the customer to see."""
        return self.disclosures.disclosures(customer_id)

    def _share(
        self, recipient: Recipient, resource: str, view: Callable[[Customer, Audience], _View]
    ) -> _View:
        """The view of the customer behind the consent, as the ledger has them now; the disclosure logged."""
        customer = customer_behind(recipient.consent, self.customers, refusal=NO_CUSTOMER)
        customer = self.positions.current(customer)
        audience = Audience(
            granted=categories_for(recipient.granted),
            partner_region=recipient.partner_region,
            cross_border_permitted=recipient.consent is not None and recipient.consent.cross_border,
        )
        shared = view(customer, audience)
        self.disclosures.add_disclosure(
            DisclosureRecord.of(recipient, resource, shared.disclosure, self.clock.now())
        )
        return shared
