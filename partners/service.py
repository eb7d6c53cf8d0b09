"""Registry rules: who may hold which scopes in which environment, with which keys."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sized
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Protocol, runtime_checkable
from urllib.parse import urlsplit

from gateway.domain.clock import Clock
from gateway.domain.environment import Environment
from gateway.domain.ids import new_id
from gateway.domain.jwk import thumbprint
from gateway.domain.scopes import CUSTOMER_DELEGATED, SANDBOX_ONLY_SCOPES
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from partners.errors import (
    AppNotFoundError,
    DuplicatePartnerError,
    InvalidAppError,
    KeyNotFoundError,
    PartnerNotFoundError,
    PlanNotFoundError,
)
from partners.lifecycle import SELF_SERVICE, Lifecycle, LifecycleStore, check_actor, creation_event
from partners.models import (
    REGIONS,
    App,
    AppStatus,
    Client,
    Partner,
    PartnerStage,
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
log = logging.getLogger("partners.registry")
# Told the client id of every app whose registration changed, after the commit (a cache forgets it).
AppListener = Callable[[str], None]

# Request rates and business quotas (orders/minute, notional CNY/day, points/day; ADR 0012).
DEFAULT_PLANS: Final = (
    Plan(
        "sandbox", "Sandbox", ("20/second", "10000/day"), "Free, synthetic data only",
        orders_per_minute=120, notional_per_day=Decimal("1000000.00"), points_per_day=1_000_000,
    ),
    Plan(
        "starter", "Starter", ("50/second", "200000/day"), "Small partners and pilots",
        orders_per_minute=600, notional_per_day=Decimal("10000000.00"), points_per_day=5_000_000,
    ),
    Plan(
        "growth", "Growth", ("200/second", "2000000/day"), "Partners in production",
        orders_per_minute=6_000, notional_per_day=Decimal("100000000.00"), points_per_day=50_000_000,
    ),
    Plan(
        "enterprise", "Enterprise", ("5000/second", "50000000/day"), "Institutions at scale",
        orders_per_minute=120_000, notional_per_day=Decimal("1000000000.00"), points_per_day=1_000_000_000,
    ),
)  # fmt: skip


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


MAX_APP_KEYS: Final = 10
MAX_APPS: Final = 10  # per developer partner, on the portal's self-service path
MAX_JWK_CHARS: Final = 16_384
REVIEW_ORDER: Final = (
    PartnerStage.REVIEW,  # pending reviews first: they wait for the partner team
    PartnerStage.APPLICATION,
    PartnerStage.SANDBOX,
    PartnerStage.PILOT,
    PartnerStage.PRODUCTION,
)


def parse_jwks(text: str) -> dict[str, Any]:
    """One public JWK or a JWK Set as JSON text; a key without `kid` gets its RFC 7638 thumbprint."""
    if len(text) > MAX_JWK_CHARS:
        raise InvalidAppError(f"the key is longer than {MAX_JWK_CHARS} characters", field="jwks")
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise InvalidAppError("the key is not valid JSON", field="jwks") from exc
    if not isinstance(document, dict):
        raise InvalidAppError("the key must be a JSON object: a JWK or a JWK Set", field="jwks")
    keys = document.get("keys") if "keys" in document else [document]
    if not isinstance(keys, list) or not keys:
        raise InvalidAppError("a JWK Set needs at least one key", field="jwks")
    named: list[Any] = []
    for key in keys:
        # Before the thumbprint, which would read a private key as readily as a public one.
        if isinstance(key, dict) and PRIVATE_JWK_MEMBERS & key.keys():
            raise InvalidAppError(
                "this is a private key. Paste only the public key: never send the private one", field="jwks"
            )
        if isinstance(key, dict) and "kid" not in key:
            try:
                key = {**key, "kid": thumbprint(key)}
            except ValueError as exc:
                raise InvalidAppError(f"the key could not be read: {exc}", field="jwks") from exc
        named.append(key)
    return {"keys": named}


def has_room_for_app(apps: Sized) -> bool:
    """Whether a developer holding `apps` may create one more (`MAX_APPS`)."""
    return len(apps) < MAX_APPS


@runtime_checkable
class AppKeyStore(Protocol):
    def change_app_jwks(
        self, client_id: str, change: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> App | None:
        """Apply `change` to the app's JWK Set under the write lock; None if there is no such app."""
        ...


