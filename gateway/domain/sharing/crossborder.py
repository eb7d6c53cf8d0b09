"""The cross-border data policy: may a category of a customer's data go to a partner in that region."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from gateway.domain.compliance.suitability import Jurisdiction
from gateway.domain.sharing.categories import FINANCIAL, PERSONAL, DataCategory

# The partner regions of the registry (partners/models.py REGIONS, pinned equal by a test); the domain
# keeps its own copy because partners/ depends on the domain, not the other way round.
PARTNER_REGIONS: Final = frozenset({"CN", "HK", "EU", "US", "SG", "GB"})
# Regions with an EU adequacy decision (GDPR art. 45); GB: Commission decision of 28 June 2021. Others
# are treated as not adequate, which only ever makes the answer stricter.
EU_ADEQUATE: Final = frozenset({"GB"})
_EU_NOT_ADEQUATE: Final = PARTNER_REGIONS - EU_ADEQUATE  # an "EU" partner is domestic (XB-DOMESTIC)

ALL: Final = frozenset(DataCategory)


class Outcome(StrEnum):
    ALLOW = "allow"
    MASK = "mask"  # the field leaves only through its masking function
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """The outcome, the rule that gave it, why, and the inputs it was given (recorded with the disclosure)."""

    outcome: Outcome
    rule_id: str
    reason: str
    inputs: Mapping[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One row of RULES: it matches when every condition holds; None means "any"."""

    rule_id: str
    categories: frozenset[DataCategory]
    outcome: Outcome
    reason: str  # the legal hook, published with every decision
    domestic: bool = False  # the partner is in the customer's region of residence
    residency: Jurisdiction | None = None
    regions: frozenset[str] | None = None
    permitted: bool | None = None  # the consent's explicit cross-border permission

    def matches(self, residency: Jurisdiction, region: str, category: DataCategory, permitted: bool) -> bool:
        return (
            self.domestic is (region == residency.value)
            and (self.residency is None or self.residency is residency)
            and (self.regions is None or region in self.regions)
            and category in self.categories
            and (self.permitted is None or self.permitted is permitted)
        )


_CN_MINIMISED: Final = frozenset({DataCategory.IDENTITY, DataCategory.NATIONAL_ID})

# Exactly one row matches each known combination (a test walks all of them), so the order is only
# for reading. After the table, a national id is capped at "mask" (NATIONAL_ID_RULE).
RULES: Final[tuple[Rule, ...]] = (
    Rule(
        rule_id="XB-DOMESTIC",
        domestic=True,
        categories=ALL,
        outcome=Outcome.ALLOW,
        reason="The partner is in the customer's region of residence: nothing crosses a border.",
    ),
    # Mainland China, PIPL ch. III: personal information leaves China only with the individual's
    # separate consent (art. 39) and on a legal mechanism (art. 38: CAC assessment, certification or
    # standard contract, which the partner contract provides); financial accounts are sensitive
    # personal information (art. 28).
    Rule(
        rule_id="CN-PIPL-39",
        residency=Jurisdiction.CN,
        categories=PERSONAL,
        permitted=False,
        outcome=Outcome.DENY,
        reason="PIPL art. 39: personal information leaves mainland China only with the customer's "
        "separate consent to the transfer, and this consent carries none.",
    ),
    Rule(
        rule_id="CN-PIPL-28",
        residency=Jurisdiction.CN,
        categories=FINANCIAL,
        permitted=False,
        outcome=Outcome.DENY,
        reason="PIPL art. 28 and 39: financial account information is sensitive personal information "
        "and leaves mainland China only with the customer's separate consent to the transfer.",
    ),
    Rule(
        rule_id="CN-PIPL-38-MINIMISED",
        residency=Jurisdiction.CN,
        categories=_CN_MINIMISED,
        permitted=True,
        outcome=Outcome.MASK,
        reason="PIPL art. 38 and 6: even with the customer's separate consent, identity data leaves "
        "mainland China masked, the minimum the purpose needs.",
    ),
    Rule(
        rule_id="CN-PIPL-38",
        residency=Jurisdiction.CN,
        categories=ALL - _CN_MINIMISED,
        permitted=True,
        outcome=Outcome.ALLOW,
        reason="PIPL art. 38 and 39: the customer separately consented to the transfer abroad.",
    ),
    # EU, GDPR ch. V: a transfer needs an adequacy decision (art. 45) or, without other safeguards, a
    # derogation (art. 49): explicit consent (1)(a), or necessity for the customer's contract (1)(b).
    Rule(
        rule_id="EU-GDPR-45",
        residency=Jurisdiction.EU,
        regions=EU_ADEQUATE,
        categories=ALL,
        outcome=Outcome.ALLOW,
        reason="GDPR art. 45: the partner's region has an EU adequacy decision.",
    ),
    Rule(
        rule_id="EU-GDPR-49-1-A",
        residency=Jurisdiction.EU,
        regions=_EU_NOT_ADEQUATE,
        categories=ALL,
        permitted=True,
        outcome=Outcome.ALLOW,
        reason="GDPR art. 49(1)(a): the customer explicitly consented to the transfer outside the EU.",
    ),
    Rule(
        rule_id="EU-GDPR-49-1-B",
        residency=Jurisdiction.EU,
        regions=_EU_NOT_ADEQUATE,
        categories=FINANCIAL,
        permitted=False,
        outcome=Outcome.ALLOW,
        reason="GDPR art. 49(1)(b): the account data is necessary for the service the customer asked "
        "the partner for.",
    ),
    Rule(
        rule_id="EU-GDPR-44",
        residency=Jurisdiction.EU,
        regions=_EU_NOT_ADEQUATE,
        categories=PERSONAL,
        permitted=False,
        outcome=Outcome.DENY,
        reason="GDPR art. 44 and 49: no adequacy decision and no explicit consent, and the service "
        "does not need data about the person (art. 5(1)(c)).",
    ),
    Rule(
        rule_id="HK-PDPO-33",
        residency=Jurisdiction.HK,
        categories=ALL,
        outcome=Outcome.ALLOW,
        reason="PDPO s. 33 (transfers outside Hong Kong) is not in force; the consent's purpose "
        "bounds the use (DPP3).",
    ),
    Rule(
        rule_id="US-GLBA-502",
        residency=Jurisdiction.US,
        categories=ALL,
        outcome=Outcome.ALLOW,
        reason="GLBA s. 502(e)(2): the customer consented to the disclosure; US law sets no transfer "
        "restriction.",
    ),
)

