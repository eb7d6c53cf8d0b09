"""Registry rules: who may hold which scopes in which environment, with which keys."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from gateway.domain.clock import Clock
from gateway.domain.environment import Environment
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from partners.errors import DuplicatePartnerError, InvalidAppError, PartnerNotFoundError, PlanNotFoundError
from partners.models import (
    REGIONS,
    SANDBOX_ONLY,
    App,
    AppStatus,
    Partner,
    PartnerStatus,
    PartnerType,
    Plan,
)
from partners.ports import RegistryStore

PRIVATE_JWK_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# Client keys for private_key_jwt: asymmetric only (FAPI 2.0 §5.4: no shared secrets).
ACCEPTED_KEY_TYPES: Final = {("EC", "P-256"), ("OKP", "Ed25519"), ("RSA", None)}
MIN_RSA_BITS: Final = 2048
LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_REDIRECT_URIS: Final = 10
MAX_REDIRECT_URI_LENGTH: Final = 500

DEFAULT_PLANS: Final = (
    Plan("sandbox", "Sandbox", ("20/second", "10000/day"), "Free, synthetic data only"),
    Plan("starter", "Starter", ("50/second", "200000/day"), "Small partners and pilots"),
    Plan("growth", "Growth", ("200/second", "2000000/day"), "Partners in production"),
    Plan("enterprise", "Enterprise", ("5000/second", "50000000/day"), "Institutions at scale"),
)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def validate_redirect_uris(uris: Iterable[str], environment: Environment) -> tuple[str, ...]:
    """Exact, absolute redirect URIs: https only in production (FAPI 2.0 §5.3.1.2), and in the
    sandbox also http on the loopback interface, for a developer's laptop (RFC 8252 §7.3)."""
    checked: list[str] = []
    for uri in uris:
        parts = urlsplit(uri)
        loopback = parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
        if parts.scheme != "https" and not (loopback and environment is Environment.SANDBOX):
            raise InvalidAppError(
                "redirect URIs use https (loopback http in the sandbox only)", field="redirect_uris", uri=uri
            )
        if not parts.hostname or parts.fragment or "*" in uri or parts.username or parts.password:
            raise InvalidAppError(
                "a redirect URI is one exact absolute URL without fragment, wildcard or credentials",
                field="redirect_uris",
                uri=uri,
            )
        if len(uri) > MAX_REDIRECT_URI_LENGTH:
            raise InvalidAppError("redirect URI too long", field="redirect_uris", uri=uri[:80])
        if uri not in checked:
            checked.append(uri)
    if len(checked) > MAX_REDIRECT_URIS:
        raise InvalidAppError(f"at most {MAX_REDIRECT_URIS} redirect URIs", field="redirect_uris")
    return tuple(checked)


def validate_public_jwks(jwks: Mapping[str, Any]) -> dict[str, Any]:
    """Accept a JWK Set of public signing keys only; return it normalised."""
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys:
        raise InvalidAppError("jwks must be a JWK Set with at least one key", field="jwks")
    kids: set[str] = set()
    for index, key in enumerate(keys):
        if not isinstance(key, dict):
            raise InvalidAppError("every key must be a JSON object", field=f"jwks.keys[{index}]")
        leaked = PRIVATE_JWK_MEMBERS & key.keys()
        if leaked:
            raise InvalidAppError(
                "jwks must hold public keys only; never send private key members",
                field=f"jwks.keys[{index}]",
                members=sorted(leaked),
            )
        kid = key.get("kid")
        if not isinstance(kid, str) or not kid or kid in kids:
            raise InvalidAppError("every key needs a unique kid", field=f"jwks.keys[{index}].kid")
        kids.add(kid)
        kty, crv = key.get("kty"), key.get("crv")
        if (kty, crv) not in ACCEPTED_KEY_TYPES:
            raise InvalidAppError(
                "keys must be EC P-256, OKP Ed25519 or RSA", field=f"jwks.keys[{index}].kty"
            )
        # Before the import: joserfc only warns about short RSA keys, and a warning is no refusal.
        if kty == "RSA" and _rsa_bits(key.get("n")) < MIN_RSA_BITS:
            raise InvalidAppError("RSA keys need at least 2048 bits", field="jwks")
    try:
        KeySet.import_key_set({"keys": keys})
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidAppError(f"jwks could not be read: {exc}", field="jwks") from exc
    return {"keys": [dict(key) for key in keys]}


