"""Demo data for `make run`: an operator, a bank, an e-commerce platform and a developer, each
with apps whose private keys are written once to `var/demo/credentials.json` (mode 0600)."""

from __future__ import annotations

import functools
import json
import os
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any, Final

import httpx
from joserfc import jwk
from openplatform import Client, DPoPKey

from gateway.auth.passwords import hash_password
from gateway.domain.clock import Clock
from gateway.domain.customers.models import Customer
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.domain.trading.positions import opening_entry
from gateway.settings import Settings
from gateway.storage.customers import SqlCustomerStore
from gateway.storage.database import Database
from gateway.storage.trading import SqlTradingStore
from partners.models import PartnerType
from partners.service import Registry
from sandbox.personas import load_personas


@dataclass(frozen=True, slots=True)
class DemoApp:
    partner: str
    type: PartnerType
    region: str
    environments: tuple[Environment, ...]
    scopes: tuple[Scope, ...]
    plan: str
    operator: bool = False
    redirect_uris: tuple[str, ...] = ()


# Where the demo apps receive their codes: an https page that needs no server to show the code.
DEMO_REDIRECT_URI: Final = "https://app.example/callback"
DEMO_APPS: Final = (
    DemoApp(
        "Demo Regional Bank",
        PartnerType.INSTITUTION,
        "CN",
        (Environment.SANDBOX, Environment.PRODUCTION),
        (
            Scope.MARKET_READ,
            Scope.FUNDS_READ,
            Scope.COMPLIANCE_SUITABILITY,
            Scope.COMPLIANCE_SCREENING,
            Scope.CONSENTS_MANAGE,
            Scope.ACCOUNTS_READ,
            Scope.HOLDINGS_READ,
            Scope.PROFILE_RISK_READ,
            Scope.TRANSACTIONS_READ,
            Scope.PROFILE_READ,
            Scope.ORDERS_READ,
            Scope.ORDERS_WRITE,
            Scope.ADVISORY_READ,
            Scope.ADVISORY_WHITE_LABEL,
            Scope.WEBHOOKS_MANAGE,
            Scope.REPORTS_READ,
            Scope.PARTNER_MANAGE,
        ),
        "enterprise",
        redirect_uris=(DEMO_REDIRECT_URI,),
    ),
    DemoApp(
        "Demo ShopMall",
        PartnerType.LIFESTYLE_PLATFORM,
        "SG",
        (Environment.SANDBOX, Environment.PRODUCTION),
        (
            Scope.MARKET_READ,
            Scope.FUNDS_READ,
            Scope.POINTS_VALUATIONS_WRITE,
            Scope.REPORTS_READ,
            Scope.WEBHOOKS_MANAGE,
            Scope.PARTNER_MANAGE,
            Scope.CONSENTS_MANAGE,
            Scope.ACCOUNTS_READ,
            Scope.POINTS_CONVERT,
            Scope.HOLDINGS_READ,
            Scope.PROFILE_RISK_READ,
        ),
        "growth",
        redirect_uris=(DEMO_REDIRECT_URI,),
    ),
    DemoApp(
        "Demo Developer",
        PartnerType.DEVELOPER,
        "HK",
        (Environment.SANDBOX,),
        (
            Scope.MARKET_READ,
            Scope.FUNDS_READ,
            Scope.COMPLIANCE_SUITABILITY,
            Scope.COMPLIANCE_SCREENING,
            Scope.CONSENTS_MANAGE,
            Scope.ACCOUNTS_READ,
            Scope.HOLDINGS_READ,
            Scope.ORDERS_READ,
            Scope.ORDERS_WRITE,
            Scope.POINTS_CONVERT,
        ),
        "sandbox",
        redirect_uris=("http://127.0.0.1:8765/callback",),
    ),
    DemoApp(
        "Platform Operations",
        PartnerType.SERVICE_PROVIDER,
        "CN",
        (Environment.PRODUCTION,),
        (Scope.ADMIN_PARTNERS, Scope.ADMIN_AUDIT, Scope.ADMIN_COMPLIANCE),
        "enterprise",
        operator=True,
    ),
)


def new_private_jwk() -> dict[str, Any]:
    kid = f"key-{secrets.token_hex(4)}"
    key = jwk.generate_key("EC", "P-256", parameters={"kid": kid, "use": "sig", "alg": "ES256"}, private=True)
    return dict(key.as_dict(private=True))


