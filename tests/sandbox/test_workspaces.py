"""Persona copies: every identifier rewritten, the same for the same app and generation, never
shared between apps or generations, and the facts of the persona kept."""

from __future__ import annotations

import pytest

from gateway.domain.customers.models import Customer
from sandbox.personas import Persona, load_personas
from sandbox.workspaces import copy_of


def identifiers(customer: Customer) -> set[str]:
    return {
        customer.id,
        customer.username,
        *(account.id for account in customer.accounts),
        *(account.number for account in customer.accounts),
        *(transaction.id for transaction in customer.transactions),
    }


@pytest.mark.parametrize("persona", load_personas(), ids=lambda persona: persona.customer.username)
def test_a_copy_keeps_the_facts_and_rewrites_every_identifier(persona: Persona) -> None:
    template = persona.customer
    copy = copy_of(template, "sbx_app1", 0)
    assert copy == copy_of(template, "sbx_app1", 0)  # reproducible
    assert copy.residency is template.residency
    assert copy.risk_level is template.risk_level
    assert copy.kyc == template.kyc
    assert [a.balances for a in copy.accounts] == [a.balances for a in template.accounts]
    assert [(h.instrument_id, h.quantity) for h in copy.holdings] == [
        (h.instrument_id, h.quantity) for h in template.holdings
    ]
    assert {h.account_id for h in copy.holdings} <= {a.id for a in copy.accounts}
    assert copy.username.startswith(template.username + ".")
    for other in (copy_of(template, "sbx_app2", 0), copy_of(template, "sbx_app1", 1), template):
        assert not identifiers(copy) & identifiers(other)
