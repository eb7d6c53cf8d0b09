from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.compliance.suitability import (
    DISCLOSURES,
    RULEBOOK_VERSION,
    RULES,
    Complexity,
    CustomerFacts,
    Decision,
    InvestorClass,
    Jurisdiction,
    ProductFacts,
    ProductRisk,
    ProductType,
    Reason,
    RiskLevel,
    SaleContext,
    SuitabilityAssessment,
    assess_suitability,
    is_complex,
    worst,
)

S = Decision.SUITABLE
A = Decision.REQUIRES_ACKNOWLEDGEMENT
U = Decision.UNSUITABLE

# Written out by hand from DOMAIN.md, not computed: rows are the customer C1..C5, columns the product R1..R5.
ORDINARY_MATRIX: dict[RiskLevel, tuple[Decision, Decision, Decision, Decision, Decision]] = {
    RiskLevel.C1: (S, U, U, U, U),
    RiskLevel.C2: (S, S, A, U, U),
    RiskLevel.C3: (S, S, S, A, U),
    RiskLevel.C4: (S, S, S, S, A),
    RiskLevel.C5: (S, S, S, S, S),
}
# The same with the risk mismatch disclosure acknowledged: only the one-level-above cells move.
ACKNOWLEDGED_MATRIX: dict[RiskLevel, tuple[Decision, Decision, Decision, Decision, Decision]] = {
    RiskLevel.C1: (S, U, U, U, U),
    RiskLevel.C2: (S, S, S, U, U),
    RiskLevel.C3: (S, S, S, S, U),
    RiskLevel.C4: (S, S, S, S, S),
    RiskLevel.C5: (S, S, S, S, S),
}
# The reason code behind each cell of ORDINARY_MATRIX.
REASON_MATRIX: dict[RiskLevel, tuple[str, str, str, str, str]] = {
    RiskLevel.C1: (
        "risk_within_tolerance",
        "conservative_customer_no_uplift",
        "risk_two_or_more_levels_above",
        "risk_two_or_more_levels_above",
        "risk_two_or_more_levels_above",
    ),
    RiskLevel.C2: (
        "risk_within_tolerance",
        "risk_within_tolerance",
        "risk_one_level_above",
        "risk_two_or_more_levels_above",
        "risk_two_or_more_levels_above",
    ),
    RiskLevel.C3: (
        "risk_within_tolerance",
        "risk_within_tolerance",
        "risk_within_tolerance",
        "risk_one_level_above",
        "risk_two_or_more_levels_above",
    ),
    RiskLevel.C4: (
        "risk_within_tolerance",
        "risk_within_tolerance",
        "risk_within_tolerance",
        "risk_within_tolerance",
        "risk_one_level_above",
    ),
    RiskLevel.C5: ("risk_within_tolerance",) * 5,
}
MATRIX_CELLS = [(c, r) for c in RiskLevel for r in ProductRisk]

EXPECTED_RULE_IDS = {
    "SUIT-01",
    "SUIT-02",
    "SUIT-03",
    "SUIT-04",
    "SUIT-05",
    "SUIT-06",
    "EU-01",
    "EU-02",
    "HK-01",
    "US-01",
    "CPLX-01",
}


def customer(
    level: RiskLevel = RiskLevel.C3,
    investor_class: InvestorClass = InvestorClass.ORDINARY,
    jurisdiction: Jurisdiction = Jurisdiction.CN,
    **flags: bool,
) -> CustomerFacts:
    return CustomerFacts(level, investor_class, jurisdiction, **flags)


def product(
    risk: ProductRisk = ProductRisk.R2,
    product_type: ProductType = ProductType.STOCK,
    complexity: Complexity = Complexity.NON_COMPLEX,
    *,
    shariah_compliant: bool = False,
    instrument_id: str | None = None,
) -> ProductFacts:
    return ProductFacts(risk, product_type, complexity, shariah_compliant, instrument_id)


LEVERAGED_ETF = product(ProductRisk.R3, ProductType.ETF, Complexity.COMPLEX)
EQUITY_FUND = product(ProductRisk.R3, ProductType.FUND)


def codes(assessment: SuitabilityAssessment) -> list[str]:
    return [r.code for r in assessment.reasons]


def outstanding(assessment: SuitabilityAssessment) -> list[str]:
    return [d.code for d in assessment.required_acknowledgements]


def reason(assessment: SuitabilityAssessment, code: str) -> Reason:
    (found,) = [r for r in assessment.reasons if r.code == code]
    return found


# --- rule table ---------------------------------------------------------------------------------------


