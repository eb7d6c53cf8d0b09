"""Wire shapes of the sandbox's testing controls: the personas of the app's workspace and a reset."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from gateway.apis.schemas import RequestBody
from gateway.domain.trading.models import EventType, OutboxEvent
from sandbox.clocks import Advance, TestClock
from sandbox.scenarios import DEFAULT_SEED, MAX_SEED, START, Scenario, ScenarioRun
from sandbox.workspaces import PersonaCopy, Reset


class PersonaOut(msgspec.Struct, frozen=True, kw_only=True):
    sign_in: str  # the published sign-in name
    password: str  # published: sandbox personas are public test identities
    display_name: str
    residency: str
    risk_level: str
    investor_class: str
    summary: str
    covers: list[str]  # the rules it exercises (docs/sandbox/personas.md)
    restricted: bool  # its accounts start restricted by surveillance

    @classmethod
    def of(cls, copy: PersonaCopy) -> PersonaOut:
        customer = copy.customer
        return cls(
            sign_in=copy.persona.customer.username,
            password=copy.persona.password,
            display_name=customer.display_name,
            residency=customer.residency.value,
            risk_level=customer.risk_level.name,
            investor_class=customer.investor_class.value,
            summary=copy.persona.summary,
            covers=list(copy.persona.covers),
            restricted=copy.persona.restricted,
        )


class PersonaList(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["list"] = "list"
    data: list[PersonaOut]


class ResetOut(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["persona_reset"] = "persona_reset"
    generation: int  # the workspace's new generation: fresh copies from the next use on
    revoked_consents: int  # the app's consents from the old copies, revoked
    reset_at: datetime

    @classmethod
    def of(cls, reset: Reset) -> ResetOut:
        return cls(generation=reset.generation, revoked_consents=reset.revoked_consents, reset_at=reset.at)


class TestClockIn(RequestBody):
    frozen_time: datetime  # with its UTC offset; the present or later
    personas: list[str] = msgspec.field(default_factory=list)  # published sign-in names to attach
    name: str = ""


class AdvanceIn(RequestBody):
    frozen_time: datetime  # later than the clock's time


class TestClockOut(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["test_clock"] = "test_clock"
    id: str
    name: str
    frozen_time: datetime
    personas: list[str]
    created_at: datetime

    @classmethod
    def of(cls, clock: TestClock) -> TestClockOut:
        return cls(
            id=clock.id,
            name=clock.name,
            frozen_time=clock.frozen_time,
            personas=list(clock.personas),
            created_at=clock.created_at,
        )


class TestClockList(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["list"] = "list"
    data: list[TestClockOut]


class AdvanceOut(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["test_clock_advance"] = "test_clock_advance"
    clock: TestClockOut
    steps: int  # the due moments the jobs ran at, the start and the end included
    moved: dict[str, int]  # per job: fund_orders_dealt, conversions_moved, consents_expired, webhook_attempts

    @classmethod
    def of(cls, advance: Advance) -> AdvanceOut:
        return cls(clock=TestClockOut.of(advance.clock), steps=advance.steps, moved=dict(advance.moved))


# -- events on demand and scenarios (docs/sandbox/scenarios.md) -------------------------------------


class TriggerEventIn(RequestBody):
    type: EventType  # any event type the outbox emits for orders, fills and points conversions


class TriggeredEventOut(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["event"] = "event"
    id: str  # the `webhook-id` its deliveries carry
    type: EventType
    created_at: datetime
    data: dict[str, Any]  # the payload, as a delivery's `data` carries it; `sandbox_trigger` is true

    @classmethod
    def of(cls, event: OutboxEvent) -> TriggeredEventOut:
        return cls(id=event.id, type=event.type, created_at=event.created_at, data=dict(event.payload))


class ScenarioOut(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["scenario"] = "scenario"
    name: str
    summary: str
    instrument_id: str  # the instrument its tape plays
    persona: str  # the sign-in name it trades as unless the run names another
    seed: int  # the seed of its tape unless the run names another
    starts_at: datetime  # the fixed moment every run starts at

    @classmethod
    def of(cls, scenario: Scenario) -> ScenarioOut:
        return cls(
            name=scenario.name,
            summary=scenario.summary,
            instrument_id=scenario.instrument_id,
            persona=scenario.persona,
            seed=DEFAULT_SEED,
            starts_at=START,
        )


class ScenarioList(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["list"] = "list"
    data: list[ScenarioOut]


class ScenarioRunIn(RequestBody):
    seed: Annotated[int, msgspec.Meta(ge=0, le=MAX_SEED)] = DEFAULT_SEED
    persona: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None  # a sign-in name


class LogEntryOut(msgspec.Struct, frozen=True, kw_only=True):
    step: int
    time: str  # ISO 8601 in UTC, exactly as hashed
    kind: str
    subject: str  # a label (`order#1`), an instrument id, a sign-in name
    details: dict[str, str]


class ScenarioRunOut(msgspec.Struct, frozen=True, kw_only=True):
    object: Literal["scenario_run"] = "scenario_run"
    scenario: str
    seed: int
    persona: str
    instrument_id: str
    starts_at: datetime
    log: list[LogEntryOut]
    sha256: str  # of the log's canonical JSON (RFC 8785): the same for the same scenario and seed
    ids: dict[str, str]  # each label of the log -> the real id of this run's object (not hashed)

    @classmethod
    def of(cls, run: ScenarioRun) -> ScenarioRunOut:
        return cls(
            scenario=run.scenario,
            seed=run.seed,
            persona=run.persona,
            instrument_id=run.instrument_id,
            starts_at=run.starts_at,
            log=[LogEntryOut(**document) for document in run.documents],
            sha256=run.sha256,
            ids=dict(run.ids),
        )