def with_key_added(jwks: Mapping[str, Any], jwk: Mapping[str, Any]) -> dict[str, Any]:
    """The app's key set plus `jwk`, validated as a whole (public only, unique kid, accepted type)."""
    keys = [*jwks.get("keys", []), dict(jwk)]
    if len(keys) > MAX_APP_KEYS:
        raise InvalidAppError(f"an app holds at most {MAX_APP_KEYS} keys; remove one first", field="jwks")
    return validate_public_jwks({"keys": keys})


def with_key_removed(jwks: Mapping[str, Any], kid: str) -> dict[str, Any]:
    """The app's key set without `kid`; never the last key (the app could not authenticate again)."""
    keys = list(jwks.get("keys", []))
    remaining = [key for key in keys if key.get("kid") != kid]
    if len(remaining) == len(keys):
        raise KeyNotFoundError("the app holds no key with this kid", kid=kid)
    if not remaining:
        raise InvalidAppError(
            "the last key of an app cannot be removed; add its successor first", field="kid"
        )
    return {"keys": remaining}


@dataclass(frozen=True, slots=True)
class Registry:
    store: RegistryStore
    clock: Clock
    listeners: tuple[AppListener, ...] = ()

    def ensure_default_plans(self) -> None:
        for plan in DEFAULT_PLANS:
            self.store.upsert_plan(plan)

    @property
    def lifecycle(self) -> Lifecycle:
        """Stage moves, suspension and pilot caps (needs a store that keeps the lifecycle history)."""
        if not isinstance(self.store, LifecycleStore):
            raise TypeError("this registry store keeps no lifecycle history")
        return Lifecycle(self.store, self.clock, listeners=(self._partner_changed,))

    def create_partner(
        self,
        *,
        name: str,
        type: PartnerType,
        region: str,
        operator: bool = False,
        stage: PartnerStage = PartnerStage.PRODUCTION,
        actor: str | None = None,
    ) -> Partner:
        """Register a partner in `stage`, recorded as its first lifecycle event.

        The default stage, production, is for trusted provisioning (CLI, seed, operator partners);
        the staff API passes `application`, the developer portal `sandbox` (actor `self-service`).
        """
        name = name.strip()
        if not 2 <= len(name) <= 200:
            raise InvalidAppError("name must be 2 to 200 characters", field="name")
        if region not in REGIONS:
            raise InvalidAppError(f"region must be one of {sorted(REGIONS)}", field="region")
        if self.store.find_partner_by_name(name) is not None:
            raise DuplicatePartnerError("a partner with this name exists already", field="name")
        partner = Partner(
            id=new_id("prt", random_bytes=8),
            name=name,
            type=type,
            region=region,
            status=PartnerStatus.ACTIVE,
            operator=operator,
            created_at=self.clock.now(),
            stage=stage,
        )
        if isinstance(self.store, LifecycleStore):
            default_actor = SELF_SERVICE if stage is PartnerStage.SANDBOX else "system"
            event = creation_event(
                partner, actor=check_actor(actor or default_actor), event_id=new_id("ple", random_bytes=8)
            )
            self.store.add_partner_with_event(partner, event)
        else:
            self.store.add_partner(partner)
        return partner

    def partner(self, partner_id: str) -> Partner:
        partner = self.store.get_partner(partner_id)
        if partner is None:
            raise PartnerNotFoundError("partner not found", partner_id=partner_id)
        return partner

    def find_partner_by_name(self, name: str) -> Partner | None:
        return self.store.find_partner_by_name(name)

    def list_partners(self) -> list[Partner]:
        return self.store.list_partners()

    def list_plans(self) -> list[Plan]:
        return self.store.list_plans()

    def list_apps(self, partner_id: str) -> list[App]:
        return self.store.list_apps(partner_id)

    def get_client(self, client_id: str) -> Client | None:
        return self.store.get_client(client_id)

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
        sandbox_only = sorted(requested & SANDBOX_ONLY_SCOPES)
        if environment is Environment.PRODUCTION and sandbox_only:
            raise InvalidAppError(
                f"a production app cannot hold {', '.join(sandbox_only)}: it is for sandbox apps only",
                field="scopes",
                refused=sandbox_only,
            )
        # The stage is the one gate to production, for every type of partner (ADR 0011).
        if environment not in partner.environments:
            raise InvalidAppError(
                f"a partner in the {partner.stage.value} stage gets no {environment.value} apps",
                field="environment",
                stage=partner.stage.value,
            )
        plan_id = plan_id or ("sandbox" if environment is Environment.SANDBOX else "starter")
        if self.store.get_plan(plan_id) is None:
            raise PlanNotFoundError("plan not found", field="plan_id", plan_id=plan_id)
        app = App(
            client_id=environment.new_client_id(),
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

    def create_developer_app(
        self,
        *,
        partner_id: str,
        name: str,
        jwks: str,
        scopes: Iterable[str],
        redirect_uris: Iterable[str] = (),
        environment: Environment = Environment.SANDBOX,
    ) -> App:
        """An app a developer registers for itself, its keys as JSON text (`parse_jwks`): at most
        `MAX_APPS` per developer, production ones once the stage opens production (starter plan)."""
        keys = parse_jwks(jwks)
        if not has_room_for_app(self.store.list_apps(partner_id)):
            raise InvalidAppError(
                f"you have {MAX_APPS} apps already, the most a developer may hold", field="name"
            )
        requested, targets = frozenset(scopes), tuple(redirect_uris)
        # Without one the app could never finish the authorization code flow its scopes need.
        if requested & CUSTOMER_DELEGATED and not targets:
            raise InvalidAppError(
                "an app with customer-delegated scopes needs at least one redirect URI",
                field="redirect_uris",
            )
        return self.create_app(
            partner_id=partner_id,
            name=name,
            environment=environment,
            jwks=keys,
            scopes=requested,
            redirect_uris=targets,
        )

    def partner_client(self, partner_id: str, client_id: str) -> Client:
        """The partner's own app; anyone else's is not found, exactly like an unknown one (no leak)."""
        client = self.store.get_client(client_id) if len(client_id) <= 64 else None
        if client is None or client.app.partner_id != partner_id:
            raise AppNotFoundError("no such app", client_id=client_id[:64])
        return client

    def review_queue(
        self, stage: PartnerStage | None = None, *, limit: int
    ) -> list[tuple[Partner, datetime]]:
        """Partners (never the operator) with when they entered their stage, in `REVIEW_ORDER`; within
        a stage the longest waiting first (one query each for partners and stage entries)."""
        entered = self.lifecycle.stage_entered_at()
        lines: list[tuple[int, datetime, str, Partner]] = []
        for partner in self.store.list_partners():
            if partner.operator or (stage is not None and partner.stage is not stage):
                continue
            since = entered.get(partner.id, partner.created_at)
            lines.append((REVIEW_ORDER.index(partner.stage), since, partner.id, partner))
        return [(partner, since) for _, since, _, partner in sorted(lines)[:limit]]

    def create_developer(self, *, organisation: str, region: str) -> Partner:
        """A developer partner signing itself up: stage `sandbox`, recorded as `self-service`."""
        return self.create_partner(
            name=organisation, type=PartnerType.DEVELOPER, region=region, stage=PartnerStage.SANDBOX
        )

    def abandon_developer(self, partner_id: str, reason: str) -> Partner:
        """Suspend a developer partner whose account could not be made: no orphan stays active."""
        return self.lifecycle.suspend(partner_id, actor=SELF_SERVICE, reason=reason)

    def app_keys(self, client_id: str) -> dict[str, Any]:
        """The app's public JWK Set (private_key_jwt keys)."""
        client = self.store.get_client(client_id)
        if client is None:
            raise AppNotFoundError("no such app", client_id=client_id)
        return client.app.jwks

    def add_app_key(self, client_id: str, jwk: Mapping[str, Any]) -> App:
        return self._change_keys(client_id, lambda jwks: with_key_added(jwks, jwk))

    def remove_app_key(self, client_id: str, kid: str) -> App:
        return self._change_keys(client_id, lambda jwks: with_key_removed(jwks, kid))

    def _change_keys(self, client_id: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> App:
        if not isinstance(self.store, AppKeyStore):
            raise TypeError("this registry store cannot change app keys")
        app = self.store.change_app_jwks(client_id, change)
        if app is None:
            raise AppNotFoundError("no such app", client_id=client_id)
        self._notify(app.client_id)  # a removed key signs no further client assertion
        return app

    def _partner_changed(self, partner: Partner) -> None:
        """A stage, status or pilot caps travel with every app of the partner."""
        self._notify(*(app.client_id for app in self.store.list_apps(partner.id)))

    def _notify(self, *client_ids: str) -> None:
        """Tell every listener of every app, even when one fails; then raise the first failure."""
        failure: Exception | None = None
        for client_id in client_ids:
            for listener in self.listeners:
                try:
                    listener(client_id)
                except Exception as exc:
                    log.exception("registry listener %r failed for %s", listener, client_id)
                    failure = failure or exc
        if failure is not None:
            raise failure
