"""Registry rules without a database: scopes per partner type, environments, plans and client keys."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from joserfc import jwk

from gateway.domain.environment import Environment
from gateway.domain.errors import ConflictError, NotFoundError, RuleViolationError
from gateway.domain.scopes import CUSTOMER_DELEGATED, STAFF, Scope
from partners.errors import DuplicatePartnerError, InvalidAppError, PartnerNotFoundError, PlanNotFoundError
from partners.models import (
    ALLOWED_SCOPES,
    DELEGATED_SCOPES,
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
from partners.service import DEFAULT_PLANS, MAX_APPS, Registry, validate_public_jwks
from sandbox.clock import FrozenClock

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class InMemoryRegistryStore:
    """The registry's port, kept in dictionaries."""

    def __init__(self) -> None:
        self.partners: dict[str, Partner] = {}
        self.plans: dict[str, Plan] = {}
        self.apps: dict[str, App] = {}

    def add_partner(self, partner: Partner) -> None:
        assert partner.id not in self.partners
        self.partners[partner.id] = partner

    def get_partner(self, partner_id: str) -> Partner | None:
        return self.partners.get(partner_id)

    def find_partner_by_name(self, name: str) -> Partner | None:
        return next((p for p in self.partners.values() if p.name == name), None)

    def list_partners(self) -> list[Partner]:
        return sorted(self.partners.values(), key=lambda p: (p.created_at, p.id))

    def upsert_plan(self, plan: Plan) -> None:
        self.plans[plan.id] = plan

    def get_plan(self, plan_id: str) -> Plan | None:
        return self.plans.get(plan_id)

    def list_plans(self) -> list[Plan]:
        return sorted(self.plans.values(), key=lambda p: p.id)

    def add_app(self, app: App) -> None:
        assert app.client_id not in self.apps
        self.apps[app.client_id] = app

    def list_apps(self, partner_id: str) -> list[App]:
        return [a for a in self.apps.values() if a.partner_id == partner_id]

    def set_app_status(self, client_id: str, status: AppStatus) -> None:
        self.apps[client_id] = replace(self.apps[client_id], status=status)

    def get_client(self, client_id: str) -> Client | None:
        app = self.apps.get(client_id)
        if app is None:
            return None
        return Client(app=app, partner=self.partners[app.partner_id], plan=self.plans[app.plan_id])


@pytest.fixture
def clock(clock: FrozenClock) -> FrozenClock:
    """The shared clock at a fixed moment."""
    clock.set(NOW)
    return clock


@pytest.fixture
def store() -> InMemoryRegistryStore:
    return InMemoryRegistryStore()


@pytest.fixture
def registry(store: InMemoryRegistryStore, clock: FrozenClock) -> Registry:
    port: RegistryStore = store
    registry = Registry(port, clock)
    registry.ensure_default_plans()
    return registry


def b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def ec_p256(kid: str = "ec-1") -> dict[str, Any]:
    key = jwk.generate_key("EC", "P-256", parameters={"kid": kid}, private=True)
    return dict(key.as_dict(private=False))


def rsa_public(bits: int, kid: str = "rsa-1") -> dict[str, Any]:
    """Built from the numbers, so no JOSE library gets to warn about (or refuse) a short key."""
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key().public_numbers()
    return {"kty": "RSA", "kid": kid, "n": b64(numbers.n), "e": b64(numbers.e)}


def ed25519_public(kid: str = "ed-1") -> dict[str, Any]:
    raw = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "kid": kid,
        "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode(),
    }


def jwks(*keys: dict[str, Any]) -> dict[str, Any]:
    return {"keys": list(keys)}


def new_partner(
    registry: Registry,
    type: PartnerType = PartnerType.INSTITUTION,
    *,
    operator: bool = False,
    name: str = "Acme",
) -> Partner:
    return registry.create_partner(name=name, type=type, region="CN", operator=operator)


