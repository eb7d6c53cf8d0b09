"""What every customer page shares: templates, security headers, the session cookie, CSRF and the
same-origin check on form posts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlsplit

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.exceptions import ClientException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from litestar.types import ControllerRouterHandler

from gateway.auth.login import CustomerLogin, same_token
from gateway.domain.customers.models import Customer
from gateway.domain.environment import Environment
from gateway.domain.identity.models import SessionRecord
from gateway.edge.access import public

HERE: Final = Path(__file__).parent
# No script, no inline style, nothing from elsewhere; the pages never sit in a frame (clickjacking).
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: under it browsers send `Origin: null` on our own form posts (Fetch standard),
    # which the same-origin check must refuse. same-origin still tells other sites nothing.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
PAGE_OPTIONS: Final[dict[str, Any]] = {"include_in_schema": False, **public()}


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine)


def static_files() -> ControllerRouterHandler:
    return create_static_files_router(
        path="/static", directories=[HERE / "static"], include_in_schema=False, opt=public()["opt"]
    )


def environment_of(request: Request[Any, Any, Any]) -> Environment:
    environment: Environment = request.scope["state"]["environment"]
    return environment


def session_cookie_name(environment: Environment) -> str:
    # `__Host-`: Secure, Path=/ and no Domain, so no sibling host can plant or read it (RFC 6265bis).
    return "__Host-session" if environment is Environment.PRODUCTION else "__Host-sandbox-session"


def session_cookie(environment: Environment, value: str, *, max_age: int) -> Cookie:
    return Cookie(
        key=session_cookie_name(environment),
        value=value,
        path="/",
        secure=True,
        httponly=True,
        samesite="lax",  # sent on the top-level redirect from the partner's app, not on its posts
        max_age=max_age,
    )


def current_session(request: Request[Any, Any, Any], login: CustomerLogin) -> SessionRecord | None:
    return login.session(request.cookies.get(session_cookie_name(environment_of(request))))


def render(
    request: Request[Any, Any, Any],
    name: str,
    *,
    session: SessionRecord | None = None,
    customer: Customer | None = None,
    status: int = 200,
    cookies: list[Cookie] | None = None,
    **context: Any,
) -> Template:
    """A customer page; `customer` is who the header shows as signed in under `session`."""
    environment = environment_of(request)
    base_path = environment.path_prefix
    return Template(
        template_name=name,
        context={
            "static_url": f"{base_path}/static",
            "environment": environment.value,
            "base_path": base_path,
            "customer": customer,
            "csrf_token": session.csrf_token if session else "",
            **context,
        },
        status_code=status,
        headers=SECURITY_HEADERS,
        cookies=cookies or [],
    )


def message(
    request: Request[Any, Any, Any],
    *,
    title: str,
    detail: str,
    status: int,
    session: SessionRecord | None = None,
    customer: Customer | None = None,
    link: dict[str, str] | None = None,
) -> Template:
    return render(
        request,
        "message.html",
        session=session,
        customer=customer,
        status=status,
        title=title,
        detail=detail,
        link=link,
    )


def see_other(location: str, *, cookies: list[Cookie] | None = None) -> Response[Any]:
    """303 after a form post or a redirect to the client (FAPI 2.0 §5.3.2.2: never 307)."""
    return Redirect(location, status_code=303, headers=SECURITY_HEADERS, cookies=cookies or [])


def to_login(request: Request[Any, Any, Any], return_to: str, *, sign_out: bool = False) -> Response[Any]:
    """To the sign-in page and back; `sign_out` first ends the browser's session cookie."""
    environment = environment_of(request)
    cookies = [session_cookie(environment, "", max_age=0)] if sign_out else None
    return see_other(
        f"{environment.path_prefix}/login?return_to={quote(return_to, safe='')}", cookies=cookies
    )


def local_path(value: str | None, environment: Environment) -> str:
    """Only a path on this site is a place to return to after sign-in (no open redirect)."""
    default = f"{environment.path_prefix}/consents"
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


async def checked_form(
    request: Request[Any, Any, Any], issuer: str, session: SessionRecord | None = None
) -> dict[str, list[str]]:
    """A form post from our own pages: same origin (the `issuer`'s), and the session's CSRF token."""
    origin = request.headers.get("origin")
    if origin is not None and origin != _origin(issuer):
        raise ClientException(status_code=403, detail="cross-origin form posts are refused")
    form = await request.form()
    values: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        values.setdefault(key, []).append(str(value))
    if session is not None and not same_token(session.csrf_token, first(values, "csrf_token")):
        raise ClientException(status_code=403, detail="the form's CSRF token is missing or wrong")
    return values


def client_address(request: Request[Any, Any, Any]) -> str:
    """Where a sign-in comes from, for its throttle."""
    return request.client.host if request.client else "unknown"


def first(values: dict[str, list[str]], name: str) -> str | None:
    found = values.get(name)
    return found[0] if found else None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