def test_rule_table_ids_are_pinned() -> None:
    assert set(RULES) == EXPECTED_RULE_IDS
    assert RULEBOOK_VERSION == "2026-11"


@pytest.mark.parametrize("rule", sorted(EXPECTED_RULE_IDS))
def test_every_rule_is_a_sentence(rule: str) -> None:
    sentence = RULES[rule]
    assert sentence[0].isupper()
    assert sentence.endswith(".")


def test_rule_table_documents_who_the_packs_protect() -> None:
    assert "professional clients are exempt" in RULES["EU-01"]
    assert "professional clients are exempt" in RULES["EU-02"]
    assert "professional investors are exempt" in RULES["HK-01"]
    assert "every investor class" in RULES["SUIT-06"]


def test_disclosure_codes_are_pinned() -> None:
    assert set(DISCLOSURES) == {"risk_mismatch_disclosure", "eu_complex_product_warning", "eu_fund_kid"}
    assert all(code == d.code and d.title for code, d in DISCLOSURES.items())


def test_worst_orders_outcomes() -> None:
    assert worst([S, A, S]) is A
    assert worst([A, U, S]) is U
    assert worst([S, S]) is S
    assert worst([]) is S


# --- risk levels (ordinary, CN) -----------------------------------------------------------------------


@pytest.mark.parametrize(("level", "risk"), MATRIX_CELLS)
def test_ordinary_cn_matrix(level: RiskLevel, risk: ProductRisk) -> None:
    result = assess_suitability(customer(level), product(risk))

    assert result.decision is ORDINARY_MATRIX[level][risk - 1]
    assert codes(result) == [REASON_MATRIX[level][risk - 1]]
    assert result.rulebook_version == "2026-11"


@pytest.mark.parametrize(("level", "risk"), MATRIX_CELLS)
def test_ordinary_cn_matrix_with_risk_disclosure_acknowledged(level: RiskLevel, risk: ProductRisk) -> None:
    result = assess_suitability(
        customer(level), product(risk), acknowledged=frozenset({"risk_mismatch_disclosure"})
    )

    assert result.decision is ACKNOWLEDGED_MATRIX[level][risk - 1]
    assert result.required_acknowledgements == ()


def test_one_level_above_requires_the_named_disclosure() -> None:
    result = assess_suitability(customer(RiskLevel.C3), product(ProductRisk.R4))

    assert result.decision is A
    assert outstanding(result) == ["risk_mismatch_disclosure"]
    only = reason(result, "risk_one_level_above")
    assert only.rule == "SUIT-03"
    assert only.outcome is A
    assert dict(only.inputs) == {
        "investor_class": "ordinary",
        "customer_risk": "C3",
        "product_risk": "R4",
        "acknowledged": "false",
    }
    assert "R4" in only.message
    assert "C3" in only.message


def test_one_level_above_with_acknowledgement_becomes_suitable() -> None:
    result = assess_suitability(
        customer(RiskLevel.C3), product(ProductRisk.R4), acknowledged=frozenset({"risk_mismatch_disclosure"})
    )

    assert result.decision is S
    assert codes(result) == ["risk_mismatch_acknowledged"]
    assert reason(result, "risk_mismatch_acknowledged").rule == "SUIT-03"
    assert reason(result, "risk_mismatch_acknowledged").inputs["acknowledged"] == "true"
    assert result.required_acknowledgements == ()


def test_c1_can_never_uplift_even_with_acknowledgement() -> None:
    result = assess_suitability(
        customer(RiskLevel.C1), product(ProductRisk.R2), acknowledged=frozenset(DISCLOSURES)
    )

    assert result.decision is U
    assert codes(result) == ["conservative_customer_no_uplift"]
    assert reason(result, "conservative_customer_no_uplift").rule == "SUIT-04"
    assert result.required_acknowledgements == ()


def test_two_levels_above_is_refused_even_with_acknowledgement() -> None:
    result = assess_suitability(
        customer(RiskLevel.C2), product(ProductRisk.R4), acknowledged=frozenset(DISCLOSURES)
    )

    assert result.decision is U
    assert reason(result, "risk_two_or_more_levels_above").rule == "SUIT-05"


def test_professional_c1_may_buy_r5() -> None:
    result = assess_suitability(customer(RiskLevel.C1, InvestorClass.PROFESSIONAL), product(ProductRisk.R5))

    assert result.decision is S
    assert codes(result) == ["professional_investor"]
    assert reason(result, "professional_investor").rule == "SUIT-01"


