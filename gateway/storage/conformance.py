"""Conformance observations in the sandbox's database: appended in batches, read per app."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from gateway.storage.database import Database, as_utc
from gateway.storage.tables.conformance import ConformanceObservationRow
from sandbox.conformance import Observation, ObservationKind

observations = ConformanceObservationRow.__table__
MAX_TEXT: Final = {"idempotency_key": 255, "resource": 300}  # longer values are cut, never refused


def _values(observation: Observation) -> dict[str, Any]:
    return {
        "client_id": observation.client_id,
        "kind": observation.kind.value,
        "at": observation.at,
        "status": observation.status,
        "idempotency_key": _cut(observation.key, MAX_TEXT["idempotency_key"]),
        "resource": _cut(observation.resource, MAX_TEXT["resource"]),
        "consent_id": observation.consent_id,
        "retry_after": observation.retry_after,
        "grant": observation.grant,
        "dpop": observation.dpop,
        "client_auth": observation.client_auth,
        "scope_refused": observation.scope_refused,
        "count": observation.count,
    }


def _cut(value: str | None, limit: int) -> str | None:
    return value[:limit] if value is not None else None


def _observation(row: Any) -> Observation:
    return Observation(
        client_id=row.client_id,
        kind=ObservationKind(row.kind),
        at=as_utc(row.at),
        status=row.status,
        key=row.idempotency_key,
        resource=row.resource,
        consent_id=row.consent_id,
        retry_after=row.retry_after,
        grant=row.grant,
        dpop=row.dpop,
        client_auth=row.client_auth,
        scope_refused=bool(row.scope_refused),
        count=int(row.count),
    )


class SqlConformanceLog:
    """Satisfies `gateway.edge.conformance.ObservationStore`."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, batch: Sequence[Observation]) -> None:
        if not batch:
            return
        with self._db.write() as conn:
            conn.execute(observations.insert(), [_values(o) for o in batch])

    def since(self, client_id: str, since: datetime) -> list[Observation]:
        with self._db.read() as conn:
            rows = conn.execute(
                observations.select()
                .where(observations.c.client_id == client_id, observations.c.at >= since)
                .order_by(observations.c.at, observations.c.seq)
            ).all()
        return [_observation(row) for row in rows]
