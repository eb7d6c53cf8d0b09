"""Partner self-service (ADR 0011): an app manages its own private_key_jwt keys, and a partner in
the sandbox asks for its production review, which carries the calling app's signed conformance
evidence (docs/sandbox/graduation.md).

Access rule: a client-credentials token with `partner:manage`, and only for the calling app itself
(`/v1/app/...` has no client id in the path, so there is nothing to guess or enumerate). Removing a
key bites at once in this worker's client cache; access tokens issued before stay valid until they
expire (they are short-lived and bound to the DPoP key, not to the client key).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.params import JSONBody, PathParameter

from gateway.apis.params import IdempotencyKey
from gateway.apis.schemas import Rule, problems
from gateway.apis.v1.partners.schemas import AppKeyIn, AppKeysOut, PartnerStageOut, ReviewRequestIn
from gateway.domain.scopes import Scope
from gateway.edge.access import requires
from gateway.edge.principal import Principal
from gateway.services import PrincipalDep
from partners.service import Registry
from sandbox.conformance import Graduation

Kid = Annotated[str, PathParameter(min_length=1, max_length=128)]


def own_app(principal: Principal) -> str:
    """The calling app; a token a customer delegated never manages the partner's registration."""
    if principal.consent is not None:
        raise PermissionDeniedException(detail="use a client-credentials token of the app itself")
    return principal.client_id


class AppKeysController(Controller):
    path = "/v1/app/keys"
    tags = ["partner"]

    @get(operation_id="listAppKeys", responses=problems(), **requires(Scope.PARTNER_MANAGE))
    async def list_keys(self, registry: NamedDependency[Registry], principal: PrincipalDep) -> AppKeysOut:
        client_id = own_app(principal)
        return AppKeysOut.of(client_id, registry.app_keys(client_id))

    @post(
        operation_id="addAppKey",
        responses=problems(
            409,
            rules=(
                Rule(
                    "rule-violation",
                    "a key is not EC P-256, OKP Ed25519 or RSA of at least 2048 bits, holds"
                    " private members, or its `kid` is not unique; or the app would hold "
                    "too many keys",
                ),
            ),
        ),
        **requires(Scope.PARTNER_MANAGE),
    )
    async def add_key(
        self,
        data: JSONBody[AppKeyIn],
        registry: NamedDependency[Registry],
        principal: PrincipalDep,
        request: Request[Any, Any, Any],
        idempotency_key: IdempotencyKey,
    ) -> AppKeysOut:
        client_id = own_app(principal)
        app = registry.add_app_key(client_id, data.jwk())
        request.scope["state"]["object_id"] = f"{client_id}#{data.key.kid}"
        return AppKeysOut.of(client_id, app.jwks)

    @delete(
        "/{kid:str}",
        operation_id="removeAppKey",
        status_code=200,
        responses=problems(404, rules=(Rule("rule-violation", "the key is the app's last one"),)),
        **requires(Scope.PARTNER_MANAGE),
    )
    async def remove_key(
        self,
        kid: Kid,
        registry: NamedDependency[Registry],
        principal: PrincipalDep,
        request: Request[Any, Any, Any],
        idempotency_key: IdempotencyKey,
    ) -> AppKeysOut:
        client_id = own_app(principal)
        app = registry.remove_app_key(client_id, kid)
        request.scope["state"]["object_id"] = f"{client_id}#{kid}"
        return AppKeysOut.of(client_id, app.jwks)


class PartnerReviewController(Controller):
    path = "/v1/partner"
    tags = ["partner"]

    @post(
        "/review-request",
        operation_id="requestPartnerReview",
        summary="Ask for the production review, with this app's signed conformance evidence",
        description=(
            "From the sandbox stage only. The answer's `evidence.pack` is the app's conformance score "
            "(`getConformance`) signed by the sandbox issuer; staff move the partner on only when it "
            "passes every required check, or by a recorded override (docs/sandbox/graduation.md)."
        ),
        status_code=200,
        responses=problems(409),
        **requires(Scope.PARTNER_MANAGE),
    )
    async def request_review(
        self,
        data: JSONBody[ReviewRequestIn],
        graduation: NamedDependency[Graduation],
        principal: PrincipalDep,
        request: Request[Any, Any, Any],
        idempotency_key: IdempotencyKey,
    ) -> PartnerStageOut:
        """Move the caller's partner from the sandbox into review (the one move a partner makes),
        with the calling app's conformance score signed as an evidence pack."""
        client_id = own_app(principal)
        review = graduation.request_review(
            principal.partner_id, actor=f"partner:{client_id}", reason=data.reason, client=principal.client
        )
        request.scope["state"]["object_id"] = review.partner.id
        return PartnerStageOut.of_review(review)
