from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.domain.compliance.suitability import InvestorClass, Jurisdiction, RiskLevel
from gateway.domain.customers.errors import (
    InvalidAccountError,
    InvalidCustomerError,
    InvalidHoldingError,
    InvalidTransactionError,
)
from gateway.domain.customers.models import (
    HOME_CURRENCY,
    SUB_ACCOUNT_JURISDICTIONS,
    Account,
    AccountKind,
    CashBalance,
    Customer,
    Holding,
    KycProfile,
    Transaction,
    TransactionKind,
)
from gateway.domain.errors import RuleViolationError
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.money import Currency, Money

CATALOGUE = Catalogue.from_file()
FUND = CATALOGUE.get("ins_xdyslw7cib")  # Pinewood Balanced Allocation Fund, USD, NAV 21.3875
WHEN = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def usd(amount: str) -> Money:
    return Money(Decimal(amount), Currency.USD)


def master(**changes: Any) -> Account:
    account = Account(
        id="acc_test01",
        kind=AccountKind.MASTER,
        jurisdiction=Jurisdiction.US,
        number="123456789012",
        base_currency=Currency.USD,
        balances=(CashBalance(Currency.USD, Decimal("100.00"), Decimal("150.00")),),
    )
    return dataclasses.replace(account, **changes)


def holding(**changes: Any) -> Holding:
    return dataclasses.replace(Holding.valued("acc_test01", FUND, Decimal("10"), usd("20.00")), **changes)


def transaction(**changes: Any) -> Transaction:
    txn = Transaction(
        id="txn_test01",
        account_id="acc_test01",
        booked_at=WHEN,
        kind=TransactionKind.BUY,
        instrument_id=FUND.id,
        quantity=Decimal("10"),
        amount=usd("200.00"),
        description="Subscription",
    )
    return dataclasses.replace(txn, **changes)


def customer(**changes: Any) -> Customer:
    built = Customer(
        id="cus_test01",
        username="jane.roe",
        display_name="Jane Roe",
        residency=Jurisdiction.US,
        risk_level=RiskLevel.C3,
        investor_class=InvestorClass.ORDINARY,
        kyc=KycProfile("Jane Roe", date(1980, 1, 2), "US", "900-11-2222", "US"),
        accounts=(master(),),
        holdings=(holding(),),
        transactions=(transaction(),),
    )
    return dataclasses.replace(built, **changes)


def test_the_fixture_customer_is_valid() -> None:
    assert customer().master_account.id == "acc_test01"


def test_holding_is_valued_at_the_reference_price_rounded_half_up_to_the_cent() -> None:
    valued = Holding.valued("acc_test01", FUND, Decimal("250.00"), usd("20.80"))
    assert valued.market_value == usd("5346.88")  # 250 x 21.3875 = 5346.875
    six = Holding.valued("acc_test01", FUND, Decimal("6"), usd("20.80"))
    assert six.market_value == usd("128.33")  # 6 x 21.3875 = 128.325: half up, not half even
    assert valued.currency is Currency.USD


def test_holding_valued_refuses_a_cost_in_another_currency() -> None:
    with pytest.raises(InvalidHoldingError, match="currency"):
        Holding.valued("acc_test01", FUND, Decimal("1"), Money(Decimal("1.00"), Currency.EUR))


