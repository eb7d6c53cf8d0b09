"""Demo data for `make run`: an operator, a bank, an e-commerce platform and a developer, each
with apps whose private keys are written once to `var/demo/credentials.json` (mode 0600)."""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from joserfc import jwk, jws, jwt

from gateway.auth import pkce
from gateway.auth.dpop import PROOF_TYPE, access_token_hash
from gateway.auth.passwords import hash_password
from gateway.domain.clock import Clock
from gateway.domain.customers.data import load_demo_customers
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.domain.trading.service import opening_entry
from gateway.settings import Settings
from gateway.storage.customers import SqlCustomerStore
from gateway.storage.database import Database
from gateway.storage.trading import SqlTradingStore
from partners.models import PartnerType
from partners.service import Registry


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
        (Scope.MARKET_READ, Scope.FUNDS_READ, Scope.COMPLIANCE_SUITABILITY, Scope.COMPLIANCE_SCREENING),
        "sandbox",
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
        if all(registry.store.get_client(item["client_id"]) for item in existing):
            return existing
    credentials: list[dict[str, Any]] = []
    for demo in DEMO_APPS:
        partner = registry.store.find_partner_by_name(demo.partner) or registry.create_partner(
            name=demo.partner, type=demo.type, region=demo.region, operator=demo.operator
        )
        for environment in demo.environments:
            private = new_private_jwk()
            app = registry.create_app(
                partner_id=partner.id,
                name=f"{demo.partner} ({environment.value})",
                environment=environment,
                jwks={"keys": [public_part(private)]},
                scopes=[s.value for s in demo.scopes],
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


def seed_customers(databases: Iterable[Database], customers_file: Path, clock: Clock) -> list[dict[str, str]]:
    """The synthetic demo customers in every environment, with passwords written once (0600) and
    their opening balances in the ledger."""
    personas = load_demo_customers()
    if customers_file.exists():
        logins: list[dict[str, str]] = json.loads(customers_file.read_text())
    else:
        logins = [
            {"username": c.username, "password": secrets.token_urlsafe(9), "residency": c.residency.value}
            for c in personas
        ]
        write_secret_json(customers_file, logins)
    passwords = {item["username"]: item["password"] for item in logins}
    for database in databases:
        store = SqlCustomerStore(database)
        for customer in personas:
            if store.credentials(customer.username) is None:
                store.upsert(
                    customer, password_hash=hash_password(passwords[customer.username]), now=clock.now()
                )
            entry = opening_entry(customer, clock.now())
            if entry is not None:
                SqlTradingStore(database).open(entry)
    return logins


def write_secret_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
    os.chmod(path, 0o600)


def client_assertion(
    client_id: str, private_jwk: dict[str, Any], audience: str, *, lifetime: int = 60
) -> str:
    """A `private_key_jwt` assertion (RFC 7523 §3) as a partner would sign it."""
    now = int(time.time())
    key = jwk.import_key(private_jwk)
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime,
        "jti": secrets.token_urlsafe(16),
    }
    alg = str(private_jwk.get("alg", "ES256"))
    return jwt.encode({"alg": alg, "kid": private_jwk["kid"], "typ": "JWT"}, claims, key, algorithms=[alg])


def demo_dpop_key(demo_dir: Path) -> jwk.ECKey:
    """The demo partners' DPoP key (RFC 9449), kept in `var/demo/dpop.json` (0600) so that tokens
    bound to it stay usable from one command to the next."""
    path = demo_dir / "dpop.json"
    if not path.exists():
        key = jwk.generate_key("EC", "P-256", private=True)
        write_secret_json(path, key.as_dict(private=True))
    loaded = jwk.import_key(json.loads(path.read_text()))
    assert isinstance(loaded, jwk.ECKey)  # noqa: S101 (we wrote an EC key)
    return loaded


