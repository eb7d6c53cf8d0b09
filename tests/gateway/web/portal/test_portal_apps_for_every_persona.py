"""Portal apps for every persona: own and delegated scopes by consent tier, redirect URIs, and
production apps once review opens production."""

from __future__ import annotations

import re
from html import escape, unescape
from typing import Any

from litestar.testing import TestClient

from gateway.demo import new_private_jwk, public_part
from gateway.domain.consent.models import TIERS
from gateway.domain.environment import Environment
from gateway.services import Platform
from gateway.web.labels import SCOPE_TEXT, TIER_TEXT
from partners.models import ALLOWED_SCOPES, DELEGATED_SCOPES, PartnerStage, PartnerType
from tests.conftest import BASE_URL
from tests.delegation import (
    REDIRECT_URI,
    DelegatingApp,
    authorize,
    hidden,
    seed_customer,
)
from tests.gateway.web.portal.developers import (
    create_app,
    created_client_id,
    group_of,
    scope_boxes,
    signed_in,
    text_of,
)
from tests.support import Holder, PartnerApp

# -- scopes for every persona, redirect URIs, production after review --------------------------------


def test_the_form_offers_own_and_delegated_scopes_grouped_by_consent_tier(
    client: TestClient[Any], platform: Platform
) -> None:
    dev = signed_in(client, platform)

    page = dev.browser.get("/portal/apps/new")

    assert page.status_code == 200, page.text
    boxes = scope_boxes(page.text)
    own = {s.value for s in ALLOWED_SCOPES[PartnerType.DEVELOPER]}
    assert set(boxes) == own | {s.value for s in DELEGATED_SCOPES[PartnerType.DEVELOPER]}
    assert {"sandbox:testing", "points:valuations:write", "reports:read"} <= own
    assert {scope for scope, ticked in boxes.items() if ticked} == {
        "funds:read",
        "market:read",
        "sandbox:testing",
    }
    for scope in own:
        assert f'data-testid="scope-{scope}"' in group_of(page.text, "scopes-own"), scope
    for scope, tier in TIERS.items():
        group = group_of(page.text, f"tier-{tier.value}")
        assert f'data-testid="scope-{scope.value}"' in group, scope
        assert escape(SCOPE_TEXT[scope][0]) in group
        assert escape(TIER_TEXT[tier][0]) in group
    assert 'data-testid="redirect-uris"' in page.text
    assert 'data-testid="environment-choice"' not in page.text  # the sandbox stage opens no production


def test_a_sandbox_app_with_delegated_scopes_takes_a_loopback_redirect_uri(
    client: TestClient[Any], platform: Platform
) -> None:
    dev = signed_in(client, platform)
    scopes = ("sandbox:testing", "consents:manage", "orders:write", "points:convert", "accounts:read")

    client_id = created_client_id(
        create_app(
            dev,
            jwk=public_part(new_private_jwk()),
            scopes=scopes,
            redirect_uris="http://127.0.0.1:8400/callback\r\n\r\n  https://dev.example/cb  \n",
        )
    )
    page = dev.browser.get(f"/portal/apps/{client_id}")

    registered = platform.registry.store.get_client(client_id)
    assert registered is not None
    assert registered.app.environment is Environment.SANDBOX
    assert registered.app.scopes == set(scopes)
    assert registered.app.redirect_uris == ("http://127.0.0.1:8400/callback", "https://dev.example/cb")
    assert registered.plan.id == "sandbox"
    assert re.findall(r'data-testid="redirect-uri">([^<]*)<', page.text) == [
        "http://127.0.0.1:8400/callback",
        "https://dev.example/cb",
    ]
    # The page says how to sign in on the consent screen: as a published persona.
    assert "<code>li.wei</code> with the password <code>sandbox-pass</code>" in page.text


REDIRECT_REFUSALS = [
    (
        "http://dev.example/callback",
        "Redirect URIs use https (loopback http in the sandbox only). (http://dev.example/callback)",
    ),
    ("https://dev.example/cb#top", "without fragment, wildcard or credentials"),
    ("  \n ", "An app with customer-delegated scopes needs at least one redirect URI."),
]


def test_delegated_scopes_need_an_https_or_loopback_redirect_uri(
    client: TestClient[Any], platform: Platform
) -> None:
    dev = signed_in(client, platform)

    for uris, message in REDIRECT_REFUSALS:
        answer = create_app(
            dev,
            jwk=public_part(new_private_jwk()),
            scopes=("consents:manage", "holdings:read"),
            redirect_uris=uris,
        )

        assert answer.status_code == 422, (uris, answer.text)
        assert 'data-field="redirect_uris"' in answer.text, uris
        assert message in unescape(answer.text), uris
        assert scope_boxes(answer.text)["holdings:read"]  # the form keeps what was entered
    assert platform.registry.store.list_apps(dev.developer.partner_id) == []


