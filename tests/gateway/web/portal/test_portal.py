"""The developer portal: sign-up, sign-in, sandbox apps with their keys, the quickstart, usage and
webhooks; strangers, other developers and forged forms get nowhere."""

from __future__ import annotations

import functools
import json
import secrets
from dataclasses import dataclass, replace
from datetime import date, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import openplatform
import pytest
from litestar.testing import TestClient

from gateway.auth.developers import (
    COMMON_PASSWORDS,
    DeveloperAccounts,
    SignUpRefusedError,
    check_email,
    check_password,
)
from gateway.demo import new_private_jwk, public_part
from gateway.domain.environment import Environment
from gateway.domain.jwk import thumbprint
from gateway.services import Platform
from gateway.storage.developers import SqlDeveloperStore
from partners.lifecycle import SELF_SERVICE, LifecycleEventKind
from partners.models import PartnerStage, PartnerStatus, PartnerType
from partners.service import MAX_APPS
from tests.conftest import BASE_URL
from tests.delegation import (
    Browser,
    hidden,
)
from tests.gateway.web.portal.developers import (
    GOOD_PASSWORD,
    create_app,
    created_client_id,
    new_developer,
    sign_in,
    sign_up_form,
    signed_in,
    text_of,
)
from tests.gateway.web.portal.test_chart import Line
from tests.support import database_of

# -- sign-up --------------------------------------------------------------------------------------


def test_sign_up_creates_a_sandbox_developer_partner_and_signs_in(
    client: TestClient[Any], platform: Platform
) -> None:
    browser = Browser(client, "")
    email = f"Grace.{secrets.token_hex(4)}@Example.com "

    answer = sign_up_form(browser, email=email, organisation="  Hopper Analytics " + secrets.token_hex(3))
    apps = browser.get("/portal/apps?notice=welcome")

    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/portal/apps?notice=welcome"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("__Host-portal-session="))
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "path=/", "samesite=strict"} <= attributes
    assert not any(a.startswith("domain=") for a in attributes)
    store = SqlDeveloperStore(database_of(platform, Environment.PRODUCTION))
    credentials = store.credentials(email.strip().lower())
    assert credentials is not None
    assert credentials.password_hash.startswith("$argon2id$")
    partner = platform.registry.partner(credentials.developer.partner_id)
    assert partner.type is PartnerType.DEVELOPER
    assert partner.stage is PartnerStage.SANDBOX
    assert partner.region == "SG"
    assert partner.name.startswith("Hopper Analytics")
    (created,) = platform.registry.lifecycle.history(partner.id)
    assert (created.kind, created.actor, created.to_stage) == (
        LifecycleEventKind.CREATED,
        SELF_SERVICE,
        PartnerStage.SANDBOX,
    )
    assert apps.status_code == 200, apps.text
    assert text_of(apps.text, "stage") == "sandbox"
    assert 'data-testid="apps-empty"' in apps.text
    assert "apply for a partner review" in apps.text
    assert "script-src 'self'" in apps.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in apps.headers["content-security-policy"]
    assert apps.headers["x-frame-options"] == "DENY"
    assert apps.headers["cache-control"] == "no-store"


SIGN_UP_REFUSALS = [
    ({"email": "not-an-address"}, "email"),
    ({"email": "a@b"}, "email"),
    ({"password": "short-pw1"}, "password"),
    ({"password": "aaaaaaaaaaaaaaaa"}, "password"),
    ({"password": "Password1234"}, "password"),
    ({"region": "XX"}, "region"),
    ({"organisation": "X"}, "organisation"),
]


def test_sign_up_refuses_a_broken_rule_and_names_the_field(
    client: TestClient[Any], platform: Platform
) -> None:
    before = len(platform.registry.store.list_partners())

    for fields, field in SIGN_UP_REFUSALS:
        answer = sign_up_form(Browser(client, ""), **fields)

        assert answer.status_code == 422, (fields, answer.text)
        assert f'data-field="{field}"' in answer.text, fields
        assert "__Host-portal-session=" not in answer.headers.get("set-cookie", "")
    assert len(platform.registry.store.list_partners()) == before  # nothing was created


