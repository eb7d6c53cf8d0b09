"""Field-level minimisation of customer data: what may leave for one partner, and the record of it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from gateway.domain.compliance.suitability import Jurisdiction
from gateway.domain.customers.models import (
    Account,
    Customer,
    Holding,
    Transaction,
    mask_account_number,
    mask_name,
    mask_national_id,
)
from gateway.domain.money import Currency
from gateway.domain.sharing.categories import DataCategory
from gateway.domain.sharing.crossborder import Outcome, PolicyDecision, decide

Masker = Callable[[object], object]


@dataclass(frozen=True, slots=True)
class Audience:
    """Who receives the data: the granted categories, the partner's region, the transfer permission."""

    granted: frozenset[DataCategory]  # categories_for(consent scopes)
    partner_region: str
    cross_border_permitted: bool = False


@dataclass(frozen=True, slots=True)
class FieldRule:
    """A row of a view's field table: the field's category, its masker, and whether it only leaves masked."""

    category: DataCategory
    masker: Masker | None = None  # without one, a "mask" decision withholds the field
    always_masked: bool = False  # masked even where the policy allows it in clear


@dataclass(frozen=True, slots=True)
class Shared:
    """One record after minimisation: the fields that may leave, and what was masked or held back."""

    fields: dict[str, object]
    withheld: tuple[str, ...]
    masked: tuple[str, ...]
    decisions: tuple[PolicyDecision, ...]  # one per granted category the record touches


@dataclass(frozen=True, slots=True)
class Disclosure:
    """What one call disclosed, for the disclosure log the customer can read (who read what, when)."""

    resource: str
    categories: frozenset[DataCategory]  # of the fields that left, in clear or masked
    fields: tuple[str, ...]
    masked: tuple[str, ...]
    withheld: tuple[str, ...]
    decisions: tuple[PolicyDecision, ...]

    def as_document(self) -> dict[str, object]:
        """A JSON-ready dict for the log."""
        return {
            "resource": self.resource,
            "categories": sorted(category.value for category in self.categories),
            "fields": list(self.fields),
            "masked": list(self.masked),
            "withheld": list(self.withheld),
            "decisions": [
                {"outcome": d.outcome.value, "rule_id": d.rule_id, "inputs": dict(d.inputs)}
                for d in self.decisions
            ],
        }


@dataclass(frozen=True, slots=True)
class SharedView:
    shared: Shared
    disclosure: Disclosure


@dataclass(frozen=True, slots=True)
class SharedCollection:
    items: tuple[Shared, ...]
    disclosure: Disclosure


def share(
    record_fields: Mapping[str, object],
    field_categories: Mapping[str, DataCategory],
    *,
    granted: frozenset[DataCategory],
    residency: Jurisdiction,
    partner_region: str,
    cross_border_permitted: bool,
    maskers: Mapping[str, Masker],
    always_masked: frozenset[str] = frozenset(),
) -> Shared:
    """Let a field leave only if its category is granted and the policy does not deny it; mask where told."""
    unlisted = sorted(record_fields.keys() - field_categories.keys())
    if unlisted:  # a defect in a field table, never a request error: no field leaves uncategorised
        raise ValueError(f"fields without a data category: {', '.join(unlisted)}")
    decisions: dict[DataCategory, PolicyDecision] = {}
    fields: dict[str, object] = {}
    withheld: list[str] = []
    masked: list[str] = []
    for name, value in record_fields.items():
        category = field_categories[name]
        if category not in granted:
            withheld.append(name)
            continue
        if category not in decisions:
            decisions[category] = decide(residency, partner_region, category, cross_border_permitted)
        outcome = decisions[category].outcome
        if outcome is Outcome.ALLOW and name in always_masked:
            outcome = Outcome.MASK
        masker = maskers.get(name)
        if outcome is Outcome.ALLOW:
            fields[name] = value
        elif outcome is Outcome.MASK and masker is not None:
            fields[name] = masker(value)
            masked.append(name)
        else:
            withheld.append(name)
    return Shared(fields, tuple(withheld), tuple(masked), tuple(decisions.values()))


