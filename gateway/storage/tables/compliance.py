"""Suitability assessments and screenings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field

from gateway.storage.tables.base import TableRow, json_field, moment_field


class ComplianceRecordRow(TableRow, table=True):
    """Suitability assessments and screenings, recorded as the rules require."""

    __tablename__ = "compliance_records"

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=20)
    partner_id: str = Field(index=True, max_length=40)
    client_id: str = Field(max_length=64)
    decision: str = Field(max_length=40)
    request: dict[str, Any] = json_field()
    result: dict[str, Any] = json_field()
    created_at: datetime = moment_field()
