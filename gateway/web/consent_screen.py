"""The authorization endpoint and the consent screen: the customer signs in, sees who asks for what,
narrows, approves or denies; the app gets a code (or `access_denied`) by a 303 redirect."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from gateway.auth.delegation import AuthorizationRequestError, Delegation, Transaction
from gateway.auth.login import CustomerLogin
from gateway.domain.consent.errors import InvalidConsentError
from gateway.domain.consent.models import HIGH_RISK, TIERS, OrderPlacementLimit, PointsConversionLimit, Tier
from gateway.domain.customers.ports import CustomerRecords
from gateway.domain.identity.models import SessionRecord
from gateway.domain.identity.ports import AppCustomers
from gateway.domain.scopes import Scope
from gateway.edge.authentication import ClientCache
from gateway.web.labels import PARTNER_TYPE_TEXT, SCOPE_TEXT, TIER_TEXT
from gateway.web.pages import (
    PAGE_OPTIONS,
    checked_form,
    current_session,
    environment_of,
    message,
    render,
    see_other,
    to_login,
)

SCOPE_VALUES: Final = frozenset(scope.value for scope in Scope)


@dataclass(frozen=True, slots=True)
class PermissionChoice:
    scope: str
    label: str
    description: str
    checked: bool


@dataclass(frozen=True, slots=True)
class TierChoice:
    key: str
    label: str
    description: str
    high_risk: bool
    permissions: list[PermissionChoice]


@dataclass(frozen=True, slots=True)
class LimitText:
    title: str
    lines: list[str]


@dataclass(frozen=True, slots=True)
class PartnerText:
    name: str
    type_label: str
    region: str


@dataclass(frozen=True, slots=True)
class CrossBorderChoice:
    description: str
    checked: bool


def describe_limits(limits: tuple[Any, ...]) -> list[LimitText]:
    texts: list[LimitText] = []
    for limit in limits:
        if isinstance(limit, PointsConversionLimit):
            texts.append(
                LimitText(
                    "Points conversion",
                    [
                        f"At most {limit.max_points_per_month:,} points a month",
                        f"At most {limit.max_points_per_conversion:,} points per conversion",
                        "Only into: " + ", ".join(limit.funds),
                    ],
                )
            )
        elif isinstance(limit, OrderPlacementLimit):
            money = limit.max_notional_per_order
            texts.append(
                LimitText(
                    "Orders",
                    [
                        f"At most {money.amount:,} {money.currency.value} per order",
                        "Only in: " + ", ".join(str(kind).upper() for kind in limit.instruments),
                    ],
                )
            )
    return texts


def format_day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y}"


def _tiers(permissions: frozenset[Scope], chosen: frozenset[str] | None) -> list[TierChoice]:
    tiers: list[TierChoice] = []
    for tier in Tier:
        offered = sorted(scope for scope in permissions if TIERS.get(scope) is tier)
        if not offered:
            continue
        label, description = TIER_TEXT[tier]
        tiers.append(
            TierChoice(
                key=tier.value,
                label=label,
                description=description,
                high_risk=tier is Tier.DEEP_ANALYSIS,
                permissions=[
                    PermissionChoice(
                        scope=scope.value,
                        label=SCOPE_TEXT[scope][0],
                        description=SCOPE_TEXT[scope][1],
                        # Deep-analysis permissions always start unticked (DOMAIN.md).
                        checked=(scope.value in chosen) if chosen is not None else scope not in HIGH_RISK,
                    )
                    for scope in offered
                ],
            )
        )
    return tiers


def _screen(
    request: Request[Any, Any, Any],
    customers: CustomerRecords,
    clients: ClientCache,
    transaction: Transaction,
    session: SessionRecord,
    *,
    error: str | None = None,
    chosen: frozenset[str] | None = None,
    status: int = 200,
) -> Response[Any]:
    consent = transaction.consent
    client = clients.get(consent.client_id)
    partner = client.partner if client else None
    customer = customers.get(session.customer_id)
    crossing = (
        consent.cross_border
        and partner is not None
        and customer is not None
        and partner.region != customer.residency.value
    )
    cross_border = (
        CrossBorderChoice(
            description=(
                f"Your data would be sent from {customer.residency.value} to {partner.region}. "
                "Without this, data that the law keeps in your region is withheld or masked."
            ),
            checked=False,
        )
        if crossing and customer is not None and partner is not None
        else None
    )
    return render(
        request,
        "consent.html",
        session=session,
        customer=customer,
        status=status,
        error=error,
        transaction_id=transaction.id,
        partner=PartnerText(
            name=partner.name if partner else "Unknown partner",
            type_label=PARTNER_TYPE_TEXT[partner.type] if partner else "",
            region=partner.region if partner else "",
        ),
        app_name=client.app.name if client else consent.client_id,
        purpose=consent.purpose,
        expires_at=format_day(consent.expires_at),
        tiers=_tiers(consent.permissions, chosen),
        limits=describe_limits(consent.limits),
        cross_border=cross_border,
        opt_in_required=bool(consent.permissions & HIGH_RISK),
    )


@get("/oauth2/authorize", **PAGE_OPTIONS)
async def authorize(
    request: Request[Any, Any, Any],
    login: NamedDependency[CustomerLogin],
    customers: NamedDependency[CustomerRecords],
    clients: NamedDependency[ClientCache],
    delegation: NamedDependency[Delegation],
    app_customers: NamedDependency[AppCustomers],
    client_id: Annotated[str, QueryParameter(required=False)] = "",
    request_uri: Annotated[str, QueryParameter(required=False)] = "",
) -> Response[Any]:
    session = current_session(request, login)
    try:
        delegation.pending(client_id, request_uri)
        # A sandbox session belongs to one app's workspace: another app's request signs in afresh.
        foreign = session is not None and not app_customers.serves(session.customer_id, client_id)
        if session is None or foreign:
            query = urlencode({"client_id": client_id, "request_uri": request_uri})
            return to_login(
                request, f"{environment_of(request).path_prefix}/oauth2/authorize?{query}", sign_out=foreign
            )
        transaction_id = delegation.open(client_id, request_uri, session.customer_id)
        transaction = delegation.transaction(transaction_id, session.customer_id)
    except AuthorizationRequestError as exc:
        customer = customers.get(session.customer_id) if session else None
        return message(
            request, title=exc.title, detail=exc.detail, status=400, session=session, customer=customer
        )
    return _screen(request, customers, clients, transaction, session)


@post("/oauth2/authorize/decision", status_code=303, **PAGE_OPTIONS)
async def decide(
    request: Request[Any, Any, Any],
    login: NamedDependency[CustomerLogin],
    customers: NamedDependency[CustomerRecords],
    clients: NamedDependency[ClientCache],
    delegation: NamedDependency[Delegation],
    issuer: NamedDependency[str],
) -> Response[Any]:
    session = current_session(request, login)
    if session is None:
        return message(
            request, title="Signed out", detail="Sign in again and restart from the app.", status=401
        )
    form = await checked_form(request, issuer, session)
    chosen = frozenset(form.get("scope", []))
    try:
        transaction = delegation.transaction((form.get("transaction_id") or [""])[0], session.customer_id)
        if (form.get("decision") or [""])[0] != "approve":
            location = delegation.deny(transaction, session.customer_id)
        else:
            granted = frozenset(Scope(s) for s in chosen if s in SCOPE_VALUES)
            try:
                location = delegation.approve(
                    transaction,
                    session.customer_id,
                    granted=granted,
                    opted_in_high_risk=form.get("opt_in_high_risk") == ["yes"],
                    allow_cross_border=form.get("cross_border") == ["yes"],
                )
            except InvalidConsentError as exc:
                return _screen(
                    request,
                    customers,
                    clients,
                    transaction,
                    session,
                    error=exc.detail,
                    chosen=chosen,
                    status=422,
                )
    except AuthorizationRequestError as exc:
        customer = customers.get(session.customer_id)
        return message(
            request, title=exc.title, detail=exc.detail, status=400, session=session, customer=customer
        )
    request.scope["state"]["actor"] = f"customer:{session.customer_id}"
    return see_other(location)


ROUTES: Final = [authorize, decide]