def new_app(
    registry: Registry,
    partner: Partner,
    scopes: set[str] | frozenset[str] = frozenset({Scope.MARKET_READ}),
    environment: Environment = Environment.SANDBOX,
    plan_id: str | None = None,
    keys: dict[str, Any] | None = None,
) -> App:
    return registry.create_app(
        partner_id=partner.id,
        name="App",
        environment=environment,
        jwks=keys or jwks(ec_p256()),
        scopes=[str(s) for s in scopes],
        plan_id=plan_id,
    )


# -- partners ---------------------------------------------------------------------------------


def test_a_new_partner_is_active_and_stamped_by_the_clock(registry: Registry, clock: FrozenClock) -> None:
    clock.advance(timedelta(minutes=3))
    partner = registry.create_partner(name="  Harbour Bank  ", type=PartnerType.INSTITUTION, region="HK")
    assert partner.id.startswith("prt_")
    assert partner.name == "Harbour Bank"
    assert partner.status is PartnerStatus.ACTIVE
    assert partner.operator is False
    assert partner.created_at == NOW + timedelta(minutes=3)
    assert registry.partner(partner.id) == partner


@pytest.mark.parametrize("region", ["XX", "cn", "", "CHN"])
def test_an_unknown_region_is_refused(registry: Registry, store: InMemoryRegistryStore, region: str) -> None:
    with pytest.raises(InvalidAppError, match="region") as refused:
        registry.create_partner(name="Acme", type=PartnerType.INSTITUTION, region=region)
    assert refused.value.context["field"] == "region"
    assert store.partners == {}


@pytest.mark.parametrize("region", ["CN", "HK", "EU", "US", "SG", "GB"])
def test_every_served_region_is_accepted(registry: Registry, region: str) -> None:
    assert registry.create_partner(name="Acme", type=PartnerType.INSTITUTION, region=region).region == region


@pytest.mark.parametrize("name", ["", " ", "A", "   B   ", "x" * 201])
def test_a_partner_name_needs_two_to_two_hundred_characters(registry: Registry, name: str) -> None:
    with pytest.raises(InvalidAppError, match="name"):
        registry.create_partner(name=name, type=PartnerType.INSTITUTION, region="CN")


def test_a_duplicate_partner_name_is_a_conflict(registry: Registry, store: InMemoryRegistryStore) -> None:
    new_partner(registry, name="Acme")
    with pytest.raises(DuplicatePartnerError) as refused:
        new_partner(registry, PartnerType.DEVELOPER, name=" Acme ")
    assert isinstance(refused.value, ConflictError)
    assert len(store.partners) == 1


def test_an_unknown_partner_is_not_found(registry: Registry) -> None:
    with pytest.raises(PartnerNotFoundError) as missing:
        registry.partner("prt_missing")
    assert isinstance(missing.value, NotFoundError)
    with pytest.raises(PartnerNotFoundError):
        registry.create_app(
            partner_id="prt_missing",
            name="x",
            environment=Environment.SANDBOX,
            jwks=jwks(ec_p256()),
            scopes=["market:read"],
        )


def client_of(store: InMemoryRegistryStore, client_id: str) -> Client:
    client = store.get_client(client_id)
    assert client is not None
    return client


# -- scopes per partner type ------------------------------------------------------------------

# The rule table, written out again on purpose: widening a partner type's scopes must be a
# deliberate change to both places.
EXPECTED_SCOPES: dict[PartnerType, set[str]] = {
    PartnerType.INSTITUTION: {
        "market:read",
        "funds:read",
        "advisory:white-label",
        "compliance:suitability",
        "compliance:screening",
        "webhooks:manage",
        "reports:read",
        "consents:manage",
        "partner:manage",
        "sandbox:testing",
    },
    PartnerType.LIFESTYLE_PLATFORM: {
        "market:read",
        "funds:read",
        "points:valuations:write",
        "webhooks:manage",
        "reports:read",
        "consents:manage",
        "partner:manage",
        "sandbox:testing",
    },
    PartnerType.DEVELOPER: {  # any kind of integration: a bank's, a shop's, a provider's
        "market:read",
        "funds:read",
        "advisory:white-label",
        "compliance:suitability",
        "compliance:screening",
        "points:valuations:write",
        "webhooks:manage",
        "reports:read",
        "consents:manage",
        "partner:manage",
        "sandbox:testing",
    },
    PartnerType.SERVICE_PROVIDER: {
        "market:read",
        "funds:read",
        "webhooks:manage",
        "reports:read",
        "partner:manage",
        "sandbox:testing",
    },
}