# --- Islamic accounts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("investor_class", list(InvestorClass))
@pytest.mark.parametrize("jurisdiction", list(Jurisdiction))
def test_islamic_account_refuses_non_shariah_for_everyone(
    investor_class: InvestorClass, jurisdiction: Jurisdiction
) -> None:
    who = customer(RiskLevel.C5, investor_class, jurisdiction, islamic_account=True)

    result = assess_suitability(who, product(ProductRisk.R1, instrument_id="600519"))

    assert result.decision is U
    islamic = reason(result, "islamic_account_non_shariah")
    assert islamic.rule == "SUIT-06"
    assert dict(islamic.inputs) == {
        "islamic_account": "true",
        "shariah_compliant": "false",
        "instrument_id": "600519",
    }


def test_islamic_account_may_hold_shariah_compliant() -> None:
    who = customer(RiskLevel.C3, islamic_account=True)

    result = assess_suitability(who, product(ProductRisk.R2, shariah_compliant=True))

    assert result.decision is S
    assert codes(result) == ["risk_within_tolerance", "islamic_account_shariah_compliant"]


def test_islamic_restriction_applies_to_us_self_directed() -> None:
    who = customer(RiskLevel.C1, jurisdiction=Jurisdiction.US, islamic_account=True)

    result = assess_suitability(who, product(ProductRisk.R5))

    assert result.decision is U
    assert codes(result) == ["us_self_directed_not_assessed", "islamic_account_non_shariah"]


def test_ordinary_account_ignores_shariah_status() -> None:
    result = assess_suitability(customer(RiskLevel.C3), product(ProductRisk.R2, shariah_compliant=False))

    assert result.decision is S
    assert codes(result) == ["risk_within_tolerance"]


# --- EU pack ------------------------------------------------------------------------------------------


def test_eu_complex_without_appropriateness_requires_the_warning() -> None:
    result = assess_suitability(customer(RiskLevel.C4, jurisdiction=Jurisdiction.EU), LEVERAGED_ETF)

    assert result.decision is A
    assert outstanding(result) == ["eu_complex_product_warning"]
    eu = reason(result, "eu_complex_needs_appropriateness")
    assert eu.rule == "EU-01"
    assert eu.inputs["appropriateness_passed"] == "false"
    assert eu.inputs["complexity"] == "complex"


def test_eu_complex_with_appropriateness_passed_is_suitable() -> None:
    who = customer(RiskLevel.C4, jurisdiction=Jurisdiction.EU, appropriateness_passed=True)

    result = assess_suitability(who, LEVERAGED_ETF)

    assert result.decision is S
    assert codes(result) == ["risk_within_tolerance", "eu_appropriateness_passed"]


def test_eu_complex_with_acknowledged_warning_is_suitable() -> None:
    result = assess_suitability(
        customer(RiskLevel.C4, jurisdiction=Jurisdiction.EU),
        LEVERAGED_ETF,
        acknowledged=frozenset({"eu_complex_product_warning"}),
    )

    assert result.decision is S
    assert codes(result) == ["risk_within_tolerance", "eu_complex_warning_acknowledged"]


def test_eu_derivative_is_complex_even_when_flagged_non_complex() -> None:
    option = product(ProductRisk.R3, ProductType.DERIVATIVE, Complexity.NON_COMPLEX)

    result = assess_suitability(customer(RiskLevel.C5, jurisdiction=Jurisdiction.EU), option)

    assert is_complex(option)
    assert result.decision is A
    assert outstanding(result) == ["eu_complex_product_warning"]


def test_eu_plain_etf_is_not_complex() -> None:
    result = assess_suitability(
        customer(RiskLevel.C3, jurisdiction=Jurisdiction.EU), product(ProductRisk.R3, ProductType.ETF)
    )

    assert result.decision is S
    assert codes(result) == ["risk_within_tolerance"]


@pytest.mark.parametrize("fund_type", [ProductType.FUND, ProductType.MONEY_MARKET_FUND])
def test_eu_fund_needs_its_kid_acknowledged(fund_type: ProductType) -> None:
    who = customer(RiskLevel.C3, jurisdiction=Jurisdiction.EU)
    fund = product(ProductRisk.R1, fund_type)

    before = assess_suitability(who, fund)
    after = assess_suitability(who, fund, acknowledged=frozenset({"eu_fund_kid"}))

    assert before.decision is A
    assert outstanding(before) == ["eu_fund_kid"]
    assert reason(before, "eu_fund_kid_required").rule == "EU-02"
    assert reason(before, "eu_fund_kid_required").inputs["product_type"] == fund_type.value
    assert after.decision is S
    assert codes(after) == ["risk_within_tolerance", "eu_fund_kid_acknowledged"]


