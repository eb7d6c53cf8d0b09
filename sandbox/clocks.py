"""Test clocks: an app's personas live in a time it sets and moves forward, and everything that
depends on time follows, in order.

Rules (docs/sandbox/test-clocks.md):
- A clock belongs to one sandbox app. It starts at a `frozen_time` no earlier than the present
  (one minute of leeway) and at most `MAX_SPAN` ahead, and only ever moves forward, by at most
  `MAX_SPAN` per advance. An app holds at most `MAX_CLOCKS` clocks.
- Personas of the app's workspace are attached when the clock is made (each to one clock at most).
  Every call the app makes for an attached persona runs in the clock's time: market sessions and
  holidays, pre-trade checks, the NAV cut-off, cooling-off, consent expiry, and the time stamped
  on whatever the call creates.
- Advancing runs the clock-driven jobs (fund dealing, points conversions, consent expiry, webhook
  delivery) for the clock's objects only: first at the old time, then at each moment one of them
  is next due, in time order, and last at the new time. Same objects, same advance: same steps.
- The platform's own jobs run in the present; a clock never runs behind the present, so they can
  only find its objects due once the present has passed their time, as they would be anyway.
- A persona reset ends the app's clocks: they were about the old copies. Deleting a clock returns
  its personas to the present.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

from gateway.domain.clock import Clock
from gateway.domain.errors import ConflictError, NotFoundError, RuleViolationError
from gateway.domain.ids import new_id

MAX_CLOCKS: Final = 10
MAX_SPAN: Final = timedelta(days=2 * 366)
MAX_STEPS: Final = 10_000  # due moments within one advance; far above two years of daily work
MAX_NAME: Final = 100
LEEWAY: Final = timedelta(minutes=1)


class TestClockNotFoundError(NotFoundError):
    """No clock of the calling app has this id."""


class InvalidTestClockError(RuleViolationError):
    """A clock time, name or persona list that the rules above refuse."""


class PersonaOnClockError(ConflictError):
    """The persona is attached to another clock of the app already."""


class ClockRouter:
    """The sandbox's clock: the time of the test clock the current call runs on, else the base
    clock's. The binding is a context variable, so it follows one request or one job run only."""

    def __init__(self, base: Clock) -> None:
        self._base = base
        self._bound: ContextVar[datetime | None] = ContextVar("test_clock_time", default=None)

    def now(self) -> datetime:
        bound = self._bound.get()
        return self._base.now() if bound is None else bound

    def present(self) -> datetime:
        """The base clock's time, whatever the current call is bound to."""
        return self._base.now()

    @contextmanager
    def at(self, moment: datetime) -> Iterator[None]:
        token = self._bound.set(moment)
        try:
            yield
        finally:
            self._bound.reset(token)


@dataclass(frozen=True, slots=True)
class TestClock:
    id: str
    client_id: str
    name: str
    frozen_time: datetime
    created_at: datetime
    personas: tuple[str, ...]  # the published sign-in names attached


@dataclass(frozen=True, slots=True)
class Scope:
    """What one clock's jobs may touch."""

    partner_id: str
    customer_ids: tuple[str, ...]
    account_ids: tuple[str, ...]


class ClockedJob(Protocol):
    @property
    def name(self) -> str: ...

    def next_due(self, scope: Scope, after: datetime) -> datetime | None:
        """The earliest moment strictly after `after` at which the job has work in the scope;
        `after` itself when work in the scope is already due (the loop runs again at that moment)."""
        ...

    def run(self, scope: Scope) -> int:
        """Do what is due now (the router's time) in the scope; how many things moved."""
        ...


@dataclass(frozen=True, slots=True)
class Advance:
    clock: TestClock
    steps: int  # due moments the jobs ran at, the start and the end included
    moved: dict[str, int]  # per job, how many things moved


class ClockStore(Protocol):
    def add(self, clock: TestClock, attachments: Sequence[tuple[str, str]]) -> None:
        """Write the clock and its (persona, customer id) attachments at once."""
        ...

    def get(self, client_id: str, clock_id: str) -> TestClock | None: ...
    def clocks_of(self, client_id: str) -> list[TestClock]: ...
    def customers(self, clock_id: str) -> list[str]: ...
    def attached(self, customer_ids: Sequence[str]) -> dict[str, str]:
        """Which of these customers are on a clock already: customer id -> clock id."""
        ...

    def move(self, clock_id: str, before: datetime, after: datetime) -> bool:
        """Set the clock's time if it still is `before`."""
        ...

    def delete(self, clock_id: str) -> None: ...
    def delete_for_app(self, client_id: str) -> int: ...
    def time_of(self, customer_id: str) -> datetime | None:
        """The time of the clock the customer is attached to, if any."""
        ...


