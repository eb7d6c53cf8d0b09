"""Errors of the idempotency store."""

from __future__ import annotations

from gateway.domain.errors import ConflictError


class IdempotencyContentionError(ConflictError):
    """The key kept changing hands while we tried to claim it (a released or expired key raced)."""
