"""Per-environment secrets kept beside the signing keys: created once, mode 0600, atomically."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def secret_file(path: Path, size: int = 32) -> bytes:
    """The secret in `path`, created with `size` random bytes on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.parent / f".{path.name}.{secrets.token_hex(6)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(size))
        try:
            os.link(draft, path)  # atomic: a racing worker either wins or reads ours, whole
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_bytes()
