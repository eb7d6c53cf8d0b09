"""One app's webhooks: its subscriptions and their latest deliveries."""

from __future__ import annotations

from typing import Any, Final

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from gateway.auth.developers import DeveloperAccounts
from gateway.services import services_in
from gateway.web.portal.app_head import app_head, own_app
from gateway.web.portal.site import APPS, OPTIONS, PORTAL
from partners.service import Registry

DELIVERIES_SHOWN: Final = 50


@get(f"{APPS}/{{client_id:str}}/webhooks", **OPTIONS)
async def webhooks_page(
    request: Request[Any, Any, Any],
    developers: NamedDependency[DeveloperAccounts],
    registry: NamedDependency[Registry],
    issuer: NamedDependency[str],
    client_id: FromPath[str],
) -> Response[Any]:
    session = PORTAL.signed_in(request, developers)
    client = own_app(registry, session, client_id)
    webhooks = services_in(request, client.app.environment).webhooks
    subscriptions = webhooks.subscriptions(client.app.client_id)
    deliveries = webhooks.deliveries(client.app.client_id, limit=DELIVERIES_SHOWN)
    return PORTAL.render(
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
        **app_head(client, client.app.environment.issuer(issuer), "webhooks"),
    )
