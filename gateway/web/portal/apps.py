"""The developer's apps: the list, a new app with its key and scopes, and the request for review."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template

from gateway.auth.developers import DeveloperAccounts, PortalSession
from gateway.domain.consent.models import TIERS, Tier
from gateway.domain.environment import Environment
from gateway.domain.errors import ConflictError, DomainError
from gateway.domain.scopes import SANDBOX_ONLY_SCOPES, Scope
from gateway.web.labels import SCOPE_TEXT, TIER_TEXT
from gateway.web.pages import first, see_other
from gateway.web.portal.site import APPS, BASE, NOTICES, OPTIONS, PORTAL, app_summary, partner_view, sentence
from partners.models import ALLOWED_SCOPES, DELEGATED_SCOPES, PartnerType
from partners.service import (
    MAX_APPS,
    MAX_JWK_CHARS,
    MAX_REDIRECT_URI_LENGTH,
    MAX_REDIRECT_URIS,
    Registry,
    has_room_for_app,
)
from sandbox.conformance import Graduation

APP_NAME_MIN: Final = 2
APP_NAME_MAX: Final = 100
# The app's own calls (client credentials), as a developer reads them.
OWN_SCOPE_TEXT: Final[dict[Scope, str]] = {
    Scope.MARKET_READ: "Instruments and market data.",
    Scope.FUNDS_READ: "The fund catalogue.",
    Scope.ADVISORY_WHITE_LABEL: "Risk questionnaires and proposals under your own brand.",
    Scope.COMPLIANCE_SUITABILITY: "Check whether a product suits a customer.",
    Scope.COMPLIANCE_SCREENING: "Screen names against the sanctions list.",
    Scope.POINTS_VALUATIONS_WRITE: "Publish what your shopping points are worth.",
    Scope.WEBHOOKS_MANAGE: "Subscribe to events sent to your server.",
    Scope.REPORTS_READ: "Usage, conversion and reconciliation reports.",
    Scope.CONSENTS_MANAGE: "Ask customers for consent: every customer-delegated scope below needs it.",
    Scope.PARTNER_MANAGE: "This app's own keys and your review request.",
    Scope.SANDBOX_TESTING: "The sandbox's controls: your app's personas and their reset.",
}
OWN_SCOPES: Final = tuple(sorted(ALLOWED_SCOPES[PartnerType.DEVELOPER]))
# What a customer grants the app, tier by tier as the consent screen shows them.
DELEGATED_GROUPS: Final = tuple(
    (tier, tuple(s for s, t in TIERS.items() if t is tier and s in DELEGATED_SCOPES[PartnerType.DEVELOPER]))
    for tier in Tier
)
OFFERED_SCOPES: Final = frozenset(OWN_SCOPES) | DELEGATED_SCOPES[PartnerType.DEVELOPER]
PRE_TICKED: Final = (Scope.FUNDS_READ, Scope.MARKET_READ, Scope.SANDBOX_TESTING)
# One URI per line: the most the registry accepts, with room for line ends and a stray blank line.
REDIRECT_TEXT_MAX: Final = (MAX_REDIRECT_URI_LENGTH + 2) * (MAX_REDIRECT_URIS + 1)


@dataclass(frozen=True, slots=True)
class AppForm:
    name: str = ""
    environment: str = Environment.SANDBOX.value
    scopes: tuple[str, ...] = ()
    redirect_uris: str = ""  # the textarea: one URI per line
    jwk: str = ""
    key_source: str = "browser"

    @property
    def redirect_uri_list(self) -> tuple[str, ...]:
        return tuple(line.strip() for line in self.redirect_uris.splitlines() if line.strip())


class AppFormError(Exception):
    """A new-app form that leaves a field empty or out of range; the message is safe to show."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@get(APPS, **OPTIONS)
async def app_list(
    request: Request[Any, Any, Any],
    developers: NamedDependency[DeveloperAccounts],
    registry: NamedDependency[Registry],
    notice: Annotated[str | None, QueryParameter(required=False, max_length=40)] = None,
) -> Response[Any]:
    session = PORTAL.signed_in(request, developers)
    return _apps_page(registry, session, notice=NOTICES.get(notice or ""))


def _apps_page(
    registry: Registry,
    session: PortalSession,
    *,
    notice: str | None = None,
    error: str | None = None,
    reason: str = "",
    status: int = 200,
) -> Template:
    apps = registry.list_apps(session.developer.partner_id)
    return PORTAL.render(
        "portal_apps.html",
        session=session,
        status=status,
        partner=partner_view(registry, session),
        apps=[app_summary(app) for app in apps],
        can_create=has_room_for_app(apps),
        max_apps=MAX_APPS,
        notice=notice,
        error=error,
        reason=reason,
    )


@post(f"{BASE}/review-request", status_code=303, **OPTIONS)
async def request_review(
    request: Request[Any, Any, Any],
    developers: NamedDependency[DeveloperAccounts],
    registry: NamedDependency[Registry],
    graduation: NamedDependency[Graduation],
    issuer: NamedDependency[str],
) -> Response[Any]:
    """The partner's one own lifecycle move (partners/lifecycle.py): from the sandbox into review,
    with the evidence pack computed from its sandbox traffic (sandbox/conformance.py)."""
    session, form = await PORTAL.signed_in_form(request, developers, issuer)
    reason = (first(form, "reason") or "").strip()[:600]
    actor = f"developer:{session.developer.id}"
    try:
        partner = graduation.request_review(session.developer.partner_id, actor=actor, reason=reason).partner
    except DomainError as exc:  # no reason, or not in the sandbox stage
        status = 409 if isinstance(exc, ConflictError) else 422
        return _apps_page(registry, session, error=sentence(exc), reason=reason, status=status)
    request.scope["state"]["actor"] = actor
    request.scope["state"]["object_id"] = partner.id
    return see_other(f"{APPS}?notice=review-requested")


