from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.domain.advisory.codec import proposal_from_document, proposal_to_document
from gateway.domain.advisory.models import CurrentHolding, InvestorProfile
from gateway.domain.advisory.proposing import propose
from gateway.domain.compliance.suitability import InvestorClass, Jurisdiction, RiskLevel
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Instrument
from gateway.domain.money import Currency, Money

# Documents as storage keeps them: a customer's proposal with holdings in and out of scope, and two
# white-label proposals from answers (one with knockouts and an acknowledgement to give).
STORED = Path(__file__).with_name("data") / "proposal_documents.json"


class ReferencePrices:
    def reference_price(self, instrument: Instrument, moment: datetime) -> Decimal:
        return instrument.reference_price


def stored() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = json.loads(STORED.read_text(encoding="utf-8"))
    return documents


def test_stored_documents_decode_and_encode_to_the_same_bytes() -> None:
    documents = stored()
    again = [proposal_to_document(proposal_from_document(document)) for document in documents]
    text = json.dumps(again, indent=2, ensure_ascii=False) + "\n"
    assert text == STORED.read_text(encoding="utf-8")


def test_a_new_proposal_is_written_as_before() -> None:
    cny, hkd = Currency.CNY, Currency.HKD
    holdings = (
        CurrentHolding("ins_ssgwntu23g", Decimal("12000.00"), Money(Decimal("12000.00"), cny)),
        CurrentHolding("ins_lq72t5v5r5", Decimal("5000.00"), Money(Decimal("5416.00"), cny)),
        CurrentHolding("ins_fmz5zplx7x", Decimal("300.00"), Money(Decimal("2961.60"), hkd)),
    )
    proposal = propose(
        InvestorProfile(RiskLevel.C2, InvestorClass.ORDINARY, Jurisdiction.CN, customer_id="cus_demo0001"),
        holdings,
        Money(Decimal("8921.20"), cny),
        Catalogue.from_file(),
        ReferencePrices(),
        datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
        proposal_id="prp_0123456789",
    )
    assert json.dumps(proposal_to_document(proposal)) == json.dumps(stored()[0])


def test_decoded_documents_are_the_proposals_they_record() -> None:
    customer, answered, knocked_out = (proposal_from_document(document) for document in stored())
    assert customer.customer_id == "cus_demo0001"
    assert customer.created_at == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    assert [p.weight for p in customer.positions] == [Decimal("0.4556"), Decimal("0.2056"), None]
    assert answered.risk_assessment is not None
    assert answered.customer_id is None
    assert knocked_out.required_acknowledgements == ("eu_fund_kid",)
    assert knocked_out.risk_assessment is not None
    assert [k.rule for k in knocked_out.risk_assessment.knockouts] == ["RQ-KO-1", "RQ-KO-2", "RQ-KO-3"]