@pytest.mark.parametrize(
    ("build", "error", "field"),
    [
        (lambda: holding(quantity=Decimal("-1")), InvalidHoldingError, "quantity"),
        (lambda: holding(quantity=Decimal("0")), InvalidHoldingError, "quantity"),
        (lambda: holding(quantity=Decimal("1.001")), InvalidHoldingError, "quantity"),
        (lambda: holding(quantity=Decimal("NaN")), InvalidHoldingError, "quantity"),
        (lambda: holding(instrument_id="AAPL"), InvalidHoldingError, "instrument_id"),
        (
            lambda: holding(market_value=Money(Decimal("1.00"), Currency.HKD)),
            InvalidHoldingError,
            "average_cost",
        ),
        (lambda: customer(holdings=(holding(account_id="acc_nowhere"),)), InvalidHoldingError, "account_id"),
        (lambda: customer(holdings=(holding(), holding())), InvalidHoldingError, "instrument_id"),
        (
            lambda: customer(
                holdings=(
                    holding(
                        average_cost=Money(Decimal("1.00"), Currency.EUR),
                        market_value=Money(Decimal("1.00"), Currency.EUR),
                    ),
                )
            ),
            InvalidHoldingError,
            "account_id",
        ),
        (lambda: CashBalance(Currency.USD, Decimal("-0.01"), Decimal("1")), InvalidAccountError, "available"),
        (
            lambda: CashBalance(Currency.USD, Decimal("2.00"), Decimal("1.00")),
            InvalidAccountError,
            "available",
        ),
        (lambda: CashBalance(Currency.USD, Decimal("0"), Decimal("0.001")), InvalidAccountError, "total"),
        (lambda: master(id="account1"), InvalidAccountError, "id"),
        (lambda: master(number="12345678901"), InvalidAccountError, "number"),
        (lambda: master(number="12345678901a"), InvalidAccountError, "number"),
        (
            lambda: master(kind=AccountKind.SUB, jurisdiction=Jurisdiction.EU),
            InvalidAccountError,
            "jurisdiction",
        ),
        (lambda: master(base_currency=Currency.EUR), InvalidAccountError, "base_currency"),
        (
            lambda: master(balances=(CashBalance(Currency.EUR, Decimal("1"), Decimal("1")),)),
            InvalidAccountError,
            "balances",
        ),
        (
            lambda: master(balances=(master().balances[0], master().balances[0])),
            InvalidAccountError,
            "balances",
        ),
        (lambda: customer(accounts=(), holdings=(), transactions=()), InvalidAccountError, "accounts"),
        (lambda: customer(residency=Jurisdiction.HK), InvalidAccountError, "accounts"),
        (
            lambda: customer(accounts=(master(), master(id="acc_test02", number="123456789013"))),
            InvalidAccountError,
            "accounts",
        ),
        (
            lambda: customer(
                accounts=(master(), master(id="acc_test02", kind=AccountKind.SUB)),
            ),
            InvalidAccountError,
            "accounts",
        ),
        (lambda: transaction(booked_at=WHEN.replace(tzinfo=None)), InvalidTransactionError, "booked_at"),
        (
            lambda: transaction(booked_at=WHEN.astimezone(timezone(timedelta(hours=8)))),
            InvalidTransactionError,
            "booked_at",
        ),
        (lambda: transaction(quantity=None), InvalidTransactionError, "quantity"),
        (lambda: transaction(quantity=Decimal("-5")), InvalidTransactionError, "quantity"),
        (lambda: transaction(instrument_id=None), InvalidTransactionError, "instrument_id"),
        (
            lambda: transaction(kind=TransactionKind.DEPOSIT, quantity=None),
            InvalidTransactionError,
            "instrument_id",
        ),
        (
            lambda: transaction(kind=TransactionKind.DIVIDEND, quantity=Decimal("1")),
            InvalidTransactionError,
            "quantity",
        ),
        (lambda: transaction(amount=usd("0.00")), InvalidTransactionError, "amount"),
        (lambda: transaction(description=" "), InvalidTransactionError, "description"),
        (lambda: transaction(id="tx-1"), InvalidTransactionError, "id"),
        (
            lambda: customer(transactions=(transaction(account_id="acc_nowhere"),)),
            InvalidTransactionError,
            "account_id",
        ),
        (
            lambda: customer(transactions=(transaction(amount=Money(Decimal("1.00"), Currency.CNY)),)),
            InvalidTransactionError,
            "amount",
        ),
        (lambda: customer(transactions=(transaction(), transaction())), InvalidTransactionError, "id"),
        (lambda: customer(id="cust_1"), InvalidCustomerError, "id"),
        (lambda: customer(username="Jane.Roe"), InvalidCustomerError, "username"),
        (lambda: customer(username="jane..roe"), InvalidCustomerError, "username"),
        (lambda: customer(display_name=""), InvalidCustomerError, "display_name"),
        (
            lambda: KycProfile(" ", date(1980, 1, 2), "US", "900-11-2222", "US"),
            InvalidCustomerError,
            "kyc.legal_name",
        ),
        (
            lambda: KycProfile("A B", datetime(1980, 1, 2, tzinfo=UTC), "US", "900-11-2222", "US"),
            InvalidCustomerError,
            "kyc.date_of_birth",
        ),
        (
            lambda: KycProfile("A B", date(1899, 12, 31), "US", "900-11-2222", "US"),
            InvalidCustomerError,
            "kyc.date_of_birth",
        ),
        (
            lambda: KycProfile("A B", date(1980, 1, 2), "usa", "900-11-2222", "US"),
            InvalidCustomerError,
            "kyc.nationality",
        ),
        (
            lambda: KycProfile("A B", date(1980, 1, 2), "US", "9 11", "US"),
            InvalidCustomerError,
            "kyc.national_id",
        ),
        (
            lambda: KycProfile("A B", date(1980, 1, 2), "US", "900-11-2222", "U"),
            InvalidCustomerError,
            "kyc.address_country",
        ),
        (lambda: customer(risk_assessed_on=date(1999, 12, 31)), InvalidCustomerError, "risk_assessed_on"),
        (
            lambda: customer(risk_assessed_on=datetime(2026, 3, 1, tzinfo=UTC)),
            InvalidCustomerError,
            "risk_assessed_on",
        ),
    ],
)
def test_impossible_records_are_refused(build: Any, error: type[InvalidCustomerError], field: str) -> None:
    with pytest.raises(error) as caught:
        build()
    assert caught.value.context["field"] == field


