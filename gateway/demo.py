"""Demo data for `make run`: an operator, a bank, an e-commerce platform and a developer, each
with apps whose private keys are written once to `var/demo/credentials.json` (mode 0600)."""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from joserfc import jwk, jws, jwt

from gateway.auth.dpop import PROOF_TYPE, access_token_hash
from gateway.auth.passwords import hash_password
from gateway.domain.clock import Clock
from gateway.domain.customers.data import load_demo_customers
from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from gateway.domain.trading.service import opening_entry
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
        (Scope.ADMIN_PARTNERS, Scope.ADMIN_AUDIT),
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
