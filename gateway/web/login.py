"""Sign-in and sign-out pages. The login form is protected by a double-submit CSRF cookie (there is
no session yet), sign-in attempts are throttled per username and per address, and repeated
failures lock the account (gateway.auth.login)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Final
from urllib.parse import parse_qs, urlsplit

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from gateway.auth.delegation import AuthorizationRequestError, Delegation
from gateway.auth.login import SESSION_LIFETIME, CustomerLogin, LoginRefusedError, same_token
from gateway.domain.environment import Environment
from gateway.domain.errors import DomainError
from gateway.domain.identity.ports import AppCustomers
from gateway.edge.rate_limits import LoginThrottle
from gateway.web.pages import (
    PAGE_OPTIONS,
    checked_form,
    client_address,
    current_session,
    environment_of,
    first,
    local_path,
    message,
    render,
    see_other,
    session_cookie,
    session_cookie_name,
)

LOGIN_CSRF_COOKIE: Final = "__Host-login-csrf"


def _login_csrf_cookie(value: str, *, max_age: int = 1800) -> Cookie:
    return Cookie(
        key=LOGIN_CSRF_COOKIE,
        value=value,
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
        max_age=max_age,
    )


@get("/login", **PAGE_OPTIONS)
async def login_page(
    request: Request[Any, Any, Any],
    login: NamedDependency[CustomerLogin],
    return_to: Annotated[str | None, QueryParameter(required=False)] = None,
) -> Response[Any]:
    target = local_path(return_to, environment_of(request))
    if current_session(request, login) is not None:
        return see_other(target)
    token = secrets.token_urlsafe(32)
    return render(
        request,
        "login.html",
        csrf_token=token,
        return_to=target,
        ask_app=_asks_for_app(target, environment_of(request)),
        username="",
        error=None,
        cookies=[_login_csrf_cookie(token)],
    )


@post("/login", status_code=303, **PAGE_OPTIONS)
async def sign_in(
    request: Request[Any, Any, Any],
    login: NamedDependency[CustomerLogin],
    login_throttle: NamedDependency[LoginThrottle],
    app_customers: NamedDependency[AppCustomers],
    delegation: NamedDependency[Delegation],
    issuer: NamedDependency[str],
) -> Response[Any]:
    environment = environment_of(request)
    form = await checked_form(request, issuer)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not same_token(expected, first(form, "csrf_token")):
        return message(
            request,
            title="Please try again",
            detail="The sign-in form expired. Open the sign-in page again.",
            status=403,
            link={"href": f"{environment.path_prefix}/login", "label": "Sign in"},
        )
    username = (first(form, "username") or "").strip().lower()[:100]
    password = first(form, "password") or ""
    target = local_path(first(form, "return_to"), environment)
    if not await login_throttle.admit(environment, username, client_address(request)):
        return render(
            request,
            "login.html",
            status=429,
            csrf_token=expected,
            return_to=target,
            ask_app=_asks_for_app(target, environment),
            username=username,
            error="Too many sign-in attempts. Wait a minute and try again.",
        )
    asking = _asking_app(target, environment, delegation) or (first(form, "client_id") or "").strip()[:64]
    try:
        customer_id = app_customers.signed_in(
            login.authenticate(username, password), username, asking or None
        )
    except (LoginRefusedError, DomainError) as exc:
        return render(
            request,
            "login.html",
            status=401 if isinstance(exc, LoginRefusedError) else 422,
            csrf_token=expected,
            return_to=target,
            ask_app=_asks_for_app(target, environment),
            username=username,
            client_id=asking,
            error=exc.detail if isinstance(exc, DomainError) else str(exc),
        )
    value, _record = login.start_session(customer_id)
    lifetime = int(SESSION_LIFETIME.total_seconds())
    request.scope["state"]["actor"] = f"customer:{customer_id}"
    return see_other(
        target,
        cookies=[session_cookie(environment, value, max_age=lifetime), _login_csrf_cookie("", max_age=0)],
    )


def _asks_for_app(target: str, environment: Environment) -> bool:
    """The sandbox signs personas into an app's workspace: outside an authorization request the
    form asks which app."""
    authorize = f"{environment.path_prefix}/oauth2/authorize"
    return environment is Environment.SANDBOX and urlsplit(target).path != authorize


def _asking_app(target: str, environment: Environment, delegation: Delegation) -> str | None:
    """The app whose pending authorization request the sign-in returns to, if it is one."""
    parts = urlsplit(target)
    if parts.path != f"{environment.path_prefix}/oauth2/authorize":
        return None
    query = parse_qs(parts.query)
    client_id, request_uri = (query.get(name, [""])[0] for name in ("client_id", "request_uri"))
    try:
        delegation.pending(client_id, request_uri)
    except AuthorizationRequestError:
        return None  # the consent screen explains the broken request after sign-in
    return client_id


@post("/logout", status_code=303, **PAGE_OPTIONS)
async def sign_out(
    request: Request[Any, Any, Any], login: NamedDependency[CustomerLogin], issuer: NamedDependency[str]
) -> Response[Any]:
    environment = environment_of(request)
    session = current_session(request, login)
    if session is not None:
        await checked_form(request, issuer, session)
        login.end_session(request.cookies.get(session_cookie_name(environment)))
    return see_other(
        f"{environment.path_prefix}/login",
        cookies=[session_cookie(environment, "", max_age=0)],
    )


ROUTES: Final = [login_page, sign_in, sign_out]
