"""The scenario library (`sandbox:testing`): named market situations on seeded price tapes, run for
the calling app, answered with a log that is the same byte for byte for the same scenario and seed.

The operations exist in the sandbox only; production answers 404 (its apps cannot hold the scope).
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from gateway.apis.schemas import Rule, problems
from gateway.apis.v1.testing.routes import sandbox_only
from gateway.apis.v1.testing.schemas import ScenarioList, ScenarioOut, ScenarioRunIn, ScenarioRunOut
from gateway.domain.scopes import Scope
from gateway.edge.access import requires
from gateway.services import PrincipalDep
from sandbox.scenarios import Scenarios

ScenarioName = Annotated[str, PathParameter(max_length=64)]


class ScenariosController(Controller):
    path = "/v1/testing/scenarios"
    tags = ["testing"]

    @get(
        operation_id="listScenarios",
        summary="The scenario library",
        responses=problems(404),
        **requires(Scope.SANDBOX_TESTING),
    )
    async def list_scenarios(self, scenarios: NamedDependency[Scenarios | None]) -> ScenarioList:
        return ScenarioList(data=[ScenarioOut.of(s) for s in sandbox_only(scenarios).library])

    @post(
        "/{name:str}/runs",
        operation_id="runScenario",
        status_code=200,
        summary="Run a scenario for this app now; answers its event log and the log's SHA-256",
        description=(
            "Sandbox only. The run trades as a fresh copy of the persona on the scenario's price tape, "
            "from a fixed moment (docs/sandbox/scenarios.md): the same scenario and seed give the same "
            "log, byte for byte. Its orders, alerts and webhooks are real sandbox ones."
        ),
        responses=problems(
            404,
            rules=(
                Rule(
                    "rule-violation",
                    "the persona is no published sign-in name, or partner_outage finds no subscription "
                    "of this app to order events",
                ),
            ),
        ),
        sync_to_thread=True,  # many trading transactions, and webhook deliveries: off the event loop
        **requires(Scope.SANDBOX_TESTING),
    )
    def run_scenario(
        self,
        name: ScenarioName,
        data: JSONBody[ScenarioRunIn],
        scenarios: NamedDependency[Scenarios | None],
        principal: PrincipalDep,
    ) -> ScenarioRunOut:
        run = sandbox_only(scenarios).run(
            principal.client_id, principal.partner_id, name, seed=data.seed, persona=data.persona
        )
        return ScenarioRunOut.of(run)
