"""The supervisor console: compliance officers work the surveillance alert queue and clear account
restrictions in the browser. Production control plane only (`/sandbox/supervisor/...` is not found;
`?environment=sandbox` shows the sandbox's alerts), no script, the customer pages' CSP and headers.

Officers sign in at /supervisor/login with the staff sign-in of gateway.auth.staff: its own cookie,
key and CSRF token, so a customer's session never opens these pages. Every form post passes the
same-origin check and the session's CSRF token; clearing needs the `compliance_officer` role.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Final
from urllib.parse import quote, urlencode, urlsplit

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from gateway.auth.login import LoginRefusedError, same_token
from gateway.auth.secret_files import secret_file
from gateway.auth.staff import (
    SESSION_COOKIE,
    SESSION_LIFETIME,
    OfficerDirectory,
    StaffLogin,
    StaffSession,
    normal_username,
    officers_file,
    session_key_file,
)
from gateway.domain.compliance.alerts import (
    REASON_MAX,
    REASON_MIN,
    Alert,
    AlertAlreadyClearedError,
    AlertNotFoundError,
    AlertQuery,
    AlertStatus,
    InvalidClearanceError,
    RestrictionNotActiveError,
    RestrictionNotFoundError,
    RestrictionQuery,
)
from gateway.domain.environment import Environment
from gateway.domain.market.catalogue import decode_cursor, encode_cursor
from gateway.services import Platform, PlatformDep
from gateway.storage.surveillance import SqlSurveillanceDesk
from gateway.web.pages import PAGE_OPTIONS, SECURITY_HEADERS, checked_form, environment_of, first, see_other

BASE: Final = "/supervisor"
QUEUE: Final = f"{BASE}/alerts"
LOGIN_CSRF_COOKIE: Final = "__Host-staff-login-csrf"
PAGE_SIZE: Final = 50
RESTRICTIONS_SHOWN: Final = 100
NOTICES: Final = {
    "alert-cleared": "Alert cleared. Your name and reason are recorded with it.",
    "restriction-cleared": "Restriction cleared. The account may place orders again.",
}

EnvironmentParam = Annotated[Environment, QueryParameter(name="environment")]
Cursor = Annotated[str, QueryParameter(required=False, max_length=1024, pattern=r"^[A-Za-z0-9_-]{0,1024}$")]


@dataclass(frozen=True, slots=True)
class AlertLine:
    id: str
    at: str
    rule: str
    code: str
    severity: str
    status: str
    customer_id: str
    account_id: str
    instrument_id: str
    message: str

    @classmethod
    def of(cls, alert: Alert) -> AlertLine:
        return cls(
            id=alert.id,
            at=f"{alert.created_at:%Y-%m-%d %H:%M:%S} UTC",
            rule=alert.rule,
            code=alert.code,
            severity=alert.severity.value,
            status=alert.status.value,
            customer_id=alert.customer_id,
            account_id=alert.account_id,
            instrument_id=alert.instrument_id or "all instruments",
            message=alert.message,
        )


def staff_login(platform: Platform) -> StaffLogin:
    """The staff sign-in, built once per app from the platform's files and production services."""
    settings = platform.settings
    return StaffLogin(
        OfficerDirectory(officers_file(settings.var_dir)),
        secret_file(session_key_file(settings.keys_dir)),
        platform.environments[Environment.PRODUCTION].auth_server.revocations,
        platform.clock,
    )


def _login_of(request: Request[Any, Any, Any]) -> StaffLogin:
    state = request.app.state
    login: StaffLogin | None = state.get("staff_login")
    if login is None:
        login = state["staff_login"] = staff_login(state["platform"])
    return login


def _session(request: Request[Any, Any, Any]) -> StaffSession | None:
    return _login_of(request).session(request.cookies.get(SESSION_COOKIE))


def _session_cookie(value: str, *, max_age: int) -> Cookie:
    # `__Host-` and SameSite=Strict: no sibling host sets it, no other site's link or post carries it.
    return Cookie(
        key=SESSION_COOKIE,
        value=value,
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
        max_age=max_age,
    )


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


