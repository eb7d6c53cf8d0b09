"""One row of the operation table that the generated layer builds from the spec."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Operation(Generic[T]):
    """What the core needs to know to call one operation of the API."""

    id: str
    method: str
    path: str  # relative to the environment's root, e.g. "/v1/orders/{order_id}"
    body: type[Any] | None = None  # the request body's model
    response: type[T] | None = None  # the success body's model; None for no content
    media_type: str = "application/json"  # of the success response
    authenticated: bool = True
    scopes: tuple[str, ...] = ()
    deprecated: bool = False
    sunset: str | None = None

    @property
    def unsafe(self) -> bool:
        """Unsafe methods get an Idempotency-Key, so that every retry is safe (RFC 9110 §9.2.1)."""
        return self.method not in ("GET", "HEAD", "OPTIONS")
