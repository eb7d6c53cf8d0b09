"""Revoked access tokens, kept until they would have expired."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field

from gateway.storage.tables.base import TableRow, moment_field


class RevokedTokenRow(TableRow, table=True):
    __tablename__ = "revoked_tokens"

    jti: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(max_length=64)
    revoked_at: datetime = moment_field(index=True)
    expires_at: datetime = moment_field()