def _rsa_bits(modulus: object) -> int:
    """The modulus size in bits (not in whole bytes: a 2047-bit key is a short key)."""
    if not isinstance(modulus, str):
        return 0
    try:
        raw = base64.urlsafe_b64decode(modulus + "=" * (-len(modulus) % 4))
    except ValueError:
        return 0
    return int.from_bytes(raw, "big").bit_length()


@dataclass(frozen=True, slots=True)
class Registry:
    store: RegistryStore
    clock: Clock

    def ensure_default_plans(self) -> None:
        for plan in DEFAULT_PLANS:
            self.store.upsert_plan(plan)

    def create_partner(self, *, name: str, type: PartnerType, region: str, operator: bool = False) -> Partner:
        name = name.strip()
        if not 2 <= len(name) <= 200:
            raise InvalidAppError("name must be 2 to 200 characters", field="name")
        if region not in REGIONS:
            raise InvalidAppError(f"region must be one of {sorted(REGIONS)}", field="region")
        if self.store.find_partner_by_name(name) is not None:
            raise DuplicatePartnerError("a partner with this name exists already", field="name")
        partner = Partner(
            id=new_id("prt"),
            name=name,
            type=type,
            region=region,
            status=PartnerStatus.ACTIVE,
            operator=operator,
            created_at=self.clock.now(),
        )
        self.store.add_partner(partner)
        return partner

    def partner(self, partner_id: str) -> Partner:
        partner = self.store.get_partner(partner_id)
        if partner is None:
            raise PartnerNotFoundError("partner not found", partner_id=partner_id)
        return partner

    def set_partner_status(self, partner_id: str, status: PartnerStatus) -> Partner:
        self.partner(partner_id)
        self.store.set_partner_status(partner_id, status)
        return self.partner(partner_id)

    def create_app(
        self,
        *,
        partner_id: str,
        name: str,
        environment: Environment,
        jwks: Mapping[str, Any],
        scopes: Iterable[str],
        plan_id: str | None = None,
        redirect_uris: Iterable[str] = (),
    ) -> App:
        partner = self.partner(partner_id)
        requested = frozenset(scopes)
        allowed = partner.allowed_scopes()
        if not requested:
            raise InvalidAppError("an app needs at least one scope", field="scopes")
        if not requested <= allowed:
            raise InvalidAppError(
                f"a {partner.type.value} partner may not hold these scopes",
                field="scopes",
                refused=sorted(requested - allowed),
            )
        if environment is Environment.PRODUCTION and partner.type in SANDBOX_ONLY:
            raise InvalidAppError(
                "developer partners get sandbox apps until they graduate", field="environment"
            )
        plan_id = plan_id or ("sandbox" if environment is Environment.SANDBOX else "starter")
        if self.store.get_plan(plan_id) is None:
            raise PlanNotFoundError("plan not found", field="plan_id", plan_id=plan_id)
        app = App(
            client_id=environment.client_id_prefix + secrets.token_hex(12),
            partner_id=partner.id,
            name=name.strip() or partner.name,
            environment=environment,
            jwks=validate_public_jwks(jwks),
            scopes=requested,
            plan_id=plan_id,
            status=AppStatus.ACTIVE,
            created_at=self.clock.now(),
            redirect_uris=validate_redirect_uris(redirect_uris, environment),
        )
        self.store.add_app(app)
        return app
