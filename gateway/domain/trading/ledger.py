"""Double-entry ledger: every movement of cash or units is a balanced journal entry.

Each asset (cash in one currency, units of one instrument) sums to zero over all ledger accounts,
customers' and the house's, after every entry: nothing is created or lost, only moved. The house
accounts stand for the world outside a customer's account:

- `house:street`: the market outside our book (reference-price fills, fund dealing) and the
  source of the opening balances;
- `house:fees`: commissions, duties and spreads the customer paid;
- `house:fx`: the currency desk that converts one currency into another;
- `house:points`: the lifestyle platforms' points, paid in as cash by points conversions (ADR 0009).

A hold reserves part of a customer balance for a live order; it moves nothing, so it is not a
posting. A customer balance never goes below zero and never below what is held.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final

from gateway.domain.errors import RuleViolationError
from gateway.domain.money import Currency

HOUSE_STREET: Final = "house:street"
HOUSE_FEES: Final = "house:fees"
HOUSE_FX: Final = "house:fx"
HOUSE_POINTS: Final = "house:points"  # partners' loyalty points turned into cash (ADR 0009)
HOUSE_ACCOUNTS: Final = frozenset({HOUSE_STREET, HOUSE_FEES, HOUSE_FX, HOUSE_POINTS})
ZERO: Final = Decimal(0)


def cash(currency: Currency) -> str:
    return f"cash:{currency.value}"


def units(instrument_id: str) -> str:
    return f"units:{instrument_id}"


class EntryKind(StrEnum):
    OPENING = "opening"  # seeded balances, funded from the street
    TRADE = "trade"
    FUND_DEALING = "fund_dealing"
    FX = "fx"
    POINTS_CREDIT = "points_credit"  # a points conversion pays cash into the customer's account
    POINTS_RETURN = "points_return"  # a cooling-off reversal takes that cash back, the points go home


@dataclass(frozen=True, slots=True)
class Balance:
    total: Decimal
    held: Decimal

    @property
    def available(self) -> Decimal:
        return self.total - self.held


EMPTY: Final = Balance(ZERO, ZERO)


@dataclass(frozen=True, slots=True)
class Posting:
    account_id: str
    asset: str
    amount: Decimal  # positive: the account gains; negative: it gives


@dataclass(frozen=True, slots=True)
class JournalEntry:
    id: str
    kind: EntryKind
    order_id: str | None
    postings: tuple[Posting, ...]
    booked_at: datetime

    def __post_init__(self) -> None:
        sums: defaultdict[str, Decimal] = defaultdict(Decimal)
        for posting in self.postings:
            if not posting.amount.is_finite() or posting.amount == 0:
                raise RuleViolationError("a posting moves a finite, non-zero amount", field="amount")
            sums[posting.asset] += posting.amount
        unbalanced = sorted(asset for asset, total in sums.items() if total != 0)
        if unbalanced:
            raise RuleViolationError("a journal entry must balance in every asset", assets=unbalanced)


def transfer(source: str, target: str, asset: str, amount: Decimal) -> tuple[Posting, ...]:
    """`amount` of `asset` from `source` to `target`; nothing when the amount is zero."""
    if amount == 0:
        return ()
    return (Posting(source, asset, -amount), Posting(target, asset, amount))


def purchase(
    *,
    buyer: str,
    seller: str,
    instrument_id: str,
    currency: Currency,
    quantity: Decimal,
    notional: Decimal,
    buyer_fees: Decimal,
    seller_fees: Decimal,
) -> tuple[Posting, ...]:
    """Units from the seller to the buyer against the notional; each side pays its own fees."""
    money = cash(currency)
    return (
        *transfer(seller, buyer, units(instrument_id), quantity),
        *transfer(buyer, seller, money, notional),
        *transfer(buyer, HOUSE_FEES, money, buyer_fees),
        *transfer(seller, HOUSE_FEES, money, seller_fees),
    )


def net_by_asset(postings: Iterable[Posting]) -> dict[tuple[str, str], Decimal]:
    """The change each entry makes per (account, asset), postings to the same pair added up."""
    changes: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for posting in postings:
        changes[(posting.account_id, posting.asset)] += posting.amount
    return {key: value for key, value in changes.items() if value != 0}