def _masking(mask: Callable[[str], str]) -> Masker:
    return lambda value: mask(str(value))


def _birth_year(value: object) -> object:
    return str(value)[:4]  # an ISO date: the year alone narrows no one down


ACCOUNT_FIELDS: Final[Mapping[str, FieldRule]] = MappingProxyType(
    {
        "account_id": FieldRule(DataCategory.ACCOUNT_REFERENCE),
        "kind": FieldRule(DataCategory.ACCOUNT_REFERENCE),
        "jurisdiction": FieldRule(DataCategory.ACCOUNT_REFERENCE),
        "number": FieldRule(
            DataCategory.ACCOUNT_REFERENCE, masker=_masking(mask_account_number), always_masked=True
        ),
        "base_currency": FieldRule(DataCategory.ACCOUNT_REFERENCE),
        "balances": FieldRule(DataCategory.CASH_BALANCE),
        "holding_count": FieldRule(DataCategory.HOLDING),
        "market_value": FieldRule(DataCategory.HOLDING_VALUE),
    }
)
HOLDING_FIELDS: Final[Mapping[str, FieldRule]] = MappingProxyType(
    {
        "account_id": FieldRule(DataCategory.HOLDING),  # where the position is kept is part of the position
        "instrument_id": FieldRule(DataCategory.HOLDING),
        "quantity": FieldRule(DataCategory.HOLDING),
        "currency": FieldRule(DataCategory.HOLDING),
        "average_cost": FieldRule(DataCategory.HOLDING_VALUE),
        "market_value": FieldRule(DataCategory.HOLDING_VALUE),
    }
)
TRANSACTION_FIELDS: Final[Mapping[str, FieldRule]] = MappingProxyType(
    {
        name: FieldRule(DataCategory.TRANSACTION)
        for name in (
            "transaction_id",
            "account_id",
            "booked_at",
            "kind",
            "instrument_id",
            "quantity",
            "amount",
            "currency",
            "description",
        )
    }
)
RISK_PROFILE_FIELDS: Final[Mapping[str, FieldRule]] = MappingProxyType(
    {
        "risk_level": FieldRule(DataCategory.RISK_PROFILE),
        "investor_class": FieldRule(DataCategory.RISK_PROFILE),
    }
)
KYC_PROFILE_FIELDS: Final[Mapping[str, FieldRule]] = MappingProxyType(
    {
        "legal_name": FieldRule(DataCategory.IDENTITY, masker=_masking(mask_name)),
        "date_of_birth": FieldRule(DataCategory.IDENTITY, masker=_birth_year),
        "nationality": FieldRule(DataCategory.IDENTITY),  # no masked form of a country: withheld under "mask"
        "national_id": FieldRule(
            DataCategory.NATIONAL_ID, masker=_masking(mask_national_id), always_masked=True
        ),
        "residency": FieldRule(DataCategory.RESIDENCY),
        "address_country": FieldRule(DataCategory.RESIDENCY),
    }
)


def account_views(customer: Customer, audience: Audience) -> SharedCollection:
    """The customer's accounts: masked number and cash; holding count and value only if granted."""
    records = [_account_record(account, customer.holdings) for account in customer.accounts]
    return _collection("accounts", records, ACCOUNT_FIELDS, customer, audience)


def holding_views(customer: Customer, audience: Audience) -> SharedCollection:
    """The customer's positions: instrument and quantity, then cost and market value."""
    records = [_holding_record(holding) for holding in customer.holdings]
    return _collection("holdings", records, HOLDING_FIELDS, customer, audience)


def transaction_views(customer: Customer, audience: Audience) -> SharedCollection:
    """The customer's booked transactions, oldest first."""
    ordered = sorted(customer.transactions, key=lambda transaction: (transaction.booked_at, transaction.id))
    records = [_transaction_record(transaction) for transaction in ordered]
    return _collection("transactions", records, TRANSACTION_FIELDS, customer, audience)


def risk_profile_view(customer: Customer, audience: Audience) -> SharedView:
    """The customer's risk level (C1-C5) and investor class, nothing else."""
    record = {"risk_level": customer.risk_level.name, "investor_class": customer.investor_class.value}
    return _single("risk_profile", record, RISK_PROFILE_FIELDS, customer, audience)


