"""The demo customers shipped with the package: synthetic personas, checked against the catalogue.

The seed file holds the customers (`Customer.to_document()` documents) and, under "personas", what
the sandbox publishes about each of them, keyed by username: the sign-in password, a summary of
what the persona is for, what to expect from it, the rules it covers and whether its accounts start
restricted. Every customer has exactly one entry. A persona's `covers` tags come from `COVERS`:

- "C1".."C5", "CN", "HK", "EU", "US", "professional", "ordinary": the customer's own risk level,
  residency and investor class, exactly one of each;
- "islamic": an Islamic account (SUIT-06), tagged exactly when the record says so;
- "restricted": its accounts start restricted by surveillance (PTC-11), exactly when flagged;
- "screening_hit": the KYC legal name is blocked by sanctions screening;
- "risk_assessment_expired": the last risk questionnaire is more than 24 months old (PTC-12);
- "empty": no cash, holdings or history, tagged exactly when that is so;
- "multi_currency": cash in CNY, HKD, USD and EUR, and holdings in the CN, HK and US markets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal, get_args

import msgspec

from gateway.domain.compliance.suitability import InvestorClass, Jurisdiction, RiskLevel
from gateway.domain.customers.errors import InvalidCustomerError
from gateway.domain.customers.models import Customer, Holding, TransactionKind
from gateway.domain.errors import NotFoundError
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.market.models import Market
from gateway.domain.money import Currency

DEFAULT_DATA_FILE: Final = Path(__file__).with_name("data") / "customers.json"
_SETTLES_IN_INSTRUMENT_CURRENCY: Final = frozenset(
    {TransactionKind.BUY, TransactionKind.SELL, TransactionKind.DIVIDEND}
)

Cover = Literal[
    "C1", "C2", "C3", "C4", "C5",
    "CN", "HK", "EU", "US",
    "professional", "ordinary",
    "islamic", "restricted", "screening_hit", "risk_assessment_expired", "empty", "multi_currency",
]  # fmt: skip
COVERS: Final[tuple[str, ...]] = get_args(Cover)
# The tags that restate the customer's risk level, residency and investor class.
_PROFILE_COVERS: Final = frozenset(
    [level.name for level in RiskLevel] + [j.value for j in Jurisdiction] + [c.value for c in InvestorClass]
)


@dataclass(frozen=True, slots=True)
class Persona:
    """A published sandbox customer: who it is, how to sign in, and which rules it exercises."""

    customer: Customer
    password: str  # published on docs/sandbox/personas.md; the sandbox only, never production
    summary: str  # one line for the personas page
    covers: tuple[str, ...]  # the rule space it exercises, e.g. ("C2", "CN", "ordinary")
    restricted: bool = False  # every copy starts with its accounts restricted by surveillance
    expect: str = ""  # what a developer sees when using it, for the personas page


_Text = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]


class _PersonaRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    summary: _Text
    expect: _Text
    covers: tuple[Cover, ...]
    restricted: bool


class _SeedFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    version: str
    source: Literal["synthetic"]  # real customer data never goes into the repository
    customers: list[dict[str, Any]]  # each one is a `Customer.to_document()` document
    personas: dict[str, _PersonaRecord]  # by username


def load_demo_customers(path: Path | None = None, catalogue: Catalogue | None = None) -> tuple[Customer, ...]:
    """Decode and check the seed file (the shipped one unless `path` is given); bad data is a ValueError."""
    return tuple(persona.customer for persona in load_personas(path, catalogue))


def load_personas(path: Path | None = None, catalogue: Catalogue | None = None) -> tuple[Persona, ...]:
    """The published personas of the seed file, in its order, every one checked; bad data is a ValueError."""
    source = DEFAULT_DATA_FILE if path is None else path
    try:
        seed = msgspec.json.decode(source.read_bytes(), type=_SeedFile)
    except msgspec.DecodeError as exc:
        raise ValueError(f"{source}: {exc}") from exc
    instruments = Catalogue.from_file() if catalogue is None else catalogue
    try:
        customers = tuple(Customer.from_document(document) for document in seed.customers)
        _check_unique(customers)
        for customer in customers:
            _check_against_catalogue(customer, instruments)
    except InvalidCustomerError as exc:
        raise ValueError(f"{source}: {exc.detail} {dict(exc.context)}") from exc
    _check_entries(customers, seed.personas)
    personas = []
    for customer in customers:
        record = seed.personas[customer.username]
        _check_covers(customer, record, instruments)
        personas.append(
            Persona(
                customer=customer,
                password=record.password,
                summary=record.summary,
                covers=record.covers,
                restricted=record.restricted,
                expect=record.expect,
            )
        )
    return tuple(personas)


def _check_entries(customers: tuple[Customer, ...], entries: dict[str, _PersonaRecord]) -> None:
    usernames = {customer.username for customer in customers}
    missing = sorted(usernames - entries.keys())
    if missing:
        raise ValueError(f"no persona entry for {', '.join(missing)}")
    strangers = sorted(entries.keys() - usernames)
    if strangers:
        raise ValueError(f"persona entries without a customer: {', '.join(strangers)}")


def _check_covers(customer: Customer, record: _PersonaRecord, catalogue: Catalogue) -> None:
    # A tag the record can prove is checked here; screening and the assessment's age need a screener
    # and a date, and are pinned by the persona tests.
    name, covers = customer.username, set(record.covers)
    if len(covers) != len(record.covers):
        raise ValueError(f"{name}: a cover is listed twice")
    profile = {customer.risk_level.name, customer.residency.value, customer.investor_class.value}
    if covers & _PROFILE_COVERS != profile:
        raise ValueError(f"{name}: covers {sorted(covers & _PROFILE_COVERS)}, the record {sorted(profile)}")
    for tag, holds in (
        ("islamic", customer.islamic_account),
        ("restricted", record.restricted),
        ("empty", is_empty(customer)),
    ):
        if (tag in covers) != holds:
            raise ValueError(f"{name}: the {tag!r} cover does not match the record")
    if "multi_currency" in covers and not is_multi_currency(customer, catalogue):
        raise ValueError(f"{name}: 'multi_currency' needs all four currencies and three markets")


def is_empty(customer: Customer) -> bool:
    """No money in any balance, no holdings and no transactions."""
    money = any(b.total for account in customer.accounts for b in account.balances)
    return not money and not customer.holdings and not customer.transactions


def is_multi_currency(customer: Customer, catalogue: Catalogue) -> bool:
    """Cash in every currency and holdings in every market of the catalogue."""
    currencies = {b.currency for account in customer.accounts for b in account.balances if b.total}
    markets = {catalogue.get(holding.instrument_id).market for holding in customer.holdings}
    return currencies == set(Currency) and markets == set(Market)


def _check_unique(customers: tuple[Customer, ...]) -> None:
    # Each customer checks its own records; ids, logins and account numbers are unique across all of them.
    columns = {
        "customer id": (customer.id for customer in customers),
        "username": (customer.username for customer in customers),
        "account id": (account.id for customer in customers for account in customer.accounts),
        "account number": (account.number for customer in customers for account in customer.accounts),
        "transaction id": (txn.id for customer in customers for txn in customer.transactions),
    }
    for name, values in columns.items():
        duplicates = _duplicates(values)
        if duplicates:
            raise ValueError(f"duplicate {name}: {', '.join(duplicates)}")


def _duplicates(values: Iterable[str]) -> list[str]:
    return sorted(value for value, count in Counter(values).items() if count > 1)


def _check_against_catalogue(customer: Customer, catalogue: Catalogue) -> None:
    accounts = {account.id: account for account in customer.accounts}
    for holding in customer.holdings:
        try:
            instrument = catalogue.get(holding.instrument_id)
        except NotFoundError:
            raise ValueError(
                f"{customer.id}: no instrument {holding.instrument_id} in the catalogue"
            ) from None
        account = accounts[holding.account_id]
        # A sub-account trades its own market; a master account trades the market of the residency, if any.
        if Jurisdiction(instrument.market.value) is not account.jurisdiction:
            raise ValueError(
                f"{customer.id}: {instrument.id} trades in {instrument.market}, "
                f"account {account.id} in {account.jurisdiction}"
            )
        expected = Holding.valued(holding.account_id, instrument, holding.quantity, holding.average_cost)
        if holding != expected:
            raise ValueError(
                f"{customer.id}: holding of {instrument.id} is valued {holding.market_value}, "
                f"the catalogue gives {expected.market_value}"
            )
    for transaction in customer.transactions:
        if transaction.instrument_id is None:
            continue
        if transaction.instrument_id not in catalogue:
            raise ValueError(f"{customer.id}: {transaction.id} names an unknown instrument")
        currency = catalogue.get(transaction.instrument_id).currency
        # Trades and dividends settle in the instrument's currency; a fee may be charged in another.
        if (
            transaction.kind in _SETTLES_IN_INSTRUMENT_CURRENCY
            and transaction.amount.currency is not currency
        ):
            raise ValueError(
                f"{customer.id}: {transaction.id} is not in the instrument's currency {currency}"
            )
