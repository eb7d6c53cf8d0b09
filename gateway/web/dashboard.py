"""The customer's consent dashboard, as a page and as a JSON API on the same session: every
consent, who read what and when, and revocation that bites on the partner's next call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, NotAuthorizedException
from litestar.params import FromPath, QueryParameter

from gateway.auth.login import CustomerLogin, same_token
from gateway.domain.clock import Clock
from gateway.domain.consent.models import Consent, ConsentStatus
from gateway.domain.consent.service import ConsentService
from gateway.domain.customers.ports import CustomerRecords
from gateway.domain.identity.models import SessionRecord
from gateway.domain.sharing.service import SharingService
from gateway.edge.authentication import ClientCache
from gateway.web.consent_screen import describe_limits, format_day
from gateway.web.labels import STATUS_TEXT, scope_label
from gateway.web.pages import (
    PAGE_OPTIONS,
    SECURITY_HEADERS,
    checked_form,
    current_session,
    environment_of,
    render,
    see_other,
    to_login,
)

NOTICES: Final = {"revoked": "Access revoked. The app can no longer use it, starting with its next request."}


@dataclass(frozen=True, slots=True)
class ConsentCard:
    id: str
    partner_name: str
    app_name: str
    status: str
    status_label: str
    permissions: list[str]
    limits: list[str]
    expires_at: str
    authorized_at: str | None
    revocable: bool
    cross_border: bool


@dataclass(frozen=True, slots=True)
class DisclosureLine:
    at: str
    partner_name: str
    resource: str
    categories: list[str]
    consent_id: str


class CustomerConsent(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    partner_name: str
    app_name: str
    status: str
    permissions: list[str]
    limits: list[dict[str, object]]
    cross_border: bool
    expires_at: str
    updated_at: str


class CustomerDisclosure(msgspec.Struct, frozen=True, kw_only=True):
    at: str
    consent_id: str
    partner_name: str
    resource: str
    categories: list[str]
    fields: list[str]
    masked: list[str]
    withheld: list[str]


def _names(clients: ClientCache, consent: Consent) -> tuple[str, str]:
    client = clients.get(consent.client_id)  # the cache reads the registry on a miss
    if client is None:
        return "Unknown partner", consent.client_id
    return client.partner.name, client.app.name


def _consents(consents: ConsentService, customer_id: str) -> list[Consent]:
    return sorted(
        consents.list_for_customer(customer_id=customer_id), key=lambda c: c.updated_at, reverse=True
    )


def _partner_names(clients: ClientCache, consents: ConsentService, customer_id: str) -> dict[str, str]:
    return {consent.id: _names(clients, consent)[0] for consent in _consents(consents, customer_id)}


@get("/consents", **PAGE_OPTIONS)
async def dashboard(
    request: Request[Any, Any, Any],
    login: NamedDependency[CustomerLogin],
    customers: NamedDependency[CustomerRecords],
    consents: NamedDependency[ConsentService],
    clients: NamedDependency[ClientCache],
    sharing: NamedDependency[SharingService],
    clock: NamedDependency[Clock],
    notice: Annotated[str | None, QueryParameter(required=False)] = None,
) -> Response[Any]:
    session = current_session(request, login)
    if session is None:
        return to_login(request, f"{environment_of(request).path_prefix}/consents")
    mine = _consents(consents, session.customer_id)
    names = {consent.id: _names(clients, consent) for consent in mine}
    now = clock.now()
    statuses = {consent.id: _status(consent, now).value for consent in mine}
    cards = [
        ConsentCard(
            id=consent.id,
            partner_name=names[consent.id][0],
            app_name=names[consent.id][1],
            status=statuses[consent.id],
            status_label=STATUS_TEXT[statuses[consent.id]],
            permissions=[scope_label(scope) for scope in sorted(consent.permissions)],
            limits=[f"{text.title}: {'; '.join(text.lines)}" for text in describe_limits(consent.limits)],
            expires_at=format_day(consent.expires_at),
            authorized_at=format_day(consent.updated_at)
            if consent.status is ConsentStatus.AUTHORIZED
            else None,
            revocable=consent.is_active(now),
            cross_border=consent.cross_border,
        )
        for consent in mine
    ]
    lines = [
        DisclosureLine(
            at=f"{record.at:%Y-%m-%d %H:%M} UTC",
            partner_name=names.get(record.consent_id, ("Unknown partner", ""))[0],
            resource=record.resource,
            categories=list(record.categories),
            consent_id=record.consent_id,
        )
        for record in sharing.disclosures_of(session.customer_id)
    ]
    return render(
        request,
        "dashboard.html",
        session=session,
        customer=customers.get(session.customer_id),
        consents=cards,
        disclosures=lines,
        notice=NOTICES.get(notice or ""),
    )


def _status(consent: Consent, now: Any) -> ConsentStatus:
    """An authorized consent past its expiry reads as expired before a sweep records it."""
    if consent.status is ConsentStatus.AUTHORIZED and now >= consent.expires_at:
        return ConsentStatus.EXPIRED
    return consent.status


@post("/consents/{consent_id:str}/revoke", status_code=303, **PAGE_OPTIONS)
async def revoke_from_page(
    request: Request[Any, Any, Any],
    login: NamedDependency[CustomerLogin],
    consents: NamedDependency[ConsentService],
    issuer: NamedDependency[str],
    consent_id: FromPath[str],
) -> Response[Any]:
    base_path = environment_of(request).path_prefix
    session = current_session(request, login)
    if session is None:
        return to_login(request, f"{base_path}/consents")
    await checked_form(request, issuer, session)
    consents.revoke(consent_id, by="customer", party_id=session.customer_id)
    request.scope["state"]["actor"] = f"customer:{session.customer_id}"
    return see_other(f"{base_path}/consents?notice=revoked")


# The same dashboard as JSON, for the brokerage's own apps; the session cookie authenticates it and
# every unsafe call also carries the session's CSRF token in `X-CSRF-Token`.
def _api_session(request: Request[Any, Any, Any], login: CustomerLogin) -> SessionRecord:
    session = current_session(request, login)
    if session is None:
        raise NotAuthorizedException(detail="sign in first: this API uses the customer's session")
    return session


def _consent_view(clients: ClientCache, consent: Consent, now: Any) -> CustomerConsent:
    partner_name, app_name = _names(clients, consent)
    return CustomerConsent(
        id=consent.id,
        partner_name=partner_name,
        app_name=app_name,
        status=_status(consent, now).value,
        permissions=sorted(str(scope) for scope in consent.permissions),
        limits=[limit.as_document() for limit in consent.limits],
        cross_border=consent.cross_border,
        expires_at=consent.expires_at.isoformat(),
        updated_at=consent.updated_at.isoformat(),
    )


@get("/customer/session", **PAGE_OPTIONS)
async def my_session(request: Request[Any, Any, Any], login: NamedDependency[CustomerLogin]) -> Response[Any]:
    """Who is signed in, and the CSRF token this API wants on unsafe calls."""
    session = _api_session(request, login)
    body = {"expires_at": session.expires_at.isoformat(), "csrf_token": session.csrf_token}
    return Response(content=body, headers=SECURITY_HEADERS)


@get("/customer/consents", **PAGE_OPTIONS)
async def my_consents(
    request: Request[Any, Any, Any],
    login: NamedDependency[CustomerLogin],
    consents: NamedDependency[ConsentService],
    clients: NamedDependency[ClientCache],
    clock: NamedDependency[Clock],
) -> Response[Any]:
    session = _api_session(request, login)
    now = clock.now()
    views = [_consent_view(clients, consent, now) for consent in _consents(consents, session.customer_id)]
    return Response(content={"data": views}, headers=SECURITY_HEADERS)


@get("/customer/disclosures", **PAGE_OPTIONS)
async def my_disclosures(
    request: Request[Any, Any, Any],
    login: NamedDependency[CustomerLogin],
    consents: NamedDependency[ConsentService],
    clients: NamedDependency[ClientCache],
    sharing: NamedDependency[SharingService],
) -> Response[Any]:
    session = _api_session(request, login)
    names = _partner_names(clients, consents, session.customer_id)
    views = [
        CustomerDisclosure(
            at=record.at.isoformat(),
            consent_id=record.consent_id,
            partner_name=names.get(record.consent_id, "Unknown partner"),
            resource=record.resource,
            categories=list(record.categories),
            fields=list(record.fields),
            masked=list(record.masked),
            withheld=list(record.withheld),
        )
        for record in sharing.disclosures_of(session.customer_id)
    ]
    return Response(content={"data": views}, headers=SECURITY_HEADERS)


@post("/customer/consents/{consent_id:str}/revoke", status_code=200, **PAGE_OPTIONS)
async def revoke_by_api(
    request: Request[Any, Any, Any],
    login: NamedDependency[CustomerLogin],
    consents: NamedDependency[ConsentService],
    clients: NamedDependency[ClientCache],
    clock: NamedDependency[Clock],
    consent_id: FromPath[str],
) -> Response[Any]:
    session = _api_session(request, login)
    if not same_token(session.csrf_token, request.headers.get("x-csrf-token")):
        raise ClientException(status_code=403, detail="send the session's CSRF token in X-CSRF-Token")
    consent = consents.revoke(consent_id, by="customer", party_id=session.customer_id)
    request.scope["state"]["actor"] = f"customer:{session.customer_id}"
    view = _consent_view(clients, consent, clock.now())
    return Response(content=view, headers=SECURITY_HEADERS)


ROUTES: Final = [dashboard, revoke_from_page, my_session, my_consents, my_disclosures, revoke_by_api]
