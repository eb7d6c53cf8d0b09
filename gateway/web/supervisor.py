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
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from gateway.auth.login import LoginRefusedError
from gateway.auth.staff import SESSION_COOKIE, SESSION_LIFETIME, StaffLogin, StaffSession, normal_username
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
from gateway.domain.compliance.service import SurveillanceService
from gateway.domain.environment import Environment
from gateway.domain.paging import decode_cursor, encode_cursor
from gateway.edge.rate_limits import LoginThrottle
from gateway.services import services_in
from gateway.web.console import Console, DetourError, strict_cookie
from gateway.web.pages import SECURITY_HEADERS, client_address, first, see_other

BASE: Final = "/supervisor"
QUEUE: Final = f"{BASE}/alerts"
LOGIN_CSRF_COOKIE: Final = "__Host-staff-login-csrf"
LOGIN_FORM_LIFETIME: Final = 1800  # seconds a sign-in form stays good
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


def _chrome(session: StaffSession | None) -> dict[str, Any]:
    return {
        "officer": session.officer if session else None,
        "can_clear": bool(session and session.officer.can_clear),
        "csrf_token": session.csrf_token if session else "",
        "reason_min": REASON_MIN,
        "reason_max": REASON_MAX,
    }


STAFF: Final[Console[StaffSession]] = Console(
    base=BASE,
    home=QUEUE,
    cookie=SESSION_COOKIE,
    headers=SECURITY_HEADERS,
    message_template="supervisor_message.html",
    not_here="The supervisor console is part of production only.",
    refused="The form expired or did not come from this console. Open the page again.",
    chrome=_chrome,
    keeps_query=True,
)
OPTIONS: Final = STAFF.options


async def acting_officer(
    request: Request[Any, Any, Any], staff: StaffLogin, issuer: str, what: str
) -> tuple[StaffSession, dict[str, list[str]]]:
    """The officer and form of a post that changes something: a compliance officer's, since a
    supervisor (the regulator) only reads; `what` the officer does, for the refusal."""
    session, form = await STAFF.signed_in_form(request, staff, issuer)
    if not session.officer.can_clear:
        raise DetourError(
            STAFF.message("Not allowed", f"Only a compliance officer {what}.", status=403, session=session)
        )
    return session, form


def _queue_url(environment: Environment, **params: str) -> str:
    query = {
        **({"environment": environment.value} if environment is not Environment.PRODUCTION else {}),
        **params,
    }
    return f"{QUEUE}?{urlencode(query)}" if query else QUEUE


def _desk(request: Request[Any, Any, Any], environment: Environment) -> SurveillanceService:
    return services_in(request, environment).surveillance


def _login_csrf_cookie(value: str, *, max_age: int = LOGIN_FORM_LIFETIME) -> Cookie:
    return strict_cookie(LOGIN_CSRF_COOKIE, value, max_age=max_age)


# -- sign-in ----------------------------------------------------------------------------------


@get(f"{BASE}/login", **OPTIONS)
async def staff_login_page(
    request: Request[Any, Any, Any],
    staff: NamedDependency[StaffLogin],
    return_to: Annotated[str | None, QueryParameter(required=False)] = None,
) -> Response[Any]:
    STAFF.in_production(request)
    target = STAFF.local(return_to)
    if STAFF.session(request, staff) is not None:
        return see_other(target)
    token = secrets.token_urlsafe(32)
    return STAFF.render(
        "supervisor_login.html",
        session=None,
        login_csrf=token,
        return_to=target,
        username="",
        error=None,
        cookies=[_login_csrf_cookie(token)],
    )


@post(f"{BASE}/login", status_code=303, **OPTIONS)
async def staff_sign_in(
    request: Request[Any, Any, Any],
    staff: NamedDependency[StaffLogin],
    login_throttle: NamedDependency[LoginThrottle],
    issuer: NamedDependency[str],
) -> Response[Any]:
    STAFF.in_production(request)
    form = await STAFF.anonymous_form(
        request, issuer, LOGIN_CSRF_COOKIE, refused="The sign-in form expired. Open the sign-in page again."
    )
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    username = normal_username(first(form, "username") or "")
    target = STAFF.local(first(form, "return_to"))
    retry: dict[str, Any] = {"login_csrf": expected, "return_to": target, "username": username}
    if not await login_throttle.admit(Environment.PRODUCTION, f"staff:{username}", client_address(request)):
        return STAFF.render(
            "supervisor_login.html",
            session=None,
            status=429,
            error="Too many sign-in attempts. Wait a minute and try again.",
            **retry,
        )
    try:
        officer = staff.authenticate(username, first(form, "password") or "")
    except LoginRefusedError as exc:
        return STAFF.render("supervisor_login.html", session=None, status=401, error=str(exc), **retry)
    value, _session_record = staff.start_session(officer)
    request.scope["state"]["actor"] = officer.identity
    lifetime = int(SESSION_LIFETIME.total_seconds())
    return see_other(
        target,
        cookies=[strict_cookie(SESSION_COOKIE, value, max_age=lifetime), _login_csrf_cookie("", max_age=0)],
    )


