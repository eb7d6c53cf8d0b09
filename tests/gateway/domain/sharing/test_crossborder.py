from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.compliance.suitability import Jurisdiction
from gateway.domain.sharing.categories import DataCategory
from gateway.domain.sharing.crossborder import (
    NATIONAL_ID_RULE,
    NO_RULE,
    PARTNER_REGIONS,
    RULES,
    UNKNOWN_INPUT_RULE,
    Outcome,
    decide,
)
from partners.models import REGIONS

C = DataCategory
J = Jurisdiction
ALLOW, MASK, DENY = Outcome.ALLOW, Outcome.MASK, Outcome.DENY
COMBINATIONS = list(itertools.product(J, sorted(PARTNER_REGIONS), DataCategory, (False, True)))
SEVERITY = {ALLOW: 0, MASK: 1, DENY: 2}


def test_partner_regions_are_the_registry_regions() -> None:
    assert PARTNER_REGIONS == REGIONS


@pytest.mark.parametrize(
    ("residency", "region", "category", "permitted", "outcome", "rule_id"),
    [
        # same region: nothing crosses a border
        (J.CN, "CN", C.IDENTITY, False, ALLOW, "XB-DOMESTIC"),
        (J.EU, "EU", C.TRANSACTION, False, ALLOW, "XB-DOMESTIC"),
        (J.CN, "CN", C.NATIONAL_ID, False, MASK, NATIONAL_ID_RULE),
        # CN, PIPL art. 38/39: nothing leaves without the separate consent
        (J.CN, "US", C.IDENTITY, False, DENY, "CN-PIPL-39"),
        (J.CN, "US", C.HOLDING, False, DENY, "CN-PIPL-28"),
        (J.CN, "HK", C.RISK_PROFILE, False, DENY, "CN-PIPL-39"),
        (J.CN, "SG", C.CASH_BALANCE, False, DENY, "CN-PIPL-28"),
        (J.CN, "GB", C.NATIONAL_ID, False, DENY, "CN-PIPL-39"),
        (J.CN, "US", C.IDENTITY, True, MASK, "CN-PIPL-38-MINIMISED"),
        (J.CN, "US", C.NATIONAL_ID, True, MASK, "CN-PIPL-38-MINIMISED"),
        (J.CN, "US", C.HOLDING, True, ALLOW, "CN-PIPL-38"),
        (J.CN, "EU", C.TRANSACTION, True, ALLOW, "CN-PIPL-38"),
        (J.CN, "SG", C.RESIDENCY, True, ALLOW, "CN-PIPL-38"),
        (J.CN, "HK", C.RISK_PROFILE, True, ALLOW, "CN-PIPL-38"),
        # EU, GDPR ch. V
        (J.EU, "GB", C.IDENTITY, False, ALLOW, "EU-GDPR-45"),
        (J.EU, "GB", C.RISK_PROFILE, False, ALLOW, "EU-GDPR-45"),
        (J.EU, "GB", C.NATIONAL_ID, False, MASK, NATIONAL_ID_RULE),
        (J.EU, "US", C.IDENTITY, False, DENY, "EU-GDPR-44"),
        (J.EU, "SG", C.RISK_PROFILE, False, DENY, "EU-GDPR-44"),
        (J.EU, "CN", C.NATIONAL_ID, False, DENY, "EU-GDPR-44"),
        (J.EU, "US", C.IDENTITY, True, ALLOW, "EU-GDPR-49-1-A"),
        (J.EU, "US", C.NATIONAL_ID, True, MASK, NATIONAL_ID_RULE),
        (J.EU, "US", C.HOLDING, False, ALLOW, "EU-GDPR-49-1-B"),
        (J.EU, "HK", C.ACCOUNT_REFERENCE, False, ALLOW, "EU-GDPR-49-1-B"),
        # HK, PDPO s. 33 not in force; the national id still leaves masked
        (J.HK, "US", C.IDENTITY, False, ALLOW, "HK-PDPO-33"),
        (J.HK, "CN", C.TRANSACTION, False, ALLOW, "HK-PDPO-33"),
        (J.HK, "SG", C.NATIONAL_ID, False, MASK, NATIONAL_ID_RULE),
        # US
        (J.US, "CN", C.IDENTITY, False, ALLOW, "US-GLBA-502"),
        (J.US, "EU", C.NATIONAL_ID, True, MASK, NATIONAL_ID_RULE),
    ],
)
def test_rule_table(
    residency: Jurisdiction,
    region: str,
    category: DataCategory,
    permitted: bool,
    outcome: Outcome,
    rule_id: str,
) -> None:
    decision = decide(residency, region, category, permitted)
    assert (decision.outcome, decision.rule_id) == (outcome, rule_id)
    assert decision.reason


