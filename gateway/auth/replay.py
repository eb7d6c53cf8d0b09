"""Single-use values (client assertion and DPoP `jti`s) remembered until they expire.

In memory for one process; Redis (`SET NX EX`, atomic) when several workers share the load.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

import redis


class ReplayCache(Protocol):
    def first_use(self, key: str, ttl_seconds: int) -> bool:
        """Record `key`; False when it was seen before and has not expired."""
        ...


class MemoryReplayCache:
    def __init__(self, namespace: str) -> None:
        self._namespace = namespace
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_use(self, key: str, ttl_seconds: int) -> bool:
        now = time.monotonic()
        full = f"{self._namespace}:{key}"
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
            expiry = self._seen.get(full)
            if expiry is not None and expiry > now:
                return False
            self._seen[full] = now + ttl_seconds
            return True


class RedisReplayCache:
    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self._client = client
        self._namespace = namespace

    def first_use(self, key: str, ttl_seconds: int) -> bool:
        return bool(
            self._client.set(f"{self._namespace}:replay:{key}", b"1", nx=True, ex=max(ttl_seconds, 1))
        )
