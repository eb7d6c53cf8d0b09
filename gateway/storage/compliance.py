"""Compliance records on SQL; reads are always scoped to the partner (no object leaks across partners)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from gateway.domain.compliance.service import ScreeningRecord, SuitabilityRecord
from gateway.storage.database import Database
from gateway.storage.tables.compliance import ComplianceRecordRow

records = ComplianceRecordRow.__table__
T = TypeVar("T", SuitabilityRecord, ScreeningRecord)


def _encode_hook(value: Any) -> Any:
    """Mappings (read-only views in the records) as dicts; msgspec's hook contract is to raise
    NotImplementedError for any other type, which it reports as an unsupported type."""
    if isinstance(value, Mapping):
        return dict(value)
    raise NotImplementedError(f"cannot store {type(value).__name__}")


class SqlComplianceRecords:
    def __init__(self, database: Database) -> None:
        self._db = database

    def _add(self, kind: str, record: SuitabilityRecord | ScreeningRecord, decision: str) -> None:
        document = msgspec.to_builtins(record, enc_hook=_encode_hook)
        with self._db.write() as conn:
            conn.execute(
                records.insert().values(
                    id=record.id,
                    kind=kind,
                    partner_id=record.partner_id,
                    client_id=record.client_id,
                    decision=decision,
                    request={"reference": record.reference},
                    result=document,
                    created_at=record.created_at,
                )
            )

    def _get(self, kind: str, partner_id: str, record_id: str, type_: type[T]) -> T | None:
        query = records.select().where(
            (records.c.id == record_id) & (records.c.partner_id == partner_id) & (records.c.kind == kind)
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return msgspec.convert(row.result, type_) if row else None

    def add_suitability(self, record: SuitabilityRecord) -> None:
        self._add("suitability", record, record.assessment.decision.value)

    def get_suitability(self, partner_id: str, record_id: str) -> SuitabilityRecord | None:
        return self._get("suitability", partner_id, record_id, SuitabilityRecord)

    def add_screening(self, record: ScreeningRecord) -> None:
        self._add("screening", record, record.result.decision.value)

    def get_screening(self, partner_id: str, record_id: str) -> ScreeningRecord | None:
        return self._get("screening", partner_id, record_id, ScreeningRecord)
