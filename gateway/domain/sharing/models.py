"""Who receives a customer's data, and the entry the disclosure log keeps for each call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.domain.consent.models import Consent
from gateway.domain.ids import new_id
from gateway.domain.sharing.views import Disclosure


@dataclass(frozen=True, slots=True)
class Recipient:
    """A partner app calling with its token: the partner, its region, the consent and the token's scopes."""

    partner_id: str
    client_id: str
    partner_region: str
    consent: Consent | None  # set for a token a customer delegated; None for the app's own token
    scopes: frozenset[str]

    @property
    def granted(self) -> frozenset[str]:
        """The scopes both the token and the consent grant."""
        if self.consent is None:
            return frozenset()
        return self.scopes & frozenset(str(scope) for scope in self.consent.permissions)


@dataclass(frozen=True, slots=True)
class DisclosureRecord:
    """One entry of the disclosure log: who received which customer's data, when, under which consent."""

    id: str
    consent_id: str
    customer_id: str
    partner_id: str
    client_id: str
    resource: str
    categories: tuple[str, ...]
    fields: tuple[str, ...]
    masked: tuple[str, ...]
    withheld: tuple[str, ...]
    decisions: tuple[Mapping[str, Any], ...]
    at: datetime

    @classmethod
    def of(
        cls, recipient: Recipient, resource: str, disclosure: Disclosure, at: datetime
    ) -> DisclosureRecord:
        """The log entry for `disclosure`, made to `recipient` at `resource` under its consent."""
        consent = recipient.consent
        if consent is None or consent.customer_id is None:  # a defect: no customer, nothing disclosed
            raise ValueError("only a customer's consent discloses a customer's data")
        return cls(
            id=new_id("dsc"),
            consent_id=consent.id,
            customer_id=consent.customer_id,
            partner_id=recipient.partner_id,
            client_id=recipient.client_id,
            resource=resource,
            categories=tuple(sorted(category.value for category in disclosure.categories)),
            fields=disclosure.fields,
            masked=disclosure.masked,
            withheld=disclosure.withheld,
            decisions=tuple(
                {"outcome": d.outcome.value, "rule_id": d.rule_id, "inputs": dict(d.inputs)}
                for d in disclosure.decisions
            ),
            at=at,
        )