NATIONAL_ID_RULE: Final = "XB-NATIONAL-ID-MASKED"
_NATIONAL_ID_REASON: Final = (
    "A national id number never leaves in clear, whatever the transfer rule allows (PIPL art. 6, "
    "GDPR art. 5(1)(c), PDPO DPP1: no more than the purpose needs)."
)
UNKNOWN_INPUT_RULE: Final = "XB-UNKNOWN-INPUT"
NO_RULE: Final = "XB-NO-RULE"


def decide(
    residency: Jurisdiction, partner_region: str, category: DataCategory, cross_border_permitted: bool
) -> PolicyDecision:
    """Look the transfer up in RULES; a national id is at best masked; unknown inputs are refused."""
    inputs = {
        "residency": str(residency),
        "partner_region": partner_region,
        "category": str(category),
        "cross_border_permitted": "true" if cross_border_permitted else "false",
    }
    known = _known(residency, partner_region, category)
    if known is None:
        return PolicyDecision(
            Outcome.DENY,
            UNKNOWN_INPUT_RULE,
            "Unknown residency, partner region or data category: refused.",
            MappingProxyType(inputs),
        )
    known_residency, known_category = known
    rule = next(
        (
            r
            for r in RULES
            if r.matches(known_residency, partner_region, known_category, cross_border_permitted)
        ),
        None,
    )
    if rule is None:  # unreachable while the table is total (a test walks it); fail closed if that breaks
        return PolicyDecision(
            Outcome.DENY, NO_RULE, "No rule covers this transfer.", MappingProxyType(inputs)
        )
    if known_category is DataCategory.NATIONAL_ID and rule.outcome is Outcome.ALLOW:
        return PolicyDecision(
            Outcome.MASK,
            NATIONAL_ID_RULE,
            _NATIONAL_ID_REASON,
            MappingProxyType({**inputs, "transfer_rule": rule.rule_id}),
        )
    return PolicyDecision(rule.outcome, rule.rule_id, rule.reason, MappingProxyType(inputs))


def _known(residency: str, partner_region: str, category: str) -> tuple[Jurisdiction, DataCategory] | None:
    # Values from a token or a database row may arrive as plain strings; only known ones pass.
    if partner_region not in PARTNER_REGIONS:
        return None
    try:
        return Jurisdiction(residency), DataCategory(category)
    except ValueError:
        return None
