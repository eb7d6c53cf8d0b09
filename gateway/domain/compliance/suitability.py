"""Suitability: may this customer buy this product, and what must they acknowledge first (DOMAIN.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Final

RULEBOOK_VERSION: Final = "2026-11"


class RiskLevel(IntEnum):
    """A customer's risk level from the risk questionnaire, C1 (conservative) to C5 (aggressive)."""

    C1 = 1
    C2 = 2
    C3 = 3
    C4 = 4
    C5 = 5


class ProductRisk(IntEnum):
    """A product's risk rating, R1 (lowest) to R5 (highest)."""

    R1 = 1
    R2 = 2
    R3 = 3
    R4 = 4
    R5 = 5


class InvestorClass(StrEnum):
    ORDINARY = "ordinary"
    PROFESSIONAL = "professional"


class Jurisdiction(StrEnum):
    CN = "CN"
    HK = "HK"
    EU = "EU"
    US = "US"


class ProductType(StrEnum):
    STOCK = "stock"
    ETF = "etf"
    FUND = "fund"
    MONEY_MARKET_FUND = "money_market_fund"
    BOND = "bond"
    DERIVATIVE = "derivative"
    STRUCTURED_PRODUCT = "structured_product"


class Complexity(StrEnum):
    """Leveraged/inverse ETFs, derivatives and structured products are complex."""

    NON_COMPLEX = "non_complex"
    COMPLEX = "complex"


class SaleContext(StrEnum):
    """An order the customer places themselves, or a recommendation from advisory."""

    SELF_DIRECTED = "self_directed"
    ADVISED = "advised"


class Decision(StrEnum):
    SUITABLE = "suitable"
    REQUIRES_ACKNOWLEDGEMENT = "requires_acknowledgement"
    UNSUITABLE = "unsuitable"


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    risk_level: RiskLevel
    investor_class: InvestorClass
    jurisdiction: Jurisdiction
    islamic_account: bool = False
    appropriateness_passed: bool = False  # EU: appropriateness assessment passed for complex products
    derivative_knowledge: bool = False  # HK: derivative knowledge record on file


@dataclass(frozen=True, slots=True)
class ProductFacts:
    risk: ProductRisk
    product_type: ProductType
    complexity: Complexity
    shariah_compliant: bool = False
    instrument_id: str | None = None


@dataclass(frozen=True, slots=True)
class Reason:
    """One rule's verdict: a stable code, a sentence for the customer, the rule id and the facts it used."""

    code: str
    message: str
    rule: str
    inputs: Mapping[str, str]
    outcome: Decision


@dataclass(frozen=True, slots=True)
class Disclosure:
    """A named risk disclosure or document the customer can acknowledge."""

    code: str
    title: str


@dataclass(frozen=True, slots=True)
class SuitabilityAssessment:
    """The overall decision, every reason behind it, and what is still to be acknowledged."""

    decision: Decision
    reasons: tuple[Reason, ...]
    # Outstanding disclosures; non-empty only when the decision is REQUIRES_ACKNOWLEDGEMENT (acknowledging
    # anything cannot rescue an UNSUITABLE decision, so listing disclosures then would mislead).
    required_acknowledgements: tuple[Disclosure, ...]
    rulebook_version: str


RISK_MISMATCH_DISCLOSURE: Final = Disclosure(
    "risk_mismatch_disclosure", "Risk disclosure: product risk above your risk level"
)
EU_COMPLEX_PRODUCT_WARNING: Final = Disclosure(
    "eu_complex_product_warning", "Warning: complex product, appropriateness not assessed"
)
EU_FUND_KID: Final = Disclosure("eu_fund_kid", "Key information document (KID) of the fund")

DISCLOSURES: Final[Mapping[str, Disclosure]] = MappingProxyType(
    {d.code: d for d in (RISK_MISMATCH_DISCLOSURE, EU_COMPLEX_PRODUCT_WARNING, EU_FUND_KID)}
)

