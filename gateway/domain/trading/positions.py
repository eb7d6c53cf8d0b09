"""Positions: a customer's cash and holdings as the ledger has them, and their opening balances."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from gateway.domain.clock import Clock
from gateway.domain.customers.models import CashBalance, Customer, Holding
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.money import Currency, Money
from gateway.domain.trading.fees import cents
from gateway.domain.trading.ledger import (
    EMPTY,
    HOUSE_STREET,
    ZERO,
    Balance,
    EntryKind,
    JournalEntry,
    Posting,
    cash,
    transfer,
    units,
)
from gateway.domain.trading.ports import LedgerStore
from gateway.domain.trading.venue import Prices


class Positions:
    def __init__(self, *, store: LedgerStore, catalogue: Catalogue, prices: Prices, clock: Clock) -> None:
        self._store = store
        self._catalogue = catalogue
        self._prices = prices
        self._clock = clock

    def balances(self, account_ids: Sequence[str]) -> dict[tuple[str, str], Balance]:
        """Every (account, asset) balance of these accounts, read in autocommit (no trading lock)."""
        return self._store.balances(account_ids)

    def current(self, customer: Customer) -> Customer:
        """The customer with cash and holdings as the ledger has them now, valued at the feed's prices.

        Average cost: the onboarding snapshot's cost, blended with the notional of every buy since;
        sells leave it unchanged (the average-cost method).
        """
        ids = [account.id for account in customer.accounts]
        balances = self._store.balances(ids)
        bought = self._store.purchases(ids)
        now = self._clock.now()
        accounts = []
        for account in customer.accounts:
            currencies = {account.base_currency} | {
                Currency(asset.split(":", 1)[1])
                for (owner, asset), balance in balances.items()
                if owner == account.id and asset.startswith("cash:") and balance.total
            }
            cash_balances = tuple(
                CashBalance(c, b.available, b.total)
                for c in sorted(currencies)
                for b in (balances.get((account.id, cash(c)), EMPTY),)
            )
            accounts.append(replace(account, balances=cash_balances))
        opening = {(h.account_id, h.instrument_id): h for h in customer.holdings}
        holdings = []
        for (owner, asset), balance in sorted(balances.items()):
            if not asset.startswith("units:") or balance.total <= 0:
                continue
            instrument = self._catalogue.get(asset.split(":", 1)[1])
            start = opening.get((owner, instrument.id))
            quantity, notional = bought.get((owner, instrument.id), (ZERO, ZERO))
            if start is not None:
                quantity += start.quantity
                notional += start.quantity * start.average_cost.amount
            average = cents(notional / quantity) if quantity else ZERO
            value = cents(balance.total * self._prices.reference_price(instrument, now))
            currency = instrument.currency
            holdings.append(
                Holding(owner, instrument.id, balance.total, Money(average, currency), Money(value, currency))
            )
        return replace(customer, accounts=tuple(accounts), holdings=tuple(holdings))

    def open_accounts(self, customer: Customer) -> bool:
        """Fund a customer's ledger from their onboarding snapshot, once; False if already done."""
        entry = opening_entry(customer, self._clock.now())
        return entry is not None and self._store.open(entry)


def opening_entry(customer: Customer, at: datetime) -> JournalEntry | None:
    """The customer's cash and holdings at onboarding, moved in from the street in one entry."""
    postings: list[Posting] = []
    for account in customer.accounts:
        for balance in account.balances:
            postings += transfer(HOUSE_STREET, account.id, cash(balance.currency), balance.total)
    for holding in customer.holdings:
        postings += transfer(HOUSE_STREET, holding.account_id, units(holding.instrument_id), holding.quantity)
    if not postings:
        return None
    return JournalEntry(f"jrn_open_{customer.id}", EntryKind.OPENING, None, tuple(postings), at)