def kyc_profile_view(customer: Customer, audience: Audience) -> SharedView:
    """The KYC profile: name, birth date, nationality, masked national id, residency."""
    kyc = customer.kyc
    record = {
        "legal_name": kyc.legal_name,
        "date_of_birth": kyc.date_of_birth.isoformat(),
        "nationality": kyc.nationality,
        "national_id": kyc.national_id,
        "residency": customer.residency.value,
        "address_country": kyc.address_country,
    }
    return _single("kyc_profile", record, KYC_PROFILE_FIELDS, customer, audience)


def _account_record(account: Account, holdings: Sequence[Holding]) -> dict[str, object]:
    held = [holding for holding in holdings if holding.account_id == account.id]
    values: dict[Currency, Decimal] = {}
    for holding in held:
        values[holding.currency] = values.get(holding.currency, Decimal(0)) + holding.market_value.amount
    return {
        "account_id": account.id,
        "kind": account.kind.value,
        "jurisdiction": account.jurisdiction.value,
        "number": account.number,
        "base_currency": account.base_currency.value,
        "balances": [
            {
                "currency": balance.currency.value,
                "available": str(balance.available),
                "total": str(balance.total),
            }
            for balance in account.balances
        ],
        "holding_count": len(held),
        "market_value": [
            {"currency": currency.value, "amount": str(amount)} for currency, amount in sorted(values.items())
        ],
    }


def _holding_record(holding: Holding) -> dict[str, object]:
    return {
        "account_id": holding.account_id,
        "instrument_id": holding.instrument_id,
        "quantity": str(holding.quantity),
        "currency": holding.currency.value,
        "average_cost": str(holding.average_cost.amount),
        "market_value": str(holding.market_value.amount),
    }


def _transaction_record(transaction: Transaction) -> dict[str, object]:
    return {
        "transaction_id": transaction.id,
        "account_id": transaction.account_id,
        "booked_at": transaction.booked_at.isoformat(),
        "kind": transaction.kind.value,
        "instrument_id": transaction.instrument_id,
        "quantity": None if transaction.quantity is None else str(transaction.quantity),
        "amount": str(transaction.amount.amount),
        "currency": transaction.amount.currency.value,
        "description": transaction.description,
    }


def _share(
    record: Mapping[str, object], table: Mapping[str, FieldRule], customer: Customer, audience: Audience
) -> Shared:
    return share(
        record,
        {name: rule.category for name, rule in table.items()},
        granted=audience.granted,
        residency=customer.residency,
        partner_region=audience.partner_region,
        cross_border_permitted=audience.cross_border_permitted,
        maskers={name: rule.masker for name, rule in table.items() if rule.masker is not None},
        always_masked=frozenset(name for name, rule in table.items() if rule.always_masked),
    )


def _collection(
    resource: str,
    records: Sequence[Mapping[str, object]],
    table: Mapping[str, FieldRule],
    customer: Customer,
    audience: Audience,
) -> SharedCollection:
    items = tuple(_share(record, table, customer, audience) for record in records)
    return SharedCollection(items, _disclosure(resource, items, table))


def _single(
    resource: str,
    record: Mapping[str, object],
    table: Mapping[str, FieldRule],
    customer: Customer,
    audience: Audience,
) -> SharedView:
    shared = _share(record, table, customer, audience)
    return SharedView(shared, _disclosure(resource, (shared,), table))


def _disclosure(resource: str, items: Sequence[Shared], table: Mapping[str, FieldRule]) -> Disclosure:
    fields = _in_order(name for item in items for name in item.fields)
    decisions: list[PolicyDecision] = []
    for decision in (decision for item in items for decision in item.decisions):
        if decision not in decisions:  # every record of a call asks the same questions; log each once
            decisions.append(decision)
    return Disclosure(
        resource=resource,
        categories=frozenset(table[name].category for name in fields),
        fields=fields,
        masked=_in_order(name for item in items for name in item.masked),
        withheld=_in_order(name for item in items for name in item.withheld),
        decisions=tuple(decisions),
    )


def _in_order(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))
