"""The partner registry on SQL (the control plane, in the production database)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from gateway.domain.environment import Environment
from gateway.storage.database import Database, as_utc
from gateway.storage.tables.partners import AppRow, PartnerLifecycleEventRow, PartnerRow, PlanRow
from partners.lifecycle import STAGE_MOVES, LifecycleEvent, LifecycleEventKind
from partners.models import (
    App,
    AppStatus,
    Client,
    Partner,
    PartnerStage,
    PartnerStatus,
    PartnerType,
    PilotCaps,
    Plan,
)

partners = PartnerRow.__table__
plans = PlanRow.__table__
apps = AppRow.__table__
lifecycle_events = PartnerLifecycleEventRow.__table__


def _caps(document: Any) -> PilotCaps | None:
    if not document:
        return None
    return PilotCaps(
        customers=int(document["customers"]),
        daily_notional=Decimal(document["daily_notional"]),
        currency=str(document["currency"]),
        daily_points=int(document["daily_points"]),
    )


def _caps_document(caps: PilotCaps | None) -> dict[str, Any] | None:
    if caps is None:
        return None
    return {
        "customers": caps.customers,
        "daily_notional": str(caps.daily_notional),  # Decimal as text: JSON numbers are floats
        "currency": caps.currency,
        "daily_points": caps.daily_points,
    }


def _event(row: Any) -> LifecycleEvent:
    return LifecycleEvent(
        id=row.id,
        partner_id=row.partner_id,
        kind=LifecycleEventKind(row.kind),
        actor=row.actor,
        from_stage=PartnerStage(row.from_stage) if row.from_stage else None,
        to_stage=PartnerStage(row.to_stage),
        reason=row.reason,
        at=as_utc(row.at),
        details=dict(row.details or {}),
    )


def _event_values(event: LifecycleEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "partner_id": event.partner_id,
        "kind": event.kind.value,
        "actor": event.actor,
        "from_stage": event.from_stage.value if event.from_stage else None,
        "to_stage": event.to_stage.value,
        "reason": event.reason,
        "details": dict(event.details),
        "at": event.at,
    }


def _partner(row: Any) -> Partner:
    return Partner(
        id=row.id,
        name=row.name,
        type=PartnerType(row.type),
        region=row.region,
        status=PartnerStatus(row.status),
        operator=bool(row.operator),
        created_at=as_utc(row.created_at),
        stage=PartnerStage(row.stage),
        pilot_caps=_caps(row.pilot_caps),
    )


def _plan(row: Any) -> Plan:
    return Plan(
        id=row.id,
        name=row.name,
        rate_limits=tuple(row.rate_limits),
        description=row.description,
        orders_per_minute=int(row.orders_per_minute),
        notional_per_day=Decimal(row.notional_per_day),
        points_per_day=int(row.points_per_day),
    )


def _app(row: Any) -> App:
    return App(
        client_id=row.client_id,
        partner_id=row.partner_id,
        name=row.name,
        environment=Environment(row.environment),
        jwks=dict(row.jwks),
        scopes=frozenset(row.scopes),
        plan_id=row.plan_id,
        status=AppStatus(row.status),
        created_at=as_utc(row.created_at),
        redirect_uris=tuple(row.redirect_uris or ()),
    )


class SqlRegistryStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def add_partner(self, partner: Partner) -> None:
        with self._db.write() as conn:
            conn.execute(partners.insert().values(**_partner_values(partner)))

    def add_partner_with_event(self, partner: Partner, event: LifecycleEvent) -> None:
        with self._db.write() as conn:
            conn.execute(partners.insert().values(**_partner_values(partner)))
            conn.execute(lifecycle_events.insert().values(**_event_values(event)))

    def change_partner(self, before: Partner, after: Partner, event: LifecycleEvent) -> bool:
        """Compare-and-set on stage and status, so two staff members cannot both move one partner."""
        with self._db.write() as conn:
            changed = conn.execute(
                partners.update()
                .where(
                    partners.c.id == before.id,
                    partners.c.stage == before.stage.value,
                    partners.c.status == before.status.value,
                )
                .values(
                    stage=after.stage.value,
                    status=after.status.value,
                    pilot_caps=_caps_document(after.pilot_caps),
                )
            ).rowcount
            if changed != 1:
                return False
            conn.execute(lifecycle_events.insert().values(**_event_values(event)))
        return True

    def lifecycle_events(self, partner_id: str) -> list[LifecycleEvent]:
        with self._db.read() as conn:
            rows = conn.execute(
                lifecycle_events.select()
                .where(lifecycle_events.c.partner_id == partner_id)
                .order_by(lifecycle_events.c.seq)
            ).all()
        return [_event(row) for row in rows]

    def stage_entered_at(self) -> dict[str, datetime]:
        query = (
            sa.select(lifecycle_events.c.partner_id, sa.func.max(lifecycle_events.c.at))
            .where(lifecycle_events.c.kind.in_([kind.value for kind in STAGE_MOVES]))
            .group_by(lifecycle_events.c.partner_id)
        )
        with self._db.read() as conn:
            return {partner_id: as_utc(at) for partner_id, at in conn.execute(query).all()}

    def change_app_jwks(
        self, client_id: str, change: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> App | None:
        with self._db.write() as conn:
            # BEGIN IMMEDIATE on SQLite, a row lock on PostgreSQL: no two changes interleave.
            row = conn.execute(apps.select().where(apps.c.client_id == client_id).with_for_update()).first()
            if row is None:
                return None
            jwks = change(dict(row.jwks))
            conn.execute(apps.update().where(apps.c.client_id == client_id).values(jwks=jwks))
        return _with_jwks(_app(row), jwks)

    def get_partner(self, partner_id: str) -> Partner | None:
        with self._db.read() as conn:
            row = conn.execute(partners.select().where(partners.c.id == partner_id)).first()
        return _partner(row) if row else None

    def find_partner_by_name(self, name: str) -> Partner | None:
        with self._db.read() as conn:
            row = conn.execute(partners.select().where(partners.c.name == name)).first()
        return _partner(row) if row else None

    def list_partners(self) -> list[Partner]:
        with self._db.read() as conn:
            rows = conn.execute(partners.select().order_by(partners.c.created_at, partners.c.id)).all()
        return [_partner(row) for row in rows]

    def upsert_plan(self, plan: Plan) -> None:
        values = {
            "name": plan.name,
            "rate_limits": list(plan.rate_limits),
            "description": plan.description,
            "orders_per_minute": plan.orders_per_minute,
            "notional_per_day": format(plan.notional_per_day, "f"),
            "points_per_day": plan.points_per_day,
        }
        with self._db.write() as conn:
            updated = conn.execute(plans.update().where(plans.c.id == plan.id).values(**values)).rowcount
            if not updated:
                conn.execute(plans.insert().values(id=plan.id, **values))

    def get_plan(self, plan_id: str) -> Plan | None:
        with self._db.read() as conn:
            row = conn.execute(plans.select().where(plans.c.id == plan_id)).first()
        return _plan(row) if row else None

    def list_plans(self) -> list[Plan]:
        with self._db.read() as conn:
            return [_plan(row) for row in conn.execute(plans.select().order_by(plans.c.id)).all()]

    def add_app(self, app: App) -> None:
        with self._db.write() as conn:
            conn.execute(
                apps.insert().values(
                    client_id=app.client_id,
                    partner_id=app.partner_id,
                    name=app.name,
                    environment=app.environment.value,
                    jwks=app.jwks,
                    scopes=sorted(app.scopes),
                    plan_id=app.plan_id,
                    status=app.status.value,
                    created_at=app.created_at,
                    redirect_uris=list(app.redirect_uris),
                )
            )

    def list_apps(self, partner_id: str) -> list[App]:
        with self._db.read() as conn:
            rows = conn.execute(
                apps.select().where(apps.c.partner_id == partner_id).order_by(apps.c.created_at)
            ).all()
        return [_app(row) for row in rows]

    def set_app_status(self, client_id: str, status: AppStatus) -> None:
        with self._db.write() as conn:
            conn.execute(apps.update().where(apps.c.client_id == client_id).values(status=status.value))

    def get_client(self, client_id: str) -> Client | None:
        """App, partner and plan in one round trip: the token endpoint reads this on every call."""
        with self._db.read() as conn:
            row = conn.execute(_CLIENT_QUERY, {"client_id": client_id}).first()
        if row is None:
            return None
        mapping = row._mapping
        partner = SimpleNamespace(**{c.name: mapping[f"p__{c.name}"] for c in partners.c})
        plan = SimpleNamespace(**{c.name: mapping[f"pl__{c.name}"] for c in plans.c})
        return Client(app=_app(row), partner=_partner(partner), plan=_plan(plan))


def _partner_values(partner: Partner) -> dict[str, Any]:
    return {
        "id": partner.id,
        "name": partner.name,
        "type": partner.type.value,
        "region": partner.region,
        "status": partner.status.value,
        "operator": partner.operator,
        "created_at": partner.created_at,
        "stage": partner.stage.value,
        "pilot_caps": _caps_document(partner.pilot_caps),
    }


def _with_jwks(app: App, jwks: dict[str, Any]) -> App:
    return dataclasses.replace(app, jwks=jwks)


# Built once: composing a SELECT costs more than running it on SQLite.
_CLIENT_QUERY = (
    sa.select(
        apps,
        *(column.label(f"p__{column.name}") for column in partners.c),
        *(column.label(f"pl__{column.name}") for column in plans.c),
    )
    .join(partners, partners.c.id == apps.c.partner_id)
    .join(plans, plans.c.id == apps.c.plan_id)
    .where(apps.c.client_id == sa.bindparam("client_id"))
)
