"""Brokerage customers: KYC profile, a master account with per-market sub-accounts, holdings and history."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Final, Literal

import msgspec

from gateway.domain.compliance.suitability import InvestorClass, Jurisdiction, RiskLevel
from gateway.domain.customers.errors import (
    InvalidAccountError,
    InvalidCustomerError,
    InvalidHoldingError,
    InvalidTransactionError,
)
from gateway.domain.errors import RuleViolationError
from gateway.domain.market.models import Instrument, Market
from gateway.domain.money import CENT, MAX_AMOUNT, Currency, Money

# Residency uses the regions the suitability packs know (CN, HK, EU, US): one enum, not two to keep in step.
Residency = Jurisdiction

# The currency an account of each jurisdiction keeps its books in.
HOME_CURRENCY: Final[Mapping[Jurisdiction, Currency]] = MappingProxyType(
    {
        Jurisdiction.CN: Currency.CNY,
        Jurisdiction.HK: Currency.HKD,
        Jurisdiction.EU: Currency.EUR,
        Jurisdiction.US: Currency.USD,
    }
)
# A sub-account trades one market of the catalogue; there is no EU market, so no EU sub-account.
SUB_ACCOUNT_JURISDICTIONS: Final = frozenset(Jurisdiction(market.value) for market in Market)

MIN_BIRTH_YEAR: Final = 1900
# Risk questionnaires on file start with the platform; an earlier date is a typing error.
MIN_RISK_ASSESSMENT_YEAR: Final = 2000
MAX_DESCRIPTION_LENGTH: Final = 200
ACCOUNT_NUMBER_MASK: Final = "••••"

_CUSTOMER_ID: Final = re.compile(r"cus_[a-z0-9]{4,32}")
_ACCOUNT_ID: Final = re.compile(r"acc_[a-z0-9]{4,32}")
_TRANSACTION_ID: Final = re.compile(r"txn_[a-z0-9]{4,32}")
_INSTRUMENT_ID: Final = re.compile(r"ins_[a-z0-9]{10}")  # the catalogue's id format
_USERNAME: Final = re.compile(r"[a-z][a-z0-9]*(?:[._-][a-z0-9]+)*")
_MAX_USERNAME_LENGTH: Final = 64
_ACCOUNT_NUMBER: Final = re.compile(r"[0-9]{12,16}")
_COUNTRY: Final = re.compile(r"[A-Z]{2}")  # ISO 3166-1 alpha-2
_NATIONAL_ID: Final = re.compile(r"[A-Za-z0-9()-]{6,32}")
_DIGITS: Final = frozenset("0123456789")


class AccountKind(StrEnum):
    MASTER = "master"
    SUB = "sub"


class TransactionKind(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    BUY = "buy"
    SELL = "sell"
    DIVIDEND = "dividend"
    FEE = "fee"
    FX = "fx"


# Which kinds name an instrument and a quantity; a fee may name the instrument it was charged on.
_NEEDS_INSTRUMENT: Final = frozenset({TransactionKind.BUY, TransactionKind.SELL, TransactionKind.DIVIDEND})
_NO_INSTRUMENT: Final = frozenset({TransactionKind.DEPOSIT, TransactionKind.WITHDRAWAL, TransactionKind.FX})
_NEEDS_QUANTITY: Final = frozenset({TransactionKind.BUY, TransactionKind.SELL})


def mask_account_number(number: str) -> str:
    """Show only the last four digits ("•••• 1234"); a number under eight digits shows none."""
    digits = "".join(char for char in number if char in _DIGITS)
    # Four digits of a short number would give most of it away.
    if len(digits) < 8:
        return ACCOUNT_NUMBER_MASK
    return f"{ACCOUNT_NUMBER_MASK} {digits[-4:]}"


def mask_national_id(value: str) -> str:
    """Keep the first 1-2 and last 2-4 characters: never more than 6, never more than half."""
    length = len(value)
    if length >= 14:  # an 18-character CN resident id still hides its birth date and sequence
        head, tail = 2, 4
    elif length >= 10:
        head, tail = 1, 3
    elif length >= 6:
        head, tail = 1, 2
    else:
        return "*" * length
    return value[:head] + "*" * (length - head - tail) + value[-tail:]


def mask_name(name: str) -> str:
    """Keep the first letter of each word ("Li Wei" -> "L*** W***")."""
    words = name.split()
    return " ".join(f"{word[0]}***" for word in words) if words else "***"


@dataclass(frozen=True, slots=True)
class KycProfile:
    """The identity checked at onboarding; `national_id` leaves the brokerage only masked."""

    legal_name: str
    date_of_birth: date
    nationality: str  # ISO 3166-1 alpha-2
    national_id: str  # full; see mask_national_id
    address_country: str  # ISO 3166-1 alpha-2

    def __post_init__(self) -> None:
        if not self.legal_name.strip():
            raise InvalidCustomerError("the legal name must not be empty", field="kyc.legal_name")
        # A datetime is a date too, but its time would leak into the document and break the round trip.
        if isinstance(self.date_of_birth, datetime) or self.date_of_birth.year < MIN_BIRTH_YEAR:
            raise InvalidCustomerError(
                f"the date of birth must be a calendar date from {MIN_BIRTH_YEAR}", field="kyc.date_of_birth"
            )
        for name in ("nationality", "address_country"):
            if _COUNTRY.fullmatch(getattr(self, name)) is None:
                raise InvalidCustomerError("use an ISO 3166-1 alpha-2 country code", field=f"kyc.{name}")
        if _NATIONAL_ID.fullmatch(self.national_id) is None:
            raise InvalidCustomerError(
                "a national id has 6 to 32 letters, digits, hyphens or brackets", field="kyc.national_id"
            )


@dataclass(frozen=True, slots=True)
class CashBalance:
    """Cash in one currency; `available` is `total` less what open orders and withdrawals reserve."""

    currency: Currency
    available: Decimal
    total: Decimal

    def __post_init__(self) -> None:
        _check_amount(self.available, "available", InvalidAccountError)
        _check_amount(self.total, "total", InvalidAccountError)
        if self.available > self.total:
            raise InvalidAccountError(
                "available cash cannot exceed the total", field="available", currency=self.currency.value
            )


@dataclass(frozen=True, slots=True)
class Account:
    """A master account (jurisdiction = residency) or a sub-account for one market (CN, HK or US)."""

    id: str
    kind: AccountKind
    jurisdiction: Jurisdiction
    number: str  # full; leaves the brokerage only through mask_account_number
    base_currency: Currency
    balances: tuple[CashBalance, ...]

    def __post_init__(self) -> None:
        if _ACCOUNT_ID.fullmatch(self.id) is None:
            raise InvalidAccountError("an account id looks like acc_…", field="id")
        if _ACCOUNT_NUMBER.fullmatch(self.number) is None:
            raise InvalidAccountError(
                "an account number has 12 to 16 digits", field="number", account=self.id
            )
        if self.kind is AccountKind.SUB and self.jurisdiction not in SUB_ACCOUNT_JURISDICTIONS:
            raise InvalidAccountError(
                "a sub-account trades one market: CN, HK or US", field="jurisdiction", account=self.id
            )
        if self.base_currency is not HOME_CURRENCY[self.jurisdiction]:
            raise InvalidAccountError(
                f"a {self.jurisdiction} account keeps its books in {HOME_CURRENCY[self.jurisdiction]}",
                field="base_currency",
                account=self.id,
            )
        currencies = [balance.currency for balance in self.balances]
        if len(set(currencies)) != len(currencies):
            raise InvalidAccountError("one balance per currency", field="balances", account=self.id)
        if self.base_currency not in currencies:
            raise InvalidAccountError(
                "an account has a balance in its base currency", field="balances", account=self.id
            )

    @property
    def currencies(self) -> frozenset[Currency]:
        return frozenset(balance.currency for balance in self.balances)


@dataclass(frozen=True, slots=True)
class Holding:
    """A position; `market_value` is quantity times the instrument's reference price (see `valued`)."""

    account_id: str
    instrument_id: str
    quantity: Decimal
    average_cost: Money  # per unit
    market_value: Money

    def __post_init__(self) -> None:
        if _INSTRUMENT_ID.fullmatch(self.instrument_id) is None:
            raise InvalidHoldingError("an instrument id looks like ins_…", field="instrument_id")
        _check_quantity(self.quantity, InvalidHoldingError)
        if self.average_cost.currency is not self.market_value.currency:
            raise InvalidHoldingError(
                "the average cost and the market value are in the instrument's currency",
                field="average_cost",
                instrument_id=self.instrument_id,
            )

    @classmethod
    def valued(
        cls, account_id: str, instrument: Instrument, quantity: Decimal, average_cost: Money
    ) -> Holding:
        """Value a position at the instrument's reference price, rounded half up to the cent."""
        _check_quantity(quantity, InvalidHoldingError)
        if average_cost.currency is not instrument.currency:
            raise InvalidHoldingError(
                f"the average cost is in the instrument's currency {instrument.currency}",
                field="average_cost",
                instrument_id=instrument.id,
            )
        value = (quantity * instrument.reference_price).quantize(CENT, rounding=ROUND_HALF_UP)
        market_value = _money(value, instrument.currency, "market_value", InvalidHoldingError)
        return cls(account_id, instrument.id, quantity, average_cost, market_value)

    @property
    def currency(self) -> Currency:
        return self.market_value.currency


