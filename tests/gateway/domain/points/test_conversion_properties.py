"""Done-means test of points conversion (issue 5): under duplicated, reordered and retried
conversion requests (the same partner_conversion_id with the same or other terms, stale quotes)
and worker runs with clock advances, each partner_conversion_id gets one conversion and at most one
fund order, every reconciliation balances to the point and matches what was taken, the points'
house account holds exactly the cash the kept conversions paid out, and every ledger asset sums
to zero. Service and storage on SQLite."""

from __future__ import annotations

import contextlib
import secrets
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from gateway.domain.consent.models import PointsConversionLimit
from gateway.domain.customers.models import Customer
from gateway.domain.environment import Environment
from gateway.domain.errors import DomainError
from gateway.domain.money import Currency
from gateway.domain.points.errors import (
    ConversionRejectedError,
    ConversionStateError,
    DuplicateConversionError,
    PointsLimitExceededError,
    QuoteExpiredError,
)
from gateway.domain.points.models import Conversion, ConversionState
from gateway.domain.points.service import ConversionOutcome, ConversionRequest, PointsActor
from gateway.settings import DatabaseTarget, Settings
from gateway.storage.database import Database
from gateway.storage.migrate import migrate
from gateway.storage.points import conversions
from gateway.storage.tables.outbox import OutboxRow
from sandbox.clock import FrozenClock
from tests.gateway.domain.points.conftest import PointsDesk, build_points
from tests.trading import CN_MONEY_MARKET, CN_MORNING, assert_ledger_balanced

FUNDS = (CN_MONEY_MARKET, "ins_lq72t5v5r5")  # F000001 (minimum 1.00) and F000002 (R2, minimum 10.00)
PCIDS = tuple(f"pc-{n}" for n in range(4))
SEEN: set[ConversionState] = set()  # states passed through over all runs (from the outbox)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Database:
    path: Path = tmp_path_factory.mktemp("points") / "points.db"
    db = Database(DatabaseTarget(f"sqlite:///{path}"))
    migrate(db)
    return db


