"""Consent enforcement on every delegated call: status, expiry and scope, from a per-worker cache
that any consent change empties at once in every worker.

Every worker compares a shared epoch (a Redis counter with several workers, a number in memory
with one) before trusting its cache; a change bumps the epoch before the call that made it
answers, so the partner's very next call, in any worker, reads the consent afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Protocol

import redis

from gateway.auth.tokens import AccessToken
from gateway.domain.clock import Clock
from gateway.domain.consent.models import Consent, ConsentStatus

CACHE_SIZE: Final = 50_000


class ConsentEpoch(Protocol):
    def current(self) -> int: ...
    def bump(self) -> None: ...


class MemoryEpoch:
    def __init__(self) -> None:
        self._value = 0

    def current(self) -> int:
        return self._value

    def bump(self) -> None:
        self._value += 1


class RedisEpoch:
    def __init__(self, client: redis.Redis, key: str) -> None:
        self._client = client
        self._key = key

    def current(self) -> int:
        value = self._client.get(self._key)
        return int(value) if value is not None else 0

    def bump(self) -> None:
        self._client.incr(self._key)


class ConsentRefusedError(Exception):
    """The consent behind a delegated token does not allow this call."""

    def __init__(self, reason: str, *, insufficient_scope: bool = False) -> None:
        super().__init__(reason)
        self.insufficient_scope = insufficient_scope


class ConsentGate:
    def __init__(self, load: Callable[[str], Consent | None], epoch: ConsentEpoch, clock: Clock) -> None:
        self._load = load
        self._epoch = epoch
        self._clock = clock
        self._cache: dict[str, Consent] = {}
        self._seen_epoch = -1

    def check(self, token: AccessToken, required: frozenset[str]) -> Consent:
        consent_id = token.consent_id
        assert consent_id is not None  # noqa: S101 (only delegated tokens come here)
        epoch = self._epoch.current()
        if epoch != self._seen_epoch:
            self._cache.clear()
            self._seen_epoch = epoch
        consent = self._cache.get(consent_id)
        if consent is None:
            consent = self._load(consent_id)
            if consent is not None and consent.status is ConsentStatus.AUTHORIZED:
                if len(self._cache) >= CACHE_SIZE:
                    self._cache.clear()
                self._cache[consent_id] = consent
        if consent is None or consent.client_id != token.client_id:
            raise ConsentRefusedError("the consent behind this token is unknown")
        if not consent.is_active(self._clock.now()):
            status = ConsentStatus.EXPIRED if consent.status is ConsentStatus.AUTHORIZED else consent.status
            raise ConsentRefusedError(f"the consent behind this token is {status}")
        missing = required - frozenset(str(scope) for scope in consent.permissions)
        if missing:
            raise ConsentRefusedError(
                f"the consent does not grant {' '.join(sorted(missing))}", insufficient_scope=True
            )
        return consent

    def changed(self, consent: Consent) -> None:
        """A consent listener: forget it here, and make every other worker re-read."""
        self._cache.pop(consent.id, None)
        self._epoch.bump()