def test_the_national_id_cap_names_the_transfer_rule_it_overrode() -> None:
    decision = decide(J.HK, "US", C.NATIONAL_ID, False)
    assert decision.inputs["transfer_rule"] == "HK-PDPO-33"


def test_decisions_record_their_inputs() -> None:
    decision = decide(J.CN, "SG", C.HOLDING, True)
    assert dict(decision.inputs) == {
        "residency": "CN",
        "partner_region": "SG",
        "category": "holding",
        "cross_border_permitted": "true",
    }


def test_every_known_combination_has_exactly_one_rule_and_a_decision() -> None:
    problems: list[tuple[object, ...]] = []
    for residency, region, category, permitted in COMBINATIONS:
        matching = [rule.rule_id for rule in RULES if rule.matches(residency, region, category, permitted)]
        decision = decide(residency, region, category, permitted)
        if len(matching) != 1 or decision.rule_id in {NO_RULE, UNKNOWN_INPUT_RULE}:
            problems.append((residency, region, category, permitted, matching, decision.rule_id))
        if category is C.NATIONAL_ID and decision.outcome is ALLOW:
            problems.append((residency, region, category, permitted, "national id in clear"))
    assert problems == []
    assert len(COMBINATIONS) == 4 * 6 * 9 * 2


def test_every_rule_is_used() -> None:
    used = {rule.rule_id for rule in RULES for combo in COMBINATIONS if rule.matches(*combo)}
    assert used == {rule.rule_id for rule in RULES}
    assert len(used) == len(RULES)  # rule ids are unique


def test_the_permission_never_makes_an_answer_stricter() -> None:
    for residency, region, category in itertools.product(J, sorted(PARTNER_REGIONS), DataCategory):
        without = decide(residency, region, category, False).outcome
        with_permission = decide(residency, region, category, True).outcome
        assert SEVERITY[with_permission] <= SEVERITY[without], (residency, region, category)


def test_a_domestic_partner_gets_everything_but_the_national_id_in_clear() -> None:
    for residency, category, permitted in itertools.product(J, DataCategory, (False, True)):
        outcome = decide(residency, residency.value, category, permitted).outcome
        assert outcome is (MASK if category is C.NATIONAL_ID else ALLOW)


@given(
    residency=st.sampled_from(J),
    region=st.text(max_size=4).filter(lambda region: region not in PARTNER_REGIONS),
    category=st.sampled_from(DataCategory),
    permitted=st.booleans(),
)
def test_an_unknown_region_is_refused(
    residency: Jurisdiction, region: str, category: DataCategory, permitted: bool
) -> None:
    decision = decide(residency, region, category, permitted)
    assert (decision.outcome, decision.rule_id) == (DENY, UNKNOWN_INPUT_RULE)


@pytest.mark.parametrize("region", ["JP", "us", "", "EU ", "UK"])
def test_unknown_regions_that_look_close_are_refused(region: str) -> None:
    assert decide(J.US, region, C.CASH_BALANCE, True).outcome is DENY


def test_unknown_residency_or_category_from_untyped_input_is_refused() -> None:
    assert decide("SG", "SG", C.HOLDING, True).rule_id == UNKNOWN_INPUT_RULE  # type: ignore[arg-type]
    assert decide(J.US, "US", "health", True).rule_id == UNKNOWN_INPUT_RULE  # type: ignore[arg-type]
    assert decide("CN", "CN", "holding", False).outcome is ALLOW  # type: ignore[arg-type]
