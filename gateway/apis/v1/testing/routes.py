"""The sandbox's testing controls (`sandbox:testing`): the app's persona workspace and its reset.

The operations exist in the sandbox only; production answers 404 (its apps cannot hold the scope).
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from gateway.apis.schemas import Rule, problems
from gateway.apis.v1.testing.schemas import (
    AdvanceIn,
    AdvanceOut,
    PersonaList,
    PersonaOut,
    ResetOut,
    TestClockIn,
    TestClockList,
    TestClockOut,
)
from gateway.domain.errors import NotFoundError
from gateway.domain.scopes import Scope
from gateway.edge.access import requires
from gateway.services import PrincipalDep
from sandbox.clocks import TestClocks
from sandbox.workspaces import SandboxWorkspaces

ClockId = Annotated[str, PathParameter(max_length=64)]
T = TypeVar("T")


def sandbox_only(service: T | None) -> T:
    """The sandbox's testing service; production has none, and answers 404."""
    if service is None:
        raise NotFoundError("the testing controls exist in the sandbox only")
    return service


class TestingController(Controller):
    path = "/v1/testing"
    tags = ["testing"]

    @get(
        "/personas",
        operation_id="listPersonas",
        summary="The published personas as they live in this app's workspace",
        description=(
            "Sandbox only. Each persona signs in with its published name and password; in the "
            "sandbox the session belongs to this app's own copy of it (docs/sandbox/personas.md)."
        ),
        responses=problems(404),
        **requires(Scope.SANDBOX_TESTING),
    )
    async def list_personas(
        self, workspaces: NamedDependency[SandboxWorkspaces | None], principal: PrincipalDep
    ) -> PersonaList:
        copies = sandbox_only(workspaces).copies(principal.client_id)
        return PersonaList(data=[PersonaOut.of(copy) for copy in copies])

    @post(
        "/personas/reset",
        operation_id="resetPersonas",
        status_code=200,
        summary="Start this app's personas afresh; no other app's workspace is touched",
        description=(
            "Sandbox only. The next sign-in or use makes fresh copies with their opening balances; "
            "every consent this app holds from the old copies is revoked (its tokens die with it)."
        ),
        responses=problems(404),
        **requires(Scope.SANDBOX_TESTING),
    )
    async def reset_personas(
        self, workspaces: NamedDependency[SandboxWorkspaces | None], principal: PrincipalDep
    ) -> ResetOut:
        return ResetOut.of(sandbox_only(workspaces).reset(principal.client_id))


class TestClocksController(Controller):
    path = "/v1/testing/clocks"
    tags = ["testing"]

    @post(
        operation_id="createTestClock",
        summary="A test clock for some of this app's personas, starting at `frozen_time`",
        description=(
            "Sandbox only. Calls for an attached persona run in the clock's time: market sessions, "
            "pre-trade checks, NAV cut-offs, cooling-off, consent expiry and the time of whatever "
            "they create (docs/sandbox/test-clocks.md)."
        ),
        responses=problems(
            404, 409, rules=(Rule("rule-violation", "the time, name or personas break a clock rule"),)
        ),
        **requires(Scope.SANDBOX_TESTING),
    )
    async def create_test_clock(
        self, data: JSONBody[TestClockIn], clocks: NamedDependency[TestClocks | None], principal: PrincipalDep
    ) -> TestClockOut:
        clock = sandbox_only(clocks).create(
            principal.client_id, frozen_time=data.frozen_time, name=data.name, personas=data.personas
        )
        return TestClockOut.of(clock)

    @get(
        operation_id="listTestClocks",
        summary="This app's test clocks",
        responses=problems(404),
        **requires(Scope.SANDBOX_TESTING),
    )
    async def list_test_clocks(
        self, clocks: NamedDependency[TestClocks | None], principal: PrincipalDep
    ) -> TestClockList:
        return TestClockList(
            data=[TestClockOut.of(c) for c in sandbox_only(clocks).clocks_of(principal.client_id)]
        )

    @get(
        "/{clock_id:str}",
        operation_id="getTestClock",
        summary="One of this app's test clocks",
        responses=problems(404),
        **requires(Scope.SANDBOX_TESTING),
    )
    async def get_test_clock(
        self, clock_id: ClockId, clocks: NamedDependency[TestClocks | None], principal: PrincipalDep
    ) -> TestClockOut:
        return TestClockOut.of(sandbox_only(clocks).get(principal.client_id, clock_id))

    @post(
        "/{clock_id:str}/advance",
        operation_id="advanceTestClock",
        status_code=200,
        summary="Move the clock forward; the jobs due in the span run in time order",
        description=(
            "Sandbox only. Fund dealing, points conversions, consent expiry and webhook delivery run "
            "for the clock's personas (and the app's webhooks) at every moment one of them is due."
        ),
        responses=problems(404, 409, rules=(Rule("rule-violation", "the time is not later or too far"),)),
        sync_to_thread=True,  # the jobs write the ledger and may send webhooks: off the event loop
        **requires(Scope.SANDBOX_TESTING),
    )
    def advance_test_clock(
        self,
        clock_id: ClockId,
        data: JSONBody[AdvanceIn],
        clocks: NamedDependency[TestClocks | None],
        principal: PrincipalDep,
    ) -> AdvanceOut:
        advance = sandbox_only(clocks).advance(principal.client_id, clock_id, to=data.frozen_time)
        return AdvanceOut.of(advance)

    @delete(
        "/{clock_id:str}",
        operation_id="deleteTestClock",
        summary="Delete the clock; its personas return to the present",
        responses=problems(404),
        **requires(Scope.SANDBOX_TESTING),
    )
    async def delete_test_clock(
        self, clock_id: ClockId, clocks: NamedDependency[TestClocks | None], principal: PrincipalDep
    ) -> None:
        sandbox_only(clocks).delete(principal.client_id, clock_id)
