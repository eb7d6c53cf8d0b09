"""The demo customers shipped with the package: synthetic personas, checked against the catalogue."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final, Literal

import msgspec

from gateway.domain.compliance.suitability import Jurisdiction
from gateway.domain.customers.errors import InvalidCustomerError
from gateway.domain.customers.models import Customer, Holding, TransactionKind
from gateway.domain.errors import NotFoundError
from gateway.domain.market.catalogue import Catalogue

DEFAULT_DATA_FILE: Final = Path(__file__).with_name("data") / "customers.json"
_SETTLES_IN_INSTRUMENT_CURRENCY: Final = frozenset(
    {TransactionKind.BUY, TransactionKind.SELL, TransactionKind.DIVIDEND}
)


class _SeedFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    version: str
    source: Literal["synthetic"]  # real customer data never goes into the repository
    customers: list[dict[str, Any]]  # each one is a `Customer.to_document()` document


def load_demo_customers(path: Path | None = None, catalogue: Catalogue | None = None) -> tuple[Customer, ...]:
    """Decode and check the seed file (the shipped one unless `path` is given); bad data is a ValueError."""
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
    return customers


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