def refusal(registry: Registry, partner: Partner, scope: str) -> object:
    """The field a one-scope app is refused on, or None when it is created."""
    try:
        new_app(registry, partner, {scope})
    except InvalidAppError as refused:
        return refused.context["field"]
    return None


@pytest.mark.parametrize("partner_type", list(PartnerType))
def test_each_partner_type_may_hold_exactly_its_scopes(registry: Registry, partner_type: PartnerType) -> None:
    partner = new_partner(registry, partner_type)
    outcome = {scope.value: refusal(registry, partner, scope.value) for scope in Scope}
    delegated = {s.value for s in DELEGATED_SCOPES[partner_type]}  # what its apps may ask customers for
    assert {scope for scope, field in outcome.items() if field is None} == EXPECTED_SCOPES[
        partner_type
    ] | delegated
    assert {field for field in outcome.values() if field is not None} == {"scopes"}
    assert {s.value for s in ALLOWED_SCOPES[partner_type]} == EXPECTED_SCOPES[partner_type]
    app = new_app(registry, partner, EXPECTED_SCOPES[partner_type])
    assert app.scopes == frozenset(EXPECTED_SCOPES[partner_type])


@pytest.mark.parametrize("partner_type", list(PartnerType))
def test_no_partner_holds_customer_delegated_or_staff_scopes(partner_type: PartnerType) -> None:
    assert not ALLOWED_SCOPES[partner_type] & (CUSTOMER_DELEGATED | STAFF)


def test_one_scope_too_many_refuses_the_whole_app(registry: Registry, store: InMemoryRegistryStore) -> None:
    partner = new_partner(registry, PartnerType.LIFESTYLE_PLATFORM)
    with pytest.raises(InvalidAppError) as refused:
        new_app(registry, partner, {"market:read", "compliance:screening", "orders:write"})
    assert refused.value.context["refused"] == ["compliance:screening", "orders:write"]
    assert store.apps == {}


@pytest.mark.parametrize("scopes", [set(), {"nonsense"}, {"MARKET:READ"}, {"market:read "}])
def test_empty_or_unknown_scopes_are_refused(registry: Registry, scopes: set[str]) -> None:
    with pytest.raises(InvalidAppError) as refused:
        new_app(registry, new_partner(registry), scopes)
    assert refused.value.context["field"] == "scopes"


def test_operator_partners_get_only_staff_scopes(registry: Registry) -> None:
    operator = new_partner(registry, PartnerType.SERVICE_PROVIDER, operator=True)
    assert operator.allowed_scopes() == STAFF
    app = new_app(registry, operator, STAFF, Environment.PRODUCTION)
    assert app.scopes == {"admin:partners", "admin:audit", "admin:compliance"}
    for scope in ("market:read", "reports:read", "orders:write"):
        with pytest.raises(InvalidAppError):
            new_app(registry, operator, {Scope.ADMIN_AUDIT.value, scope}, Environment.PRODUCTION)


@pytest.mark.parametrize("partner_type", list(PartnerType))
@pytest.mark.parametrize("scope", sorted(STAFF))
def test_staff_scopes_need_an_operator(registry: Registry, partner_type: PartnerType, scope: Scope) -> None:
    partner = new_partner(registry, partner_type)
    with pytest.raises(InvalidAppError) as refused:
        new_app(registry, partner, {scope.value}, Environment.SANDBOX)
    assert refused.value.context["refused"] == [scope.value]