# The rulebook. Each reason names one of these ids; a change here is a new RULEBOOK_VERSION.
# "Ordinary" is the retail class: the EU and HK knowledge/document packs protect retail investors only,
# while the Islamic restriction is a constraint of the account and binds every investor class.
RULES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "SUIT-01": (
            "A professional investor may buy a product of any risk level; "
            "the risk-level rules SUIT-02 to SUIT-05 do not apply."
        ),
        "SUIT-02": (
            "An ordinary investor may buy a product whose risk level (R1-R5) is at or below "
            "their own risk level (C1-C5)."
        ),
        "SUIT-03": (
            "An ordinary investor may buy a product exactly one risk level above their own only after "
            "acknowledging the risk mismatch disclosure."
        ),
        "SUIT-04": ("A conservative (C1) customer may never buy above R1, not even with an acknowledgement."),
        "SUIT-05": (
            "A product two or more risk levels above the customer's risk level is refused; "
            "no acknowledgement changes that."
        ),
        "SUIT-06": (
            "An Islamic account may only hold Shariah-compliant instruments, for every investor class "
            "and jurisdiction."
        ),
        "EU-01": (
            "In the EU, a retail (ordinary) investor buying a complex product needs a passed "
            "appropriateness assessment or an acknowledged complex product warning; professional "
            "clients are exempt."
        ),
        "EU-02": (
            "In the EU, a retail (ordinary) investor buying a fund or money market fund must acknowledge "
            "its key information document; professional clients are exempt."
        ),
        "HK-01": (
            "In Hong Kong, an ordinary investor buying a complex product needs a derivative knowledge "
            "record on file, which no acknowledgement replaces; professional investors are exempt."
        ),
        "US-01": (
            "In the US, suitability applies to recommendations: a self-directed order is not assessed "
            "against SUIT-01 to SUIT-05, an advised sale is; SUIT-06 applies to both."
        ),
        "CPLX-01": (
            "Derivatives and structured products are complex whatever they are flagged as; any other "
            "product (such as a leveraged or inverse ETF) is complex when flagged complex."
        ),
    }
)

_SEVERITY: Final[Mapping[Decision, int]] = MappingProxyType(
    {Decision.SUITABLE: 0, Decision.REQUIRES_ACKNOWLEDGEMENT: 1, Decision.UNSUITABLE: 2}
)
_ALWAYS_COMPLEX: Final = frozenset({ProductType.DERIVATIVE, ProductType.STRUCTURED_PRODUCT})
_FUNDS: Final = frozenset({ProductType.FUND, ProductType.MONEY_MARKET_FUND})


@dataclass(frozen=True, slots=True)
class _Finding:
    reason: Reason
    needs: Disclosure | None = None  # the disclosure that would turn a REQUIRES_ACKNOWLEDGEMENT into SUITABLE


def assess_suitability(
    customer: CustomerFacts,
    product: ProductFacts,
    *,
    context: SaleContext = SaleContext.SELF_DIRECTED,
    acknowledged: frozenset[str] = frozenset(),
) -> SuitabilityAssessment:
    """Apply every rule in RULES that concerns these facts; the worst outcome decides."""
    complex_product = is_complex(product)
    findings = [
        _risk_rule(customer, product, context, acknowledged),
        _islamic_rule(customer, product),
        _eu_complex_rule(customer, product.product_type, complex_product, acknowledged),
        _eu_fund_rule(customer, product, acknowledged),
        _hk_complex_rule(customer, product.product_type, complex_product),
    ]
    applied = [f for f in findings if f is not None]
    decision = worst(f.reason.outcome for f in applied)
    outstanding = (
        tuple(f.needs for f in applied if f.needs is not None)
        if decision is Decision.REQUIRES_ACKNOWLEDGEMENT
        else ()
    )
    return SuitabilityAssessment(
        decision=decision,
        reasons=tuple(f.reason for f in applied),
        required_acknowledgements=outstanding,
        rulebook_version=RULEBOOK_VERSION,
    )


def is_complex(product: ProductFacts) -> bool:
    """Rule CPLX-01: whether the product counts as complex for the jurisdiction packs."""
    return product.product_type in _ALWAYS_COMPLEX or product.complexity is Complexity.COMPLEX