@dataclass(frozen=True, slots=True)
class Transaction:
    """A booked cash movement; `amount` is positive and `kind` says which way the cash went."""

    id: str
    account_id: str
    booked_at: datetime  # aware, UTC
    kind: TransactionKind
    instrument_id: str | None
    quantity: Decimal | None
    amount: Money
    description: str

    def __post_init__(self) -> None:
        if _TRANSACTION_ID.fullmatch(self.id) is None:
            raise InvalidTransactionError("a transaction id looks like txn_…", field="id")
        offset = self.booked_at.utcoffset()
        if offset is None or offset != timedelta(0):
            raise InvalidTransactionError(
                "booked_at is an aware UTC time", field="booked_at", transaction=self.id
            )
        # One tzinfo object for UTC, so that a document round trip gives back an identical value.
        object.__setattr__(self, "booked_at", self.booked_at.astimezone(UTC))
        if self.kind in _NEEDS_INSTRUMENT and self.instrument_id is None:
            raise InvalidTransactionError(
                f"a {self.kind} names its instrument", field="instrument_id", transaction=self.id
            )
        if self.kind in _NO_INSTRUMENT and self.instrument_id is not None:
            raise InvalidTransactionError(
                f"a {self.kind} names no instrument", field="instrument_id", transaction=self.id
            )
        if self.instrument_id is not None and _INSTRUMENT_ID.fullmatch(self.instrument_id) is None:
            raise InvalidTransactionError(
                "an instrument id looks like ins_…", field="instrument_id", transaction=self.id
            )
        if self.kind in _NEEDS_QUANTITY:
            if self.quantity is None:
                raise InvalidTransactionError(
                    f"a {self.kind} has a quantity", field="quantity", transaction=self.id
                )
            _check_quantity(self.quantity, InvalidTransactionError)
        elif self.quantity is not None:
            raise InvalidTransactionError(
                f"a {self.kind} has no quantity", field="quantity", transaction=self.id
            )
        if self.amount.amount == 0:
            raise InvalidTransactionError("a booked amount is positive", field="amount", transaction=self.id)
        if not self.description.strip() or len(self.description) > MAX_DESCRIPTION_LENGTH:
            raise InvalidTransactionError(
                f"a description has 1 to {MAX_DESCRIPTION_LENGTH} characters",
                field="description",
                transaction=self.id,
            )


