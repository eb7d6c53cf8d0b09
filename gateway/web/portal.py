"""The developer portal: self-service sign-up, sandbox apps, a quickstart, usage and webhooks.

Server-rendered pages in production's control plane only (`/sandbox/portal/...` is not found): the
registry lives in the production database, and the apps a developer creates are sandbox apps.
Developers sign in with gateway.auth.developers (own cookie, key and CSRF token). Every form post
passes the same-origin check and a CSRF token: the session's, or a double-submit cookie on the
sign-in and sign-up forms that run before there is a session.

Rules where the issue is silent (pinned by tests/web/test_portal.py):
- Apps: sandbox only, at most `MAX_APPS` per developer, named 2 to 100 characters, scopes from the
  developer partner's own scopes (partners.models.ALLOWED_SCOPES), at least one. Production apps
  are never offered here: the partner lifecycle decides (the page shows the stage and the way to
  review).
- Keys: the form takes one public JWK or a JWK Set (at most `MAX_JWK_CHARS` characters of JSON). A
  key without `kid` gets its RFC 7638 thumbprint as kid; the registry then validates the set
  (public members only, unique kids, EC P-256, Ed25519 or RSA >= 2048). With "generate in my
  browser" (static/portal.js) the browser makes an ECDSA P-256 pair with WebCrypto, posts only the
  public JWK, and offers the private JWK once as a download; the server never sees it.
- A developer sees only their own partner's apps: anyone else's client id is "not found" (404),
  exactly like an unknown one.
- Usage: the chart shows the last `USAGE_DAYS` days (7 to 90 with ?days=) up to the clock's today
  (UTC). The page flushes this worker's usage buffer before it reads, so a developer's own recent
  calls show at once with one worker; with several workers the other workers' counts follow within
  their flush interval.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import Annotated, Any, Final, Protocol
from urllib.parse import quote, urlsplit

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from gateway.auth.developers import (
    PASSWORD_MIN,
    SESSION_COOKIE,
    SESSION_LIFETIME,
    Developer,
    DeveloperAccounts,
    PortalSession,
    SignUpRefusedError,
    normal_email,
)
from gateway.auth.dpop import thumbprint
from gateway.auth.login import LoginRefusedError, same_token
from gateway.auth.secret_files import secret_file
from gateway.domain.environment import Environment
from gateway.domain.errors import ConflictError, DomainError
from gateway.edge.access import public
from gateway.services import Platform, PlatformDep
from gateway.storage.developers import SqlDeveloperStore
from gateway.web.pages import SECURITY_HEADERS, checked_form, environment_of, first, see_other
from gateway.web.portal_chart import usage_chart
from partners.models import ALLOWED_SCOPES, SANDBOX_ONLY, App, Client, PartnerType, Plan
from partners.service import PRIVATE_JWK_MEMBERS

BASE: Final = "/portal"
APPS: Final = f"{BASE}/apps"
FORM_CSRF_COOKIE: Final = "__Host-portal-form-csrf"
MAX_APPS: Final = 10
MAX_JWK_CHARS: Final = 16_384
APP_NAME_MIN: Final = 2
APP_NAME_MAX: Final = 100
USAGE_DAYS: Final = 14
DELIVERIES_SHOWN: Final = 50
DEVELOPER_SCOPES: Final = tuple(sorted(scope.value for scope in ALLOWED_SCOPES[PartnerType.DEVELOPER]))
# The portal runs one script of its own (static/portal.js, WebCrypto); nothing else changes.
PORTAL_HEADERS: Final = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}
PORTAL_OPTIONS: Final[dict[str, Any]] = {"include_in_schema": False, **public()}
# What the quickstart calls first, by scope: read-only catalogue operations a fresh app may call
# (scope, SDK method, operation id).
FIRST_CALLS: Final = (
    ("funds:read", "market.list_funds", "listFunds"),
    ("market:read", "market.list_instruments", "listInstruments"),
)
# The JWS algorithm the token endpoint accepts for each key type (gateway.auth.client_auth).
ASSERTION_ALG: Final = {"EC": "ES256", "OKP": "EdDSA", "RSA": "PS256"}
REGION_NAMES: Final = {
    "CN": "Mainland China",
    "HK": "Hong Kong",
    "SG": "Singapore",
    "EU": "European Union",
    "GB": "United Kingdom",
    "US": "United States",
}
NOTICES: Final = {
    "welcome": "Welcome! Your organisation has a sandbox. Create your first app below.",
    "created": "App created. Keep your private key safe: it is the only way to get tokens for this app.",
    "review-requested": "Review requested. The partner team will contact you by e-mail.",
}


class UsageLine(Protocol):
    """`partners.usage.UsageCount`, as far as the usage page reads it."""

    @property
    def day(self) -> date: ...
    @property
    def api_version(self) -> str: ...
    @property
    def operation(self) -> str: ...
    @property
    def requests(self) -> int: ...
    @property
    def throttled(self) -> int: ...
    @property
    def errors(self) -> int: ...


class UsageSource(Protocol):
    """The environment's usage meter (gateway.edge.metering.UsageMeter), as the portal reads it."""

    def daily(self, client_id: str, since: date, until: date) -> Sequence[UsageLine]: ...
    def flush(self) -> None: ...