def test_every_customer_error_is_a_rule_violation() -> None:
    for error in (InvalidCustomerError, InvalidAccountError, InvalidHoldingError, InvalidTransactionError):
        assert issubclass(error, RuleViolationError)


def test_booked_at_in_another_utc_zone_object_is_normalised() -> None:
    txn = transaction(booked_at=datetime(2026, 1, 5, 9, 30, tzinfo=ZoneInfo("UTC")))
    assert txn.booked_at.tzinfo is UTC
    assert txn.booked_at == WHEN


def test_sub_accounts_exist_for_the_catalogue_markets_only() -> None:
    assert {Jurisdiction.CN, Jurisdiction.HK, Jurisdiction.US} == SUB_ACCOUNT_JURISDICTIONS


# --- document round trip ---------------------------------------------------------------------------

cents = st.decimals(min_value=Decimal(0), max_value=Decimal(10) ** 9, places=2)
positive_cents = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10) ** 6, places=2)
names = st.text(min_size=1, max_size=30).filter(lambda text: text.strip() != "")
instants = st.datetimes(
    # hypothesis takes naive bounds and attaches the zone itself
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
by_market: dict[Jurisdiction, list[str]] = {
    jurisdiction: [i.id for i in CATALOGUE if i.market.value == jurisdiction.value]
    for jurisdiction in SUB_ACCOUNT_JURISDICTIONS
}


@st.composite
def balances(draw: st.DrawFn, base: Currency) -> tuple[CashBalance, ...]:
    currencies = sorted({base} | draw(st.sets(st.sampled_from(Currency))))
    result = []
    for currency in currencies:
        total = draw(cents)
        result.append(CashBalance(currency, draw(st.decimals(min_value=0, max_value=total, places=2)), total))
    return tuple(result)


@st.composite
def transactions(draw: st.DrawFn, account: Account, index: int) -> Transaction:
    kind = draw(st.sampled_from(TransactionKind))
    needs_instrument = kind in {TransactionKind.BUY, TransactionKind.SELL, TransactionKind.DIVIDEND}
    may_have_instrument = kind is TransactionKind.FEE and draw(st.booleans())
    instrument = (
        draw(st.sampled_from([i.id for i in CATALOGUE])) if needs_instrument or may_have_instrument else None
    )
    quantity = draw(positive_cents) if kind in {TransactionKind.BUY, TransactionKind.SELL} else None
    return Transaction(
        id=f"txn_{index:06d}",
        account_id=account.id,
        booked_at=draw(instants),
        kind=kind,
        instrument_id=instrument,
        quantity=quantity,
        amount=Money(draw(positive_cents), draw(st.sampled_from(sorted(account.currencies)))),
        description=draw(names),
    )


@st.composite
def customers(draw: st.DrawFn) -> Customer:
    residency = draw(st.sampled_from(Jurisdiction))
    subs = sorted(draw(st.sets(st.sampled_from(sorted(SUB_ACCOUNT_JURISDICTIONS - {residency})))))
    accounts = tuple(
        Account(
            id=f"acc_{index:04d}",
            kind=AccountKind.MASTER if index == 0 else AccountKind.SUB,
            jurisdiction=jurisdiction,
            number=draw(st.from_regex(r"[0-9]{11,15}", fullmatch=True)) + str(index),
            base_currency=HOME_CURRENCY[jurisdiction],
            balances=draw(balances(HOME_CURRENCY[jurisdiction])),
        )
        for index, jurisdiction in enumerate([residency, *subs])
    )
    holdings: list[Holding] = []
    for account in accounts:
        tradable = by_market.get(account.jurisdiction, [])  # an EU master account trades no market
        for instrument_id in sorted(draw(st.sets(st.sampled_from(tradable)))) if tradable else []:
            instrument = CATALOGUE.get(instrument_id)
            cost = Money(draw(positive_cents), instrument.currency)
            holdings.append(Holding.valued(account.id, instrument, draw(positive_cents), cost))
    booked = tuple(
        draw(transactions(draw(st.sampled_from(accounts)), index))
        for index in range(draw(st.integers(min_value=0, max_value=4)))
    )
    return Customer(
        id="cus_" + draw(st.from_regex(r"[a-z0-9]{4,12}", fullmatch=True)),
        username=draw(st.from_regex(r"[a-z][a-z0-9]{0,8}([._-][a-z0-9]{1,8})?", fullmatch=True)),
        display_name=draw(names),
        residency=residency,
        risk_level=draw(st.sampled_from(RiskLevel)),
        investor_class=draw(st.sampled_from(InvestorClass)),
        kyc=KycProfile(
            legal_name=draw(names),
            date_of_birth=draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2010, 12, 31))),
            nationality=draw(st.from_regex(r"[A-Z]{2}", fullmatch=True)),
            national_id=draw(st.from_regex(r"[A-Za-z0-9()-]{6,32}", fullmatch=True)),
            address_country=draw(st.from_regex(r"[A-Z]{2}", fullmatch=True)),
        ),
        accounts=accounts,
        holdings=tuple(holdings),
        transactions=booked,
        islamic_account=draw(st.booleans()),
        risk_assessed_on=draw(st.none() | st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31))),
    )