# -- environments, client ids and plans -------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "prefix", "plan"),
    [(Environment.PRODUCTION, "live_", "starter"), (Environment.SANDBOX, "sbx_", "sandbox")],
)
def test_client_ids_carry_their_environment(
    registry: Registry, store: InMemoryRegistryStore, environment: Environment, prefix: str, plan: str
) -> None:
    partner = new_partner(registry)
    apps = [new_app(registry, partner, environment=environment) for _ in range(3)]
    for app in apps:
        assert app.client_id.startswith(prefix)
        assert len(app.client_id) == len(prefix) + 24
        assert Environment.of_client_id(app.client_id) is environment
        assert app.environment is environment
        assert app.plan_id == plan  # the default plan of the environment
        assert app.status is AppStatus.ACTIVE
        assert app.created_at == NOW
    assert len({app.client_id for app in apps}) == 3
    assert store.list_apps(partner.id) == apps


def test_the_stage_not_the_type_keeps_a_developer_out_of_production(registry: Registry) -> None:
    in_sandbox = registry.create_partner(
        name="Dev sandbox", type=PartnerType.DEVELOPER, region="SG", stage=PartnerStage.SANDBOX
    )
    with pytest.raises(InvalidAppError) as refused:
        new_app(registry, in_sandbox, environment=Environment.PRODUCTION)
    assert isinstance(refused.value, RuleViolationError)
    assert refused.value.context == {"field": "environment", "stage": "sandbox"}
    assert new_app(registry, in_sandbox, environment=Environment.SANDBOX).client_id.startswith("sbx_")
    graduated = new_partner(registry, PartnerType.DEVELOPER, name="Dev graduated")  # stage production
    assert new_app(registry, graduated, environment=Environment.PRODUCTION).client_id.startswith("live_")


@pytest.mark.parametrize("partner_type", list(PartnerType))
def test_every_partner_type_may_go_to_production(registry: Registry, partner_type: PartnerType) -> None:
    partner = new_partner(registry, partner_type)
    assert new_app(registry, partner, environment=Environment.PRODUCTION).client_id.startswith("live_")


@pytest.mark.parametrize("partner_type", list(PartnerType))
def test_sandbox_controls_never_reach_a_production_app(
    registry: Registry, store: InMemoryRegistryStore, partner_type: PartnerType
) -> None:
    partner = new_partner(registry, partner_type)
    with pytest.raises(InvalidAppError) as refused:
        new_app(registry, partner, {"market:read", "sandbox:testing"}, environment=Environment.PRODUCTION)
    assert refused.value.context == {"field": "scopes", "refused": ["sandbox:testing"]}
    assert "sandbox:testing" in refused.value.detail
    assert store.apps == {}
    assert new_app(registry, partner, {"sandbox:testing"}).scopes == {"sandbox:testing"}


def test_an_unknown_plan_is_refused(registry: Registry, store: InMemoryRegistryStore) -> None:
    partner = new_partner(registry)
    with pytest.raises(PlanNotFoundError) as refused:
        new_app(registry, partner, plan_id="platinum")
    assert refused.value.context["plan_id"] == "platinum"
    assert store.apps == {}
    assert new_app(registry, partner, plan_id="enterprise").plan_id == "enterprise"


def test_default_plans_are_upserted(registry: Registry, store: InMemoryRegistryStore) -> None:
    assert [p.id for p in store.list_plans()] == ["enterprise", "growth", "sandbox", "starter"]
    store.upsert_plan(replace(DEFAULT_PLANS[0], rate_limits=("1/second",)))
    registry.ensure_default_plans()
    assert store.get_plan("sandbox") == DEFAULT_PLANS[0]
    assert len(store.plans) == 4


def test_a_default_plan_missing_from_the_store_is_refused(
    store: InMemoryRegistryStore, clock: FrozenClock
) -> None:
    registry = Registry(store, clock)  # plans never loaded
    partner = new_partner(registry)
    with pytest.raises(PlanNotFoundError):
        new_app(registry, partner)


# -- the developer's self-service path --------------------------------------------------------------


def developer_in(registry: Registry, stage: PartnerStage) -> Partner:
    return registry.create_partner(
        name=f"Dev {stage.value}", type=PartnerType.DEVELOPER, region="SG", stage=stage
    )


