"""Every route declares who may call it, the spec publishes the same scopes, and a route that
declares nothing is refused (fail closed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import pytest
from litestar import get
from litestar.datastructures import State
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from gateway.domain.scopes import CUSTOMER_DELEGATED, PARTNER_OWN, STAFF, Scope
from gateway.edge.access import SECURITY_SCHEME, Access, Audience, access_of, requires
from gateway.edge.entry import Gateway
from gateway.problems import EXCEPTION_HANDLERS
from gateway.services import Platform
from tests.conftest import BASE_URL
from tests.support import dpop_capable, register_app

# Anyone may call these: OAuth discovery and endpoints (client auth happens inside), liveness,
# problem documentation and the API docs. Anything else public is a finding.
PUBLIC: Final = frozenset(
    {
        ("GET", "/.well-known/oauth-authorization-server"),
        ("GET", "/oauth2/jwks"),
        ("POST", "/oauth2/token"),
        ("POST", "/oauth2/introspect"),
        ("POST", "/oauth2/revoke"),
        ("GET", "/livez"),
        ("GET", "/problems/{slug:str}"),
        # RFC 9126: the client authenticates inside, like at the token endpoint.
        ("POST", "/oauth2/par"),
        ("GET", "/static/{file_path:path}"),
        ("HEAD", "/static/{file_path:path}"),
    }
)
# Customer pages and the customer API: open at the edge, the customer's session checked by the
# handler (tests/gateway/web prove each one refuses or redirects without a session).
CUSTOMER_PAGES: Final = frozenset(
    {
        ("GET", "/login"),
        ("POST", "/login"),
        ("POST", "/logout"),
        ("GET", "/oauth2/authorize"),
        ("POST", "/oauth2/authorize/decision"),
        ("GET", "/consents"),
        ("POST", "/consents/{consent_id:str}/revoke"),
        ("GET", "/customer/session"),
        ("GET", "/customer/consents"),
        ("GET", "/customer/disclosures"),
        ("POST", "/customer/consents/{consent_id:str}/revoke"),
    }
)
# Supervisor pages: open at the edge, the officer's signed session checked by the handler
# (tests/gateway/web/test_supervisor.py proves each refuses or redirects without one, and with a customer's).
STAFF_PAGES: Final = frozenset(
    {
        ("GET", "/supervisor/login"),
        ("POST", "/supervisor/login"),
        ("POST", "/supervisor/logout"),
        ("GET", "/supervisor/alerts"),
        ("GET", "/supervisor/alerts/{alert_id:str}"),
        ("POST", "/supervisor/alerts/{alert_id:str}/clear"),
        ("POST", "/supervisor/restrictions/{account_id:str}/clear"),
        # Partner lifecycle pages (tests/gateway/web/test_partner_review.py proves the same of them).
        ("GET", "/supervisor/partners"),
        ("GET", "/supervisor/partners/{partner_id:str}"),
        ("POST", "/supervisor/partners/{partner_id:str}/stage"),
        ("POST", "/supervisor/partners/{partner_id:str}/pilot-caps"),
        ("POST", "/supervisor/partners/{partner_id:str}/suspension"),
        ("POST", "/supervisor/partners/{partner_id:str}/reactivation"),
        # Sandbox cohort pages (tests/gateway/web/test_supervisor_sandbox.py proves the same of them).
        ("GET", "/supervisor/sandbox"),
        ("GET", "/supervisor/sandbox/{partner_id:str}"),
        ("GET", "/supervisor/sandbox/{partner_id:str}/export"),
    }
)
# Developer portal pages: open at the edge, the developer's signed session checked by the handler
# (tests/gateway/web/portal/test_portal.py proves each refuses or redirects without one, and with
# other sessions).
PORTAL_PAGES: Final = frozenset(
    {
        ("GET", "/portal"),
        ("GET", "/portal/signup"),
        ("POST", "/portal/signup"),
        ("GET", "/portal/login"),
        ("POST", "/portal/login"),
        ("POST", "/portal/logout"),
        ("POST", "/portal/review-request"),
        ("GET", "/portal/apps"),
        ("POST", "/portal/apps"),
        ("GET", "/portal/apps/new"),
        ("GET", "/portal/apps/{client_id:str}"),
        ("GET", "/portal/apps/{client_id:str}/usage"),
        ("GET", "/portal/apps/{client_id:str}/webhooks"),
    }
)
DOCS: Final = "/docs"
GENERATED_OPTIONS: Final = "HTTPRoute.create_options_handler.<locals>.options_handler"


def handlers(app: Any) -> Iterator[tuple[str, HTTPRouteHandler]]:
    for route in app.routes:
        assert isinstance(route, HTTPRoute), f"{route.path}: only HTTP routes are inventoried"
        for handler in route.route_handlers:
            # A handler run in a worker thread is wrapped (no `__qualname__`); Litestar's own OPTIONS is not.
            if getattr(handler.fn, "__qualname__", "") != GENERATED_OPTIONS:  # an Allow header
                yield route.path, handler


@pytest.mark.usefixtures("client")  # its lifespan closes the app's database pools
def test_every_route_declares_an_access_policy(app: Any) -> None:
    undeclared: list[str] = []
    public: set[tuple[str, str]] = set()
    for path, handler in handlers(app):
        access = access_of(handler)
        methods = sorted(handler.http_methods)
        if access is None:
            undeclared.append(f"{methods} {path}")
        elif access.public:
            assert not access.scopes, path
            public.update((method, path) for method in methods)
        else:
            assert access.scopes, f"{methods} {path} is neither public nor scoped"
            expected = STAFF if path.startswith("/admin/") else PARTNER_OWN | CUSTOMER_DELEGATED
            assert access.scopes <= expected, f"{methods} {path}: {sorted(access.scopes)}"
            assert (access.audience is Audience.ADMIN) == path.startswith("/admin/"), path

    assert undeclared == []
    docs = {(method, path) for method, path in public if path == DOCS or path.startswith(DOCS + "/")}
    assert {method for method, _ in docs} == {"GET"}
    assert public - docs == PUBLIC | CUSTOMER_PAGES | STAFF_PAGES | PORTAL_PAGES


def test_a_route_without_a_policy_is_refused(client: TestClient[Any], app: Any, platform: Platform) -> None:
    @get("/undeclared", sync_to_thread=False)
    def undeclared() -> dict[str, str]:
        return {"leaked": "yes"}

    @get("/declared", sync_to_thread=False, **requires(Scope.MARKET_READ))
    def declared() -> dict[str, str]:
        return {"ok": "yes"}

    # The real pipeline (authentication, rate limit, audit, idempotency) around two new routes.
    probe = Gateway(
        route_handlers=[undeclared, declared],
        middleware=app.middleware,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        state=State({"settings": platform.settings, "platform": platform}),
        openapi_config=None,
    )
    headers = register_app(platform).headers(client)

    with TestClient(app=probe, base_url=BASE_URL) as probe_client:
        dpop_capable(probe_client)
        allowed = probe_client.get("/declared", headers=headers)
        refused = probe_client.get("/undeclared", headers=headers)
        anonymous = probe_client.get("/undeclared")

    assert allowed.status_code == 200, allowed.text
    for response in (refused, anonymous):
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"] == f"{BASE_URL}/problems/forbidden"
        assert "leaked" not in response.text


def test_openapi_security_matches_the_policies(client: TestClient[Any], app: Any) -> None:
    spec = client.get("/docs/openapi.json").json()
    operations = {
        operation["operationId"]: operation
        for path_item in spec["paths"].values()
        for operation in path_item.values()
    }
    policies: dict[str, Access] = {}
    for _, handler in handlers(app):
        access = access_of(handler)
        if handler.operation_id and access is not None:
            policies[str(handler.operation_id)] = access

    assert operations.keys() == policies.keys()
    # An operation without `security` inherits the document's, and the document declares none.
    assert spec.get("security", []) == []
    published = {op_id: operation.get("security", []) for op_id, operation in operations.items()}
    assert published == {
        op_id: [] if access.public else [{SECURITY_SCHEME: sorted(access.scopes)}]
        for op_id, access in policies.items()
    }
    assert SECURITY_SCHEME in spec["components"]["securitySchemes"]
