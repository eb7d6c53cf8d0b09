"""The customer a partner app acts for: the one who delegated its token."""

from __future__ import annotations

from typing import NamedTuple

from gateway.domain.consent.models import Consent
from gateway.domain.customers.models import Customer
from gateway.domain.customers.ports import CustomerRecords
from gateway.domain.errors import NotFoundError


class Delegation(NamedTuple):
    """A token a customer delegated: that customer and the consent the token acts under."""

    customer_id: str
    consent: Consent


def delegation_of(consent: Consent | None, *, refusal: str) -> Delegation:
    """The customer behind the consent; `refusal` is the detail when the token acts for no customer."""
    if consent is None or consent.customer_id is None:
        # A client-credentials token acts for no customer: there is nothing of anyone's to show.
        raise NotFoundError(refusal)
    return Delegation(consent.customer_id, consent)


def customer_behind(consent: Consent | None, records: CustomerRecords, *, refusal: str) -> Customer:
    """The customer's record behind the consent; `refusal` as for `delegation_of`."""
    customer = records.get(delegation_of(consent, refusal=refusal).customer_id)
    if customer is None:
        raise NotFoundError("the customer behind this consent no longer exists")
    return customer


class CustomersThemselves:
    """Production's `AppCustomers`: a customer signs in as themselves, whichever app asks."""

    def signed_in(self, customer_id: str, username: str, client_id: str | None) -> str:
        return customer_id

    def serves(self, customer_id: str, client_id: str) -> bool:
        return True
