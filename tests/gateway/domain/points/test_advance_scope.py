"""Conversions moved for a set of customers (a sandbox test clock's), on a real ledger (SQLite and
PostgreSQL): a scoped run moves only theirs, and `next_due` names the cut-off and the settlement
day, leaving the NAV to the fund dealing job."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.domain.customers.models import Customer
from gateway.domain.points.models import Conversion, ConversionState
from gateway.domain.points.service import ConversionRequest, PointsActor
from tests.gateway.domain.points.conftest import PointsDesk
from tests.trading import CN_MORNING

CN_BOND_FUND = "ins_lq72t5v5r5"  # F000002, R2
CUT_OFF = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Monday 15:00 in Shanghai
NAV_OUT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # Monday 20:00
SETTLES = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # Tuesday 00:00, the next trading day


def convert(points: PointsDesk, actor: PointsActor) -> Conversion:
    quote = points.service.quote(actor, CN_BOND_FUND, 1234).quote
    return points.service.convert(actor, ConversionRequest(f"pc-{quote.id}", quote.id)).conversion


def state(points: PointsDesk, actor: PointsActor, conversion: Conversion) -> ConversionState:
    return points.service.get(actor, conversion.id).state


def accounts(customer: Customer) -> list[str]:
    return [account.id for account in customer.accounts]


def test_a_scoped_run_moves_only_its_customers_and_next_due_follows_the_steps(points: PointsDesk) -> None:
    me, other = points.desk.customer("li.wei"), points.desk.customer("li.wei")
    mine = points.actor(me)
    theirs = points.actor(other, partner=mine.partner_id)
    points.publish(mine.partner_id)
    assert points.service.next_due([me.id], CN_MORNING) is None  # nothing live
    my_conversion, their_conversion = convert(points, mine), convert(points, theirs)
    assert points.service.next_due([me.id], CN_MORNING) == CUT_OFF

    points.clock.set(CUT_OFF)
    assert points.service.advance([me.id]) == 1
    assert state(points, mine, my_conversion) is ConversionState.PRICED
    assert state(points, theirs, their_conversion) is ConversionState.ACCEPTED  # due, not in scope
    # Priced waits for the NAV: the fund dealing job's due moment, not this one's.
    assert points.service.next_due([me.id], CUT_OFF) is None
    assert points.desk.dealing.next_due(accounts(me), CUT_OFF) == NAV_OUT
    assert points.service.next_due([other.id], CUT_OFF) == CUT_OFF  # passed unmoved: due at once

    points.clock.set(NAV_OUT)
    assert points.desk.dealing.deal(accounts(me)) == 1
    assert points.service.next_due([me.id], NAV_OUT) == NAV_OUT  # its order is dealt: at once
    assert points.service.advance([me.id]) == 1
    assert state(points, mine, my_conversion) is ConversionState.ALLOTTED
    assert points.service.next_due([me.id], NAV_OUT) == SETTLES

    points.clock.set(SETTLES)
    assert points.service.advance([me.id]) == 1
    assert state(points, mine, my_conversion) is ConversionState.SETTLED
    assert points.service.next_due([me.id], SETTLES) is None
    assert state(points, theirs, their_conversion) is ConversionState.ACCEPTED

    assert points.service.advance() >= 1  # unscoped: every customer, as the platform's job
    assert state(points, theirs, their_conversion) is ConversionState.PRICED
    assert points.service.advance([]) == 0
    assert points.service.next_due([], CN_MORNING) is None