class WebhookSource(Protocol):
    """The environment's webhook service (partners.webhooks.service), as the portal reads it."""

    def subscriptions(self, client_id: str) -> Sequence[Any]: ...
    def deliveries(self, client_id: str, *, limit: int = 50) -> Sequence[Any]: ...


@dataclass(frozen=True, slots=True)
class AppForm:
    name: str = ""
    scopes: tuple[str, ...] = ()
    jwk: str = ""
    key_source: str = "browser"


class AppFormError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# -- accounts and sessions ---------------------------------------------------------------------


def developer_accounts(platform: Platform) -> DeveloperAccounts:
    """The portal's accounts, built once per app from the platform's files and production services."""
    production = platform.environments[Environment.PRODUCTION]
    return DeveloperAccounts(
        SqlDeveloperStore(production.database),
        platform.registry,
        secret_file(platform.settings.keys_dir / "production" / "portal-sessions.key"),
        production.auth_server.revocations,
        platform.clock,
    )


def _accounts(request: Request[Any, Any, Any]) -> DeveloperAccounts:
    state = request.app.state
    accounts: DeveloperAccounts | None = state.get("developer_accounts")
    if accounts is None:
        accounts = state["developer_accounts"] = developer_accounts(state["platform"])
    return accounts


def _session(request: Request[Any, Any, Any]) -> PortalSession | None:
    return _accounts(request).session(request.cookies.get(SESSION_COOKIE))


def _cookie(key: str, value: str, *, max_age: int) -> Cookie:
    # `__Host-` and SameSite=Strict: no sibling host sets it, no other site's link or post carries it.
    return Cookie(
        key=key, value=value, path="/", secure=True, httponly=True, samesite="strict", max_age=max_age
    )


def _signed_in(accounts: DeveloperAccounts, developer: Developer) -> list[Cookie]:
    value, _session_record = accounts.start_session(developer)
    return [
        _cookie(SESSION_COOKIE, value, max_age=int(SESSION_LIFETIME.total_seconds())),
        _cookie(FORM_CSRF_COOKIE, "", max_age=0),
    ]


# -- rendering ----------------------------------------------------------------------------------


def _render(
    name: str,
    *,
    session: PortalSession | None,
    status: int = 200,
    cookies: list[Cookie] | None = None,
    **context: Any,
) -> Template:
    return Template(
        template_name=name,
        context={
            "static_url": "/static",
            "developer": session.developer if session else None,
            "csrf_token": session.csrf_token if session else "",
            **context,
        },
        status_code=status,
        headers=PORTAL_HEADERS,
        cookies=cookies or [],
    )


def _message(title: str, detail: str, *, status: int, session: PortalSession | None = None) -> Template:
    return _render("portal_message.html", session=session, status=status, title=title, detail=detail)


def _not_here() -> Template:
    return _message(
        "Not found", "The developer portal is served at /portal, outside the sandbox.", status=404
    )


def _no_such_app(session: PortalSession) -> Template:
    return _message("Not found", "You have no app with this client id.", status=404, session=session)


def _refused_form(session: PortalSession | None) -> Template:
    return _message(
        "Please try again",
        "The form expired or did not come from the portal. Open the page again.",
        status=403,
        session=session,
    )


def _to_login(request: Request[Any, Any, Any]) -> Response[Any]:
    target = request.url.path if request.method == "GET" else APPS
    return see_other(f"{BASE}/login?return_to={quote(target, safe='')}")


