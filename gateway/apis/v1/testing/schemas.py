"""Wire shapes of the sandbox's testing controls: the personas of the app's workspace and a reset."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from gateway.apis.schemas import RequestBody
from sandbox.clocks import Advance, TestClock
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