@dataclass(frozen=True, slots=True)
class Customer:
    """A brokerage customer; storage keeps one as a single JSON document (`to_document`)."""

    id: str
    username: str  # lowercase login name
    display_name: str
    residency: Residency
    risk_level: RiskLevel
    investor_class: InvestorClass
    kyc: KycProfile
    accounts: tuple[Account, ...]
    holdings: tuple[Holding, ...]
    transactions: tuple[Transaction, ...]
    islamic_account: bool = False  # may hold Shariah-compliant instruments only (SUIT-06)
    # The day of the last risk questionnaire behind `risk_level`; None: none on file (see PTC-12).
    risk_assessed_on: date | None = None

    def __post_init__(self) -> None:
        if _CUSTOMER_ID.fullmatch(self.id) is None:
            raise InvalidCustomerError("a customer id looks like cus_…", field="id")
        assessed = self.risk_assessed_on
        # A datetime is a date too, but its time would leak into the document and break the round trip.
        if assessed is not None and (
            isinstance(assessed, datetime) or assessed.year < MIN_RISK_ASSESSMENT_YEAR
        ):
            raise InvalidCustomerError(
                f"the risk assessment date is a calendar date from {MIN_RISK_ASSESSMENT_YEAR}",
                field="risk_assessed_on",
            )
        if len(self.username) > _MAX_USERNAME_LENGTH or _USERNAME.fullmatch(self.username) is None:
            raise InvalidCustomerError(
                "a username is lowercase letters and digits, words joined by '.', '_' or '-'",
                field="username",
            )
        if not self.display_name.strip():
            raise InvalidCustomerError("the display name must not be empty", field="display_name")
        self._check_accounts()
        accounts = {account.id: account for account in self.accounts}
        self._check_holdings(accounts)
        self._check_transactions(accounts)

    @property
    def master_account(self) -> Account:
        return next(account for account in self.accounts if account.kind is AccountKind.MASTER)

    def to_document(self) -> dict[str, object]:
        """A JSON-ready dict: Decimals as strings, dates and times in ISO 8601; `from_document` inverts it."""
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "residency": self.residency.value,
            "risk_level": self.risk_level.name,
            "investor_class": self.investor_class.value,
            "islamic_account": self.islamic_account,
            "risk_assessed_on": None if self.risk_assessed_on is None else self.risk_assessed_on.isoformat(),
            "kyc": {
                "legal_name": self.kyc.legal_name,
                "date_of_birth": self.kyc.date_of_birth.isoformat(),
                "nationality": self.kyc.nationality,
                "national_id": self.kyc.national_id,
                "address_country": self.kyc.address_country,
            },
            "accounts": [
                {
                    "id": account.id,
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
                }
                for account in self.accounts
            ],
            "holdings": [
                {
                    "account_id": holding.account_id,
                    "instrument_id": holding.instrument_id,
                    "quantity": str(holding.quantity),
                    "average_cost": _money_document(holding.average_cost),
                    "market_value": _money_document(holding.market_value),
                }
                for holding in self.holdings
            ],
            "transactions": [
                {
                    "id": transaction.id,
                    "account_id": transaction.account_id,
                    "booked_at": transaction.booked_at.isoformat(),
                    "kind": transaction.kind.value,
                    "instrument_id": transaction.instrument_id,
                    "quantity": None if transaction.quantity is None else str(transaction.quantity),
                    "amount": _money_document(transaction.amount),
                    "description": transaction.description,
                }
                for transaction in self.transactions
            ],
        }

    @classmethod
    def from_document(cls, document: Mapping[str, object]) -> Customer:
        """Rebuild a customer from `to_document` output; a malformed document is an InvalidCustomerError."""
        try:
            record = msgspec.convert(document, _CustomerRecord)
        except msgspec.ValidationError as exc:
            raise InvalidCustomerError(f"customer document is not valid: {exc}", field="document") from None
        return record.to_domain()

    def _check_accounts(self) -> None:
        masters = [account for account in self.accounts if account.kind is AccountKind.MASTER]
        if len(masters) != 1:
            raise InvalidAccountError("a customer has exactly one master account", field="accounts")
        if masters[0].jurisdiction is not self.residency:
            raise InvalidAccountError(
                "the master account is in the customer's residency", field="accounts", account=masters[0].id
            )
        for attribute, message in (
            ("id", "account ids are unique"),
            ("number", "account numbers are unique"),
            ("jurisdiction", "one account per jurisdiction"),
        ):
            values = [getattr(account, attribute) for account in self.accounts]
            if len(set(values)) != len(values):
                raise InvalidAccountError(message, field="accounts")

    def _check_holdings(self, accounts: Mapping[str, Account]) -> None:
        positions: set[tuple[str, str]] = set()
        for holding in self.holdings:
            account = accounts.get(holding.account_id)
            if account is None:
                raise InvalidHoldingError(
                    "the holding is in an account the customer does not have",
                    field="account_id",
                    account=holding.account_id,
                )
            if holding.currency not in account.currencies:
                raise InvalidHoldingError(
                    f"account {account.id} holds no {holding.currency} cash to settle this holding in",
                    field="account_id",
                    instrument_id=holding.instrument_id,
                )
            position = (holding.account_id, holding.instrument_id)
            if position in positions:
                raise InvalidHoldingError(
                    "one holding per instrument and account", field="instrument_id", account=account.id
                )
            positions.add(position)

    def _check_transactions(self, accounts: Mapping[str, Account]) -> None:
        seen: set[str] = set()
        for transaction in self.transactions:
            if transaction.id in seen:
                raise InvalidTransactionError(
                    "transaction ids are unique", field="id", transaction=transaction.id
                )
            seen.add(transaction.id)
            account = accounts.get(transaction.account_id)
            if account is None:
                raise InvalidTransactionError(
                    "the transaction is in an account the customer does not have",
                    field="account_id",
                    transaction=transaction.id,
                )
            if transaction.amount.currency not in account.currencies:
                raise InvalidTransactionError(
                    f"account {account.id} has no {transaction.amount.currency} balance",
                    field="amount",
                    transaction=transaction.id,
                )