def test_a_taken_email_or_organisation_is_a_conflict(client: TestClient[Any], platform: Platform) -> None:
    developer = new_developer(platform)
    organisation = platform.registry.partner(developer.partner_id).name

    by_email = sign_up_form(Browser(client, ""), email=developer.email.upper())
    by_name = sign_up_form(Browser(client, ""), organisation=organisation)

    assert by_email.status_code == 409, by_email.text
    assert 'data-field="email"' in by_email.text
    assert by_name.status_code == 409, by_name.text
    assert 'data-field="organisation"' in by_name.text
    assert "registered already" in by_name.text


def test_password_policy() -> None:
    email = "margaret.h@example.com"
    check_password(GOOD_PASSWORD, email=email, organisation="Apollo Guidance")
    refused = [
        "x" * 11 + "1",  # 12 characters but 2 distinct
        "abc-12",  # too short
        "a1b2c3d4e5f6" * 11,  # 132 characters: too long
        "Margaret.H-is-me-2024",  # contains the e-mail's local part
        "apollo guidance 2024!",  # contains the organisation
        *sorted(COMMON_PASSWORDS)[:3],
    ]
    for password in refused:
        with pytest.raises(SignUpRefusedError) as refusal:
            check_password(password, email=email, organisation="Apollo Guidance")
        assert refusal.value.field == "password", password
    check_password("sam-likes-long-walks", email="sam@example.com", organisation="Z")  # 3-letter local part
    assert check_email("  Ada@Example.COM ") == "ada@example.com"
    for bad in ("ada", "ada@", "@example.com", "ada@example", "a b@example.com", "x" * 250 + "@example.com"):
        with pytest.raises(SignUpRefusedError):
            check_email(bad)


def test_sign_up_without_the_form_cookie_or_from_another_origin_is_refused(
    client: TestClient[Any], platform: Platform
) -> None:
    browser = Browser(client, "")
    page = browser.get("/portal/signup")
    data = {
        "email": f"eve.{secrets.token_hex(4)}@example.com",
        "organisation": f"Eve Corp {secrets.token_hex(4)}",
        "region": "SG",
        "password": GOOD_PASSWORD,
        "csrf_token": hidden(page.text, "csrf_token"),
    }

    foreign = browser.post("/portal/signup", data=data, headers={"Origin": "https://evil.example"})
    no_cookie = client.post("/portal/signup", data=data, follow_redirects=False)
    wrong_token = browser.post("/portal/signup", data=data | {"csrf_token": "forged"})

    assert foreign.status_code == 403
    assert no_cookie.status_code == 403
    assert wrong_token.status_code == 403
    store = SqlDeveloperStore(database_of(platform, Environment.PRODUCTION))
    assert store.credentials(data["email"]) is None


# -- sign-in and sessions ---------------------------------------------------------------------------


def test_sign_in_returns_to_a_portal_page_only(client: TestClient[Any], platform: Platform) -> None:
    developer = new_developer(platform)

    inside = sign_in(Browser(client, ""), developer.email, return_to="/portal/apps/new")
    outside = sign_in(Browser(client, ""), developer.email, return_to="https://evil.example/portal/")
    sneaky = sign_in(Browser(client, ""), developer.email, return_to="//evil.example/portal/apps")

    assert inside.headers["location"] == "/portal/apps/new"
    assert outside.headers["location"] == "/portal/apps"
    assert sneaky.headers["location"] == "/portal/apps"


def test_wrong_passwords_lock_the_account_and_the_throttle_answers_429(
    client: TestClient[Any], platform: Platform
) -> None:
    developer = new_developer(platform)
    browser = Browser(client, "")

    wrong = [sign_in(browser, developer.email, "not the password").status_code for _ in range(5)]
    locked = sign_in(browser, developer.email)  # the right password, but locked for 15 minutes
    unknown = sign_in(browser, "nobody@example.com", "not the password")
    for _ in range(4):  # 10 attempts per e-mail and minute
        sign_in(browser, developer.email)
    throttled = sign_in(browser, developer.email)

    assert wrong == [401] * 5
    assert locked.status_code == 401
    assert "locked" in locked.text
    assert unknown.status_code == 401
    assert "The e-mail or password is not correct." in unknown.text
    assert throttled.status_code == 429
    assert "Too many sign-in attempts" in throttled.text