def test_a_developer_creates_production_apps_once_review_opens_production(
    client: TestClient[Any], platform: Platform
) -> None:
    dev = signed_in(client, platform)
    partner_id = dev.developer.partner_id
    before = dev.browser.get("/portal/apps")
    asked = dev.browser.post(
        "/portal/review-request",
        data={"csrf_token": hidden(before.text, "csrf_token"), "reason": "Points into funds for SG shops"},
    )
    in_review = dev.browser.get("/portal/apps")
    platform.registry.lifecycle.move(
        partner_id,
        PartnerStage.PRODUCTION,
        actor="staff:test",
        reason="review passed",
        override="no sandbox traffic in this test: staff override",
    )
    after = dev.browser.get("/portal/apps")
    form = dev.browser.get("/portal/apps/new?environment=production")
    key = public_part(new_private_jwk())

    with_controls = create_app(
        dev, jwk=key, scopes=("market:read", "sandbox:testing"), environment="production"
    )
    with_loopback = create_app(
        dev,
        jwk=key,
        scopes=("consents:manage", "accounts:read"),
        redirect_uris="http://127.0.0.1:8400/callback",
        environment="production",
    )
    live_id = created_client_id(
        create_app(
            dev,
            jwk=key,
            scopes=("market:read", "consents:manage", "orders:write", "points:convert"),
            redirect_uris="https://dev.example/callback",
            environment="production",
        )
    )
    sandbox_id = created_client_id(create_app(dev, jwk=key, scopes=("sandbox:testing",)))
    page = dev.browser.get(f"/portal/apps/{live_id}")
    listing = dev.browser.get("/portal/apps")

    assert "Production opens after a partner review" in unescape(before.text)
    assert "sandbox only" not in before.text.lower()
    assert 'data-testid="new-production-app"' not in before.text
    assert asked.status_code == 303, asked.text
    assert "Production opens when the review is passed" in in_review.text
    assert 'data-testid="production-open"' in after.text
    assert 'data-testid="new-production-app"' in after.text
    assert 'data-testid="environment-choice"' in form.text
    assert re.search(r'value="production" checked', form.text)
    assert not scope_boxes(form.text)["sandbox:testing"]  # never pre-ticked on a production app
    assert with_controls.status_code == 422, with_controls.text
    assert 'data-field="scopes"' in with_controls.text
    assert "A production app cannot hold sandbox:testing" in with_controls.text
    assert with_loopback.status_code == 422, with_loopback.text
    assert 'data-field="redirect_uris"' in with_loopback.text
    live = platform.registry.store.get_client(live_id)
    assert live is not None
    assert live_id.startswith("live_")
    assert live.app.environment is Environment.PRODUCTION
    assert live.app.redirect_uris == ("https://dev.example/callback",)
    assert live.plan.id == "starter"
    assert live.active
    assert sandbox_id.startswith("sbx_")
    assert text_of(page.text, "issuer") == BASE_URL
    assert text_of(page.text, "redirect-uri") == "https://dev.example/callback"
    assert f'data-testid="app-{live_id}"' in listing.text
    assert f'data-testid="app-{sandbox_id}"' in listing.text
    assert len(platform.registry.store.list_apps(partner_id)) == 2


def test_a_portal_app_runs_the_delegated_flow_for_a_sandbox_customer(
    client: TestClient[Any], platform: Platform
) -> None:
    dev = signed_in(client, platform)
    private = new_private_jwk()
    client_id = created_client_id(
        create_app(
            dev,
            jwk=public_part(private),
            scopes=("sandbox:testing", "consents:manage", "accounts:read", "holdings:read"),
            redirect_uris=REDIRECT_URI,
        )
    )
    app = PartnerApp(
        client_id=client_id,
        partner_id=dev.developer.partner_id,
        private_jwk=private,
        environment=Environment.SANDBOX,
        issuer=platform.settings.issuer(Environment.SANDBOX),
        clock=platform.clock,
    )
    partner = DelegatingApp(app, Holder(platform.clock))
    customer = seed_customer(platform, Environment.SANDBOX)

    grant = authorize(client, partner, customer, ["accounts:read", "holdings:read"])
    accounts = partner.call(client, "GET", "/v1/accounts", grant.access_token)

    assert set(grant.scope.split()) == {"accounts:read", "holdings:read"}
    assert accounts.status_code == 200, accounts.text
    assert len(accounts.json()["data"]) == len(customer.accounts)