def _render(
    name: str,
    *,
    session: StaffSession | None,
    status: int = 200,
    cookies: list[Cookie] | None = None,
    **context: Any,
) -> Template:
    return Template(
        template_name=name,
        context={
            "static_url": "/static",
            "officer": session.officer if session else None,
            "can_clear": bool(session and session.officer.can_clear),
            "csrf_token": session.csrf_token if session else "",
            "reason_min": REASON_MIN,
            "reason_max": REASON_MAX,
            **context,
        },
        status_code=status,
        headers=SECURITY_HEADERS,
        cookies=cookies or [],
    )


def _message(title: str, detail: str, *, status: int, session: StaffSession | None = None) -> Template:
    return _render("supervisor_message.html", session=session, status=status, title=title, detail=detail)


def _not_here() -> Template:
    return _message("Not found", "The supervisor console is part of production only.", status=404)


def _to_login(request: Request[Any, Any, Any]) -> Response[Any]:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = QUEUE
    return see_other(f"{BASE}/login?return_to={quote(target, safe='')}")


def _local(value: str | None) -> str:
    """Only a console page is a place to return to after sign-in (no open redirect)."""
    if not value or not value.startswith(BASE + "/") or "//" in value or "\\" in value:
        return QUEUE
    parts = urlsplit(value)
    return QUEUE if parts.scheme or parts.netloc else value


def _queue_url(environment: Environment, **params: str) -> str:
    query = {
        **({"environment": environment.value} if environment is not Environment.PRODUCTION else {}),
        **params,
    }
    return f"{QUEUE}?{urlencode(query)}" if query else QUEUE


def _desk(platform: Platform, environment: Environment) -> SqlSurveillanceDesk:
    return SqlSurveillanceDesk(platform.environments[environment].database)


async def _checked_post(
    request: Request[Any, Any, Any], platform: Platform, session: StaffSession
) -> dict[str, list[str]] | None:
    """The form of a post from our own console page with this session's CSRF token, or None."""
    values = await checked_form(request, platform.environments[Environment.PRODUCTION], None)  # same origin
    return values if same_token(session.csrf_token, first(values, "csrf_token")) else None


async def _clearing_officer(
    request: Request[Any, Any, Any], platform: Platform, what: str
) -> tuple[StaffSession, dict[str, list[str]]] | Response[Any]:
    """The officer and form of a clearing post, or the page that refuses it (wrong environment,
    signed out, a form that fails its checks, or an officer who may only read)."""
    if environment_of(request) is not Environment.PRODUCTION:
        return _not_here()
    session = _session(request)
    if session is None:
        return _to_login(request)
    form = await _checked_post(request, platform, session)
    if form is None:
        return _refused_form(session)
    if not session.officer.can_clear:
        return _message(
            "Not allowed", f"Only a compliance officer clears {what}.", status=403, session=session
        )
    return session, form


def _refused_form(session: StaffSession) -> Template:
    return _message(
        "Please try again",
        "The form expired or did not come from this console. Open the page again.",
        status=403,
        session=session,
    )


# -- sign-in ----------------------------------------------------------------------------------


@get(f"{BASE}/login", **PAGE_OPTIONS)
async def staff_login_page(
    request: Request[Any, Any, Any],
    return_to: Annotated[str | None, QueryParameter(required=False)] = None,
) -> Response[Any]:
    if environment_of(request) is not Environment.PRODUCTION:
        return _not_here()
    target = _local(return_to)
    if _session(request) is not None:
        return see_other(target)
    token = secrets.token_urlsafe(32)
    return _render(
        "supervisor_login.html",
        session=None,
        login_csrf=token,
        return_to=target,
        username="",
        error=None,
        cookies=[_login_csrf_cookie(token)],
    )