def public_part(private: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in private.items() if k != "d"}


def seed_demo(registry: Registry, credentials_file: Path) -> list[dict[str, Any]]:
    """Create the demo partners and apps once; later runs keep what exists."""
    registry.ensure_default_plans()
    if credentials_file.exists():
        existing: list[dict[str, Any]] = json.loads(credentials_file.read_text())
        if all(registry.get_client(item["client_id"]) for item in existing):
            return existing
    credentials: list[dict[str, Any]] = []
    for demo in DEMO_APPS:
        partner = registry.find_partner_by_name(demo.partner) or registry.create_partner(
            name=demo.partner, type=demo.type, region=demo.region, operator=demo.operator
        )
        for environment in demo.environments:
            private = new_private_jwk()
            # Every demo app in the sandbox may drive the sandbox's own controls (personas, clocks).
            testing = (Scope.SANDBOX_TESTING,) if environment is Environment.SANDBOX else ()
            app = registry.create_app(
                partner_id=partner.id,
                name=f"{demo.partner} ({environment.value})",
                environment=environment,
                jwks={"keys": [public_part(private)]},
                scopes=[s.value for s in (*demo.scopes, *testing)],
                plan_id=demo.plan if environment is Environment.PRODUCTION or demo.operator else "sandbox",
                redirect_uris=demo.redirect_uris,
            )
            credentials.append(
                {
                    "partner": demo.partner,
                    "type": "operator" if demo.operator else demo.type.value,
                    "environment": environment.value,
                    "client_id": app.client_id,
                    "scopes": sorted(app.scopes),
                    "private_jwk": private,
                }
            )
    write_secret_json(credentials_file, credentials)
    return credentials


def seed_customers(
    databases: Mapping[Environment, Database], customers_file: Path, clock: Clock
) -> list[dict[str, str]]:
    """The synthetic customers in every environment with their opening balances in the ledger.

    Production's demo customers get passwords made once per install (written 0600 to
    `customers_file`); the sandbox's are the published personas (`seed_personas`).
    """
    personas = load_personas()
    if customers_file.exists():
        logins: list[dict[str, str]] = json.loads(customers_file.read_text())
    else:
        logins = [
            {
                "username": p.customer.username,
                "password": secrets.token_urlsafe(9),
                "residency": p.customer.residency.value,
            }
            for p in personas
        ]
        write_secret_json(customers_file, logins)
    passwords = {item["username"]: item["password"] for item in logins}
    for environment, database in databases.items():
        if environment is Environment.SANDBOX:
            seed_personas(database, clock)
            continue
        store, trades = SqlCustomerStore(database), SqlTradingStore(database)
        for persona in personas:
            password = passwords.get(persona.customer.username)
            if password is not None:  # None: a persona added after this install's passwords were made
                _seed(store, trades, persona.customer, password, clock)
    return logins


def seed_personas(database: Database, clock: Clock) -> None:
    """The sandbox's published personas with their published passwords (docs/sandbox/personas.md):
    the templates that each sandbox app works on copies of (sandbox/workspaces.py)."""
    store, trades = SqlCustomerStore(database), SqlTradingStore(database)
    for persona in load_personas():
        _seed(store, trades, persona.customer, persona.password, clock)


def _seed(
    store: SqlCustomerStore, trades: SqlTradingStore, customer: Customer, password: str, clock: Clock
) -> None:
    if store.credentials(customer.username) is None:
        store.upsert(customer, password_hash=_hash(password), now=clock.now())
    else:
        store.refresh(customer)  # an install seeded before the seed data learnt new facts
    entry = opening_entry(customer, clock.now())
    if entry is not None:
        trades.open(entry)


@functools.cache
def _hash(password: str) -> str:
    return hash_password(password)  # Argon2id is slow on purpose; the personas share one password


def write_secret_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
    os.chmod(path, 0o600)


def demo_dpop_key(demo_dir: Path) -> DPoPKey:
    """The demo partners' DPoP key (RFC 9449), kept in `var/demo/dpop.json` (0600) so that tokens
    bound to it stay usable from one command to the next."""
    path = demo_dir / "dpop.json"
    if not path.exists():
        write_secret_json(path, DPoPKey(None, clock=time.time).export())
    return DPoPKey(json.loads(path.read_text()), clock=time.time)


