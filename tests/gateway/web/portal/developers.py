"""The developer portal's test world: a developer's browser, sign-in and the app form."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from html import unescape
from typing import Any

import httpx
from litestar.testing import TestClient

from gateway.domain.environment import Environment
from gateway.domain.identity.models import Developer
from gateway.services import Platform
from gateway.storage.developers import SqlDeveloperStore
from partners.models import PartnerStage, PartnerType
from tests.delegation import (
    PASSWORD,
    Browser,
    hidden,
    password_hash,
)
from tests.support import database_of

GOOD_PASSWORD = "tide-lantern-orbit-42"
SVG = "{http://www.w3.org/2000/svg}"


@dataclass
class DeveloperBrowser:
    browser: Browser
    developer: Developer


def new_developer(platform: Platform, *, email: str | None = None) -> Developer:
    """A developer partner and account made without the sign-up form (Argon2id is slow: hash once)."""
    partner = platform.registry.create_partner(
        name=f"Dev org {secrets.token_hex(5)}",
        type=PartnerType.DEVELOPER,
        region="SG",
        stage=PartnerStage.SANDBOX,
    )
    developer = Developer(
        f"dev_{secrets.token_hex(8)}",
        email or f"dev.{secrets.token_hex(5)}@example.com",
        partner.id,
        platform.clock.now(),
    )
    store = SqlDeveloperStore(database_of(platform, Environment.PRODUCTION))
    assert store.add(developer, password_hash())
    return developer


def sign_in(browser: Browser, email: str, password: str = PASSWORD, return_to: str = "") -> httpx.Response:
    page = browser.get("/portal/login", params={"return_to": return_to} if return_to else None)
    assert page.status_code == 200, page.text
    return browser.post(
        "/portal/login",
        data={
            "email": email,
            "password": password,
            "csrf_token": hidden(page.text, "csrf_token"),
            "return_to": hidden(page.text, "return_to"),
        },
    )


def signed_in(client: TestClient[Any], platform: Platform) -> DeveloperBrowser:
    developer = new_developer(platform)
    browser = Browser(client, "")
    answer = sign_in(browser, developer.email)
    assert answer.status_code == 303, answer.text
    return DeveloperBrowser(browser, developer)


def sign_up_form(browser: Browser, **fields: str) -> httpx.Response:
    page = browser.get("/portal/signup")
    assert page.status_code == 200, page.text
    data = {
        "email": f"ada.{secrets.token_hex(4)}@example.com",
        "organisation": f"Ada Labs {secrets.token_hex(4)}",
        "region": "SG",
        "password": GOOD_PASSWORD,
        "csrf_token": hidden(page.text, "csrf_token"),
    } | fields
    return browser.post("/portal/signup", data=data)


def create_app(
    dev: DeveloperBrowser, *, jwk: Any, scopes: tuple[str, ...] = ("funds:read",), **extra: str
) -> httpx.Response:
    page = dev.browser.get("/portal/apps/new")
    assert page.status_code == 200, page.text
    data: dict[str, Any] = {
        "name": "My sandbox app",
        "scopes": list(scopes),
        "key_source": "upload",
        "jwk": jwk if isinstance(jwk, str) else json.dumps(jwk),
        "csrf_token": hidden(page.text, "csrf_token"),
    } | extra
    return dev.browser.post("/portal/apps", data=data)


def created_client_id(answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/portal/apps/((?:sbx|live)_[0-9a-f]+)\?notice=created", answer.headers["location"])
    assert found, answer.headers["location"]
    return found.group(1)


def scope_boxes(html: str) -> dict[str, bool]:
    """Every scope the new-app form offers, and whether its box is ticked."""
    boxes = re.findall(r'<input[^>]*name="scopes"[^>]*>', html)
    return {re.search(r'value="([^"]+)"', box).group(1): " checked" in box for box in boxes}  # type: ignore[union-attr]


def group_of(html: str, testid: str) -> str:
    """The markup of one fieldset of the form, up to its end."""
    start = html.index(f'data-testid="{testid}"')
    return html[start : html.index("</fieldset>", start)]


def text_of(html: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</', html, re.S)
    assert found, f"no element {testid}"
    return unescape(found.group(1))
