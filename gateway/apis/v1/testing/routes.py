"""The sandbox's testing controls (`sandbox:testing`): the app's persona workspace and its reset.

The operations exist in the sandbox only; production answers 404 (its apps cannot hold the scope).
"""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency

from gateway.apis.schemas import problems
from gateway.apis.v1.testing.schemas import PersonaList, PersonaOut, ResetOut
from gateway.domain.errors import NotFoundError
from gateway.domain.scopes import Scope
from gateway.edge.access import requires
from gateway.services import PrincipalDep
from sandbox.workspaces import SandboxWorkspaces


def sandbox_only(workspaces: SandboxWorkspaces | None) -> SandboxWorkspaces:
    if workspaces is None:
        raise NotFoundError("the testing controls exist in the sandbox only")
    return workspaces


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
