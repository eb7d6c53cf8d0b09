"""Events on demand (`sandbox:testing`): one outbox event of any type for the calling app's partner.

The operation exists in the sandbox only; production answers 404 (its apps cannot hold the scope).
"""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from gateway.apis.schemas import problems
from gateway.apis.v1.testing.routes import sandbox_only
from gateway.apis.v1.testing.schemas import TriggeredEventOut, TriggerEventIn
from gateway.domain.scopes import Scope
from gateway.edge.access import requires
from gateway.services import PrincipalDep
from sandbox.events import SandboxEvents


class EventsController(Controller):
    path = "/v1/testing/events"
    tags = ["testing"]

    @post(
        operation_id="triggerEvent",
        summary="Emit one event of any type for this app's partner, delivered like a real one",
        description=(
            "Sandbox only. The payload is the real event's, over a synthetic order or conversion of "
            "this app's copy of li.wei, with `sandbox_trigger: true`. Subscriptions to the type "
            "receive it through the usual outbox and signed delivery (docs/sandbox/scenarios.md)."
        ),
        responses=problems(404),
        **requires(Scope.SANDBOX_TESTING),
    )
    async def trigger_event(
        self,
        data: JSONBody[TriggerEventIn],
        sandbox_events: NamedDependency[SandboxEvents | None],
        principal: PrincipalDep,
    ) -> TriggeredEventOut:
        event = sandbox_only(sandbox_events).trigger(principal.client_id, principal.partner_id, data.type)
        return TriggeredEventOut.of(event)