def test_pages_need_a_session_and_other_sessions_do_not_open_them(
    client: TestClient[Any], platform: Platform
) -> None:
    staff_like = Browser(client, "")
    staff_like.cookies["__Host-staff-session"] = "v1.e30.forged"
    staff_like.cookies["__Host-session"] = secrets.token_urlsafe(32)
    forged = Browser(client, "")
    forged.cookies["__Host-portal-session"] = (
        "v1.eyJzaWQiOiJ4Iiwic3ViIjoiZGV2X3giLCJleHAiOjk5OTk5OTk5OTl9.AAAA"
    )
    paths = ["/portal/apps", "/portal/apps/new", "/portal/apps/sbx_0/usage", "/portal/apps/sbx_0/webhooks"]

    for browser in (Browser(client, ""), staff_like, forged):
        for path in paths:
            answer = browser.get(path)
            assert answer.status_code == 303, (path, answer.text)
            assert answer.headers["location"].startswith("/portal/login?return_to=")
        created = browser.post("/portal/apps", data={"name": "x"})
        assert created.status_code == 303
        assert created.headers["location"].startswith("/portal/login")

    dev = signed_in(client, platform)
    assert dev.browser.get("/supervisor/alerts").headers["location"].startswith("/supervisor/login")
    assert dev.browser.get("/consents").headers["location"].startswith("/login")
    for path in (
        "/sandbox/portal",
        "/sandbox/portal/login",
        "/sandbox/portal/signup",
        "/sandbox/portal/apps",
    ):
        assert dev.browser.get(path).status_code == 404, path  # production's control plane only
    assert client.get("/portal", follow_redirects=False).headers["location"] == "/portal/login"
    assert dev.browser.get("/portal").headers["location"] == "/portal/apps"


def test_sign_out_ends_the_session_and_a_copied_cookie_dies_with_it(
    client: TestClient[Any], platform: Platform
) -> None:
    dev = signed_in(client, platform)
    copy = Browser(client, "", cookies=dict(dev.browser.cookies))
    page = dev.browser.get("/portal/apps")

    forged = dev.browser.post("/portal/logout", data={"csrf_token": "forged"})
    out = dev.browser.post("/portal/logout", data={"csrf_token": hidden(page.text, "csrf_token")})

    assert forged.status_code == 403
    assert out.status_code == 303
    assert out.headers["location"] == "/portal/login"
    assert copy.get("/portal/apps").status_code == 303


# -- apps --------------------------------------------------------------------------------------------


def test_a_developer_creates_a_sandbox_app_with_a_public_jwk(
    client: TestClient[Any], platform: Platform
) -> None:
    dev = signed_in(client, platform)
    private = new_private_jwk()

    client_id = created_client_id(
        create_app(dev, jwk=public_part(private), scopes=("funds:read", "market:read", "webhooks:manage"))
    )
    page = dev.browser.get(f"/portal/apps/{client_id}")
    listing = dev.browser.get("/portal/apps")

    registered = platform.registry.store.get_client(client_id)
    assert registered is not None
    assert registered.app.partner_id == dev.developer.partner_id
    assert registered.app.environment is Environment.SANDBOX
    assert registered.app.scopes == {"funds:read", "market:read", "webhooks:manage"}
    assert registered.app.jwks == {"keys": [public_part(private)]}
    assert registered.plan.id == "sandbox"
    assert page.status_code == 200, page.text
    issuer = f"{BASE_URL}/sandbox"
    assert text_of(page.text, "issuer") == issuer
    assert text_of(page.text, "token-endpoint") == f"{issuer}/oauth2/token"
    assert text_of(page.text, "kid") == private["kid"]
    assert "20/second, 10000/day" in page.text  # the sandbox plan's limits
    quickstart = text_of(page.text, "quickstart")
    assert f'"{client_id}", Path("{private["kid"]}.private.jwk.json"),' in quickstart
    assert f'base_url="{BASE_URL}", scopes=["funds:read"],' in quickstart
    assert "answer = client.market.list_funds(limit=5).first_page()  # listFunds" in quickstart
    assert 'href="/docs"' in page.text
    assert f'data-testid="app-{client_id}"' in listing.text
    webhooks = dev.browser.get(f"/portal/apps/{client_id}/webhooks")  # the real webhook service
    assert webhooks.status_code == 200, webhooks.text
    assert 'data-testid="subscriptions-empty"' in webhooks.text
    assert 'data-testid="deliveries-empty"' in webhooks.text


