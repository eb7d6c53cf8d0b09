"""The customer a partner app acts for: the one who delegated its token."""

from __future__ import annotations

from gateway.domain.consent.models import Consent
from gateway.domain.customers.models import Customer
from gateway.domain.customers.ports import CustomerRecords
from gateway.domain.errors import NotFoundError


def customer_behind(consent: Consent | None, records: CustomerRecords, *, refusal: str) -> Customer:
    """The customer behind the consent; `refusal` is the detail when the token acts for no customer."""
    if consent is None or consent.customer_id is None:
        # A client-credentials token acts for no customer: there is nothing of anyone's to show.
        raise NotFoundError(refusal)
    customer = records.get(consent.customer_id)
    if customer is None:
        raise NotFoundError("the customer behind this consent no longer exists")
    return customer