class ConversionMachine(RuleBasedStateMachine):
    database: Database

    @initialize()
    def open(self) -> None:
        self.points: PointsDesk = build_points(self.database, FrozenClock(CN_MORNING), daily_cap=4000)
        self.customers: list[Customer] = [self.points.desk.customer("li.wei") for _ in range(2)]
        limit = PointsConversionLimit(funds=("F000001", "F000002"), max_points_per_month=5000,
                                      max_points_per_conversion=3000)  # fmt: skip
        self.actors: list[PointsActor] = []
        for index, rate in enumerate((100, 150)):  # the second partner's points leave odd remainders
            partner = f"ptn_{index}{secrets.token_hex(5)}"
            for customer in self.customers:
                self.actors.append(
                    self.points.actor(customer, limit=limit if index == 0 else None, partner=partner)
                )
            self.points.service.publish_valuation(
                partner,
                points=rate,
                amount=Decimal("1.00"),
                currency=Currency.CNY,
                valid_from=None,
                valid_until=self.points.clock.now() + timedelta(days=300),
            )
        # What the model knows: the first conversion answered for each (partner, pcid).
        self.first: dict[tuple[str, str], Conversion] = {}
        self.days: set[date] = {self.points.clock.now().date()}
        assert self.baseline == self.points.house_points()  # taken before any conversion
        self._whole_course()

    def _whole_course(self) -> None:
        """One conversion taken to settlement first, so that every run passes through every
        state of the happy path whatever the rules drawn later."""
        actor = self.actors[0]
        quote = self.points.service.quote(actor, CN_MONEY_MARKET, 1000).quote
        outcome = self._send(actor, ConversionRequest("pc-course", quote.id))
        assert outcome is not None
        for _ in range(8):  # past the cut-off, the NAV and settlement: a bounded number of days
            stored = self.points.service.store.get_conversion(outcome.conversion.id)
            if stored is not None and stored.state is ConversionState.SETTLED:
                break
            self.time_passes(minutes=10 * 60, workers=1)
        else:
            raise AssertionError("a conversion did not settle within eight ten-hour steps")
        # The rules start from a trading morning again, a day later.
        morning = self.points.clock.now().replace(hour=CN_MORNING.hour, minute=CN_MORNING.minute)
        self.points.clock.set(morning + timedelta(days=1))
        self.days.add(self.points.clock.now().date())

    # -- requests -------------------------------------------------------------------------------

    def _send(self, actor: PointsActor, request: ConversionRequest) -> ConversionOutcome | None:
        key = (actor.partner_id, request.partner_conversion_id)
        try:
            outcome = self.points.service.convert(actor, request)
        except (PointsLimitExceededError, ConversionRejectedError) as refused:
            stored = self.points.service.store.get_conversion(str(refused.context["conversion_id"]))
            assert stored is not None
            assert stored.state is ConversionState.REJECTED
            self._remember(key, stored)
            return None
        except DuplicateConversionError:
            assert key in self.first or self._quote_used(request.quote_id)
            return None
        except QuoteExpiredError:
            return None
        self._remember(key, outcome.conversion)
        return outcome

    def _remember(self, key: tuple[str, str], conversion: Conversion) -> None:
        known = self.first.get(key)
        if known is None:
            self.first[key] = conversion
        else:
            assert conversion.id == known.id, "a second conversion for one partner_conversion_id"

    def _quote_used(self, quote_id: str) -> bool:
        with self.database.read() as conn:
            return (
                conn.execute(conversions.select().where(conversions.c.quote_id == quote_id)).first()
                is not None
            )

    @rule(
        who=st.integers(0, 3),
        pcid=st.sampled_from(PCIDS),
        fund=st.sampled_from(FUNDS),
        amount=st.integers(90, 4000),
        repeats=st.integers(1, 3),
    )
    def convert_and_retry(self, who: int, pcid: str, fund: str, amount: int, repeats: int) -> None:
        """A conversion, sent up to three times with the same terms (retries, duplicates)."""
        actor = self.actors[who]
        try:
            quote = self.points.service.quote(actor, fund, amount).quote
        except DomainError:
            return  # below the fund's minimum, or beyond the consent: nothing was stored
        request = ConversionRequest(pcid, quote.id)
        answers = [self._send(actor, request) for _ in range(repeats)]
        done = [a for a in answers if a is not None]
        assert all(a.conversion.id == done[0].conversion.id for a in done)
        assert all(not a.created for a in done[1:])

    @rule(who=st.integers(0, 3), pcid=st.sampled_from(PCIDS), amount=st.integers(100, 3000))
    def same_id_new_terms(self, who: int, pcid: str, amount: int) -> None:
        """A reordered or confused retry: a known partner_conversion_id with a fresh quote."""
        actor = self.actors[who]
        try:
            quote = self.points.service.quote(actor, CN_MONEY_MARKET, amount).quote
        except DomainError:
            return
        known = self.first.get((actor.partner_id, pcid))
        outcome = self._send(actor, ConversionRequest(pcid, quote.id))
        if known is not None:
            assert outcome is None or outcome.conversion.id == known.id

    @rule(who=st.integers(0, 3), pcid=st.sampled_from(PCIDS), amount=st.integers(100, 3000))
    def stale_quote(self, who: int, pcid: str, amount: int) -> None:
        """A retry that arrives after the quote's 60 seconds."""
        actor = self.actors[who]
        try:
            quote = self.points.service.quote(actor, CN_MONEY_MARKET, amount).quote
        except DomainError:
            return
        self.points.clock.advance(timedelta(seconds=61))
        self._send(actor, ConversionRequest(pcid, quote.id))

    @rule(pick=st.integers(0, 50))
    def cool_off(self, pick: int) -> None:
        """The customer undoes one of the conversions made so far (any state; most are refused late)."""
        if not self.first:
            return
        known = list(self.first.values())[pick % len(self.first)]
        actor = next(
            a for a in self.actors if (a.partner_id, a.customer_id) == (known.partner_id, known.customer_id)
        )
        with contextlib.suppress(ConversionStateError):
            self.points.service.cool_off(actor, known.id)

    @rule(minutes=st.sampled_from([0, 1, 59, 5 * 60, 10 * 60, 20 * 60, 30 * 60]), workers=st.integers(1, 2))
    def time_passes(self, minutes: int, workers: int) -> None:
        """The clock moves; one or two workers run fund dealing and the conversion job."""
        now = self.points.clock.now()
        if minutes == 0:  # to just after the next cut-off (15:00 Shanghai): priced, NAV not yet out
            target = now.replace(hour=7, minute=5, second=0)
            self.points.clock.set(target if target > now else target + timedelta(days=1))
        else:
            self.points.clock.advance(timedelta(minutes=minutes))
        self.days.add(self.points.clock.now().date())
        for _ in range(workers):
            self.points.desk.dealing.deal()
            self.points.service.advance()

    # -- invariants -----------------------------------------------------------------------------

    def _conversions(self) -> list[Conversion]:
        from gateway.storage.points import _conversion

        partners = {a.partner_id for a in self.actors}
        with self.database.read() as conn:
            rows = conn.execute(conversions.select().where(conversions.c.partner_id.in_(sorted(partners))))
            return [_conversion(row) for row in rows]

    @invariant()
    def one_conversion_and_one_order_per_id(self) -> None:
        if not hasattr(self, "points"):
            return
        found = self._conversions()
        keys = [(c.partner_id, c.partner_conversion_id) for c in found]
        outbox = OutboxRow.__table__
        with self.database.read() as conn:  # every state a conversion passed through, from its events
            types = conn.execute(
                sa.select(outbox.c.type).where(outbox.c.subject_id.in_([c.id for c in found]))
            ).scalars()
            SEEN.update(ConversionState(kind.removeprefix("conversion.")) for kind in types)
        assert len(keys) == len(set(keys))
        assert {c.id for c in found} == {c.id for c in self.first.values()}
        orders: defaultdict[str, int] = defaultdict(int)
        for order in self.points.desk.orders():
            if order.client_order_id.startswith("points-"):
                orders[order.client_order_id.removeprefix("points-")] += 1
        for conversion in found:
            expected = 0 if conversion.state is ConversionState.REJECTED else 1
            assert orders.get(conversion.id, 0) == expected, conversion

    @invariant()
    def reconciliation_balances_to_the_point(self) -> None:
        if not hasattr(self, "points"):
            return
        found = self._conversions()
        for partner in {a.partner_id for a in self.actors}:
            taken = returned = 0
            for day in sorted(self.days):
                report = self.points.service.reconciliation(partner, day)
                assert report.balanced
                assert report.points_taken == report.points_converted + report.points_returned
                taken += report.points_taken
                returned += report.points_returned
            mine = [c for c in found if c.partner_id == partner and c.state is not ConversionState.REJECTED]
            assert taken == sum(c.points for c in mine)
            assert returned == sum(c.points for c in mine if c.points_returned)

    @invariant()
    def ledger_balances(self) -> None:
        if not hasattr(self, "points"):
            return
        kept = sum(
            (
                c.amount
                for c in self._conversions()
                if c.state is not ConversionState.REJECTED and not c.points_returned
            ),
            Decimal(0),
        )
        assert self.points.house_points() == self.baseline - kept
        assert_ledger_balanced(self.points.desk)

    @property
    def baseline(self) -> Decimal:
        """house:points before this run (earlier runs share the database)."""
        if not hasattr(self, "_baseline"):
            self._baseline = self.points.house_points()
            assert not self._conversions()
        return self._baseline


@pytest.fixture
def machine(database: Database) -> type[ConversionMachine]:
    ConversionMachine.database = database
    return ConversionMachine


@pytest.fixture
def postgres_machine(backend_settings: Settings) -> Iterator[type[ConversionMachine]]:
    database = Database(backend_settings.database(Environment.SANDBOX))
    try:
        ConversionMachine.database = database
        yield ConversionMachine
    finally:
        database.dispose()


def test_points_conversion_is_exactly_once_and_reconciles(machine: type[ConversionMachine]) -> None:
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=25,
            stateful_step_count=15,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    assert set(ConversionState) == SEEN, SEEN  # every state, rejections and reversals included


# PostgreSQL only (the SQLite run is test_points_conversion_is_exactly_once_and_reconciles).
@pytest.mark.parametrize("backend_settings", ["postgresql"], indirect=True)
def test_points_conversion_is_exactly_once_on_postgresql(postgres_machine: type[ConversionMachine]) -> None:
    """A shorter run on PostgreSQL (the advisory trading lock instead of BEGIN IMMEDIATE)."""
    run_state_machine_as_test(
        postgres_machine,
        settings=settings(
            max_examples=8,
            stateful_step_count=15,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