def _new_app_page(
    registry: Registry,
    session: PortalSession,
    form: AppForm,
    *,
    error: AppFormError | None = None,
    status: int = 200,
) -> Template:
    partner = registry.partner(session.developer.partner_id)
    return PORTAL.render(
        "portal_app_new.html",
        session=session,
        status=status,
        form=form,
        environments=[
            e.value for e in (Environment.SANDBOX, Environment.PRODUCTION) if e in partner.environments
        ],
        own_scopes=[
            {
                "value": scope.value,
                "hint": OWN_SCOPE_TEXT.get(scope, ""),
                "sandbox_only": scope in SANDBOX_ONLY_SCOPES,
            }
            for scope in OWN_SCOPES
        ],
        tiers=[
            {
                "id": tier.value,
                "title": TIER_TEXT[tier][0],
                "description": TIER_TEXT[tier][1],
                "scopes": [
                    {"value": s.value, "label": SCOPE_TEXT[s][0], "description": SCOPE_TEXT[s][1]}
                    for s in scopes
                ],
            }
            for tier, scopes in DELEGATED_GROUPS
            if scopes
        ],
        error=str(error) if error else None,
        error_field=error.field if error else None,
        name_max=APP_NAME_MAX,
        redirect_uris_max=MAX_REDIRECT_URIS,
    )


@get(f"{APPS}/new", **OPTIONS)
async def new_app_page(
    request: Request[Any, Any, Any],
    developers: NamedDependency[DeveloperAccounts],
    registry: NamedDependency[Registry],
    environment: Annotated[Environment, QueryParameter(required=False)] = Environment.SANDBOX,
) -> Response[Any]:
    """The form, pre-ticked with the catalogue reads (and the sandbox controls, on a sandbox app)."""
    session = PORTAL.signed_in(request, developers)
    ticked = tuple(
        s.value for s in PRE_TICKED if environment is Environment.SANDBOX or s not in SANDBOX_ONLY_SCOPES
    )
    return _new_app_page(registry, session, AppForm(environment=environment.value, scopes=ticked))


@post(APPS, status_code=303, **OPTIONS)
async def create_app(
    request: Request[Any, Any, Any],
    developers: NamedDependency[DeveloperAccounts],
    registry: NamedDependency[Registry],
    issuer: NamedDependency[str],
) -> Response[Any]:
    session, values = await PORTAL.signed_in_form(request, developers, issuer)
    form = AppForm(
        name=(first(values, "name") or "").strip()[: APP_NAME_MAX + 50],
        environment=(first(values, "environment") or Environment.SANDBOX.value)[:20],
        scopes=tuple(dict.fromkeys(values.get("scopes", []))),
        redirect_uris=(first(values, "redirect_uris") or "")[: REDIRECT_TEXT_MAX + 1],
        jwk=(first(values, "jwk") or "")[: MAX_JWK_CHARS + 1],
        key_source="upload" if first(values, "key_source") == "upload" else "browser",
    )
    try:
        environment = _check(form)
        app = registry.create_developer_app(
            partner_id=session.developer.partner_id,
            name=form.name,
            jwks=form.jwk,
            scopes=form.scopes,
            redirect_uris=form.redirect_uri_list,
            environment=environment,
        )
    except AppFormError as exc:
        return _new_app_page(registry, session, form, error=exc, status=422)
    except DomainError as exc:  # the registry's rules (keys, scopes, URIs, stage, app limit) name the field
        field = str(exc.context.get("field", "jwk")).split(".", 1)[0]
        uri = exc.context.get("uri")
        message = sentence(exc) + (f" ({uri})" if isinstance(uri, str) else "")
        error = AppFormError("jwk" if field == "jwks" else field, message)
        return _new_app_page(registry, session, form, error=error, status=422)
    request.scope["state"]["actor"] = f"developer:{session.developer.id}"
    request.scope["state"]["object_id"] = app.client_id
    return see_other(f"{APPS}/{app.client_id}?notice=created")


def _check(form: AppForm) -> Environment:
    """The form's own fields: a name of the right length, an environment and scopes the form offers,
    a key; the environment the app is for."""
    if not APP_NAME_MIN <= len(form.name) <= APP_NAME_MAX:
        raise AppFormError("name", f"Name the app with {APP_NAME_MIN} to {APP_NAME_MAX} characters.")
    try:
        environment = Environment(form.environment)
    except ValueError:
        raise AppFormError("environment", "Choose sandbox or production.") from None
    if not form.scopes:
        raise AppFormError("scopes", "Choose at least one scope.")
    unknown = sorted(set(form.scopes) - OFFERED_SCOPES)
    if unknown:
        raise AppFormError("scopes", f"A developer app may not hold {', '.join(unknown)}.")
    if len(form.redirect_uris) > REDIRECT_TEXT_MAX:
        raise AppFormError("redirect_uris", f"Give at most {MAX_REDIRECT_URIS} redirect URIs, one per line.")
    if not form.jwk.strip():
        raise AppFormError("jwk", "Generate a key in your browser or paste your public JWK.")
    return environment
