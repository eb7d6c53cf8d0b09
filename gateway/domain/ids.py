"""Ids carry a type prefix (`ord_…`, `cns_…`) and random hex, so a stray id says what it names."""

from __future__ import annotations

import secrets


def new_id(prefix: str, *, random_bytes: int = 10) -> str:
    return f"{prefix}_{secrets.token_hex(random_bytes)}"