def only_json_types(value: object) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and only_json_types(v) for k, v in value.items())
    if isinstance(value, list):
        return all(only_json_types(item) for item in value)
    return value is None or type(value) in {str, int, bool}  # no float, Decimal, date or enum member


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(customers())
def test_document_round_trip_is_exact(original: Customer) -> None:
    document = original.to_document()
    assert only_json_types(document)
    through_json = json.loads(json.dumps(document))
    restored = Customer.from_document(through_json)
    assert restored == original
    assert restored.to_document() == document
    for before, after in zip(original.transactions, restored.transactions, strict=True):
        assert after.booked_at.tzinfo is UTC
        assert after.booked_at.isoformat() == before.booked_at.isoformat()


@pytest.mark.parametrize("quantity", ["10.00", "10", "1E+3"])
def test_round_trip_keeps_the_decimal_exponent(quantity: str) -> None:
    original = customer(holdings=(holding(quantity=Decimal(quantity)),))
    restored = Customer.from_document(json.loads(json.dumps(original.to_document())))
    assert str(restored.holdings[0].quantity) == quantity


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("holdings", 0, "quantity"), 10),  # a JSON number, not a string
        (("holdings", 0, "market_value", "amount"), 213.88),
        (("accounts", 0, "balances", 0, "total"), "1,000.00"),
        (("risk_level",), "C6"),
        (("residency",), "SG"),
        (("kyc", "date_of_birth"), "02/01/1980"),
        (("transactions", 0, "kind"), "transfer"),
        (("islamic_account",), "yes"),
        (("islamic_account",), None),
        (("risk_assessed_on",), "2026-02-30"),
        (("risk_assessed_on",), "2026-03-01T00:00:00Z"),
    ],
)
def test_from_document_refuses_malformed_documents(path: tuple[str | int, ...], value: object) -> None:
    document: Any = customer().to_document()
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(InvalidCustomerError) as caught:
        Customer.from_document(document)
    assert caught.value.context["field"] == "document"


def test_the_islamic_flag_and_the_assessment_date_are_always_written() -> None:
    plain = customer().to_document()
    assert (plain["islamic_account"], plain["risk_assessed_on"]) == (False, None)
    kept = customer(islamic_account=True, risk_assessed_on=date(2000, 1, 1)).to_document()
    assert (kept["islamic_account"], kept["risk_assessed_on"]) == (True, "2000-01-01")


def test_a_document_from_before_the_two_facts_reads_as_ordinary_and_unassessed() -> None:
    document = customer(islamic_account=True, risk_assessed_on=date(2026, 3, 1)).to_document()
    del document["islamic_account"], document["risk_assessed_on"]
    restored = Customer.from_document(document)
    assert (restored.islamic_account, restored.risk_assessed_on) == (False, None)


def test_from_document_refuses_unknown_fields() -> None:
    document = customer().to_document()
    document["password"] = "hunter2"
    with pytest.raises(InvalidCustomerError, match="password"):
        Customer.from_document(document)


def test_from_document_applies_the_domain_rules() -> None:
    document: Any = customer().to_document()
    document["holdings"][0]["quantity"] = "-3"
    with pytest.raises(InvalidHoldingError, match="quantity"):
        Customer.from_document(document)
    document = customer().to_document()
    document["transactions"][0]["amount"]["amount"] = "-1.00"
    with pytest.raises(InvalidTransactionError):
        Customer.from_document(document)