@post(f"{BASE}/login", status_code=303, **PAGE_OPTIONS)
async def staff_sign_in(request: Request[Any, Any, Any], platform: PlatformDep) -> Response[Any]:
    if environment_of(request) is not Environment.PRODUCTION:
        return _not_here()
    form = await checked_form(request, platform.environments[Environment.PRODUCTION], None)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not same_token(expected, first(form, "csrf_token")):
        return _message(
            "Please try again", "The sign-in form expired. Open the sign-in page again.", status=403
        )
    username = normal_username(first(form, "username") or "")
    target = _local(first(form, "return_to"))
    address = request.client.host if request.client else "unknown"
    retry: dict[str, Any] = {"login_csrf": expected, "return_to": target, "username": username}
    if not await platform.login_throttle.admit(Environment.PRODUCTION, f"staff:{username}", address):
        return _render(
            "supervisor_login.html",
            session=None,
            status=429,
            error="Too many sign-in attempts. Wait a minute and try again.",
            **retry,
        )
    try:
        officer = _login_of(request).authenticate(username, first(form, "password") or "")
    except LoginRefusedError as exc:
        return _render("supervisor_login.html", session=None, status=401, error=str(exc), **retry)
    value, _session_record = _login_of(request).start_session(officer)
    request.scope["state"]["actor"] = officer.identity
    lifetime = int(SESSION_LIFETIME.total_seconds())
    return see_other(
        target, cookies=[_session_cookie(value, max_age=lifetime), _login_csrf_cookie("", max_age=0)]
    )


@post(f"{BASE}/logout", status_code=303, **PAGE_OPTIONS)
async def staff_sign_out(request: Request[Any, Any, Any], platform: PlatformDep) -> Response[Any]:
    session = _session(request)
    if session is not None:
        if await _checked_post(request, platform, session) is None:
            return _refused_form(session)
        _login_of(request).end_session(session)  # a copy of the cookie dies too
        request.scope["state"]["actor"] = session.officer.identity
    return see_other(f"{BASE}/login", cookies=[_session_cookie("", max_age=0)])


# -- the alert queue --------------------------------------------------------------------------


@get(QUEUE, **PAGE_OPTIONS)
async def alert_queue(
    request: Request[Any, Any, Any],
    platform: PlatformDep,
    environment: EnvironmentParam = Environment.PRODUCTION,
    customer_id: Annotated[str | None, QueryParameter(required=False, max_length=40)] = None,
    cursor: Cursor = "",
    notice: Annotated[str | None, QueryParameter(required=False, max_length=40)] = None,
) -> Response[Any]:
    if environment_of(request) is not Environment.PRODUCTION:
        return _not_here()
    session = _session(request)
    if session is None:
        return _to_login(request)
    return _queue_page(
        platform, session, environment, customer_id or None, cursor=cursor, notice=NOTICES.get(notice or "")
    )


