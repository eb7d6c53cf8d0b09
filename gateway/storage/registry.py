"""The partner registry on SQL (the control plane, in the production database)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from gateway.domain.environment import Environment
from gateway.storage.database import Database, as_utc
from gateway.storage.tables import AppRow, PartnerRow, PlanRow
from partners.models import App, AppStatus, Client, Partner, PartnerStatus, PartnerType, Plan

partners = PartnerRow.__table__  # type: ignore[attr-defined]
plans = PlanRow.__table__  # type: ignore[attr-defined]
apps = AppRow.__table__  # type: ignore[attr-defined]


def _partner(row: Any) -> Partner:
    return Partner(
        id=row.id,
        name=row.name,
        type=PartnerType(row.type),
        region=row.region,
        status=PartnerStatus(row.status),
        operator=bool(row.operator),
        created_at=as_utc(row.created_at),
    )


def _plan(row: Any) -> Plan:
    return Plan(id=row.id, name=row.name, rate_limits=tuple(row.rate_limits), description=row.description)


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
            conn.execute(
                partners.insert().values(
                    id=partner.id,
                    name=partner.name,
                    type=partner.type.value,
                    region=partner.region,
                    status=partner.status.value,
                    operator=partner.operator,
                    created_at=partner.created_at,
                )
            )

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

    def set_partner_status(self, partner_id: str, status: PartnerStatus) -> None:
        with self._db.write() as conn:
            conn.execute(partners.update().where(partners.c.id == partner_id).values(status=status.value))

    def upsert_plan(self, plan: Plan) -> None:
        values = {"name": plan.name, "rate_limits": list(plan.rate_limits), "description": plan.description}
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