def demo_client(settings: Settings, credential: Mapping[str, Any], *, use_dpop: bool = True) -> Client:
    """The SDK client of a demo app on this deployment, its tokens bound to the demo DPoP key
    (`use_dpop=False`: plain bearer tokens, which only the sandbox issues)."""
    return Client(
        credential["client_id"],
        credential["private_jwk"],
        base_url=settings.base_url,
        # A DPoPKey given to the SDK is used even with use_dpop=False: give it none for bearer tokens.
        dpop_key=demo_dpop_key(settings.demo_dir) if use_dpop else None,
        use_dpop=use_dpop,
        timeout=10,
        allow_insecure_loopback=True,  # `make run` serves production over plain http on loopback
    )


def delegated_token(
    settings: Settings,
    *,
    credential: Mapping[str, Any],
    customer: dict[str, str],
    permissions: list[str],
    limits: list[dict[str, Any]],
) -> dict[str, Any]:
    """Run the whole delegated flow against a running server, as the demo bank (the SDK) and the
    customer's browser would: consent, PAR with PKCE, sign-in, approval, code exchange. The tokens
    are DPoP-bound to the demo key; returns the token response plus the consent id."""
    with demo_client(settings, credential) as client:
        consent = client.with_options(scopes=[Scope.CONSENTS_MANAGE.value]).consents.create(
            permissions=permissions,
            purpose="Demo: invest from the bank app",
            expires_at=datetime.now(UTC).replace(microsecond=0) + timedelta(days=90),
            limits=limits,
        )
        request = client.oauth.authorization_request(consent_id=consent.id, redirect_uri=DEMO_REDIRECT_URI)
        callback = approve_in_browser(settings, request.url, customer, permissions)
        grant = client.oauth.exchange_code(callback, request)
    return {
        "access_token": grant.access_token,
        "token_type": grant.token_type,
        "expires_in": round(grant.expires_at - grant.issued_at),
        "scope": grant.scope,
        "refresh_token": grant.refresh_token,
        "consent_id": consent.id,
    }


def approve_in_browser(
    settings: Settings,
    authorize_url: str,
    customer: Mapping[str, str],
    permissions: list[str],
    *,
    environment: Environment = Environment.PRODUCTION,
) -> str:
    """The customer's browser: sign in on the environment's `/login`, approve on the consent screen;
    returns the redirect back to the app (its `Location`, with the code, the state and the issuer)."""
    cookies: dict[str, str] = {}

    def browse(method: str, url: str, **kwargs: Any) -> httpx.Response:
        # The session cookies are `__Host-` (Secure): httpx keeps none over http, so keep them here.
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()), "Origin": settings.base_url}
        response = httpx.request(method, url, headers=headers, timeout=10, **kwargs)
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            cookies[name] = rest.split(";", 1)[0]
        return response

    def hidden(html: str, name: str) -> str:
        found = re.search(rf'name="{name}" value="([^"]*)"', html)
        if found is None:
            raise RuntimeError(f"the page has no {name} field: {html[:200]}")
        return unescape(found.group(1))

    issuer = settings.issuer(environment)
    login_page = browse(
        "GET",
        f"{issuer}/login",
        params={"return_to": authorize_url.removeprefix(settings.base_url)},
    )
    signed_in = browse(
        "POST",
        f"{issuer}/login",
        data={
            "username": customer["username"],
            "password": customer["password"],
            "csrf_token": hidden(login_page.text, "csrf_token"),
            "return_to": hidden(login_page.text, "return_to"),
        },
    )
    if signed_in.status_code != 303:
        raise RuntimeError(f"sign-in refused ({signed_in.status_code})")
    screen = browse("GET", authorize_url)
    decision = browse(
        "POST",
        f"{issuer}/oauth2/authorize/decision",
        data={
            "csrf_token": hidden(screen.text, "csrf_token"),
            "transaction_id": hidden(screen.text, "transaction_id"),
            "decision": "approve",
            "scope": permissions,
            "opt_in_high_risk": "yes",
        },
    )
    location: str | None = decision.headers.get("location")
    if decision.status_code != 303 or not location:
        raise RuntimeError(f"no redirect in the answer ({decision.status_code}): {decision.text[:200]}")
    return location