def _local(value: str | None) -> str:
    """Only a portal page is a place to return to after sign-in (no open redirect)."""
    if not value or not value.startswith(BASE + "/") or "//" in value or "\\" in value:
        return APPS
    parts = urlsplit(value)
    return APPS if parts.scheme or parts.netloc or parts.query else value


async def _session_form(
    request: Request[Any, Any, Any], platform: Platform, session: PortalSession
) -> dict[str, list[str]] | None:
    """The form of a post from a portal page with this session's CSRF token, or None."""
    values = await checked_form(request, platform.environments[Environment.PRODUCTION], None)
    return values if same_token(session.csrf_token, first(values, "csrf_token")) else None


async def _anonymous_form(request: Request[Any, Any, Any], platform: Platform) -> dict[str, list[str]] | None:
    """A sign-in or sign-up post: same origin and the double-submit cookie's token, or None."""
    values = await checked_form(request, platform.environments[Environment.PRODUCTION], None)
    expected = request.cookies.get(FORM_CSRF_COOKIE, "")
    return values if same_token(expected, first(values, "csrf_token")) else None


def _address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


# -- sign-up, sign-in, sign-out -----------------------------------------------------------------


@get(BASE, **PORTAL_OPTIONS)
async def portal_home(request: Request[Any, Any, Any]) -> Response[Any]:
    if environment_of(request) is not Environment.PRODUCTION:
        return _not_here()
    return see_other(APPS if _session(request) is not None else f"{BASE}/login")


def _signup_page(
    token: str, *, status: int = 200, error: SignUpRefusedError | None = None, **form: str
) -> Template:
    return _render(
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
        cookies=[_cookie(FORM_CSRF_COOKIE, token, max_age=1800)] if status == 200 else None,
    )


@get(f"{BASE}/signup", **PORTAL_OPTIONS)
async def signup_page(request: Request[Any, Any, Any]) -> Response[Any]:
    if environment_of(request) is not Environment.PRODUCTION:
        return _not_here()
    if _session(request) is not None:
        return see_other(APPS)
    return _signup_page(secrets.token_urlsafe(32))


@post(f"{BASE}/signup", status_code=303, **PORTAL_OPTIONS)
async def sign_up(request: Request[Any, Any, Any], platform: PlatformDep) -> Response[Any]:
    if environment_of(request) is not Environment.PRODUCTION:
        return _not_here()
    form = await _anonymous_form(request, platform)
    if form is None:
        return _refused_form(None)
    token = request.cookies.get(FORM_CSRF_COOKIE, "")
    entered = {
        "email": normal_email(first(form, "email") or "")[:300],
        "organisation": (first(form, "organisation") or "").strip()[:300],
        "region": first(form, "region") or "",
    }
    key = f"portal-signup:{entered['email']}"
    if not await platform.login_throttle.admit(Environment.PRODUCTION, key, _address(request)):
        refusal = SignUpRefusedError("email", "Too many attempts. Wait a minute and try again.", status=429)
        return _signup_page(token, status=refusal.status, error=refusal, **entered)
    if entered["region"] not in REGION_NAMES:
        return _signup_page(
            token, status=422, error=SignUpRefusedError("region", "Choose your region."), **entered
        )
    accounts = _accounts(request)
    try:
        developer = accounts.sign_up(
            email=entered["email"],
            organisation=entered["organisation"],
            region=entered["region"],
            password=first(form, "password") or "",
        )
    except SignUpRefusedError as exc:
        return _signup_page(token, status=exc.status, error=exc, **entered)
    except DomainError as exc:  # the registry's rules: organisation name length, a taken name
        field = str(exc.context.get("field", "organisation"))
        refusal = SignUpRefusedError("organisation" if field == "name" else field, _sentence(exc))
        return _signup_page(
            token, status=409 if isinstance(exc, ConflictError) else 422, error=refusal, **entered
        )
    request.scope["state"]["actor"] = f"developer:{developer.id}"
    return see_other(f"{APPS}?notice=welcome", cookies=_signed_in(accounts, developer))


def _sentence(exc: DomainError) -> str:
    """A registry refusal as a sentence for the form."""
    text = exc.detail.replace("name must be", "The organisation name must be").replace(
        "a partner with this name exists already", "An organisation with this name is registered already"
    )
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _login_page(
    token: str, *, return_to: str, email: str = "", error: str | None = None, status: int = 200
) -> Template:
    return _render(
        "portal_login.html",
        session=None,
        status=status,
        form_csrf=token,
        return_to=return_to,
        email=email,
        error=error,
        cookies=[_cookie(FORM_CSRF_COOKIE, token, max_age=1800)] if status == 200 else None,
    )


