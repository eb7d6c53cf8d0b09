"""The portal's front door: sign-up, sign-in and sign-out of developers."""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Final

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template

from gateway.auth.developers import (
    PASSWORD_MIN,
    SESSION_COOKIE,
    DeveloperAccounts,
    SignUpRefusedError,
    normal_email,
)
from gateway.auth.login import LoginRefusedError
from gateway.domain.environment import Environment
from gateway.domain.errors import ConflictError, DomainError
from gateway.edge.rate_limits import LoginThrottle
from gateway.web.console import strict_cookie
from gateway.web.pages import client_address, first, see_other
from gateway.web.portal.site import APPS, BASE, FORM_CSRF_COOKIE, OPTIONS, PORTAL, sentence, signed_in

REGION_NAMES: Final = {
    "CN": "Mainland China",
    "HK": "Hong Kong",
    "SG": "Singapore",
    "EU": "European Union",
    "GB": "United Kingdom",
    "US": "United States",
}
FORM_LIFETIME: Final = 1800  # seconds a sign-in or sign-up form stays good


@get(BASE, **OPTIONS)
async def portal_home(
    request: Request[Any, Any, Any], developers: NamedDependency[DeveloperAccounts]
) -> Response[Any]:
    signed_in_now = PORTAL.session(request, developers) is not None
    return see_other(APPS if signed_in_now else f"{BASE}/login")


def _signup_page(
    token: str, *, status: int = 200, error: SignUpRefusedError | None = None, **form: str
) -> Template:
    return PORTAL.render(
        "portal_signup.html",
        session=None,
        status=status,
        form_csrf=token,
        regions=sorted(REGION_NAMES.items(), key=lambda item: item[1]),
        error=str(error) if error else None,
        error_field=error.field if error else None,
        email=form.get("email", ""),
        organisation=form.get("organisation", ""),
        region=form.get("region", ""),
        password_min=PASSWORD_MIN,
        cookies=[strict_cookie(FORM_CSRF_COOKIE, token, max_age=FORM_LIFETIME)] if status == 200 else None,
    )


@get(f"{BASE}/signup", **OPTIONS)
async def signup_page(
    request: Request[Any, Any, Any], developers: NamedDependency[DeveloperAccounts]
) -> Response[Any]:
    if PORTAL.session(request, developers) is not None:
        return see_other(APPS)
    return _signup_page(secrets.token_urlsafe(32))


@post(f"{BASE}/signup", status_code=303, **OPTIONS)
async def sign_up(
    request: Request[Any, Any, Any],
    developers: NamedDependency[DeveloperAccounts],
    login_throttle: NamedDependency[LoginThrottle],
    issuer: NamedDependency[str],
) -> Response[Any]:
    PORTAL.in_production(request)
    form = await PORTAL.anonymous_form(request, issuer, FORM_CSRF_COOKIE)
    token = request.cookies.get(FORM_CSRF_COOKIE, "")
    entered = {
        "email": normal_email(first(form, "email") or "")[:300],
        "organisation": (first(form, "organisation") or "").strip()[:300],
        "region": first(form, "region") or "",
    }
    key = f"portal-signup:{entered['email']}"
    if not await login_throttle.admit(Environment.PRODUCTION, key, client_address(request)):
        refusal = SignUpRefusedError("email", "Too many attempts. Wait a minute and try again.", status=429)
        return _signup_page(token, status=refusal.status, error=refusal, **entered)
    if entered["region"] not in REGION_NAMES:
        return _signup_page(
            token, status=422, error=SignUpRefusedError("region", "Choose your region."), **entered
        )
    try:
        developer = developers.sign_up(
            email=entered["email"],
            organisation=entered["organisation"],
            region=entered["region"],
            password=first(form, "password") or "",
        )
    except SignUpRefusedError as exc:
        return _signup_page(token, status=exc.status, error=exc, **entered)
    except DomainError as exc:  # the registry's rules: organisation name length, a taken name
        field = str(exc.context.get("field", "organisation"))
        refusal = SignUpRefusedError("organisation" if field == "name" else field, sentence(exc))
        return _signup_page(
            token, status=409 if isinstance(exc, ConflictError) else 422, error=refusal, **entered
        )
    request.scope["state"]["actor"] = f"developer:{developer.id}"
    return see_other(f"{APPS}?notice=welcome", cookies=signed_in(developers, developer))


def _login_page(
    token: str, *, return_to: str, email: str = "", error: str | None = None, status: int = 200
) -> Template:
    return PORTAL.render(
        "portal_login.html",
        session=None,
        status=status,
        form_csrf=token,
        return_to=return_to,
        email=email,
        error=error,
        cookies=[strict_cookie(FORM_CSRF_COOKIE, token, max_age=FORM_LIFETIME)] if status == 200 else None,
    )


@get(f"{BASE}/login", **OPTIONS)
async def portal_login_page(
    request: Request[Any, Any, Any],
    developers: NamedDependency[DeveloperAccounts],
    return_to: Annotated[str | None, QueryParameter(required=False, max_length=300)] = None,
) -> Response[Any]:
    PORTAL.in_production(request)
    target = PORTAL.local(return_to)
    if PORTAL.session(request, developers) is not None:
        return see_other(target)
    return _login_page(secrets.token_urlsafe(32), return_to=target)


@post(f"{BASE}/login", status_code=303, **OPTIONS)
async def portal_sign_in(
    request: Request[Any, Any, Any],
    developers: NamedDependency[DeveloperAccounts],
    login_throttle: NamedDependency[LoginThrottle],
    issuer: NamedDependency[str],
) -> Response[Any]:
    PORTAL.in_production(request)
    form = await PORTAL.anonymous_form(request, issuer, FORM_CSRF_COOKIE)
    token = request.cookies.get(FORM_CSRF_COOKIE, "")
    email = normal_email(first(form, "email") or "")[:300]
    target = PORTAL.local(first(form, "return_to"))
    if not await login_throttle.admit(Environment.PRODUCTION, f"portal:{email}", client_address(request)):
        return _login_page(
            token,
            return_to=target,
            email=email,
            status=429,
            error="Too many sign-in attempts. Wait a minute and try again.",
        )
    try:
        developer = developers.authenticate(email, first(form, "password") or "")
    except LoginRefusedError as exc:
        return _login_page(token, return_to=target, email=email, status=401, error=str(exc))
    request.scope["state"]["actor"] = f"developer:{developer.id}"
    return see_other(target, cookies=signed_in(developers, developer))


@post(f"{BASE}/logout", status_code=303, **OPTIONS)
async def portal_sign_out(
    request: Request[Any, Any, Any],
    developers: NamedDependency[DeveloperAccounts],
    issuer: NamedDependency[str],
) -> Response[Any]:
    session = PORTAL.session(request, developers)
    if session is not None:
        await PORTAL.form(request, issuer, session)
        developers.end_session(session)  # a copy of the cookie dies too
        request.scope["state"]["actor"] = f"developer:{session.developer.id}"
    return see_other(f"{BASE}/login", cookies=[strict_cookie(SESSION_COOKIE, "", max_age=0)])
