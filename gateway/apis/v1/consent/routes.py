"""Consents for partner apps: ask a customer for access, follow the request, withdraw it.

Only the app's own client-credentials token manages consents; a token that acts for a customer
(one with a `consent_id`) is refused, and a consent of another partner reads as not found.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.params import JSONBody, PathParameter, QueryParameter

from gateway.apis.params import CURSOR_RULE, Cursor, IdempotencyKey, Limit
from gateway.apis.schemas import Rule, problems
from gateway.apis.v1.consent.schemas import ConsentIn, ConsentList, ConsentOut, PointsConversionLimitIn
from gateway.domain.consent.errors import InvalidConsentError
from gateway.domain.consent.models import ConsentStatus, askable
from gateway.domain.consent.service import ConsentService
from gateway.domain.errors import NotFoundError
from gateway.domain.market.catalogue import Catalogue
from gateway.domain.paging import decode_cursor
from gateway.domain.scopes import Scope
from gateway.edge.access import requires
from gateway.edge.principal import Principal
from gateway.services import PrincipalDep

ConsentId = Annotated[str, PathParameter(max_length=64)]
StatusFilter = Annotated[ConsentStatus | None, QueryParameter(name="status", required=False)]


def _partner_app(principal: Principal) -> Principal:
    """Consents are the app's business, not a customer's: delegated tokens may not manage them."""
    if principal.token.consent_id is not None:
        raise PermissionDeniedException(
            detail="consents are managed with the app's client-credentials token, not a customer's token"
        )
    return principal


def _check_funds(catalogue: Catalogue, data: ConsentIn) -> None:
    for limit in data.limits:
        if isinstance(limit, PointsConversionLimitIn):
            unknown = []
            for fund in limit.funds:
                try:
                    catalogue.get_fund(fund)
                except NotFoundError:
                    unknown.append(fund)
            if unknown:
                raise InvalidConsentError("no such fund", field="limits", unknown=sorted(unknown))


class ConsentsController(Controller):
    path = "/v1/consents"
    tags = ["consents"]

    @post(
        operation_id="createConsent",
        summary="Ask a customer for consent",
        description=(
            "Creates a consent awaiting the customer's authorization, which the app then obtains "
            "with the authorization code flow (PAR with `consent_id`). The permissions are "
            "customer-delegated scopes that the app holds."
        ),
        responses=problems(
            rules=(
                Rule(
                    "rule-violation",
                    "a permission is not a customer-delegated scope the app holds (`context.refused`)",
                ),
                Rule("rule-violation", "`expires_at` is not in the future or more than 365 days ahead"),
                Rule(
                    "rule-violation",
                    "a limit names a fund outside the catalogue, repeats a limit type or "
                    "bounds a permission not asked for",
                ),
                Rule("rule-violation", "the app has no redirect URI to run the authorization code flow with"),
            )
        ),
        **requires(Scope.CONSENTS_MANAGE),
    )
    async def create_consent(
        self,
        data: JSONBody[ConsentIn],
        consents: NamedDependency[ConsentService],
        catalogue: NamedDependency[Catalogue],
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey,
    ) -> ConsentOut:
        app = _partner_app(principal).client.app
        if not app.redirect_uris:
            # Without a redirect URI the customer could never be sent back with a code.
            raise InvalidConsentError(
                "the app has no redirect URI, so it cannot run the authorization code flow",
                field="redirect_uris",
                client_id=app.client_id,
            )
        permissions = askable(data.permissions, held=app.scopes)
        _check_funds(catalogue, data)
        consent = consents.create(
            partner_id=principal.partner_id,
            client_id=principal.client_id,
            permissions=permissions,
            purpose=data.purpose,
            expires_at=data.expires_at,
            limits=tuple(limit.to_domain() for limit in data.limits),
            cross_border=data.cross_border,
        )
        return ConsentOut.of(consent)

    @get(
        operation_id="listConsents",
        summary="List the partner's consents, oldest first",
        responses=problems(rules=(CURSOR_RULE,)),
        **requires(Scope.CONSENTS_MANAGE),
    )
    async def list_consents(
        self,
        consents: NamedDependency[ConsentService],
        principal: PrincipalDep,
        status: StatusFilter = None,
        cursor: Cursor = "",
        limit: Limit = 20,
    ) -> ConsentList:
        page = consents.list_for_partner(
            partner_id=_partner_app(principal).partner_id,
            status=status,
            after=decode_cursor(cursor) if cursor else None,
            limit=limit,
        )
        return ConsentList(
            data=[ConsentOut.of(consent) for consent in page.items],
            has_more=page.has_more,
            next_cursor=page.next_cursor,
        )

    @get(
        "/{consent_id:str}",
        operation_id="getConsent",
        summary="Read one consent",
        responses=problems(404),
        **requires(Scope.CONSENTS_MANAGE),
    )
    async def get_consent(
        self, consent_id: ConsentId, consents: NamedDependency[ConsentService], principal: PrincipalDep
    ) -> ConsentOut:
        partner_id = _partner_app(principal).partner_id
        return ConsentOut.of(consents.get(consent_id, partner_id=partner_id))

    @post(
        "/{consent_id:str}/revoke",
        operation_id="revokeConsent",
        summary="Withdraw an authorized consent",
        description="Takes effect on the app's next call: its tokens under the consent stop working.",
        status_code=200,
        responses=problems(404, 409),
        **requires(Scope.CONSENTS_MANAGE),
    )
    async def revoke_consent(
        self,
        consent_id: ConsentId,
        consents: NamedDependency[ConsentService],
        principal: PrincipalDep,
        idempotency_key: IdempotencyKey,
    ) -> ConsentOut:
        partner_id = _partner_app(principal).partner_id
        return ConsentOut.of(consents.revoke(consent_id, by="partner", party_id=partner_id))