@get(f"{BASE}/login", **PORTAL_OPTIONS)
async def portal_login_page(
    request: Request[Any, Any, Any],
    return_to: Annotated[str | None, QueryParameter(required=False, max_length=300)] = None,
) -> Response[Any]:
    if environment_of(request) is not Environment.PRODUCTION:
        return _not_here()
    target = _local(return_to)
    if _session(request) is not None:
        return see_other(target)
    return _login_page(secrets.token_urlsafe(32), return_to=target)


@post(f"{BASE}/login", status_code=303, **PORTAL_OPTIONS)
async def portal_sign_in(request: Request[Any, Any, Any], platform: PlatformDep) -> Response[Any]:
    if environment_of(request) is not Environment.PRODUCTION:
        return _not_here()
    form = await _anonymous_form(request, platform)
    if form is None:
        return _refused_form(None)
    token = request.cookies.get(FORM_CSRF_COOKIE, "")
    email = normal_email(first(form, "email") or "")[:300]
    target = _local(first(form, "return_to"))
    if not await platform.login_throttle.admit(Environment.PRODUCTION, f"portal:{email}", _address(request)):
        return _login_page(
            token,
            return_to=target,
            email=email,
            status=429,
            error="Too many sign-in attempts. Wait a minute and try again.",
        )
    accounts = _accounts(request)
    try:
        developer = accounts.authenticate(email, first(form, "password") or "")
    except LoginRefusedError as exc:
        return _login_page(token, return_to=target, email=email, status=401, error=str(exc))
    request.scope["state"]["actor"] = f"developer:{developer.id}"
    return see_other(target, cookies=_signed_in(accounts, developer))


@post(f"{BASE}/logout", status_code=303, **PORTAL_OPTIONS)
async def portal_sign_out(request: Request[Any, Any, Any], platform: PlatformDep) -> Response[Any]:
    if environment_of(request) is not Environment.PRODUCTION:
        return _not_here()
    session = _session(request)
    if session is not None:
        if await _session_form(request, platform, session) is None:
            return _refused_form(session)
        _accounts(request).end_session(session)  # a copy of the cookie dies too
        request.scope["state"]["actor"] = f"developer:{session.developer.id}"
    return see_other(f"{BASE}/login", cookies=[_cookie(SESSION_COOKIE, "", max_age=0)])


# -- apps ---------------------------------------------------------------------------------------


def _partner_view(platform: Platform, session: PortalSession) -> dict[str, Any]:
    partner = platform.registry.partner(session.developer.partner_id)
    return {
        "id": partner.id,
        "name": partner.name,
        "region": partner.region,
        "status": partner.status.value,
        "stage": partner.stage.value,
        "sandbox_only": partner.type in SANDBOX_ONLY,
    }


@get(APPS, **PORTAL_OPTIONS)
async def app_list(
    request: Request[Any, Any, Any],
    platform: PlatformDep,
    notice: Annotated[str | None, QueryParameter(required=False, max_length=40)] = None,
) -> Response[Any]:
    if environment_of(request) is not Environment.PRODUCTION:
        return _not_here()
    session = _session(request)
    if session is None:
        return _to_login(request)
    return _apps_page(platform, session, notice=NOTICES.get(notice or ""))


def _apps_page(
    platform: Platform,
    session: PortalSession,
    *,
    notice: str | None = None,
    error: str | None = None,
    reason: str = "",
    status: int = 200,
) -> Template:
    apps = platform.registry.store.list_apps(session.developer.partner_id)
    return _render(
        "portal_apps.html",
        session=session,
        status=status,
        partner=_partner_view(platform, session),
        apps=[_app_summary(app) for app in apps],
        can_create=len(apps) < MAX_APPS,
        max_apps=MAX_APPS,
        notice=notice,
        error=error,
        reason=reason,
    )