def developer_app(registry: Registry, partner: Partner, scopes: set[str], **options: Any) -> App:
    return registry.create_developer_app(
        partner_id=partner.id, name="Dev app", jwks=json.dumps(ec_p256()), scopes=scopes, **options
    )


def test_a_developer_sandbox_app_serves_customers_through_a_loopback_redirect(registry: Registry) -> None:
    developer = developer_in(registry, PartnerStage.SANDBOX)
    app = developer_app(
        registry,
        developer,
        {"sandbox:testing", "consents:manage", "orders:write", "points:convert", "accounts:read"},
        redirect_uris=[
            "http://127.0.0.1:8400/callback",
            "https://dev.example/cb",
            "http://127.0.0.1:8400/callback",
        ],
    )
    assert app.environment is Environment.SANDBOX
    assert app.plan_id == "sandbox"
    assert app.redirect_uris == ("http://127.0.0.1:8400/callback", "https://dev.example/cb")


@pytest.mark.parametrize(
    ("redirect_uris", "message"),
    [
        ([], "needs at least one redirect URI"),
        (["http://dev.example/callback"], "https"),
        (["https://dev.example/cb#fragment"], "without fragment"),
    ],
)
def test_delegated_scopes_need_a_valid_redirect_uri(
    registry: Registry, store: InMemoryRegistryStore, redirect_uris: list[str], message: str
) -> None:
    developer = developer_in(registry, PartnerStage.SANDBOX)
    with pytest.raises(InvalidAppError, match=message) as refused:
        developer_app(registry, developer, {"consents:manage", "holdings:read"}, redirect_uris=redirect_uris)
    assert refused.value.context["field"] == "redirect_uris"
    assert store.apps == {}
    assert developer_app(registry, developer, {"market:read"}).redirect_uris == ()  # own calls need none


def test_a_developer_gets_production_apps_once_the_stage_opens_production(
    registry: Registry, store: InMemoryRegistryStore
) -> None:
    in_review = developer_in(registry, PartnerStage.REVIEW)
    with pytest.raises(InvalidAppError) as refused:
        developer_app(registry, in_review, {"market:read"}, environment=Environment.PRODUCTION)
    assert refused.value.context["field"] == "environment"
    for stage in (PartnerStage.PILOT, PartnerStage.PRODUCTION):
        developer = developer_in(registry, stage)
        live = developer_app(
            registry,
            developer,
            {"market:read", "consents:manage", "orders:write"},
            redirect_uris=["https://dev.example/callback"],
            environment=Environment.PRODUCTION,
        )
        assert live.client_id.startswith("live_")
        assert live.plan_id == "starter"
        with pytest.raises(InvalidAppError, match="https"):  # no loopback http in production
            developer_app(
                registry,
                developer,
                {"accounts:read"},
                redirect_uris=["http://127.0.0.1/callback"],
                environment=Environment.PRODUCTION,
            )
        with pytest.raises(InvalidAppError) as sandbox_only:
            developer_app(registry, developer, {"sandbox:testing"}, environment=Environment.PRODUCTION)
        assert sandbox_only.value.context["refused"] == ["sandbox:testing"]
    assert {a.environment for a in store.apps.values()} == {Environment.PRODUCTION}


def test_max_apps_counts_both_environments(registry: Registry, store: InMemoryRegistryStore) -> None:
    developer = developer_in(registry, PartnerStage.PRODUCTION)
    for index in range(MAX_APPS):
        environment = Environment.SANDBOX if index % 2 else Environment.PRODUCTION
        developer_app(registry, developer, {"market:read"}, environment=environment)
    with pytest.raises(InvalidAppError, match=f"you have {MAX_APPS} apps already"):
        developer_app(registry, developer, {"market:read"}, environment=Environment.PRODUCTION)
    assert len(store.list_apps(developer.id)) == MAX_APPS


# -- client keys ------------------------------------------------------------------------------


def test_accepted_keys_are_stored_as_sent(registry: Registry) -> None:
    keys = jwks(ec_p256("a"), ed25519_public("b"), rsa_public(2048, "c"))
    app = new_app(registry, new_partner(registry), keys=keys)
    assert app.jwks == keys


