"""Developer portal accounts (the production control plane)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from gateway.storage.tables.base import TableRow, moment_field


class DeveloperAccountRow(TableRow, table=True):
    """A developer's portal sign-in (production control plane): login facts as columns, like customers."""

    __tablename__ = "developer_accounts"

    id: str = Field(primary_key=True, max_length=40)
    email: str = Field(max_length=254, sa_column_kwargs={"unique": True})
    partner_id: str = Field(index=True, max_length=40)
    password_hash: str = Field(max_length=200)
    failed_logins: int = 0
    locked_until: datetime | None = Field(
        default=None, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=True)
    )
    created_at: datetime = moment_field()