def _queue_page(
    platform: Platform,
    session: StaffSession,
    environment: Environment,
    customer_id: str | None = None,
    *,
    cursor: str = "",
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Template:
    desk = _desk(platform, environment)
    after = decode_cursor(cursor) if cursor else None
    page = desk.list_alerts(
        AlertQuery(status=AlertStatus.OPEN, customer_id=customer_id, after=after, limit=PAGE_SIZE)
    )
    restrictions = desk.restrictions(
        RestrictionQuery(active=True, customer_id=customer_id, limit=RESTRICTIONS_SHOWN)
    ).items
    filters = {"customer_id": customer_id} if customer_id else {}
    return _render(
        "supervisor_alerts.html",
        session=session,
        status=status,
        environment=environment.value,
        environments=[e.value for e in Environment],
        query=_environment_query(environment),
        alerts=[AlertLine.of(alert) for alert in page.items],
        customer_id=customer_id or "",
        next_url=_queue_url(environment, **filters, cursor=encode_cursor(page.next_after))
        if page.next_after
        else None,
        restrictions=[
            {
                "account_id": r.account_id,
                "customer_id": r.customer_id,
                "reason": r.reason,
                "alerts": len(r.alert_ids),
                "at": f"{r.restricted_at:%Y-%m-%d %H:%M:%S} UTC",
            }
            for r in restrictions
        ],
        notice=notice,
        error=error,
    )


def _environment_query(environment: Environment) -> str:
    return "" if environment is Environment.PRODUCTION else f"?environment={environment.value}"


@get(f"{QUEUE}/{{alert_id:str}}", **PAGE_OPTIONS)
async def alert_page(
    request: Request[Any, Any, Any],
    platform: PlatformDep,
    alert_id: FromPath[str],
    environment: EnvironmentParam = Environment.PRODUCTION,
) -> Response[Any]:
    if environment_of(request) is not Environment.PRODUCTION:
        return _not_here()
    session = _session(request)
    if session is None:
        return _to_login(request)
    return _alert_page(platform, session, environment, alert_id)


def _alert_page(
    platform: Platform,
    session: StaffSession,
    environment: Environment,
    alert_id: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> Template:
    try:
        alert = _desk(platform, environment).get_alert(alert_id)
    except AlertNotFoundError:
        return _message(
            "Not found", "There is no such alert in this environment.", status=404, session=session
        )
    clearance = alert.clearance
    return _render(
        "supervisor_alert.html",
        session=session,
        status=status,
        environment=environment.value,
        query=_environment_query(environment),
        alert=AlertLine.of(alert),
        rule_text=alert.rule_text,
        facts=sorted(alert.facts.items()),
        order_ids=list(alert.order_ids),
        clearance=None
        if clearance is None
        else {
            "officer": clearance.officer,
            "reason": clearance.reason,
            "at": f"{clearance.at:%Y-%m-%d %H:%M:%S} UTC",
        },
        error=error,
    )


@post(f"{QUEUE}/{{alert_id:str}}/clear", status_code=303, **PAGE_OPTIONS)
async def clear_alert(
    request: Request[Any, Any, Any],
    platform: PlatformDep,
    alert_id: FromPath[str],
    environment: EnvironmentParam = Environment.PRODUCTION,
) -> Response[Any]:
    cleared_by = await _clearing_officer(request, platform, "alerts")
    if isinstance(cleared_by, Response):
        return cleared_by
    session, form = cleared_by
    try:
        _desk(platform, environment).clear_alert(
            alert_id,
            officer=session.officer.identity,
            reason=first(form, "reason") or "",
            now=platform.clock.now(),
        )
    except AlertNotFoundError:
        return _message(
            "Not found", "There is no such alert in this environment.", status=404, session=session
        )
    except InvalidClearanceError as exc:
        return _alert_page(platform, session, environment, alert_id, error=exc.detail, status=422)
    except AlertAlreadyClearedError as exc:
        return _alert_page(platform, session, environment, alert_id, error=exc.detail, status=409)
    request.scope["state"]["actor"] = session.officer.identity
    request.scope["state"]["object_id"] = alert_id
    return see_other(_queue_url(environment, notice="alert-cleared"))


@post(f"{BASE}/restrictions/{{account_id:str}}/clear", status_code=303, **PAGE_OPTIONS)
async def clear_restriction(
    request: Request[Any, Any, Any],
    platform: PlatformDep,
    account_id: FromPath[str],
    environment: EnvironmentParam = Environment.PRODUCTION,
) -> Response[Any]:
    cleared_by = await _clearing_officer(request, platform, "restrictions")
    if isinstance(cleared_by, Response):
        return cleared_by
    session, form = cleared_by
    try:
        _desk(platform, environment).clear_restriction(
            account_id,
            officer=session.officer.identity,
            reason=first(form, "reason") or "",
            now=platform.clock.now(),
        )
    except RestrictionNotFoundError as exc:
        return _queue_page(platform, session, environment, error=exc.detail, status=404)
    except InvalidClearanceError as exc:
        return _queue_page(platform, session, environment, error=exc.detail, status=422)
    except RestrictionNotActiveError as exc:
        return _queue_page(platform, session, environment, error=exc.detail, status=409)
    request.scope["state"]["actor"] = session.officer.identity
    request.scope["state"]["object_id"] = account_id
    return see_other(_queue_url(environment, notice="restriction-cleared"))


ROUTES: Final = [
    staff_login_page,
    staff_sign_in,
    staff_sign_out,
    alert_queue,
    alert_page,
    clear_alert,
    clear_restriction,
]
