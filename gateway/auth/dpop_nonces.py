"""Server-provided DPoP nonces (RFC 9449 §8 and §9): they bound how long a pre-made proof stays
usable. Stateless and the same in every worker: the HMAC of the current time window, and the
previous window's nonce is still accepted so that a nonce never expires the moment it is issued."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from typing import Final

from gateway.auth.secret_files import secret_file
from gateway.domain.clock import Clock

WINDOW_SECONDS: Final = 300


class DPoPNonces:
    def __init__(self, secret: bytes, clock: Clock, window_seconds: int = WINDOW_SECONDS) -> None:
        self._secret = secret
        self._clock = clock
        self._window = window_seconds

    @classmethod
    def from_directory(cls, directory: Path, clock: Clock) -> DPoPNonces:
        return cls(secret_file(directory / "dpop-nonce.key"), clock)

    def _nonce(self, window: int) -> str:
        digest = hmac.new(self._secret, f"dpop-nonce:{window}".encode(), hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(digest).decode("ascii")

    def current(self) -> str:
        return self._nonce(int(self._clock.now().timestamp()) // self._window)

    def accepted(self) -> tuple[str, str]:
        window = int(self._clock.now().timestamp()) // self._window
        return self._nonce(window), self._nonce(window - 1)
