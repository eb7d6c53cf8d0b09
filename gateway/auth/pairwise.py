"""Pairwise subject identifiers: each partner sees its own pseudonym for a customer, so two
partners cannot join their data on `sub`, and no partner learns the internal customer id
(OpenID Connect Core §8.1; ARCHITECTURE.md, "Identity and tokens")."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Final

PREFIX: Final = "pw_"


class PairwiseSubjects:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the pairwise secret needs at least 256 bits")
        self._secret = secret

    @classmethod
    def from_directory(cls, directory: Path) -> PairwiseSubjects:
        """The environment's secret, created on first use with mode 0600 beside its signing keys."""
        path = directory / "pairwise.key"
        if not path.exists():
            directory.mkdir(parents=True, exist_ok=True)
            draft = directory / f".pairwise.{secrets.token_hex(6)}"
            fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(32))
            try:
                os.link(draft, path)  # atomic: a racing worker either wins or reads ours, whole
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        return cls(path.read_bytes())

    def subject(self, partner_id: str, customer_id: str) -> str:
        message = f"{partner_id}\x00{customer_id}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()[:20]
        return PREFIX + base64.b32encode(digest).decode("ascii").lower().rstrip("=")
