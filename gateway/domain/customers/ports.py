"""What the customer capability needs from storage."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from gateway.domain.customers.models import Customer


# Pages receive it by type (`NamedDependency`), and Litestar checks the instance against it.
@runtime_checkable
class CustomerRecords(Protocol):
    def get(self, customer_id: str) -> Customer | None: ...
