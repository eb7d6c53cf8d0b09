"""`Idempotency-Key` on every POST, with Stripe's semantics: the same key and body replay the
stored response byte for byte (`Idempotent-Replayed: true`); the same key with another body is a
422; a duplicate that arrives while the first is still running gets a 409. Keys belong to one
client, live in the environment's own database and are kept for 24 hours."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import timedelta
from typing import Any, Final

from litestar.exceptions import ClientException, HTTPException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from gateway.domain.clock import Clock
from gateway.domain.environment import Environment
from gateway.domain.idempotency.errors import IdempotencyContentionError
from gateway.domain.idempotency.ports import IdempotencyRecord, IdempotencyStore, StoredResponse
from gateway.edge.principal import Principal

log = logging.getLogger("gateway.idempotency")
KEY_PATTERN: Final = re.compile(r"^[\x21-\x7e]{1,255}$")
UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Per-request headers are never replayed; the replay gets fresh ones.
NOT_REPLAYED: Final = frozenset(
    {"x-request-id", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "date"}
)


class IdempotencyPurger:
    """Deletes expired keys; the server runs it once an hour in every worker (deleting twice is harmless)."""

    def __init__(self, stores: list[IdempotencyStore], clock: Clock) -> None:
        self.stores = stores
        self.clock = clock

    def purge(self) -> int:
        now = self.clock.now()
        return sum(store.purge(now) for store in self.stores)


class IdempotencyKeyReusedError(HTTPException):
    status_code = 422


class IdempotencyConflictError(HTTPException):
    status_code = 409


class PayloadTooLargeError(HTTPException):
    status_code = 413


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(
                detail=f"the request body is larger than {limit} bytes", extra={"limit": limit}
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def fingerprint(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(scope["method"].encode())  # type: ignore[typeddict-item]
    digest.update(b"\0" + scope["path"].encode() + b"\0" + scope.get("query_string", b"") + b"\0")
    digest.update(body)
    return digest.hexdigest()


class IdempotencyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        stores: dict[Environment, IdempotencyStore],
        clock: Clock,
        retention: timedelta,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.stores = stores
        self.clock = clock
        self.retention = retention
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal: Any = scope["state"].get("principal")
        key = _header(scope, b"idempotency-key")
        if key is None or scope["method"] not in UNSAFE_METHODS or not isinstance(principal, Principal):  # type: ignore[typeddict-item]
            await self.app(scope, receive, send)
            return
        if not KEY_PATTERN.match(key):
            raise ClientException(
                detail="Idempotency-Key must be 1 to 255 visible ASCII characters",
                extra={"header": "Idempotency-Key"},
            )
        body = await read_body(receive, self.max_body_bytes)
        store = self.stores[principal.environment]
        now = self.clock.now()
        request_fingerprint = fingerprint(scope, body)
        try:
            existing = store.claim(
                client_id=principal.client_id,
                key=key,
                fingerprint=request_fingerprint,
                now=now,
                expires_at=now + self.retention,
            )
        except IdempotencyContentionError as exc:  # to the client it is a request still in progress
            raise IdempotencyConflictError(detail=exc.detail, headers={"Retry-After": "1"}) from exc
        if existing is not None:
            await self._answer_duplicate(existing, request_fingerprint, send)
            return
        await self._execute(scope, body, send, store, principal.client_id, key)

    async def _answer_duplicate(
        self, existing: IdempotencyRecord, request_fingerprint: str, send: Send
    ) -> None:
        if existing.fingerprint != request_fingerprint:
            raise IdempotencyKeyReusedError(
                detail="this Idempotency-Key was used with a different request; use a new key",
                extra={"header": "Idempotency-Key"},
            )
        if existing.response is None:
            raise IdempotencyConflictError(
                detail="a request with this Idempotency-Key is still being processed; retry shortly",
                headers={"Retry-After": "1"},
                extra={"header": "Idempotency-Key"},
            )
        stored = existing.response
        headers = [(n.encode(), v.encode()) for n, v in stored.headers] + [(b"idempotent-replayed", b"true")]
        await send({"type": "http.response.start", "status": stored.status, "headers": headers})
        await send({"type": "http.response.body", "body": stored.body, "more_body": False})

    async def _execute(
        self, scope: Scope, body: bytes, send: Send, store: IdempotencyStore, client_id: str, key: str
    ) -> None:
        delivered = False

        async def replay_body() -> Any:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        status = 500
        headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers.extend(
                    (n.decode("latin-1"), v.decode("latin-1"))
                    for n, v in message.get("headers", ())
                    if n.decode("latin-1").lower() not in NOT_REPLAYED
                )
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        except BaseException:
            store.release(client_id=client_id, key=key)
            raise
        if status >= 500 or status == 429:  # a server failure or a used-up quota (ADR 0012) may be retried
            store.release(client_id=client_id, key=key)
        else:
            store.complete(
                client_id=client_id, key=key, response=StoredResponse(status, headers, b"".join(chunks))
            )


def _header(scope: Scope, name: bytes) -> str | None:
    for header, value in scope["headers"]:
        if header == name:
            return value.decode("latin-1")
    return None
