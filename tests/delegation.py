"""Test helpers for delegated access: seeded customers, a browser that keeps its cookies, and the
whole authorization code flow (PAR, sign-in, consent screen, code, token) as a partner runs it."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import cache
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from litestar.testing import TestClient

from gateway.auth import pkce
from gateway.auth.passwords import hash_password
from gateway.domain.customers.models import Customer
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.services import Platform
from gateway.storage.customers import SqlCustomerStore
from partners.models import PartnerType
from sandbox.personas import load_demo_customers
from tests.support import ASSERTION_TYPE, Holder, PartnerApp, database_of, register_app

PASSWORD = "correct horse battery staple"
REDIRECT_URI = "https://partner.example/callback"


@cache
def password_hash() -> str:
    return hash_password(PASSWORD)  # Argon2id is slow on purpose: hash once per run


def fresh_customer(persona: str = "li.wei") -> Customer:
    """A copy of a demo persona with its own ids (customer, username, accounts, transactions)."""
    template = next(c for c in load_demo_customers() if c.username == persona)
    suffix = secrets.token_hex(4)
    account_ids = {a.id: f"acc_{suffix}{a.id[-2:]}{secrets.token_hex(2)}" for a in template.accounts}
    return replace(
        template,
        id=f"cus_{suffix}{template.id[4:12]}",
        username=f"{persona}.{suffix}",
        accounts=tuple(replace(a, id=account_ids[a.id]) for a in template.accounts),
        holdings=tuple(replace(h, account_id=account_ids[h.account_id]) for h in template.holdings),
        transactions=tuple(
            replace(t, id=f"txn_{suffix}{t.id[-6:]}", account_id=account_ids[t.account_id])
            for t in template.transactions
        ),
    )


def seed_customer(platform: Platform, environment: Environment, persona: str = "li.wei") -> Customer:
    """A fresh copy of a demo persona, signed up and with its opening balances in the ledger."""
    customer = fresh_customer(persona)
    services = platform.environments[environment]
    SqlCustomerStore(database_of(platform, environment)).upsert(
        customer, password_hash=password_hash(), now=platform.clock.now()
    )
    services.positions.open_accounts(customer)
    return customer


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return unescape(found.group(1))


@dataclass
class Browser:
    """A customer's browser: httpx keeps no `Secure` cookie over http, so this keeps them itself."""

    client: TestClient[Any]
    prefix: str
    cookies: dict[str, str] = field(default_factory=dict)

    def _remember(self, response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in header.lower() or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response

    def _cookie_header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        headers = {**self._cookie_header(), **kwargs.pop("headers", {})}
        return self._remember(self.client.get(url, headers=headers, follow_redirects=False, **kwargs))

    def post(self, url: str, data: Any = None, **kwargs: Any) -> httpx.Response:
        headers = {**self._cookie_header(), **kwargs.pop("headers", {})}
        return self._remember(
            self.client.post(url, data=data, headers=headers, follow_redirects=False, **kwargs)
        )

    def sign_in(self, username: str, password: str = PASSWORD, return_to: str = "") -> httpx.Response:
        page = self.get(f"{self.prefix}/login", params={"return_to": return_to} if return_to else None)
        assert page.status_code == 200, page.text
        return self.post(
            f"{self.prefix}/login",
            data={
                "username": username,
                "password": password,
                "csrf_token": hidden(page.text, "csrf_token"),
                "return_to": hidden(page.text, "return_to"),
            },
        )


@dataclass
class DelegatingApp:
    """A partner app that runs the authorization code flow with a DPoP key."""

    app: PartnerApp
    holder: Holder
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    @property
    def prefix(self) -> str:
        return self.app.prefix

    def url(self, path: str) -> str:
        return f"{self.app.issuer}{path}"

    def client_token(self, client: TestClient[Any]) -> str:
        """A client-credentials token (DPoP-bound) for the partner's own calls."""
        response = client.post(
            f"{self.prefix}/oauth2/token",
            data=self.app.token_form(scope=Scope.CONSENTS_MANAGE.value),
            headers={"DPoP": self.holder.proof("POST", self.url("/oauth2/token"))},
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def call(
        self, client: TestClient[Any], method: str, path: str, token: str, **kwargs: Any
    ) -> httpx.Response:
        headers = {
            "Authorization": f"DPoP {token}",
            "DPoP": self.holder.proof(method, self.url(path), token=token),
            **kwargs.pop("headers", {}),
        }
        return client.request(method, f"{self.prefix}{path}", headers=headers, **kwargs)

    def create_consent(self, client: TestClient[Any], permissions: list[str], **extra: Any) -> dict[str, Any]:
        body = {
            "permissions": permissions,
            "purpose": "Show your portfolio in the bank app",
            "expires_at": (self.app.clock.now() + timedelta(days=90)).isoformat(),
            **extra,
        }
        response = self.call(client, "POST", "/v1/consents", self.client_token(client), json=body)
        assert response.status_code == 201, response.text
        consent: dict[str, Any] = response.json()
        return consent

    def par_form(self, consent: str, /, **overrides: str | None) -> dict[str, str]:
        form: dict[str, str | None] = {
            "response_type": "code",
            "client_id": self.app.client_id,
            "redirect_uri": REDIRECT_URI,
            "code_challenge": pkce.challenge_of(self.verifier),
            "code_challenge_method": "S256",
            "consent_id": consent,
            "state": secrets.token_urlsafe(12),
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.app.assertion(),
            **overrides,
        }
        return {k: v for k, v in form.items() if v is not None}

    def push(self, client: TestClient[Any], consent: str, /, **overrides: str | None) -> httpx.Response:
        return client.post(
            f"{self.prefix}/oauth2/par",
            data=self.par_form(consent, **overrides),
            headers={"DPoP": self.holder.proof("POST", self.url("/oauth2/par"))},
        )

    def authorize_url(self, request_uri: str) -> str:
        return f"{self.prefix}/oauth2/authorize?client_id={self.app.client_id}&request_uri={request_uri}"

    def redeem(self, client: TestClient[Any], code: str, **overrides: str | None) -> httpx.Response:
        form: dict[str, str | None] = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": self.verifier,
            "client_id": self.app.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.app.assertion(),
            **overrides,
        }
        return client.post(
            f"{self.prefix}/oauth2/token",
            data={k: v for k, v in form.items() if v is not None},
            headers={"DPoP": self.holder.proof("POST", self.url("/oauth2/token"))},
        )

    def refresh(self, client: TestClient[Any], refresh_token: str) -> httpx.Response:
        return client.post(
            f"{self.prefix}/oauth2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": self.app.client_id,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": self.app.assertion(),
            },
            headers={"DPoP": self.holder.proof("POST", self.url("/oauth2/token"))},
        )