def test_eu_professional_needs_neither_kid_nor_appropriateness() -> None:
    pro = customer(RiskLevel.C2, InvestorClass.PROFESSIONAL, Jurisdiction.EU)

    assert assess_suitability(pro, EQUITY_FUND).decision is S
    assert codes(assess_suitability(pro, LEVERAGED_ETF)) == ["professional_investor"]


def test_fund_outside_the_eu_needs_no_kid() -> None:
    result = assess_suitability(customer(RiskLevel.C3, jurisdiction=Jurisdiction.HK), EQUITY_FUND)

    assert result.decision is S
    assert codes(result) == ["risk_within_tolerance"]


# --- HK pack ------------------------------------------------------------------------------------------


def test_hk_complex_without_derivative_knowledge_is_unsuitable() -> None:
    result = assess_suitability(
        customer(RiskLevel.C5, jurisdiction=Jurisdiction.HK),
        LEVERAGED_ETF,
        acknowledged=frozenset(DISCLOSURES),
    )

    assert result.decision is U
    hk = reason(result, "hk_complex_needs_derivative_knowledge")
    assert hk.rule == "HK-01"
    assert hk.inputs["derivative_knowledge"] == "false"
    assert result.required_acknowledgements == ()


def test_hk_complex_with_derivative_knowledge_is_suitable() -> None:
    who = customer(RiskLevel.C5, jurisdiction=Jurisdiction.HK, derivative_knowledge=True)

    result = assess_suitability(
        who, product(ProductRisk.R5, ProductType.STRUCTURED_PRODUCT, Complexity.COMPLEX)
    )

    assert result.decision is S
    assert codes(result) == ["risk_within_tolerance", "hk_derivative_knowledge_on_file"]


def test_hk_professional_does_not_need_derivative_knowledge() -> None:
    pro = customer(RiskLevel.C2, InvestorClass.PROFESSIONAL, Jurisdiction.HK)

    result = assess_suitability(pro, product(ProductRisk.R5, ProductType.DERIVATIVE, Complexity.COMPLEX))

    assert result.decision is S
    assert codes(result) == ["professional_investor"]


# --- US -----------------------------------------------------------------------------------------------


def test_us_self_directed_is_not_assessed_against_risk_level() -> None:
    result = assess_suitability(customer(RiskLevel.C1, jurisdiction=Jurisdiction.US), product(ProductRisk.R5))

    assert result.decision is S
    assert codes(result) == ["us_self_directed_not_assessed"]
    us = reason(result, "us_self_directed_not_assessed")
    assert us.rule == "US-01"
    assert dict(us.inputs) == {"jurisdiction": "US", "context": "self_directed"}


def test_us_advised_applies_the_risk_rules() -> None:
    result = assess_suitability(
        customer(RiskLevel.C1, jurisdiction=Jurisdiction.US),
        product(ProductRisk.R5),
        context=SaleContext.ADVISED,
    )

    assert result.decision is U
    assert codes(result) == ["risk_two_or_more_levels_above"]


@pytest.mark.parametrize("jurisdiction", [Jurisdiction.CN, Jurisdiction.HK, Jurisdiction.EU])
def test_self_directed_outside_the_us_is_assessed(jurisdiction: Jurisdiction) -> None:
    result = assess_suitability(customer(RiskLevel.C1, jurisdiction=jurisdiction), product(ProductRisk.R5))

    assert result.decision is U


# --- combination --------------------------------------------------------------------------------------


def test_multiple_failures_are_all_reported() -> None:
    who = customer(RiskLevel.C2, jurisdiction=Jurisdiction.HK, islamic_account=True)
    note = product(ProductRisk.R4, ProductType.STRUCTURED_PRODUCT, Complexity.COMPLEX)

    result = assess_suitability(who, note)

    assert result.decision is U
    assert codes(result) == [
        "risk_two_or_more_levels_above",
        "islamic_account_non_shariah",
        "hk_complex_needs_derivative_knowledge",
    ]
    assert all(r.outcome is U for r in result.reasons)


def test_every_outstanding_disclosure_is_listed_once() -> None:
    who = customer(RiskLevel.C2, jurisdiction=Jurisdiction.EU)
    complex_fund = product(ProductRisk.R3, ProductType.FUND, Complexity.COMPLEX)

    result = assess_suitability(who, complex_fund)

    assert result.decision is A
    assert outstanding(result) == ["risk_mismatch_disclosure", "eu_complex_product_warning", "eu_fund_kid"]
    assert [r.outcome for r in result.reasons] == [A, A, A]