def dpop_proof(key: jwk.ECKey, method: str, url: str, *, access_token: str | None = None) -> str:
    """A DPoP proof as a partner's client makes one per request (RFC 9449 §4.2)."""
    claims: dict[str, Any] = {
        "jti": secrets.token_urlsafe(16),
        "htm": method.upper(),
        "htu": url.split("?", 1)[0].split("#", 1)[0],
        "iat": int(time.time()),
    }
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    header = {"typ": PROOF_TYPE, "alg": "ES256", "jwk": key.as_dict(private=False)}
    return jws.serialize_compact(header, json.dumps(claims).encode(), key, algorithms=["ES256"])


def delegated_token(
    settings: Settings,
    *,
    client_id: str,
    private_jwk: dict[str, Any],
    customer: dict[str, str],
    permissions: list[str],
    limits: list[dict[str, Any]],
) -> dict[str, Any]:
    """Run the whole delegated flow against a running server, as the demo bank and the customer's
    browser would: consent, PAR with PKCE, sign-in, approval, code exchange. The tokens are
    DPoP-bound to the demo key; returns the token response plus the consent id."""
    issuer = settings.issuer(Environment.PRODUCTION)
    key = demo_dpop_key(settings.demo_dir)
    cookies: dict[str, str] = {}

    def auth() -> dict[str, str]:
        return {
            "client_id": client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion(client_id, private_jwk, issuer),
        }

    def oauth(path: str, form: dict[str, str]) -> httpx.Response:
        proof = dpop_proof(key, "POST", f"{issuer}{path}")
        return httpx.post(f"{issuer}{path}", data=form | auth(), headers={"DPoP": proof}, timeout=10)

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

    client = oauth(
        "/oauth2/token", {"grant_type": "client_credentials", "scope": Scope.CONSENTS_MANAGE.value}
    )
    client.raise_for_status()
    partner_token = client.json()["access_token"]
    expires = (datetime.now(UTC) + timedelta(days=90)).isoformat(timespec="seconds")
    body = {"permissions": permissions, "purpose": "Demo: invest from the bank app", "expires_at": expires}
    created = httpx.post(
        f"{issuer}/v1/consents",
        json=body | {"limits": limits},
        headers={
            "Authorization": f"DPoP {partner_token}",
            "DPoP": dpop_proof(key, "POST", f"{issuer}/v1/consents", access_token=partner_token),
        },
        timeout=10,
    )
    if created.status_code != 201:
        raise RuntimeError(f"consent refused: {created.text}")
    consent_id = created.json()["id"]
    verifier = secrets.token_urlsafe(48)
    pushed = oauth(
        "/oauth2/par",
        {
            "response_type": "code",
            "redirect_uri": DEMO_REDIRECT_URI,
            "code_challenge": pkce.challenge_of(verifier),
            "code_challenge_method": "S256",
            "consent_id": consent_id,
            "state": secrets.token_urlsafe(12),
        },
    )
    pushed.raise_for_status()
    authorize = f"{issuer}/oauth2/authorize?" + urlencode(
        {"client_id": client_id, "request_uri": pushed.json()["request_uri"]}
    )
    login_page = browse(
        "GET", f"{settings.base_url}/login", params={"return_to": authorize.removeprefix(settings.base_url)}
    )
    signed_in = browse(
        "POST",
        f"{settings.base_url}/login",
        data={
            "username": customer["username"],
            "password": customer["password"],
            "csrf_token": hidden(login_page.text, "csrf_token"),
            "return_to": hidden(login_page.text, "return_to"),
        },
    )
    if signed_in.status_code != 303:
        raise RuntimeError(f"sign-in refused ({signed_in.status_code})")
    screen = browse("GET", authorize)
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
    code = dict(parse_qsl(urlsplit(decision.headers.get("location", "")).query)).get("code")
    if code is None:
        raise RuntimeError(f"no code in the answer ({decision.status_code}): {decision.text[:200]}")
    token = oauth(
        "/oauth2/token",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": DEMO_REDIRECT_URI,
            "code_verifier": verifier,
        },
    )
    token.raise_for_status()
    answer: dict[str, Any] = token.json() | {"consent_id": consent_id}
    return answer