def delegating_app(
    platform: Platform,
    environment: Environment = Environment.PRODUCTION,
    *,
    scopes: tuple[Scope, ...] = (
        Scope.CONSENTS_MANAGE,
        Scope.ACCOUNTS_READ,
        Scope.HOLDINGS_READ,
        Scope.TRANSACTIONS_READ,
        Scope.PROFILE_RISK_READ,
        Scope.PROFILE_READ,
    ),
    partner_type: PartnerType = PartnerType.INSTITUTION,
    region: str = "CN",
    plan: str = "enterprise",
) -> DelegatingApp:
    app = register_app(
        platform,
        partner_type=partner_type,
        environment=environment,
        scopes=scopes,
        redirect_uris=(REDIRECT_URI,),
        region=region,
        plan=plan,
    )
    return DelegatingApp(app, Holder(platform.clock))


def redirect_parameters(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI), location
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


@dataclass
class Grant:
    consent_id: str
    access_token: str
    refresh_token: str
    scope: str


def authorize(
    client: TestClient[Any],
    partner: DelegatingApp,
    customer: Customer,
    permissions: list[str],
    *,
    approve: list[str] | None = None,
    opt_in_high_risk: bool = False,
    **consent_extra: Any,
) -> Grant:
    """The whole flow: consent, PAR, sign-in, consent screen, code, token."""
    consent = partner.create_consent(client, permissions, **consent_extra)
    pushed = partner.push(client, consent["id"])
    assert pushed.status_code == 201, pushed.text
    browser = Browser(client, partner.prefix)
    assert browser.sign_in(customer.username).status_code == 303
    screen = browser.get(partner.authorize_url(pushed.json()["request_uri"]))
    assert screen.status_code == 200, screen.text
    decision: dict[str, Any] = {
        "csrf_token": hidden(screen.text, "csrf_token"),
        "transaction_id": hidden(screen.text, "transaction_id"),
        "decision": "approve",
        "scope": approve if approve is not None else permissions,
    }
    if opt_in_high_risk:
        decision["opt_in_high_risk"] = "yes"
    answer = redirect_parameters(browser.post(f"{partner.prefix}/oauth2/authorize/decision", data=decision))
    assert answer["iss"] == partner.app.issuer
    token = partner.redeem(client, answer["code"])
    assert token.status_code == 200, token.text
    body = token.json()
    return Grant(consent["id"], body["access_token"], body["refresh_token"], body["scope"])
