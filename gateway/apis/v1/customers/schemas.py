"""Wire shapes of customer data. Every field is optional: a field whose data category the consent
does not grant, or that the cross-border policy denies, is absent (ARCHITECTURE.md, minimisation)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from gateway.domain.sharing.views import Shared

T = TypeVar("T")


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    currency: str
    available: str
    total: str


class Valuation(msgspec.Struct, frozen=True, kw_only=True):
    currency: str
    amount: str


class AccountOut(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    account_id: str | UnsetType = UNSET
    kind: str | UnsetType = UNSET
    jurisdiction: str | UnsetType = UNSET
    number: str | UnsetType = UNSET  # always masked: the last four digits
    base_currency: str | UnsetType = UNSET
    balances: list[Balance] | UnsetType = UNSET
    holding_count: int | UnsetType = UNSET
    market_value: list[Valuation] | UnsetType = UNSET


class HoldingOut(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    account_id: str | UnsetType = UNSET
    instrument_id: str | UnsetType = UNSET
    quantity: str | UnsetType = UNSET
    currency: str | UnsetType = UNSET
    average_cost: str | UnsetType = UNSET
    market_value: str | UnsetType = UNSET


class TransactionOut(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    transaction_id: str | UnsetType = UNSET
    account_id: str | UnsetType = UNSET
    booked_at: str | UnsetType = UNSET
    kind: str | UnsetType = UNSET
    instrument_id: str | UnsetType | None = UNSET
    quantity: str | UnsetType | None = UNSET
    amount: str | UnsetType = UNSET
    currency: str | UnsetType = UNSET
    description: str | UnsetType = UNSET


class RiskProfileOut(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    risk_level: str | UnsetType = UNSET
    investor_class: str | UnsetType = UNSET


class ProfileOut(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    legal_name: str | UnsetType = UNSET
    date_of_birth: str | UnsetType = UNSET  # a birth year only, where the policy masks identity
    nationality: str | UnsetType = UNSET
    national_id: str | UnsetType = UNSET  # always masked
    residency: str | UnsetType = UNSET
    address_country: str | UnsetType = UNSET


class Sharing(msgspec.Struct, frozen=True, kw_only=True):
    """How this response was minimised, so an app can tell "not granted" from "not there"."""

    subject: str  # the pairwise `sub` of the access token: this partner's name for the customer
    masked_fields: list[str]
    withheld_fields: list[str]


class AccountList(msgspec.Struct, frozen=True, kw_only=True):
    data: list[AccountOut]
    sharing: Sharing


class HoldingList(msgspec.Struct, frozen=True, kw_only=True):
    data: list[HoldingOut]
    sharing: Sharing


class TransactionList(msgspec.Struct, frozen=True, kw_only=True):
    data: list[TransactionOut]
    sharing: Sharing


class RiskProfileView(msgspec.Struct, frozen=True, kw_only=True):
    data: RiskProfileOut
    sharing: Sharing


class ProfileView(msgspec.Struct, frozen=True, kw_only=True):
    data: ProfileOut
    sharing: Sharing


def shaped(kind: type[T], shared: Shared) -> T:
    """The record's shared fields as the wire struct (absent fields stay unset)."""
    return msgspec.convert(shared.fields, kind)


def each(kind: type[T], items: Sequence[Shared]) -> list[T]:
    return [shaped(kind, item) for item in items]