def test_a_key_without_kid_gets_its_thumbprint(client: TestClient[Any], platform: Platform) -> None:
    dev = signed_in(client, platform)
    public = {k: v for k, v in public_part(new_private_jwk()).items() if k != "kid"}

    client_id = created_client_id(create_app(dev, jwk={"keys": [public]}))

    registered = platform.registry.store.get_client(client_id)
    assert registered is not None
    assert registered.app.jwks["keys"][0]["kid"] == thumbprint(public)


APP_FORM_REFUSALS: list[tuple[dict[str, Any], str, str]] = [
    ({"jwk": "private"}, "jwk", "never send the private one"),
    ({"jwk": "{not json"}, "jwk", "not valid JSON"),
    ({"jwk": ""}, "jwk", "Generate a key"),
    ({"jwk": '{"keys": []}'}, "jwk", "at least one key"),
    ({"jwk": '{"kty": "oct", "k": "c2VjcmV0", "kid": "k"}'}, "jwk", "never send the private one"),
    ({"jwk": '{"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA", "kid": "k"}'}, "jwk", "EC P-256"),
    ({"scopes": ["admin:partners"]}, "scopes", "may not hold admin:partners"),
    ({"scopes": ["orders:write"]}, "redirect_uris", "needs at least one redirect URI"),
    ({"scopes": []}, "scopes", "at least one scope"),
    ({"environment": "staging"}, "environment", "Choose sandbox or production"),
    ({"environment": "production"}, "environment", "sandbox stage gets no production apps"),
    ({"name": "x"}, "name", "2 to 100 characters"),
]


def test_an_app_form_that_breaks_a_rule_creates_nothing(client: TestClient[Any], platform: Platform) -> None:
    dev = signed_in(client, platform)

    for change, field, message in APP_FORM_REFUSALS:
        private = new_private_jwk()
        jwk: Any = private if change.get("jwk") == "private" else change.get("jwk", public_part(private))
        scopes = tuple(change.get("scopes", ("funds:read",)))
        extra = {k: change[k] for k in ("name", "environment") if k in change}

        answer = create_app(dev, jwk=jwk, scopes=scopes, **extra)

        assert answer.status_code == 422, (change, answer.text)
        assert f'data-field="{field}"' in answer.text, change
        assert message in unescape(answer.text), change
    assert platform.registry.store.list_apps(dev.developer.partner_id) == []


def test_app_forms_need_the_session_csrf_token(client: TestClient[Any], platform: Platform) -> None:
    dev = signed_in(client, platform)
    data = {"name": "x app", "scopes": ["funds:read"], "jwk": json.dumps(public_part(new_private_jwk()))}

    forged = dev.browser.post("/portal/apps", data=data | {"csrf_token": "forged"})
    foreign = dev.browser.post(
        "/portal/apps",
        data=data | {"csrf_token": hidden(dev.browser.get("/portal/apps/new").text, "csrf_token")},
        headers={"Origin": "https://evil.example"},
    )

    assert forged.status_code == 403
    assert foreign.status_code == 403
    assert platform.registry.store.list_apps(dev.developer.partner_id) == []


def test_a_developer_holds_at_most_max_apps(client: TestClient[Any], platform: Platform) -> None:
    dev = signed_in(client, platform)
    for index in range(MAX_APPS):
        platform.registry.create_app(
            partner_id=dev.developer.partner_id,
            name=f"app {index}",
            environment=Environment.SANDBOX,
            jwks={"keys": [public_part(new_private_jwk())]},
            scopes=["funds:read"],
        )

    answer = create_app(dev, jwk=public_part(new_private_jwk()))
    listing = dev.browser.get("/portal/apps")

    assert answer.status_code == 422
    assert f"You have {MAX_APPS} apps already" in answer.text
    assert len(platform.registry.store.list_apps(dev.developer.partner_id)) == MAX_APPS
    assert 'data-testid="apps-full"' in listing.text


def test_another_developers_app_is_not_found(client: TestClient[Any], platform: Platform) -> None:
    owner = signed_in(client, platform)
    other = signed_in(client, platform)
    client_id = created_client_id(create_app(owner, jwk=public_part(new_private_jwk())))

    for suffix in ("", "/usage", "/webhooks"):
        theirs = other.browser.get(f"/portal/apps/{client_id}{suffix}")
        unknown = other.browser.get(f"/portal/apps/sbx_{secrets.token_hex(12)}{suffix}")
        mine = owner.browser.get(f"/portal/apps/{client_id}{suffix}")
        assert theirs.status_code == 404, theirs.text
        assert client_id not in theirs.text
        assert text_of(theirs.text, "message-detail") == text_of(unknown.text, "message-detail")
        assert mine.status_code == 200, mine.text
    assert client_id not in other.browser.get("/portal/apps").text