def worst(outcomes: Iterable[Decision]) -> Decision:
    """Combine outcomes: unsuitable beats requires_acknowledgement beats suitable (none is suitable)."""
    return max(outcomes, key=_SEVERITY.__getitem__, default=Decision.SUITABLE)


def _reason(rule: str, code: str, outcome: Decision, message: str, **inputs: str) -> Reason:
    return Reason(code=code, message=message, rule=rule, inputs=MappingProxyType(inputs), outcome=outcome)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _risk_rule(
    customer: CustomerFacts, product: ProductFacts, context: SaleContext, acknowledged: frozenset[str]
) -> _Finding:
    if customer.jurisdiction is Jurisdiction.US and context is SaleContext.SELF_DIRECTED:
        return _Finding(
            _reason(
                "US-01",
                "us_self_directed_not_assessed",
                Decision.SUITABLE,
                "In the US, an order you place yourself is not assessed against your risk level.",
                jurisdiction=customer.jurisdiction.value,
                context=context.value,
            )
        )
    customer_risk, product_risk = customer.risk_level.name, product.risk.name
    if customer.investor_class is InvestorClass.PROFESSIONAL:
        return _Finding(
            _reason(
                "SUIT-01",
                "professional_investor",
                Decision.SUITABLE,
                "As a professional investor you may buy products of any risk level.",
                investor_class=customer.investor_class.value,
                customer_risk=customer_risk,
                product_risk=product_risk,
            )
        )
    levels_above = product.risk - customer.risk_level
    inputs = {
        "investor_class": customer.investor_class.value,
        "customer_risk": customer_risk,
        "product_risk": product_risk,
    }
    if levels_above <= 0:
        return _Finding(
            _reason(
                "SUIT-02",
                "risk_within_tolerance",
                Decision.SUITABLE,
                f"The product's risk level {product_risk} is within your risk level {customer_risk}.",
                **inputs,
            )
        )
    if levels_above >= 2:  # checked before SUIT-04 so a C1 buying R3+ gets the more telling reason
        return _Finding(
            _reason(
                "SUIT-05",
                "risk_two_or_more_levels_above",
                Decision.UNSUITABLE,
                f"The product's risk level {product_risk} is {levels_above} levels above your risk level "
                f"{customer_risk}, so it cannot be bought.",
                **inputs,
            )
        )
    if customer.risk_level is RiskLevel.C1:
        return _Finding(
            _reason(
                "SUIT-04",
                "conservative_customer_no_uplift",
                Decision.UNSUITABLE,
                f"With the conservative risk level {customer_risk} you can only buy R1 products.",
                **inputs,
            )
        )
    if RISK_MISMATCH_DISCLOSURE.code in acknowledged:
        return _Finding(
            _reason(
                "SUIT-03",
                "risk_mismatch_acknowledged",
                Decision.SUITABLE,
                f"You acknowledged that the product's risk level {product_risk} is one level above your "
                f"risk level {customer_risk}.",
                **inputs,
                acknowledged=_flag(True),
            )
        )
    return _Finding(
        _reason(
            "SUIT-03",
            "risk_one_level_above",
            Decision.REQUIRES_ACKNOWLEDGEMENT,
            f"The product's risk level {product_risk} is one level above your risk level {customer_risk}; "
            "please read and acknowledge the risk disclosure to continue.",
            **inputs,
            acknowledged=_flag(False),
        ),
        needs=RISK_MISMATCH_DISCLOSURE,
    )


def _islamic_rule(customer: CustomerFacts, product: ProductFacts) -> _Finding | None:
    if not customer.islamic_account:
        return None
    inputs = {"islamic_account": _flag(True), "shariah_compliant": _flag(product.shariah_compliant)}
    if product.instrument_id is not None:
        inputs["instrument_id"] = product.instrument_id
    if product.shariah_compliant:
        return _Finding(
            _reason(
                "SUIT-06",
                "islamic_account_shariah_compliant",
                Decision.SUITABLE,
                "The product is Shariah-compliant, so your Islamic account may hold it.",
                **inputs,
            )
        )
    return _Finding(
        _reason(
            "SUIT-06",
            "islamic_account_non_shariah",
            Decision.UNSUITABLE,
            "Your Islamic account may only hold Shariah-compliant products, and this one is not.",
            **inputs,
        )
    )


