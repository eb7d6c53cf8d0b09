"""The head of every page of one app (overview, usage, webhooks): the developer's own app, its plan,
issuer and keys."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Final

from gateway.auth.developers import PortalSession
from gateway.web.console import DetourError
from gateway.web.portal.site import PORTAL, app_summary
from partners.errors import AppNotFoundError
from partners.models import App, Client, Plan
from partners.service import Registry

# The JWS algorithm the token endpoint accepts for each key type (gateway.auth.client_auth).
ASSERTION_ALG: Final = {"EC": "ES256", "OKP": "EdDSA", "RSA": "PS256"}


def own_app(registry: Registry, session: PortalSession, client_id: str) -> Client:
    """The developer's own app; an unknown one and anyone else's get the same "not found" page."""
    try:
        return registry.partner_client(session.developer.partner_id, client_id)
    except AppNotFoundError:
        raise DetourError(
            PORTAL.message("Not found", "You have no app with this client id.", status=404, session=session)
        ) from None


def keys(app: App) -> list[dict[str, str]]:
    return [
        {
            "kid": str(key.get("kid", "")),
            "kty": str(key.get("kty", "")),
            "crv": str(key.get("crv", "")),
            "alg": ASSERTION_ALG.get(str(key.get("kty")), "ES256"),
        }
        for key in app.jwks.get("keys", [])
    ]


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


def app_head(client: Client, issuer: str, tab: str) -> dict[str, Any]:
    """The template context of the app's head; `issuer` is the app's environment's."""
    app = client.app
    return {
        "app": app_summary(app),
        "tab": tab,
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth2/token",
        "api_base": issuer,
        "plan": {"id": client.plan.id, "name": client.plan.name, "description": client.plan.description},
        "plan_limits": _plan_limits(client.plan),
        "keys": keys(app),
    }
