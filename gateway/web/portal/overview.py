"""One app's overview: its keys, plan and the quickstart."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from gateway.auth.developers import DeveloperAccounts
from gateway.web.portal.app_head import app_head, own_app
from gateway.web.portal.quickstart import quickstart
from gateway.web.portal.site import APPS, NOTICES, OPTIONS, PORTAL, partner_view
from partners.service import Registry


@get(f"{APPS}/{{client_id:str}}", **OPTIONS)
async def app_page(
    request: Request[Any, Any, Any],
    developers: NamedDependency[DeveloperAccounts],
    registry: NamedDependency[Registry],
    issuer: NamedDependency[str],
    client_id: FromPath[str],
    notice: Annotated[str | None, QueryParameter(required=False, max_length=40)] = None,
) -> Response[Any]:
    session = PORTAL.signed_in(request, developers)
    client = own_app(registry, session, client_id)
    return PORTAL.render(
        "portal_app.html",
        session=session,
        partner=partner_view(registry, session),
        quickstart=quickstart(client.app, issuer),
        notice=NOTICES.get(notice or ""),
        **app_head(client, client.app.environment.issuer(issuer), "overview"),
    )
