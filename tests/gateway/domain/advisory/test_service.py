from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import msgspec
import pytest

from gateway.apis.v1.advisory.schemas import ProposalOut
from gateway.domain.advisory.errors import InvalidProposalError
from gateway.domain.advisory.models import AnonymousProfile, Proposal
from gateway.domain.advisory.service import PROPOSAL_FIELDS, AdvisoryService
from gateway.domain.compliance.suitability import InvestorClass, Jurisdiction, RiskLevel
from gateway.domain.consent.models import Consent, ConsentStatus
from gateway.domain.customers.models import Customer
from gateway.domain.errors import ForbiddenError, NotFoundError
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Instrument
from gateway.domain.money import Currency, Money
from gateway.domain.scopes import Scope
from gateway.domain.sharing.crossborder import decide
from gateway.domain.sharing.models import DisclosureRecord, Recipient
from gateway.domain.trading import ledger
from gateway.domain.trading.ledger import Balance
from sandbox.clock import FrozenClock
from sandbox.personas import load_demo_customers

CATALOGUE = Catalogue.from_file()
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
LI_WEI = next(customer for customer in load_demo_customers() if customer.username == "li.wei")


class ReferencePrices:
    def reference_price(self, instrument: Instrument, moment: datetime) -> Decimal:
        return instrument.reference_price


class Proposals:
    def __init__(self) -> None:
        self.kept: dict[str, tuple[str, str | None, Proposal]] = {}

    def add(self, partner_id: str, client_id: str, customer_id: str | None, proposal: Proposal) -> None:
        self.kept[proposal.id] = (partner_id, customer_id, proposal)

    def get(self, proposal_id: str, partner_id: str, customer_id: str | None) -> Proposal | None:
        kept = self.kept.get(proposal_id)
        return kept[2] if kept is not None and kept[:2] == (partner_id, customer_id) else None


class Customers:
    def __init__(self, *customers: Customer) -> None:
        self.customers = {customer.id: customer for customer in customers}
        self.log: list[DisclosureRecord] = []

    def get(self, customer_id: str) -> Customer | None:
        return self.customers.get(customer_id)

    def add_disclosure(self, record: DisclosureRecord) -> None:
        self.log.append(record)


class Ledger:
    def __init__(self, balances: Mapping[tuple[str, str], Balance]) -> None:
        self._balances = dict(balances)

    def balances(self, account_ids: Sequence[str]) -> Mapping[tuple[str, str], Balance]:
        return {key: value for key, value in self._balances.items() if key[0] in account_ids}


def advisory(customers: Customers, clock: FrozenClock, balances: Ledger | None = None) -> AdvisoryService:
    return AdvisoryService(
        catalogue=CATALOGUE,
        prices=ReferencePrices(),
        clock=clock,
        proposals=Proposals(),
        customers=customers,
        balances=balances or Ledger({}),
        disclosures=customers,
        transfers=decide,
    )


def consent(customer_id: str, *, cross_border: bool = False) -> Consent:
    return Consent(
        id="cns_0123456789",
        partner_id="ptn_bank",
        client_id="live_bank",
        customer_id=customer_id,
        permissions=frozenset({Scope.ADVISORY_READ}),
        purpose="advice",
        expires_at=NOW + timedelta(days=30),
        limits=(),
        cross_border=cross_border,
        status=ConsentStatus.AUTHORIZED,
        created_at=NOW,
        updated_at=NOW,
    )


def caller(region: str = "CN", delegated: Consent | None = None) -> Recipient:
    return Recipient(
        partner_id="ptn_bank",
        client_id="live_bank",
        partner_region=region,
        consent=delegated,
        scopes=frozenset({str(Scope.ADVISORY_READ)}),
    )


def test_a_customers_proposal_is_valued_from_the_ledger_kept_and_logged() -> None:
    customers = Customers(LI_WEI)
    cash = (LI_WEI.master_account.id, ledger.cash(LI_WEI.master_account.base_currency))
    service = advisory(
        customers, FrozenClock(NOW), Ledger({cash: Balance(Decimal("900.00"), Decimal("100.00"))})
    )
    proposal = service.propose_for_customer(caller(delegated=consent(LI_WEI.id)))
    assert (proposal.customer_id, proposal.portfolio_value.amount) == (LI_WEI.id, Decimal("800.00"))
    assert service.customer_proposal(caller(delegated=consent(LI_WEI.id)), proposal.id) == proposal
    (made, read) = customers.log
    assert made.resource == read.resource == f"/v1/advisory/proposals/{proposal.id}"
    assert (made.consent_id, made.customer_id, made.at) == ("cns_0123456789", LI_WEI.id, NOW)
    assert made.categories == ("cash_balance", "holding", "holding_value", "risk_profile")


def test_an_apps_own_token_has_no_customer_and_a_delegated_token_no_white_label() -> None:
    service = advisory(Customers(LI_WEI), FrozenClock(NOW))
    with pytest.raises(NotFoundError, match="customer proposals need a token delegated by a customer"):
        service.propose_for_customer(caller())
    with pytest.raises(NotFoundError, match="no longer exists"):
        service.propose_for_customer(caller(delegated=consent("cus_gone0001")))
    with pytest.raises(ForbiddenError, match="client-credentials"):
        service.risk_questionnaire(caller(delegated=consent(LI_WEI.id)))
    assert service.risk_questionnaire(caller()).version == "RQ-2026-11"


def test_a_proposal_that_may_not_leave_the_country_is_refused_and_not_logged() -> None:
    customers = Customers(LI_WEI)
    service = advisory(customers, FrozenClock(NOW))
    with pytest.raises(ForbiddenError) as caught:
        service.propose_for_customer(caller("US", consent(LI_WEI.id)))
    assert caught.value.context["partner_region"] == "US"
    assert customers.log == []


def test_a_model_of_another_market_is_refused() -> None:
    service = advisory(Customers(LI_WEI), FrozenClock(NOW))
    with pytest.raises(InvalidProposalError) as caught:
        service.propose_for_customer(caller(delegated=consent(LI_WEI.id)), "mdl_hk_c2")
    assert caught.value.context["field"] == "model_id"


def test_the_logged_fields_are_those_of_the_v1_proposal() -> None:
    assert tuple(field.name for field in msgspec.structs.fields(ProposalOut)) == PROPOSAL_FIELDS


def test_the_disclosure_log_names_the_consent_of_the_caller() -> None:
    service = advisory(Customers(LI_WEI), FrozenClock(NOW))
    other = replace(consent(LI_WEI.id), id="cns_other000001")
    service.propose_for_customer(caller(delegated=other))
    assert isinstance(service.disclosures, Customers)
    assert service.disclosures.log[0].consent_id == "cns_other000001"


def test_service_uses_its_clock() -> None:
    clock = FrozenClock(NOW)
    service = advisory(Customers(LI_WEI), clock)
    questions = service.risk_questionnaire(caller())
    assert questions.version == "RQ-2026-11"
    assert service.score_answers(caller(), {q.id: q.options[0].id for q in questions.questions}).total == 0
    clock.advance(timedelta(minutes=5))
    assert service.propose_for_customer(caller(delegated=consent(LI_WEI.id))).created_at == NOW + timedelta(
        minutes=5
    )
    request = AnonymousProfile(
        Jurisdiction.CN,
        InvestorClass.ORDINARY,
        Money(Decimal("100.00"), Currency.CNY),
        risk_level=RiskLevel.C1,
    )
    assert service.propose_white_label(caller(), request).created_at == NOW + timedelta(minutes=5)
