"""Signing keys per environment: generated on first start, stored 0600, rotated without downtime.

The newest key signs; a retired key stays published in the JWKS until every token it signed has
expired, so rotation never invalidates a live token. Worker processes notice a rotation made by
`gateway keys rotate` through the file's modification time.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from joserfc import jwk
from joserfc.jwk import ECKey, KeySet

from gateway.domain.clock import Clock

SIGNING_ALGORITHM: Final = "ES256"
# A retired key stays published this long after its last token could have expired.
PUBLICATION_GRACE: Final = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class RingEntry:
    kid: str
    created_at: datetime
    retired_at: datetime | None
    key: ECKey


class KeyRing:
    def __init__(self, directory: Path, clock: Clock, *, token_ttl: timedelta) -> None:
        self._dir = directory
        self._path = directory / "ring.json"
        self._clock = clock
        self._token_ttl = token_ttl
        self._mtime_ns = -1
        self._entries: tuple[RingEntry, ...] = ()
        self._public: KeySet = KeySet([])
        self._jwks: dict[str, Any] = {"keys": []}
        self._published_kids: tuple[str, ...] | None = None

    # -- reading -------------------------------------------------------------------------------
    def signing_key(self) -> ECKey:
        self._refresh()
        active = [entry for entry in self._entries if entry.retired_at is None]
        return max(active, key=lambda entry: entry.created_at).key

    def verification_keys(self) -> KeySet:
        self._refresh()
        return self._public

    def knows(self, kid: str) -> bool:
        self._refresh()
        return any(entry.kid == kid for entry in self._published())

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set; private members never leave this module."""
        self._refresh()
        return self._jwks

    def entries(self) -> tuple[RingEntry, ...]:
        self._refresh()
        return self._entries

    # -- writing -------------------------------------------------------------------------------
    def ensure(self) -> None:
        """Create the ring with one key if there is none (first start)."""
        with self._locked():
            if not self._path.exists():
                self._write([self._new_entry()])
        self._refresh()

    def rotate(self) -> RingEntry:
        """Make a new key the signer; retire the old ones and drop those no token can need."""
        with self._locked():
            entries = list(self._load()) if self._path.exists() else []
            now = self._clock.now()
            retired = [
                RingEntry(e.kid, e.created_at, e.retired_at or now, e.key)
                for e in entries
                if e.retired_at is None or e.retired_at + self._token_ttl + PUBLICATION_GRACE > now
            ]
            new = self._new_entry()
            self._write([*retired, new])
        self._refresh()
        return new

    # -- internals -----------------------------------------------------------------------------
    def _published(self) -> list[RingEntry]:
        now = self._clock.now()
        return [
            e
            for e in self._entries
            if e.retired_at is None or e.retired_at + self._token_ttl + PUBLICATION_GRACE > now
        ]

    def _refresh(self) -> None:
        try:
            mtime = self._path.stat().st_mtime_ns
        except FileNotFoundError:
            mtime = -1
        if mtime != self._mtime_ns or not self._entries:
            if mtime == -1:
                raise RuntimeError(f"no signing keys at {self._path}: run `gateway migrate` first")
            self._entries = self._load()
            self._mtime_ns = mtime
            self._published_kids = None
        # A retired key leaves the published set by the clock alone, without a write to the file.
        published = self._published()
        kids = tuple(entry.kid for entry in published)
        if kids != self._published_kids:
            self._public = KeySet([entry.key for entry in published])
            self._jwks = {"keys": [self._public_jwk(entry.key) for entry in published]}
            self._published_kids = kids

    @staticmethod
    def _public_jwk(key: ECKey) -> dict[str, Any]:
        return dict(key.as_dict(private=False))

    def _new_entry(self) -> RingEntry:
        kid = f"{self._clock.now():%Y%m%d}-{secrets.token_hex(4)}"
        key = jwk.generate_key(
            "EC", "P-256", parameters={"kid": kid, "use": "sig", "alg": SIGNING_ALGORITHM}, private=True
        )
        return RingEntry(kid, self._clock.now(), None, key)

    def _load(self) -> tuple[RingEntry, ...]:
        raw = json.loads(self._path.read_text())
        return tuple(
            RingEntry(
                kid=item["kid"],
                created_at=datetime.fromisoformat(item["created_at"]),
                retired_at=datetime.fromisoformat(item["retired_at"]) if item["retired_at"] else None,
                key=jwk.import_key(item["jwk"], "EC"),
            )
            for item in raw["keys"]
        )

    def _write(self, entries: list[RingEntry]) -> None:
        document = {
            "keys": [
                {
                    "kid": e.kid,
                    "created_at": e.created_at.isoformat(),
                    "retired_at": e.retired_at.isoformat() if e.retired_at else None,
                    "jwk": e.key.as_dict(private=True),
                }
                for e in entries
            ]
        }
        temporary = self._path.with_suffix(".tmp")
        # Created 0600 from the start: the private keys are never readable by others, not even briefly.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(document, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self._path)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self._dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
