"""What every portal page shares: its paths and headers, the developer's session, and the partner and
app summaries the pages show."""

from __future__ import annotations

from typing import Any, Final

from litestar.datastructures import Cookie

from gateway.auth.developers import SESSION_COOKIE, SESSION_LIFETIME, DeveloperAccounts, PortalSession
from gateway.domain.environment import Environment
from gateway.domain.errors import DomainError
from gateway.domain.identity.models import Developer
from gateway.web.console import Console, strict_cookie
from gateway.web.pages import SECURITY_HEADERS
from partners.models import App
from partners.service import Registry

BASE: Final = "/portal"
APPS: Final = f"{BASE}/apps"
FORM_CSRF_COOKIE: Final = "__Host-portal-form-csrf"
# The portal runs one script of its own (static/portal.js, WebCrypto); nothing else changes.
PORTAL_HEADERS: Final = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}
NOTICES: Final = {
    "welcome": "Welcome! Your organisation has a sandbox. Create your first app below.",
    "created": "App created. Keep your private key safe: it is the only way to get tokens for this app.",
    "review-requested": "Review requested. The partner team will contact you by e-mail.",
}


def _chrome(session: PortalSession | None) -> dict[str, Any]:
    return {
        "developer": session.developer if session else None,
        "csrf_token": session.csrf_token if session else "",
    }


PORTAL: Final[Console[PortalSession]] = Console(
    base=BASE,
    home=APPS,
    cookie=SESSION_COOKIE,
    headers=PORTAL_HEADERS,
    message_template="portal_message.html",
    not_here="The developer portal is served at /portal, outside the sandbox.",
    refused="The form expired or did not come from the portal. Open the page again.",
    chrome=_chrome,
)
OPTIONS: Final = PORTAL.options


def signed_in(developers: DeveloperAccounts, developer: Developer) -> list[Cookie]:
    """The cookies of a new session; the sign-in form's own token is spent."""
    value, _session = developers.start_session(developer)
    return [
        strict_cookie(SESSION_COOKIE, value, max_age=int(SESSION_LIFETIME.total_seconds())),
        strict_cookie(FORM_CSRF_COOKIE, "", max_age=0),
    ]


def sentence(exc: DomainError) -> str:
    """A registry refusal as a sentence for the form."""
    text = exc.detail.replace("name must be", "The organisation name must be").replace(
        "a partner with this name exists already", "An organisation with this name is registered already"
    )
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def partner_view(registry: Registry, session: PortalSession) -> dict[str, Any]:
    partner = registry.partner(session.developer.partner_id)
    return {
        "id": partner.id,
        "name": partner.name,
        "region": partner.region,
        "status": partner.status.value,
        "stage": partner.stage.value,
        "production_open": Environment.PRODUCTION in partner.environments,
    }


def app_summary(app: App) -> dict[str, Any]:
    return {
        "client_id": app.client_id,
        "name": app.name,
        "environment": app.environment.value,
        "status": app.status.value,
        "scopes": sorted(app.scopes),
        "redirect_uris": list(app.redirect_uris),
        "created": f"{app.created_at:%Y-%m-%d %H:%M} UTC",
    }
