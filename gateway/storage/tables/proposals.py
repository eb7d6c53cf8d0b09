"""Advisory proposals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from gateway.storage.tables.base import TableRow, json_field, moment_field


class ProposalRow(TableRow, table=True):
    """Advisory proposals, suitability-checked and kept as the rules require."""

    __tablename__ = "advisory_proposals"
    __table_args__ = (sa.Index("ix_proposals_owner", "partner_id", "customer_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=40)
    partner_id: str = Field(max_length=40)
    client_id: str = Field(max_length=64)
    customer_id: str | None = Field(default=None, max_length=40)
    document: dict[str, Any] = json_field()
    created_at: datetime = moment_field()