@post(f"{BASE}/logout", status_code=303, **OPTIONS)
async def staff_sign_out(
    request: Request[Any, Any, Any], staff: NamedDependency[StaffLogin], issuer: NamedDependency[str]
) -> Response[Any]:
    session = staff.session(request.cookies.get(SESSION_COOKIE))  # in either environment
    if session is not None:
        await STAFF.form(request, issuer, session)
        staff.end_session(session)  # a copy of the cookie dies too
        request.scope["state"]["actor"] = session.officer.identity
    return see_other(f"{BASE}/login", cookies=[strict_cookie(SESSION_COOKIE, "", max_age=0)])


# -- the alert queue --------------------------------------------------------------------------


@get(QUEUE, **OPTIONS)
async def alert_queue(
    request: Request[Any, Any, Any],
    staff: NamedDependency[StaffLogin],
    environment: EnvironmentParam = Environment.PRODUCTION,
    customer_id: Annotated[str | None, QueryParameter(required=False, max_length=40)] = None,
    cursor: Cursor = "",
    notice: Annotated[str | None, QueryParameter(required=False, max_length=40)] = None,
) -> Response[Any]:
    session = STAFF.signed_in(request, staff)
    desk = _desk(request, environment)
    return _queue_page(
        desk, session, environment, customer_id or None, cursor=cursor, notice=NOTICES.get(notice or "")
    )


def _queue_page(
    desk: SurveillanceService,
    session: StaffSession,
    environment: Environment,
    customer_id: str | None = None,
    *,
    cursor: str = "",
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Template:
    after = decode_cursor(cursor) if cursor else None
    page = desk.list_alerts(
        AlertQuery(status=AlertStatus.OPEN, customer_id=customer_id, after=after, limit=PAGE_SIZE)
    )
    restrictions = desk.restrictions(
        RestrictionQuery(active=True, customer_id=customer_id, limit=RESTRICTIONS_SHOWN)
    ).items
    filters = {"customer_id": customer_id} if customer_id else {}
    return STAFF.render(
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


@get(f"{QUEUE}/{{alert_id:str}}", **OPTIONS)
async def alert_page(
    request: Request[Any, Any, Any],
    staff: NamedDependency[StaffLogin],
    alert_id: FromPath[str],
    environment: EnvironmentParam = Environment.PRODUCTION,
) -> Response[Any]:
    session = STAFF.signed_in(request, staff)
    return _alert_page(_desk(request, environment), session, environment, alert_id)


def _no_such_alert(session: StaffSession) -> Template:
    return STAFF.message(
        "Not found", "There is no such alert in this environment.", status=404, session=session
    )


def _alert_page(
    desk: SurveillanceService,
    session: StaffSession,
    environment: Environment,
    alert_id: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> Template:
    try:
        alert = desk.get_alert(alert_id)
    except AlertNotFoundError:
        return _no_such_alert(session)
    clearance = alert.clearance
    return STAFF.render(
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


@post(f"{QUEUE}/{{alert_id:str}}/clear", status_code=303, **OPTIONS)
async def clear_alert(
    request: Request[Any, Any, Any],
    staff: NamedDependency[StaffLogin],
    issuer: NamedDependency[str],
    alert_id: FromPath[str],
    environment: EnvironmentParam = Environment.PRODUCTION,
) -> Response[Any]:
    session, form = await acting_officer(request, staff, issuer, "clears alerts")
    desk = _desk(request, environment)
    try:
        desk.clear_alert(
            alert_id,
            officer=session.officer.identity,
            reason=first(form, "reason") or "",
        )
    except AlertNotFoundError:
        return _no_such_alert(session)
    except InvalidClearanceError as exc:
        return _alert_page(desk, session, environment, alert_id, error=exc.detail, status=422)
    except AlertAlreadyClearedError as exc:
        return _alert_page(desk, session, environment, alert_id, error=exc.detail, status=409)
    request.scope["state"]["actor"] = session.officer.identity
    request.scope["state"]["object_id"] = alert_id
    return see_other(_queue_url(environment, notice="alert-cleared"))


@post(f"{BASE}/restrictions/{{account_id:str}}/clear", status_code=303, **OPTIONS)
async def clear_restriction(
    request: Request[Any, Any, Any],
    staff: NamedDependency[StaffLogin],
    issuer: NamedDependency[str],
    account_id: FromPath[str],
    environment: EnvironmentParam = Environment.PRODUCTION,
) -> Response[Any]:
    session, form = await acting_officer(request, staff, issuer, "clears restrictions")
    desk = _desk(request, environment)
    try:
        desk.clear_restriction(
            account_id,
            officer=session.officer.identity,
            reason=first(form, "reason") or "",
        )
    except RestrictionNotFoundError as exc:
        return _queue_page(desk, session, environment, error=exc.detail, status=404)
    except InvalidClearanceError as exc:
        return _queue_page(desk, session, environment, error=exc.detail, status=422)
    except RestrictionNotActiveError as exc:
        return _queue_page(desk, session, environment, error=exc.detail, status=409)
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