@pytest.mark.parametrize(
    "make",
    [lambda: ec_p256(), lambda: ed25519_public(), lambda: rsa_public(2048), lambda: rsa_public(3072)],
    ids=["EC P-256", "Ed25519", "RSA 2048", "RSA 3072"],
)
def test_asymmetric_public_keys_are_accepted(make: Callable[[], dict[str, Any]]) -> None:
    key = make()
    assert validate_public_jwks(jwks(key)) == jwks(key)


def private_ec() -> dict[str, Any]:
    key = jwk.generate_key("EC", "P-256", parameters={"kid": "ec-private"}, private=True)
    return dict(key.as_dict(private=True))


def private_rsa_member(member: str) -> dict[str, Any]:
    return {**rsa_public(2048, "rsa-private"), member: "AQAB"}


REFUSED_KEY_SETS: dict[str, tuple[Callable[[], Any], str]] = {
    "empty set": (lambda: {"keys": []}, "jwks"),
    "no keys member": (lambda: {"kty": "EC"}, "jwks"),
    "keys not a list": (lambda: {"keys": ec_p256()}, "jwks"),
    "key not an object": (lambda: {"keys": ["ec-1"]}, "jwks.keys[0]"),
    "missing kid": (lambda: jwks({k: v for k, v in ec_p256().items() if k != "kid"}), "jwks.keys[0].kid"),
    "empty kid": (lambda: jwks({**ec_p256(), "kid": ""}), "jwks.keys[0].kid"),
    "numeric kid": (lambda: jwks({**ec_p256(), "kid": 7}), "jwks.keys[0].kid"),
    "duplicate kid": (lambda: jwks(ec_p256("same"), ed25519_public("same")), "jwks.keys[1].kid"),
    "private EC key": (lambda: jwks(private_ec()), "jwks.keys[0]"),
    "RSA private exponent": (lambda: jwks(private_rsa_member("d")), "jwks.keys[0]"),
    "RSA prime p": (lambda: jwks(private_rsa_member("p")), "jwks.keys[0]"),
    "RSA CRT qi": (lambda: jwks(private_rsa_member("qi")), "jwks.keys[0]"),
    "symmetric oct key": (lambda: jwks({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}), "jwks.keys[0]"),
    "oct key without k": (lambda: jwks({"kty": "oct", "kid": "hmac"}), "jwks.keys[0].kty"),
    "EC P-384": (lambda: jwks({**ec_p256(), "crv": "P-384"}), "jwks.keys[0].kty"),
    "X25519": (lambda: jwks({**ed25519_public(), "crv": "X25519"}), "jwks.keys[0].kty"),
    "RSA 1024": (lambda: jwks(rsa_public(1024)), "jwks"),
    "RSA 2047": (lambda: jwks(rsa_public(2047)), "jwks"),
    "RSA without modulus": (lambda: jwks({"kty": "RSA", "kid": "r", "e": "AQAB"}), "jwks"),
    "EC point off the curve": (lambda: jwks({**ec_p256(), "x": ec_p256()["y"]}), "jwks"),
    "second key refused": (lambda: jwks(ec_p256("a"), rsa_public(1024, "b")), "jwks"),
}


@pytest.mark.parametrize("case", list(REFUSED_KEY_SETS))
def test_refused_key_sets(registry: Registry, store: InMemoryRegistryStore, case: str) -> None:
    make, field = REFUSED_KEY_SETS[case]
    key_set = make()
    with pytest.raises(InvalidAppError) as refused:
        validate_public_jwks(key_set)
    assert refused.value.context["field"] == field
    with pytest.raises(InvalidAppError):
        new_app(registry, new_partner(registry), keys=key_set)
    assert store.apps == {}


def test_the_refusal_names_the_private_members_but_never_their_values() -> None:
    key = private_ec()
    with pytest.raises(InvalidAppError) as refused:
        validate_public_jwks(jwks(key))
    assert refused.value.context["members"] == ["d"]
    assert key["d"] not in str(refused.value) + repr(dict(refused.value.context))
