"""Pushed requests, authorization codes and refresh tokens on SQL; each single-use step is one
conditional UPDATE, so of two concurrent redemptions exactly one wins on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gateway.domain.identity.models import AuthorizationCode, PushedRequest, RefreshToken
from gateway.storage.database import Database, as_utc
from gateway.storage.tables.grants import AuthorizationCodeRow, PushedRequestRow, RefreshTokenRow

pushed = PushedRequestRow.__table__
codes = AuthorizationCodeRow.__table__
refresh = RefreshTokenRow.__table__


def _moment(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def _pushed(row: Any) -> PushedRequest:
    return PushedRequest(
        client_id=row.client_id,
        parameters=dict(row.parameters),
        dpop_jkt=row.dpop_jkt,
        expires_at=as_utc(row.expires_at),
        used_at=_moment(row.used_at),
        customer_id=row.customer_id,
        decided_at=_moment(row.decided_at),
    )


def _code(row: Any) -> AuthorizationCode:
    return AuthorizationCode(
        code_hash=row.code_hash,
        client_id=row.client_id,
        customer_id=row.customer_id,
        consent_id=row.consent_id,
        redirect_uri=row.redirect_uri,
        code_challenge=row.code_challenge,
        scopes=frozenset(row.scopes),
        dpop_jkt=row.dpop_jkt,
        expires_at=as_utc(row.expires_at),
        used_at=_moment(row.used_at),
        access_jti=row.access_jti,
        access_expires_at=_moment(row.access_expires_at),
        refresh_hash=row.refresh_hash,
    )


def _refresh(row: Any) -> RefreshToken:
    return RefreshToken(
        token_hash=row.token_hash,
        client_id=row.client_id,
        consent_id=row.consent_id,
        customer_id=row.customer_id,
        dpop_jkt=row.dpop_jkt,
        scopes=frozenset(row.scopes),
        created_at=as_utc(row.created_at),
        revoked_at=_moment(row.revoked_at),
    )


class SqlGrantStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    # pushed authorization requests ---------------------------------------------------------------
    def push(self, id_hash: str, request: PushedRequest) -> None:
        with self._db.write() as conn:
            conn.execute(
                pushed.insert().values(
                    id_hash=id_hash,
                    client_id=request.client_id,
                    parameters=dict(request.parameters),
                    dpop_jkt=request.dpop_jkt,
                    expires_at=request.expires_at,
                )
            )

    def pushed(self, id_hash: str) -> PushedRequest | None:
        with self._db.read() as conn:
            row = conn.execute(pushed.select().where(pushed.c.id_hash == id_hash)).first()
        return _pushed(row) if row else None

    def open_pushed(self, id_hash: str, *, transaction_hash: str, customer_id: str, now: datetime) -> bool:
        with self._db.write() as conn:
            opened = conn.execute(
                pushed.update()
                .where(pushed.c.id_hash == id_hash, pushed.c.used_at.is_(None), pushed.c.expires_at > now)
                .values(used_at=now, transaction_hash=transaction_hash, customer_id=customer_id)
            ).rowcount
        return bool(opened)

    def by_transaction(self, transaction_hash: str) -> PushedRequest | None:
        with self._db.read() as conn:
            row = conn.execute(pushed.select().where(pushed.c.transaction_hash == transaction_hash)).first()
        return _pushed(row) if row else None

    def decide(self, transaction_hash: str, *, customer_id: str, now: datetime) -> bool:
        with self._db.write() as conn:
            decided = conn.execute(
                pushed.update()
                .where(
                    pushed.c.transaction_hash == transaction_hash,
                    pushed.c.customer_id == customer_id,
                    pushed.c.decided_at.is_(None),
                )
                .values(decided_at=now)
            ).rowcount
        return bool(decided)

    # authorization codes ---------------------------------------------------------------------------
    def add_code(self, code: AuthorizationCode) -> None:
        with self._db.write() as conn:
            conn.execute(
                codes.insert().values(
                    code_hash=code.code_hash,
                    client_id=code.client_id,
                    customer_id=code.customer_id,
                    consent_id=code.consent_id,
                    redirect_uri=code.redirect_uri,
                    code_challenge=code.code_challenge,
                    scopes=sorted(code.scopes),
                    dpop_jkt=code.dpop_jkt,
                    expires_at=code.expires_at,
                )
            )

    def code(self, code_hash: str) -> AuthorizationCode | None:
        with self._db.read() as conn:
            row = conn.execute(codes.select().where(codes.c.code_hash == code_hash)).first()
        return _code(row) if row else None

    def redeem_code(
        self,
        code_hash: str,
        *,
        now: datetime,
        access_jti: str,
        access_expires_at: datetime,
        refresh: RefreshToken,
    ) -> bool:
        # The winner records its tokens in the same statement that uses the code, so whoever
        # replays the code later always finds what to revoke (RFC 6749 §4.1.2, RFC 9700 §4.5).
        with self._db.write() as conn:
            won = conn.execute(
                codes.update()
                .where(codes.c.code_hash == code_hash, codes.c.used_at.is_(None))
                .values(
                    used_at=now,
                    access_jti=access_jti,
                    access_expires_at=access_expires_at,
                    refresh_hash=refresh.token_hash,
                )
            ).rowcount
            if won:
                self._insert_refresh(conn, refresh)
        return bool(won)

    # refresh tokens -----------------------------------------------------------------------------
    @staticmethod
    def _insert_refresh(conn: sa.Connection, token: RefreshToken) -> None:
        conn.execute(
            refresh.insert().values(
                token_hash=token.token_hash,
                client_id=token.client_id,
                consent_id=token.consent_id,
                customer_id=token.customer_id,
                dpop_jkt=token.dpop_jkt,
                scopes=sorted(token.scopes),
                created_at=token.created_at,
            )
        )

    def refresh_token(self, token_hash: str) -> RefreshToken | None:
        with self._db.read() as conn:
            row = conn.execute(refresh.select().where(refresh.c.token_hash == token_hash)).first()
        return _refresh(row) if row else None

    def revoke_refresh_token(self, token_hash: str, *, now: datetime) -> None:
        with self._db.write() as conn:
            conn.execute(
                refresh.update()
                .where(refresh.c.token_hash == token_hash, refresh.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )

    def revoke_refresh_tokens_of_consent(self, consent_id: str, *, now: datetime) -> int:
        with self._db.write() as conn:
            count: int = conn.execute(
                refresh.update()
                .where(refresh.c.consent_id == consent_id, refresh.c.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount
        return count