@post(f"{BASE}/review-request", status_code=303, **PORTAL_OPTIONS)
async def request_review(request: Request[Any, Any, Any], platform: PlatformDep) -> Response[Any]:
    """The partner's one own lifecycle move (partners/lifecycle.py): from the sandbox into review."""
    if environment_of(request) is not Environment.PRODUCTION:
        return _not_here()
    session = _session(request)
    if session is None:
        return _to_login(request)
    values = await _session_form(request, platform, session)
    if values is None:
        return _refused_form(session)
    reason = (first(values, "reason") or "").strip()[:600]
    try:
        partner = platform.registry.lifecycle.request_review(
            session.developer.partner_id, actor=f"developer:{session.developer.id}", reason=reason
        )
    except DomainError as exc:  # no reason, or not in the sandbox stage
        status = 409 if isinstance(exc, ConflictError) else 422
        return _apps_page(platform, session, error=_sentence(exc), reason=reason, status=status)
    for app in platform.registry.store.list_apps(partner.id):
        platform.clients.forget(app.client_id)  # the stage travels with the cached client
    request.scope["state"]["actor"] = f"developer:{session.developer.id}"
    request.scope["state"]["object_id"] = partner.id
    return see_other(f"{APPS}?notice=review-requested")


def _app_summary(app: App) -> dict[str, Any]:
    return {
        "client_id": app.client_id,
        "name": app.name,
        "environment": app.environment.value,
        "status": app.status.value,
        "scopes": sorted(app.scopes),
        "created": f"{app.created_at:%Y-%m-%d %H:%M} UTC",
    }


def _new_app_page(
    session: PortalSession, form: AppForm, *, error: AppFormError | None = None, status: int = 200
) -> Template:
    return _render(
        "portal_app_new.html",
        session=session,
        status=status,
        form=form,
        scopes=DEVELOPER_SCOPES,
        error=str(error) if error else None,
        error_field=error.field if error else None,
        name_max=APP_NAME_MAX,
    )


@get(f"{APPS}/new", **PORTAL_OPTIONS)
async def new_app_page(request: Request[Any, Any, Any]) -> Response[Any]:
    if environment_of(request) is not Environment.PRODUCTION:
        return _not_here()
    session = _session(request)
    if session is None:
        return _to_login(request)
    return _new_app_page(session, AppForm(scopes=("funds:read", "market:read")))


@post(APPS, status_code=303, **PORTAL_OPTIONS)
async def create_app(request: Request[Any, Any, Any], platform: PlatformDep) -> Response[Any]:
    if environment_of(request) is not Environment.PRODUCTION:
        return _not_here()
    session = _session(request)
    if session is None:
        return _to_login(request)
    values = await _session_form(request, platform, session)
    if values is None:
        return _refused_form(session)
    form = AppForm(
        name=(first(values, "name") or "").strip()[: APP_NAME_MAX + 50],
        scopes=tuple(dict.fromkeys(values.get("scopes", []))),
        jwk=(first(values, "jwk") or "")[: MAX_JWK_CHARS + 1],
        key_source="upload" if first(values, "key_source") == "upload" else "browser",
    )
    try:
        jwks = _checked_app_form(form)
        if len(platform.registry.store.list_apps(session.developer.partner_id)) >= MAX_APPS:
            raise AppFormError("name", f"You have {MAX_APPS} apps already, the most a developer may hold.")
        app = platform.registry.create_app(
            partner_id=session.developer.partner_id,
            name=form.name,
            environment=Environment.SANDBOX,
            jwks=jwks,
            scopes=form.scopes,
        )
    except AppFormError as exc:
        return _new_app_page(session, form, error=exc, status=422)
    except DomainError as exc:  # the registry's rules (keys, scopes, stage), naming the field
        field = str(exc.context.get("field", "jwk")).split(".", 1)[0]
        error = AppFormError("jwk" if field == "jwks" else field, _sentence(exc))
        return _new_app_page(session, form, error=error, status=422)
    request.scope["state"]["actor"] = f"developer:{session.developer.id}"
    request.scope["state"]["object_id"] = app.client_id
    return see_other(f"{APPS}/{app.client_id}?notice=created")


def _checked_app_form(form: AppForm) -> dict[str, Any]:
    """The JWK Set the form describes, after the portal's own rules (module docstring)."""
    if not APP_NAME_MIN <= len(form.name) <= APP_NAME_MAX:
        raise AppFormError("name", f"Name the app with {APP_NAME_MIN} to {APP_NAME_MAX} characters.")
    if not form.scopes:
        raise AppFormError("scopes", "Choose at least one scope.")
    unknown = sorted(set(form.scopes) - set(DEVELOPER_SCOPES))
    if unknown:
        raise AppFormError("scopes", f"A developer app may not hold {', '.join(unknown)}.")
    return parse_jwks(form.jwk)


