"""What the idempotency middleware needs from storage; the SQL adapter is gateway/storage/idempotency.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    fingerprint: str
    response: StoredResponse | None  # None while the first request is still running


class IdempotencyStore(Protocol):
    def purge(self, now: datetime) -> int: ...
    def claim(
        self, *, client_id: str, key: str, fingerprint: str, now: datetime, expires_at: datetime
    ) -> IdempotencyRecord | None: ...
    def complete(self, *, client_id: str, key: str, response: StoredResponse) -> None: ...
    def release(self, *, client_id: str, key: str) -> None: ...
