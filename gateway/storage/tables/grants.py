"""Delegated access: pushed authorization requests, authorization codes and refresh tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from gateway.storage.tables.base import TableRow, json_field, moment_field


class PushedRequestRow(TableRow, table=True):
    """RFC 9126 pushed authorization requests; single use, short-lived."""

    __tablename__ = "pushed_requests"

    id_hash: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(max_length=64)
    parameters: dict[str, Any] = json_field()
    dpop_jkt: str | None = Field(default=None, max_length=64)
    expires_at: datetime = moment_field(index=True)
    used_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
    # Set when a signed-in customer opens the request: the consent screen's transaction.
    transaction_hash: str | None = Field(
        default=None, sa_column=sa.Column(sa.String(64), nullable=True, unique=True, index=True)
    )
    customer_id: str | None = Field(default=None, max_length=40)
    decided_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))


class AuthorizationCodeRow(TableRow, table=True):
    __tablename__ = "authorization_codes"

    code_hash: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(max_length=64)
    customer_id: str = Field(max_length=40)
    consent_id: str = Field(index=True, max_length=40)
    redirect_uri: str = Field(max_length=500)
    code_challenge: str = Field(max_length=128)
    scopes: list[str] = json_field()
    dpop_jkt: str | None = Field(default=None, max_length=64)
    expires_at: datetime = moment_field(index=True)
    used_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
    access_jti: str | None = Field(default=None, max_length=64)
    access_expires_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
    refresh_hash: str | None = Field(default=None, max_length=64)


class RefreshTokenRow(TableRow, table=True):
    """Opaque refresh tokens, stored hashed; bound to the client, the DPoP key and the consent."""

    __tablename__ = "refresh_tokens"

    token_hash: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(index=True, max_length=64)
    consent_id: str = Field(index=True, max_length=40)
    customer_id: str = Field(max_length=40)
    dpop_jkt: str | None = Field(default=None, max_length=64)
    scopes: list[str] = json_field()
    created_at: datetime = moment_field()
    revoked_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
