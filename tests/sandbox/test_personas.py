from __future__ import annotations

import json
from collections import Counter
from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.domain.compliance.suitability import InvestorClass, Jurisdiction, RiskLevel
from gateway.domain.customers.models import AccountKind, Customer
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.money import Currency
from sandbox.personas import DEFAULT_DATA_FILE, load_demo_customers


@pytest.fixture(scope="module")
def customers() -> tuple[Customer, ...]:
    return load_demo_customers()


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.from_file()


def by_username(customers: tuple[Customer, ...]) -> dict[str, Customer]:
    return {customer.username: customer for customer in customers}


@pytest.mark.parametrize(
    ("username", "residency", "risk_level", "investor_class"),
    [
        ("li.wei", Jurisdiction.CN, RiskLevel.C2, InvestorClass.ORDINARY),
        ("zhang.min", Jurisdiction.CN, RiskLevel.C5, InvestorClass.PROFESSIONAL),
        ("chan.tai-man", Jurisdiction.HK, RiskLevel.C3, InvestorClass.ORDINARY),
        ("anna.schmidt", Jurisdiction.EU, RiskLevel.C4, InvestorClass.ORDINARY),
        ("john.doe", Jurisdiction.US, RiskLevel.C1, InvestorClass.ORDINARY),
    ],
)
def test_the_personas(
    customers: tuple[Customer, ...],
    username: str,
    residency: Jurisdiction,
    risk_level: RiskLevel,
    investor_class: InvestorClass,
) -> None:
    customer = by_username(customers)[username]
    assert (customer.residency, customer.risk_level, customer.investor_class) == (
        residency,
        risk_level,
        investor_class,
    )
    assert customer.master_account.jurisdiction is residency


def test_li_wei_has_a_cny_master_and_a_hk_sub_account(customers: tuple[Customer, ...]) -> None:
    accounts = {(a.kind, a.jurisdiction, a.base_currency) for a in by_username(customers)["li.wei"].accounts}
    assert (AccountKind.MASTER, Jurisdiction.CN, Currency.CNY) in accounts
    assert (AccountKind.SUB, Jurisdiction.HK, Currency.HKD) in accounts


def test_anna_schmidt_has_a_eur_master_and_a_us_sub_account(customers: tuple[Customer, ...]) -> None:
    accounts = {
        (a.kind, a.jurisdiction, a.base_currency) for a in by_username(customers)["anna.schmidt"].accounts
    }
    assert (AccountKind.MASTER, Jurisdiction.EU, Currency.EUR) in accounts
    assert (AccountKind.SUB, Jurisdiction.US, Currency.USD) in accounts


def test_sizes_are_within_the_demo_bounds(customers: tuple[Customer, ...]) -> None:
    assert len(customers) >= 5
    for customer in customers:
        assert 1 <= len(customer.accounts) <= 3, customer.username
        assert 2 <= len(customer.holdings) <= 5, customer.username
        assert 5 <= len(customer.transactions) <= 10, customer.username
        assert all(
            txn.booked_at.year == 2026 and txn.booked_at.tzinfo is UTC for txn in customer.transactions
        )


def test_ids_logins_and_numbers_are_unique(customers: tuple[Customer, ...]) -> None:
    columns = {
        "customer": [c.id for c in customers],
        "username": [c.username for c in customers],
        "account": [a.id for c in customers for a in c.accounts],
        "number": [a.number for c in customers for a in c.accounts],
        "transaction": [t.id for c in customers for t in c.transactions],
    }
    for name, values in columns.items():
        assert [v for v, n in Counter(values).items() if n > 1] == [], name
    assert all(c.id.startswith("cus_") for c in customers)


def test_every_holding_is_a_catalogue_instrument_in_its_market_and_currency(
    customers: tuple[Customer, ...], catalogue: Catalogue
) -> None:
    for customer in customers:
        accounts = {account.id: account for account in customer.accounts}
        for holding in customer.holdings:
            assert holding.instrument_id in catalogue, holding.instrument_id
            instrument = catalogue.get(holding.instrument_id)
            assert instrument.currency is holding.average_cost.currency is holding.market_value.currency
            assert instrument.market.value == accounts[holding.account_id].jurisdiction.value
            expected = (holding.quantity * instrument.reference_price).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP
            )
            assert holding.market_value.amount == expected


def test_transaction_instruments_exist(customers: tuple[Customer, ...], catalogue: Catalogue) -> None:
    named = [t.instrument_id for c in customers for t in c.transactions if t.instrument_id is not None]
    assert named
    assert all(instrument_id in catalogue for instrument_id in named)


def test_balances_are_non_negative_and_multi_currency(customers: tuple[Customer, ...]) -> None:
    balances = [b for c in customers for a in c.accounts for b in a.balances]
    assert all(Decimal(0) <= b.available <= b.total for b in balances)
    assert {b.currency for b in balances} == set(Currency)


def test_seed_documents_round_trip_exactly(customers: tuple[Customer, ...]) -> None:
    raw = json.loads(DEFAULT_DATA_FILE.read_text(encoding="utf-8"))
    assert [customer.to_document() for customer in customers] == raw["customers"]
    for customer in customers:
        assert Customer.from_document(json.loads(json.dumps(customer.to_document()))) == customer


def write_variant(tmp_path: Path, change: Any) -> Path:
    raw = json.loads(DEFAULT_DATA_FILE.read_text(encoding="utf-8"))
    change(raw["customers"])
    path = tmp_path / "customers.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def set_instrument(customers: list[Any]) -> None:
    customers[0]["holdings"][0]["instrument_id"] = "ins_zzzzzzzzzz"


def set_market_value(customers: list[Any]) -> None:
    customers[0]["holdings"][1]["market_value"]["amount"] = "1.00"


def duplicate_username(customers: list[Any]) -> None:
    customers[1]["username"] = customers[0]["username"]


def negative_quantity(customers: list[Any]) -> None:
    customers[2]["holdings"][0]["quantity"] = "-100"


def foreign_market(customers: list[Any]) -> None:
    # zhang.min's US ETF moved into the CN master account, which does keep USD cash
    customers[1]["holdings"][3]["account_id"] = customers[1]["accounts"][0]["id"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (set_instrument, "no instrument ins_zzzzzzzzzz"),
        (set_market_value, "valued"),
        (duplicate_username, "duplicate username"),
        (negative_quantity, "quantity"),
        (foreign_market, "trades in"),
    ],
)
def test_the_loader_refuses_inconsistent_seed_data(tmp_path: Path, change: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_demo_customers(write_variant(tmp_path, change))