def parse_jwks(text: str) -> dict[str, Any]:
    """One public JWK or a JWK Set from the form; a key without `kid` gets its RFC 7638 thumbprint."""
    if not text.strip():
        raise AppFormError("jwk", "Generate a key in your browser or paste your public JWK.")
    if len(text) > MAX_JWK_CHARS:
        raise AppFormError("jwk", f"The key is longer than {MAX_JWK_CHARS} characters.")
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise AppFormError("jwk", "The key is not valid JSON.") from exc
    if not isinstance(document, dict):
        raise AppFormError("jwk", "The key must be a JSON object: a JWK or a JWK Set.")
    keys = document.get("keys") if "keys" in document else [document]
    if not isinstance(keys, list) or not keys:
        raise AppFormError("jwk", "A JWK Set needs at least one key.")
    named: list[Any] = []
    for key in keys:
        if isinstance(key, dict) and PRIVATE_JWK_MEMBERS & key.keys():
            raise AppFormError(
                "jwk", "This is a private key. Paste only the public key: never send the private one."
            )
        if isinstance(key, dict) and "kid" not in key:
            try:
                key = {**key, "kid": thumbprint(key)}
            except ValueError as exc:
                raise AppFormError("jwk", f"The key could not be read: {exc}.") from exc
        named.append(key)
    return {"keys": named}


# -- one app: overview and quickstart, usage, webhooks -------------------------------------------


def _owned(platform: Platform, session: PortalSession, client_id: str) -> Client | None:
    """The developer's own app, or None for an unknown one and for anyone else's (no leak)."""
    if len(client_id) > 64:
        return None
    client = platform.registry.store.get_client(client_id)
    if client is None or client.app.partner_id != session.developer.partner_id:
        return None
    return client


def _plan_limits(plan: Plan) -> list[tuple[str, str]]:
    """Every limit the plan carries: its request rates and whatever business quotas it has."""
    limits = [("requests", ", ".join(plan.rate_limits))]
    for item in fields(plan):
        if item.name in {"id", "name", "description", "rate_limits"}:
            continue
        value = getattr(plan, item.name)
        if value is not None:
            limits.append((item.name.replace("_", " "), str(value)))
    return limits


def _keys(app: App) -> list[dict[str, str]]:
    return [
        {
            "kid": str(key.get("kid", "")),
            "kty": str(key.get("kty", "")),
            "crv": str(key.get("crv", "")),
            "alg": ASSERTION_ALG.get(str(key.get("kty")), "ES256"),
        }
        for key in app.jwks.get("keys", [])
    ]


def quickstart(app: App, base_url: str) -> str:
    """Copy-paste Python on the SDK: the client from the downloaded key, then a first sandbox call."""
    key = _keys(app)[0]
    call = next(((scope, method, op) for scope, method, op in FIRST_CALLS if scope in app.scopes), None)
    scope = call[0] if call else sorted(app.scopes)[0]
    lines = [
        "# pip install ./sdk  (the Python SDK, package `openplatform`, in the gateway's repository)",
        "from pathlib import Path",
        "",
        f"from openplatform import Client{', to_json' if call else ''}",
        "",
        "client = Client(",
        f"    {json.dumps(app.client_id)}, Path({json.dumps(key['kid'] + '.private.jwk.json')}),",
        f"    base_url={json.dumps(base_url)}, scopes=[{json.dumps(scope)}],",
        ")",
    ]
    if call is None:
        lines += ["print(client.access_token())  # no catalogue call in your scopes: see the API reference"]
    else:
        _, method, operation = call
        lines += [
            f"answer = client.{method}(limit=5).first_page()  # {operation}",
            "print(to_json(answer))",
        ]
    return "\n".join(lines) + "\n"


def _app_context(platform: Platform, client: Client, tab: str) -> dict[str, Any]:
    app = client.app
    issuer = platform.settings.issuer(app.environment)
    return {
        "app": _app_summary(app),
        "tab": tab,
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth2/token",
        "api_base": issuer,
        "plan": {"id": client.plan.id, "name": client.plan.name, "description": client.plan.description},
        "plan_limits": _plan_limits(client.plan),
        "keys": _keys(app),
    }


