"""Fund dealing for a set of accounts (a sandbox test clock's), on a real ledger (SQLite and
PostgreSQL): a scoped run deals only those accounts' orders, and `next_due` names the next NAV
publication of their pending orders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain.customers.models import Customer
from gateway.domain.environment import Environment
from gateway.domain.trading.models import Order, OrderStatus
from gateway.settings import Settings
from gateway.storage.database import Database
from sandbox.clock import FrozenClock
from tests.trading import CN_EQUITY_FUND, CN_MORNING, Desk, actor_for, build_desk

# The NAV of Monday 23 November 2026 is out at 20:00 in Shanghai; Tuesday's a day later.
MONDAY_NAV = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TUESDAY_NAV = MONDAY_NAV + timedelta(days=1)


@pytest.fixture
def desk(backend_settings: Settings) -> Iterator[Desk]:
    database = Database(backend_settings.database(Environment.SANDBOX))
    try:
        yield build_desk(database, FrozenClock(CN_MORNING))
    finally:
        database.dispose()


def accounts(customer: Customer) -> list[str]:
    return [account.id for account in customer.accounts]


def subscribe(desk: Desk, customer: Customer) -> Order:
    return desk.place(
        actor_for(customer), instrument_id=CN_EQUITY_FUND, order_type="fund_subscription", amount="500.00"
    ).order


def status(desk: Desk, order: Order) -> OrderStatus:
    stored = desk.store.get_order(order.id)
    assert stored is not None
    return stored.status


def test_a_scoped_run_deals_only_its_accounts_and_next_due_names_the_next_nav(desk: Desk) -> None:
    mine, other = desk.customer(), desk.customer()
    assert desk.dealing.next_due(accounts(mine), CN_MORNING) is None  # nothing pending
    today = subscribe(desk, mine)
    theirs = subscribe(desk, other)
    desk.clock.set(CN_MORNING + timedelta(hours=6))  # 16:00 in Shanghai: past the 15:00 cut-off
    tomorrow = subscribe(desk, mine)
    assert (today.dealing_day, tomorrow.dealing_day) == (MONDAY_NAV.date(), TUESDAY_NAV.date())
    assert desk.dealing.next_due(accounts(mine), CN_MORNING) == MONDAY_NAV

    desk.clock.set(MONDAY_NAV)
    assert desk.dealing.deal(accounts(mine)) == 1
    assert status(desk, today) is OrderStatus.FILLED
    assert status(desk, tomorrow) is OrderStatus.OPEN  # its NAV is a day away
    assert status(desk, theirs) is OrderStatus.OPEN  # due as well, but not in the scope
    assert desk.dealing.next_due(accounts(mine), MONDAY_NAV) == TUESDAY_NAV
    # The other customer's order was due and is not dealt yet: due at once.
    assert desk.dealing.next_due(accounts(other), MONDAY_NAV) == MONDAY_NAV

    desk.clock.set(TUESDAY_NAV)
    assert desk.dealing.deal() >= 2  # unscoped: every account, as the platform's job
    assert (status(desk, tomorrow), status(desk, theirs)) == (OrderStatus.FILLED, OrderStatus.FILLED)
    assert desk.dealing.next_due(accounts(mine), TUESDAY_NAV) is None
    assert desk.dealing.next_due(accounts(other), TUESDAY_NAV) is None


def test_no_accounts_deal_nothing(desk: Desk) -> None:
    order = subscribe(desk, desk.customer())
    desk.clock.set(MONDAY_NAV)
    assert desk.dealing.deal([]) == 0
    assert desk.dealing.next_due([], CN_MORNING) is None
    assert status(desk, order) is OrderStatus.OPEN
