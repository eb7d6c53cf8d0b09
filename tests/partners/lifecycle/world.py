"""The partner lifecycle's test world: an in-memory store, fixed terms and partners in a stage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from joserfc import jwk

from gateway.domain.environment import Environment
from gateway.domain.scopes import Scope
from partners.lifecycle import (
    GRADUATING,
    STAGE_MOVES,
    LifecycleEvent,
)
from partners.models import (
    App,
    AppStatus,
    Client,
    Partner,
    PartnerStage,
    PartnerType,
    PilotCaps,
    Plan,
)
from partners.service import Registry

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
S = PartnerStage
CAPS = PilotCaps(customers=50, daily_notional=Decimal("20000"), daily_points=100_000)
STAFF = "cli_staff"
# Moves into pilot or production rest on conformance evidence; tests of other rules override it.
OVERRIDE = "certified by the bank's own conformance report"


def override_for(target: PartnerStage) -> str | None:
    return OVERRIDE if target in GRADUATING else None


class InMemoryLifecycleStore:
    """The registry port plus the lifecycle history and key changes, in dictionaries."""

    def __init__(self) -> None:
        self.partners: dict[str, Partner] = {}
        self.plans: dict[str, Plan] = {}
        self.apps: dict[str, App] = {}
        self.events: list[LifecycleEvent] = []
        self.interfere: Callable[[Partner], None] | None = None  # a concurrent writer, for one test

    def add_partner(self, partner: Partner) -> None:
        self.partners[partner.id] = partner

    def add_partner_with_event(self, partner: Partner, event: LifecycleEvent) -> None:
        self.partners[partner.id] = partner
        self.events.append(event)

    def change_partner(self, before: Partner, after: Partner, event: LifecycleEvent) -> bool:
        if self.interfere is not None:
            self.interfere(before)
        current = self.partners[before.id]
        if (current.stage, current.status) != (before.stage, before.status):
            return False
        self.partners[before.id] = after
        self.events.append(event)
        return True

    def lifecycle_events(self, partner_id: str) -> list[LifecycleEvent]:
        return [e for e in self.events if e.partner_id == partner_id]

    def stage_entered_at(self) -> dict[str, datetime]:
        return {e.partner_id: e.at for e in self.events if e.kind in STAGE_MOVES}

    def get_partner(self, partner_id: str) -> Partner | None:
        return self.partners.get(partner_id)

    def find_partner_by_name(self, name: str) -> Partner | None:
        return next((p for p in self.partners.values() if p.name == name), None)

    def list_partners(self) -> list[Partner]:
        return list(self.partners.values())

    def upsert_plan(self, plan: Plan) -> None:
        self.plans[plan.id] = plan

    def get_plan(self, plan_id: str) -> Plan | None:
        return self.plans.get(plan_id)

    def list_plans(self) -> list[Plan]:
        return list(self.plans.values())

    def add_app(self, app: App) -> None:
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

    def change_app_jwks(
        self, client_id: str, change: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> App | None:
        app = self.apps.get(client_id)
        if app is None:
            return None
        self.apps[client_id] = replace(app, jwks=change(dict(app.jwks)))
        return self.apps[client_id]


def public_key(kid: str) -> dict[str, Any]:
    key = jwk.generate_key("EC", "P-256", parameters={"kid": kid}, private=True)
    return dict(key.as_dict(private=False))


def partner_in(registry: Registry, stage: PartnerStage, *, caps: bool = False) -> Partner:
    """A partner registered straight into `stage` (as staff may), with pilot caps if asked."""
    partner = registry.create_partner(
        name=f"Partner {len(registry.list_partners())}",
        type=PartnerType.INSTITUTION,
        region="CN",
        stage=stage,
        actor=STAFF,
    )
    if caps:
        partner = registry.lifecycle.set_pilot_caps(partner.id, CAPS, actor=STAFF, reason="pilot terms")
    return partner


def new_app(registry: Registry, partner: Partner, environment: Environment) -> App:
    return registry.create_app(
        partner_id=partner.id,
        name="app",
        environment=environment,
        jwks={"keys": [public_key("k1")]},
        scopes=[Scope.MARKET_READ.value, Scope.PARTNER_MANAGE.value],
    )