def _is_retail_in(customer: CustomerFacts, jurisdiction: Jurisdiction) -> bool:
    return customer.jurisdiction is jurisdiction and customer.investor_class is InvestorClass.ORDINARY


def _eu_complex_rule(
    customer: CustomerFacts, product_type: ProductType, complex_product: bool, acknowledged: frozenset[str]
) -> _Finding | None:
    if not (complex_product and _is_retail_in(customer, Jurisdiction.EU)):
        return None
    warning_acknowledged = EU_COMPLEX_PRODUCT_WARNING.code in acknowledged
    inputs = {
        "jurisdiction": customer.jurisdiction.value,
        "investor_class": customer.investor_class.value,
        "product_type": product_type.value,
        "complexity": Complexity.COMPLEX.value,  # as classified by CPLX-01
        "appropriateness_passed": _flag(customer.appropriateness_passed),
        "acknowledged": _flag(warning_acknowledged),
    }
    if customer.appropriateness_passed:
        return _Finding(
            _reason(
                "EU-01",
                "eu_appropriateness_passed",
                Decision.SUITABLE,
                "You passed the appropriateness assessment for complex products.",
                **inputs,
            )
        )
    if warning_acknowledged:
        return _Finding(
            _reason(
                "EU-01",
                "eu_complex_warning_acknowledged",
                Decision.SUITABLE,
                "You acknowledged the warning that this complex product has not been assessed as "
                "appropriate for you.",
                **inputs,
            )
        )
    return _Finding(
        _reason(
            "EU-01",
            "eu_complex_needs_appropriateness",
            Decision.REQUIRES_ACKNOWLEDGEMENT,
            "This is a complex product: pass the appropriateness assessment, or acknowledge the complex "
            "product warning, to continue.",
            **inputs,
        ),
        needs=EU_COMPLEX_PRODUCT_WARNING,
    )


def _eu_fund_rule(
    customer: CustomerFacts, product: ProductFacts, acknowledged: frozenset[str]
) -> _Finding | None:
    if not (product.product_type in _FUNDS and _is_retail_in(customer, Jurisdiction.EU)):
        return None
    kid_acknowledged = EU_FUND_KID.code in acknowledged
    inputs = {
        "jurisdiction": customer.jurisdiction.value,
        "investor_class": customer.investor_class.value,
        "product_type": product.product_type.value,
        "acknowledged": _flag(kid_acknowledged),
    }
    if kid_acknowledged:
        return _Finding(
            _reason(
                "EU-02",
                "eu_fund_kid_acknowledged",
                Decision.SUITABLE,
                "You acknowledged the fund's key information document.",
                **inputs,
            )
        )
    return _Finding(
        _reason(
            "EU-02",
            "eu_fund_kid_required",
            Decision.REQUIRES_ACKNOWLEDGEMENT,
            "Please read and acknowledge the fund's key information document to continue.",
            **inputs,
        ),
        needs=EU_FUND_KID,
    )


def _hk_complex_rule(
    customer: CustomerFacts, product_type: ProductType, complex_product: bool
) -> _Finding | None:
    if not (complex_product and _is_retail_in(customer, Jurisdiction.HK)):
        return None
    inputs = {
        "jurisdiction": customer.jurisdiction.value,
        "investor_class": customer.investor_class.value,
        "product_type": product_type.value,
        "complexity": Complexity.COMPLEX.value,  # as classified by CPLX-01
        "derivative_knowledge": _flag(customer.derivative_knowledge),
    }
    if customer.derivative_knowledge:
        return _Finding(
            _reason(
                "HK-01",
                "hk_derivative_knowledge_on_file",
                Decision.SUITABLE,
                "Your derivative knowledge is on record, so you may buy complex products.",
                **inputs,
            )
        )
    return _Finding(
        _reason(
            "HK-01",
            "hk_complex_needs_derivative_knowledge",
            Decision.UNSUITABLE,
            "Complex products need a derivative knowledge record on file, and none is on record for you.",
            **inputs,
        )
    )
