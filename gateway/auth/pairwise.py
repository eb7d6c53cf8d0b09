"""Pairwise subject identifiers: each partner sees its own pseudonym for a customer, so two
partners cannot join their data on `sub`, and no partner learns the internal customer id
(OpenID Connect Core §8.1; ARCHITECTURE.md, "Identity and tokens")."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from typing import Final

from gateway.auth.secret_files import secret_file

PREFIX: Final = "pw_"


class PairwiseSubjects:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the pairwise secret needs at least 256 bits")
        self._secret = secret

    @classmethod
    def from_directory(cls, directory: Path) -> PairwiseSubjects:
        """The environment's secret, created on first use with mode 0600 beside its signing keys."""
        return cls(secret_file(directory / "pairwise.key"))

    def subject(self, partner_id: str, customer_id: str) -> str:
        message = f"{partner_id}\x00{customer_id}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()[:20]
        return PREFIX + base64.b32encode(digest).decode("ascii").lower().rstrip("=")