def test_a_suspended_sign_up_race_leaves_no_active_orphan(
    client: TestClient[Any], platform: Platform
) -> None:
    developer = new_developer(platform)
    organisation = f"Race Inc {secrets.token_hex(4)}"

    class Racing(SqlDeveloperStore):
        def email_taken(self, email: str) -> bool:
            return False  # the other sign-up commits between this check and the insert

    production = platform.environments[Environment.PRODUCTION]
    accounts = DeveloperAccounts(
        Racing(database_of(platform, Environment.PRODUCTION)),
        platform.registry,
        secrets.token_bytes(32),
        production.auth_server.revocations,
        platform.clock,
    )
    with pytest.raises(SignUpRefusedError) as refused:
        accounts.sign_up(
            email=developer.email, organisation=organisation, region="SG", password=GOOD_PASSWORD
        )

    assert refused.value.status == 409
    orphan = platform.registry.store.find_partner_by_name(organisation)
    assert orphan is not None
    assert orphan.status is PartnerStatus.SUSPENDED
    history = platform.registry.lifecycle.history(orphan.id)
    (suspended,) = [e for e in history if e.kind is LifecycleEventKind.SUSPENDED]
    assert suspended.actor == SELF_SERVICE


def test_a_developer_applies_for_review_once_with_a_reason(
    client: TestClient[Any], platform: Platform
) -> None:
    dev = signed_in(client, platform)
    page = dev.browser.get("/portal/apps")
    token = hidden(page.text, "csrf_token")

    no_reason = dev.browser.post("/portal/review-request", data={"csrf_token": token, "reason": " "})
    forged = dev.browser.post("/portal/review-request", data={"csrf_token": "forged", "reason": "A fund app"})
    asked = dev.browser.post(
        "/portal/review-request", data={"csrf_token": token, "reason": "Fund explorer for SG retail"}
    )
    again = dev.browser.post("/portal/review-request", data={"csrf_token": token, "reason": "Once more"})
    after = dev.browser.get("/portal/apps?notice=review-requested")

    assert no_reason.status_code == 422, no_reason.text
    assert 'data-testid="error"' in no_reason.text
    assert forged.status_code == 403
    assert asked.status_code == 303, asked.text
    assert asked.headers["location"] == "/portal/apps?notice=review-requested"
    assert again.status_code == 409, again.text
    assert platform.registry.partner(dev.developer.partner_id).stage is PartnerStage.REVIEW
    history = platform.registry.lifecycle.history(dev.developer.partner_id)
    (event,) = [e for e in history if e.kind is LifecycleEventKind.REVIEW_REQUESTED]
    assert event.actor == f"developer:{dev.developer.id}"
    assert event.reason == "Fund explorer for SG retail"
    assert text_of(after.text, "stage") == "review"
    assert 'data-testid="review-form"' not in after.text
    assert created_client_id(create_app(dev, jwk=public_part(new_private_jwk())))  # sandbox apps go on


# -- the quickstart, for real ------------------------------------------------------------------------


