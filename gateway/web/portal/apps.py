"""The developer's apps: the list, a new sandbox app with its key, and the request for review."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template

from gateway.auth.developers import DeveloperAccounts, PortalSession
from gateway.domain.errors import ConflictError, DomainError
from gateway.web.pages import first, see_other
from gateway.web.portal.site import APPS, BASE, NOTICES, OPTIONS, PORTAL, app_summary, partner_view, sentence
from partners.models import ALLOWED_SCOPES, PartnerType
from partners.service import MAX_APPS, MAX_JWK_CHARS, Registry, has_room_for_app

APP_NAME_MIN: Final = 2
APP_NAME_MAX: Final = 100
DEVELOPER_SCOPES: Final = tuple(sorted(scope.value for scope in ALLOWED_SCOPES[PartnerType.DEVELOPER]))


@dataclass(frozen=True, slots=True)
class AppForm:
    name: str = ""
    scopes: tuple[str, ...] = ()
    jwk: str = ""
    key_source: str = "browser"


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
    issuer: NamedDependency[str],
) -> Response[Any]:
    """The partner's one own lifecycle move (partners/lifecycle.py): from the sandbox into review."""
    session, form = await PORTAL.signed_in_form(request, developers, issuer)
    reason = (first(form, "reason") or "").strip()[:600]
    actor = f"developer:{session.developer.id}"
    try:
        partner = registry.lifecycle.request_review(session.developer.partner_id, actor=actor, reason=reason)
    except DomainError as exc:  # no reason, or not in the sandbox stage
        status = 409 if isinstance(exc, ConflictError) else 422
        return _apps_page(registry, session, error=sentence(exc), reason=reason, status=status)
    request.scope["state"]["actor"] = actor
    request.scope["state"]["object_id"] = partner.id
    return see_other(f"{APPS}?notice=review-requested")


def _new_app_page(
    session: PortalSession, form: AppForm, *, error: AppFormError | None = None, status: int = 200
) -> Template:
    return PORTAL.render(
        "portal_app_new.html",
        session=session,
        status=status,
        form=form,
        scopes=DEVELOPER_SCOPES,
        error=str(error) if error else None,
        error_field=error.field if error else None,
        name_max=APP_NAME_MAX,
    )


@get(f"{APPS}/new", **OPTIONS)
async def new_app_page(
    request: Request[Any, Any, Any], developers: NamedDependency[DeveloperAccounts]
) -> Response[Any]:
    session = PORTAL.signed_in(request, developers)
    return _new_app_page(session, AppForm(scopes=("funds:read", "market:read")))


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
        scopes=tuple(dict.fromkeys(values.get("scopes", []))),
        jwk=(first(values, "jwk") or "")[: MAX_JWK_CHARS + 1],
        key_source="upload" if first(values, "key_source") == "upload" else "browser",
    )
    try:
        _check(form)
        app = registry.create_developer_app(
            partner_id=session.developer.partner_id, name=form.name, jwks=form.jwk, scopes=form.scopes
        )
    except AppFormError as exc:
        return _new_app_page(session, form, error=exc, status=422)
    except DomainError as exc:  # the registry's rules (keys, scopes, stage, app limit), naming the field
        field = str(exc.context.get("field", "jwk")).split(".", 1)[0]
        error = AppFormError("jwk" if field == "jwks" else field, sentence(exc))
        return _new_app_page(session, form, error=error, status=422)
    request.scope["state"]["actor"] = f"developer:{session.developer.id}"
    request.scope["state"]["object_id"] = app.client_id
    return see_other(f"{APPS}/{app.client_id}?notice=created")


def _check(form: AppForm) -> None:
    """The form's own fields: a name of the right length, scopes a developer may hold, a key."""
    if not APP_NAME_MIN <= len(form.name) <= APP_NAME_MAX:
        raise AppFormError("name", f"Name the app with {APP_NAME_MIN} to {APP_NAME_MAX} characters.")
    if not form.scopes:
        raise AppFormError("scopes", "Choose at least one scope.")
    unknown = sorted(set(form.scopes) - set(DEVELOPER_SCOPES))
    if unknown:
        raise AppFormError("scopes", f"A developer app may not hold {', '.join(unknown)}.")
    if not form.jwk.strip():
        raise AppFormError("jwk", "Generate a key in your browser or paste your public JWK.")