@get(f"{APPS}/{{client_id:str}}", **PORTAL_OPTIONS)
async def app_page(
    request: Request[Any, Any, Any],
    platform: PlatformDep,
    client_id: FromPath[str],
    notice: Annotated[str | None, QueryParameter(required=False, max_length=40)] = None,
) -> Response[Any]:
    if environment_of(request) is not Environment.PRODUCTION:
        return _not_here()
    session = _session(request)
    if session is None:
        return _to_login(request)
    client = _owned(platform, session, client_id)
    if client is None:
        return _no_such_app(session)
    return _render(
        "portal_app.html",
        session=session,
        partner=_partner_view(platform, session),
        quickstart=quickstart(client.app, platform.settings.base_url),
        notice=NOTICES.get(notice or ""),
        **_app_context(platform, client, "overview"),
    )


def _usage_of(platform: Platform, environment: Environment) -> UsageSource:
    return platform.environments[environment].usage


def _webhooks_of(platform: Platform, environment: Environment) -> WebhookSource:
    return platform.environments[environment].webhooks


@get(f"{APPS}/{{client_id:str}}/usage", **PORTAL_OPTIONS)
async def usage_page(
    request: Request[Any, Any, Any],
    platform: PlatformDep,
    client_id: FromPath[str],
    days: Annotated[int, QueryParameter(ge=7, le=90)] = USAGE_DAYS,
) -> Response[Any]:
    if environment_of(request) is not Environment.PRODUCTION:
        return _not_here()
    session = _session(request)
    if session is None:
        return _to_login(request)
    client = _owned(platform, session, client_id)
    if client is None:
        return _no_such_app(session)
    until = platform.clock.now().date()
    since = until - timedelta(days=days - 1)
    usage = _usage_of(platform, client.app.environment)
    usage.flush()  # this worker's buffer: the developer's own calls show at once (module docstring)
    lines = usage.daily(client.app.client_id, since, until)
    return _render(
        "portal_usage.html",
        session=session,
        chart=usage_chart(lines, since, until),
        operations=_operation_table(lines),
        days=days,
        since=since.isoformat(),
        until=until.isoformat(),
        **_app_context(platform, client, "usage"),
    )


def _operation_table(lines: Sequence[UsageLine]) -> list[dict[str, Any]]:
    """Totals per API version and operation over the range, busiest first."""
    totals: dict[tuple[str, str], list[int]] = {}
    for line in lines:
        row = totals.setdefault((str(line.api_version), str(line.operation)), [0, 0, 0])
        row[0] += int(line.requests)
        row[1] += int(line.throttled)
        row[2] += int(line.errors)
    return [
        {"api_version": v, "operation": o, "requests": r, "throttled": t, "errors": e}
        for (v, o), (r, t, e) in sorted(totals.items(), key=lambda item: (-item[1][0], item[0]))
    ]


@get(f"{APPS}/{{client_id:str}}/webhooks", **PORTAL_OPTIONS)
async def webhooks_page(
    request: Request[Any, Any, Any], platform: PlatformDep, client_id: FromPath[str]
) -> Response[Any]:
    if environment_of(request) is not Environment.PRODUCTION:
        return _not_here()
    session = _session(request)
    if session is None:
        return _to_login(request)
    client = _owned(platform, session, client_id)
    if client is None:
        return _no_such_app(session)
    webhooks = _webhooks_of(platform, client.app.environment)
    subscriptions = webhooks.subscriptions(client.app.client_id)
    deliveries = webhooks.deliveries(client.app.client_id, limit=DELIVERIES_SHOWN)
    return _render(
        "portal_webhooks.html",
        session=session,
        subscriptions=[
            {
                "id": s.id,
                "url": s.url,
                "event_types": list(s.event_types),
                "status": str(getattr(s.status, "value", s.status)),
                "created": f"{s.created_at:%Y-%m-%d %H:%M} UTC",
            }
            for s in subscriptions
        ],
        deliveries=[
            {
                "id": d.id,
                "subscription_id": d.subscription_id,
                "event_type": d.event_type,
                "state": str(getattr(d.state, "value", d.state)),
                "attempts": d.attempts,
                "last_status_code": d.last_status_code,
                "next_attempt": f"{d.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC" if d.next_attempt_at else "",
                "created": f"{d.created_at:%Y-%m-%d %H:%M:%S} UTC",
            }
            for d in deliveries
        ],
        **_app_context(platform, client, "webhooks"),
    )


ROUTES: Final = [
    portal_home,
    signup_page,
    sign_up,
    portal_login_page,
    portal_sign_in,
    portal_sign_out,
    app_list,
    request_review,
    new_app_page,
    create_app,
    app_page,
    usage_page,
    webhooks_page,
]
