"""The transactional outbox: events written in the transaction of the change they report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from gateway.storage.tables.base import TableRow, json_field, moment_field


class OutboxRow(TableRow, table=True):
    """Events written with the change they report; `gateway worker` delivers them."""

    __tablename__ = "outbox"

    id: str = Field(primary_key=True, max_length=40)
    type: str = Field(max_length=60)
    partner_id: str = Field(index=True, max_length=40)
    subject_id: str = Field(index=True, max_length=40)
    payload: dict[str, Any] = json_field()
    created_at: datetime = moment_field(index=True)
    delivered_at: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True)
    )