@dataclass(frozen=True, slots=True)
class TestClocks:
    store: ClockStore
    router: ClockRouter
    jobs: Sequence[ClockedJob]
    copies: Callable[[str, str], str]  # (client id, sign-in name) -> the app's copy of the persona
    accounts: Callable[[str], Sequence[str]]  # customer id -> its account ids
    partner_of: Callable[[str], str]  # client id -> partner id

    def create(
        self, client_id: str, *, frozen_time: datetime, name: str, personas: Sequence[str]
    ) -> TestClock:
        present = self.router.present()
        moment = _aware(frozen_time)
        if moment < present - LEEWAY:
            raise InvalidTestClockError(
                "a test clock starts at the present or later",
                field="frozen_time",
                present=present.isoformat(),
            )
        if moment > present + MAX_SPAN:
            raise InvalidTestClockError(
                f"a test clock starts at most {MAX_SPAN.days} days ahead", field="frozen_time"
            )
        name = name.strip()
        if len(name) > MAX_NAME:
            raise InvalidTestClockError(f"a name has at most {MAX_NAME} characters", field="name")
        wanted = list(dict.fromkeys(personas))
        if not wanted:
            raise InvalidTestClockError("attach at least one persona", field="personas")
        if len(self.store.clocks_of(client_id)) >= MAX_CLOCKS:
            raise InvalidTestClockError(f"an app holds at most {MAX_CLOCKS} test clocks", field="name")
        try:
            attachments = [(persona, self.copies(client_id, persona)) for persona in wanted]
        except NotFoundError as exc:
            raise InvalidTestClockError(exc.detail, field="personas", **exc.context) from None
        taken = self.store.attached([customer for _, customer in attachments])
        if taken:
            busy = sorted(persona for persona, customer in attachments if customer in taken)
            raise PersonaOnClockError(
                "a persona runs on one test clock at a time", field="personas", personas=busy
            )
        clock = TestClock(
            id=new_id("clk"),
            client_id=client_id,
            name=name,
            frozen_time=moment,
            created_at=present,
            personas=tuple(wanted),
        )
        self.store.add(clock, attachments)
        return clock

    def get(self, client_id: str, clock_id: str) -> TestClock:
        clock = self.store.get(client_id, clock_id[:64])
        if clock is None:
            raise TestClockNotFoundError("no such test clock", clock_id=clock_id[:64])
        return clock

    def clocks_of(self, client_id: str) -> list[TestClock]:
        return self.store.clocks_of(client_id)

    def delete(self, client_id: str, clock_id: str) -> None:
        self.store.delete(self.get(client_id, clock_id).id)

    def time_of(self, customer_id: str) -> datetime | None:
        return self.store.time_of(customer_id)

    @contextmanager
    def bound_to(self, customer_id: str | None) -> Iterator[None]:
        """Run the enclosed call in the time of the customer's clock, if the customer is on one."""
        moment = self.store.time_of(customer_id) if customer_id else None
        if moment is None:
            yield
        else:
            with self.router.at(moment):
                yield

    def advance(self, client_id: str, clock_id: str, *, to: datetime) -> Advance:
        clock = self.get(client_id, clock_id)
        target = _aware(to)
        if target <= clock.frozen_time:
            raise InvalidTestClockError("a test clock only moves forward", field="frozen_time")
        if target - clock.frozen_time > MAX_SPAN:
            raise InvalidTestClockError(
                f"one advance moves at most {MAX_SPAN.days} days", field="frozen_time"
            )
        customers: tuple[str, ...] = tuple(self.store.customers(clock.id))
        scope = Scope(
            partner_id=self.partner_of(client_id),
            customer_ids=customers,
            account_ids=tuple(account for customer in customers for account in self.accounts(customer)),
        )
        moved = {job.name: 0 for job in self.jobs}
        steps = 0
        current = clock.frozen_time
        while True:
            self._run_at(current, scope, moved)
            steps += 1
            due = [d for job in self.jobs if (d := job.next_due(scope, current)) is not None]
            following = min(due, default=None)
            if following is None or following >= target or steps >= MAX_STEPS:
                break
            current = following
        self._run_at(target, scope, moved)
        steps += 1
        if not self.store.move(clock.id, clock.frozen_time, target):
            raise ConflictError("the clock moved meanwhile; read it and advance again", clock_id=clock.id)
        return Advance(self.get(client_id, clock.id), steps, moved)

    def _run_at(self, moment: datetime, scope: Scope, moved: dict[str, int]) -> None:
        with self.router.at(moment):
            for job in self.jobs:
                moved[job.name] += job.run(scope)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise InvalidTestClockError("a clock time carries its UTC offset", field="frozen_time")
    return moment