def _check_amount(value: Decimal, field: str, error: type[InvalidCustomerError]) -> None:
    # The same bounds as Money, with the error of the record that carries the amount.
    if not value.is_finite() or value < 0 or value > MAX_AMOUNT or value != value.quantize(CENT):
        raise error(f"{field} is a non-negative amount with at most two decimals", field=field)


def _check_quantity(value: Decimal, error: type[InvalidCustomerError]) -> None:
    # Fund units are allotted to 0.01 (DOMAIN.md), shares in whole units: two decimals cover both.
    if not value.is_finite() or value <= 0 or value > MAX_AMOUNT or value != value.quantize(CENT):
        raise error("quantity is positive with at most two decimals", field="quantity")


def _money_document(money: Money) -> dict[str, str]:
    return {"amount": str(money.amount), "currency": money.currency.value}


def _money(amount: Decimal, currency: Currency, field: str, error: type[InvalidCustomerError]) -> Money:
    try:
        return Money(amount, currency)
    except RuleViolationError as exc:  # re-raised as the error of the record that carries the amount
        raise error(exc.detail, field=field) from None


# Decimals travel as strings in `str(Decimal)` form, never as JSON numbers (no float on the way).
_DecimalText = Annotated[str, msgspec.Meta(pattern=r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?(E[+-][0-9]+)?$")]


class _MoneyRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    amount: _DecimalText
    currency: Currency

    def to_domain(self, field: str, error: type[InvalidCustomerError]) -> Money:
        return _money(Decimal(self.amount), self.currency, field, error)


class _KycRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    legal_name: str
    date_of_birth: date
    nationality: str
    national_id: str
    address_country: str


class _BalanceRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    currency: Currency
    available: _DecimalText
    total: _DecimalText


class _AccountRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    kind: AccountKind
    jurisdiction: Jurisdiction
    number: str
    base_currency: Currency
    balances: tuple[_BalanceRecord, ...]

    def to_domain(self) -> Account:
        return Account(
            id=self.id,
            kind=self.kind,
            jurisdiction=self.jurisdiction,
            number=self.number,
            base_currency=self.base_currency,
            balances=tuple(
                CashBalance(
                    currency=balance.currency,
                    available=Decimal(balance.available),
                    total=Decimal(balance.total),
                )
                for balance in self.balances
            ),
        )


class _HoldingRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    account_id: str
    instrument_id: str
    quantity: _DecimalText
    average_cost: _MoneyRecord
    market_value: _MoneyRecord

    def to_domain(self) -> Holding:
        return Holding(
            account_id=self.account_id,
            instrument_id=self.instrument_id,
            quantity=Decimal(self.quantity),
            average_cost=self.average_cost.to_domain("average_cost", InvalidHoldingError),
            market_value=self.market_value.to_domain("market_value", InvalidHoldingError),
        )


class _TransactionRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    account_id: str
    booked_at: datetime
    kind: TransactionKind
    instrument_id: str | None
    quantity: _DecimalText | None
    amount: _MoneyRecord
    description: str

    def to_domain(self) -> Transaction:
        return Transaction(
            id=self.id,
            account_id=self.account_id,
            booked_at=self.booked_at,
            kind=self.kind,
            instrument_id=self.instrument_id,
            quantity=None if self.quantity is None else Decimal(self.quantity),
            amount=self.amount.to_domain("amount", InvalidTransactionError),
            description=self.description,
        )


class _CustomerRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    username: str
    display_name: str
    residency: Jurisdiction
    risk_level: Literal["C1", "C2", "C3", "C4", "C5"]
    investor_class: InvestorClass
    kyc: _KycRecord
    accounts: tuple[_AccountRecord, ...]
    holdings: tuple[_HoldingRecord, ...]
    transactions: tuple[_TransactionRecord, ...]
    # Documents written before these facts were kept read as an ordinary account with no assessment.
    islamic_account: bool = False
    risk_assessed_on: date | None = None

    def to_domain(self) -> Customer:
        return Customer(
            id=self.id,
            username=self.username,
            display_name=self.display_name,
            residency=self.residency,
            risk_level=RiskLevel[self.risk_level],
            investor_class=self.investor_class,
            kyc=KycProfile(
                legal_name=self.kyc.legal_name,
                date_of_birth=self.kyc.date_of_birth,
                nationality=self.kyc.nationality,
                national_id=self.kyc.national_id,
                address_country=self.kyc.address_country,
            ),
            accounts=tuple(account.to_domain() for account in self.accounts),
            holdings=tuple(holding.to_domain() for holding in self.holdings),
            transactions=tuple(transaction.to_domain() for transaction in self.transactions),
            islamic_account=self.islamic_account,
            risk_assessed_on=self.risk_assessed_on,
        )