def test_the_quickstart_gets_a_token_and_makes_a_first_call(
    client: TestClient[Any],
    platform: Platform,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dev = signed_in(client, platform)
    private = new_private_jwk()
    client_id = created_client_id(create_app(dev, jwk=public_part(private), scopes=("funds:read",)))
    quickstart = text_of(dev.browser.get(f"/portal/apps/{client_id}").text, "quickstart")
    (tmp_path / f"{private['kid']}.private.jwk.json").write_text(json.dumps(private))
    calls: list[tuple[str, str, int]] = []

    def record(response: openplatform.ResponseInfo) -> None:
        calls.append((response.method, response.url, response.status))

    monkeypatch.chdir(tmp_path)
    # The SDK's client as the quickstart builds it, sending through the in-process server (same URLs).
    monkeypatch.setattr(
        openplatform, "Client", functools.partial(openplatform.Client, http_client=client, on_response=record)
    )
    capsys.readouterr()
    exec(compile(quickstart, "quickstart.py", "exec"), {"__name__": "__main__"})  # noqa: S102

    assert calls == [
        ("POST", f"{BASE_URL}/sandbox/oauth2/token", 200),
        ("GET", f"{BASE_URL}/sandbox/v1/funds?limit=5", 200),
    ]
    printed = json.loads(capsys.readouterr().out)
    assert printed["data"], printed
    usage = dev.browser.get(f"/portal/apps/{client_id}/usage")  # the real meter, flushed by the page
    assert text_of(usage.text, "usage-requests") == "1"
    assert 'data-testid="usage-listFunds"' in usage.text
    assert 'data-operation="listFunds" data-count="1"' in usage.text


# -- usage and webhooks pages -----------------------------------------------------------------------


class FakeUsage:
    def __init__(self, lines: list[Line]) -> None:
        self.lines = lines
        self.flushed = 0
        self.asked: list[tuple[str, date, date]] = []

    def flush(self) -> None:
        self.flushed += 1

    def daily(self, client_id: str, since: date, until: date) -> list[Line]:
        self.flush()  # as the meter does: this worker's buffer first
        self.asked.append((client_id, since, until))
        return [line for line in self.lines if since <= line.day <= until]


def test_the_usage_page_flushes_then_draws_the_last_14_days(
    client: TestClient[Any], platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev = signed_in(client, platform)
    client_id = created_client_id(create_app(dev, jwk=public_part(new_private_jwk())))
    today = platform.clock.now().date()
    usage = FakeUsage(
        [
            Line(today, "v1", "listFunds", 3, throttled=1),
            Line(today - timedelta(days=1), "v1", "listInstruments", 5, errors=2),
            Line(today - timedelta(days=20), "v1", "listFunds", 99),  # outside the default range
        ]
    )
    sandbox = platform.environments[Environment.SANDBOX]
    monkeypatch.setitem(platform.environments, Environment.SANDBOX, replace(sandbox, usage=usage))  # type: ignore[arg-type]

    page = dev.browser.get(f"/portal/apps/{client_id}/usage")
    month = dev.browser.get(f"/portal/apps/{client_id}/usage?days=30")
    too_long = dev.browser.get(f"/portal/apps/{client_id}/usage?days=365")

    assert page.status_code == 200, page.text
    assert usage.flushed == 2
    assert usage.asked[0] == (client_id, today - timedelta(days=13), today)
    assert text_of(page.text, "usage-requests") == "8"
    assert text_of(page.text, "usage-throttled") == "1"
    assert 'data-testid="usage-listFunds"' in page.text
    assert 'data-testid="usage-chart"' in page.text
    assert "<script" not in page.text
    assert text_of(month.text, "usage-requests") == "107"
    assert too_long.status_code == 422


def test_the_webhooks_page_lists_only_this_apps_subscriptions(
    client: TestClient[Any], platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev = signed_in(client, platform)
    client_id = created_client_id(create_app(dev, jwk=public_part(new_private_jwk())))
    now = platform.clock.now()

    @dataclass(frozen=True)
    class Subscription:
        id: str
        client_id: str
        url: str
        event_types: tuple[str, ...]
        status: str
        created_at: Any

    @dataclass(frozen=True)
    class Delivery:
        id: str
        subscription_id: str
        event_type: str
        state: str
        attempts: int
        last_status_code: int | None
        next_attempt_at: Any
        created_at: Any

    class FakeWebhooks:
        def subscriptions(self, asked: str) -> list[Subscription]:
            assert asked == client_id
            return [Subscription("whs_1", asked, "https://hooks.example/in", ("order.*",), "active", now)]

        def deliveries(self, asked: str, *, limit: int = 50) -> list[Delivery]:
            assert (asked, limit) == (client_id, 50)
            return [Delivery("whd_1", "whs_1", "order.filled", "failed", 2, 500, now, now)]

    sandbox = platform.environments[Environment.SANDBOX]
    monkeypatch.setitem(
        platform.environments,
        Environment.SANDBOX,
        replace(sandbox, webhooks=FakeWebhooks()),  # type: ignore[arg-type]
    )

    page = dev.browser.get(f"/portal/apps/{client_id}/webhooks")

    assert page.status_code == 200, page.text
    assert 'data-testid="subscription-whs_1"' in page.text
    assert "https://hooks.example/in" in page.text
    assert 'data-testid="delivery-whd_1"' in page.text
    assert ">500<" in page.text


# -- the SVG chart ------------------------------------------------------------------------------------