def test_requires_acknowledgement_lists_nothing_once_unsuitable() -> None:
    who = customer(RiskLevel.C2, jurisdiction=Jurisdiction.EU, islamic_account=True)

    result = assess_suitability(who, product(ProductRisk.R3, ProductType.FUND))

    assert result.decision is U
    assert {r.outcome for r in result.reasons} == {A, U}
    assert result.required_acknowledgements == ()


def test_passing_reasons_are_returned_next_to_the_failing_one() -> None:
    who = customer(
        RiskLevel.C4, jurisdiction=Jurisdiction.EU, islamic_account=True, appropriateness_passed=True
    )

    result = assess_suitability(who, LEVERAGED_ETF)

    assert result.decision is U
    assert [(r.code, r.outcome) for r in result.reasons] == [
        ("risk_within_tolerance", S),
        ("islamic_account_non_shariah", U),
        ("eu_appropriateness_passed", S),
    ]


# --- properties ---------------------------------------------------------------------------------------

customers = st.builds(
    CustomerFacts,
    risk_level=st.sampled_from(RiskLevel),
    investor_class=st.sampled_from(InvestorClass),
    jurisdiction=st.sampled_from(Jurisdiction),
    islamic_account=st.booleans(),
    appropriateness_passed=st.booleans(),
    derivative_knowledge=st.booleans(),
)
products = st.builds(
    ProductFacts,
    risk=st.sampled_from(ProductRisk),
    product_type=st.sampled_from(ProductType),
    complexity=st.sampled_from(Complexity),
    shariah_compliant=st.booleans(),
    instrument_id=st.none() | st.from_regex(r"[A-Z0-9]{1,8}", fullmatch=True),
)
contexts = st.sampled_from(SaleContext)
known_codes = st.frozensets(st.sampled_from(sorted(DISCLOSURES)))
unknown_codes = st.frozensets(st.text(max_size=30).filter(lambda code: code not in DISCLOSURES), min_size=1)
SEVERITY = {S: 0, A: 1, U: 2}
SNAKE_CASE = re.compile(r"^[a-z]+(_[a-z0-9]+)*$")


@settings(max_examples=200, deadline=None, database=None)
@given(customers, products, contexts, known_codes)
def test_acknowledging_what_is_required_never_makes_it_worse(
    who: CustomerFacts, what: ProductFacts, context: SaleContext, acknowledged: frozenset[str]
) -> None:
    before = assess_suitability(who, what, context=context, acknowledged=acknowledged)
    more = acknowledged | {d.code for d in before.required_acknowledgements}

    after = assess_suitability(who, what, context=context, acknowledged=more)

    assert SEVERITY[after.decision] <= SEVERITY[before.decision]
    if before.decision is A:
        assert after.decision is S
        assert after.required_acknowledgements == ()
    else:
        assert after == before


@settings(max_examples=200, deadline=None, database=None)
@given(customers, products, contexts, known_codes, unknown_codes)
def test_unknown_acknowledgements_change_nothing(
    who: CustomerFacts,
    what: ProductFacts,
    context: SaleContext,
    acknowledged: frozenset[str],
    unknown: frozenset[str],
) -> None:
    plain = assess_suitability(who, what, context=context, acknowledged=acknowledged)

    assert assess_suitability(who, what, context=context, acknowledged=acknowledged | unknown) == plain


@settings(max_examples=200, deadline=None, database=None)
@given(customers, products, contexts, known_codes)
def test_every_assessment_is_explained_and_consistent(
    who: CustomerFacts, what: ProductFacts, context: SaleContext, acknowledged: frozenset[str]
) -> None:
    result = assess_suitability(who, what, context=context, acknowledged=acknowledged)

    assert result == assess_suitability(who, what, context=context, acknowledged=acknowledged)
    assert result.reasons
    assert result.decision is max((r.outcome for r in result.reasons), key=SEVERITY.__getitem__)
    for r in result.reasons:
        assert r.rule in RULES
        assert SNAKE_CASE.match(r.code)
        assert r.message.endswith(".")
        assert r.inputs
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in r.inputs.items())
    for d in result.required_acknowledgements:
        assert DISCLOSURES[d.code] == d
        assert d.code not in acknowledged
    assert (result.decision is A) == bool(result.required_acknowledgements)
    assert len(set(result.required_acknowledgements)) == len(result.required_acknowledgements)


@settings(max_examples=200, deadline=None, database=None)
@given(customers, products, contexts)
def test_professionals_are_never_held_to_risk_or_knowledge_rules(
    who: CustomerFacts, what: ProductFacts, context: SaleContext
) -> None:
    pro = replace(who, investor_class=InvestorClass.PROFESSIONAL)
    shariah_ok = replace(what, shariah_compliant=True)

    assert assess_suitability(pro, shariah_ok, context=context).decision is S
