"""The sandbox never touches production data: a configuration that points it at the production
database is refused before anything starts."""

from __future__ import annotations

from typing import Protocol


class Target(Protocol):
    @property
    def url(self) -> str: ...
    @property
    def schema(self) -> str | None: ...
    def describe(self) -> str: ...


class SandboxIsolationError(ValueError):
    """The sandbox is configured to share the production database."""


def check_isolation(production: Target, sandbox: Target) -> None:
    if (production.url, production.schema) == (sandbox.url, sandbox.schema):
        raise SandboxIsolationError(
            f"the sandbox must not use the production database ({production.describe()})"
        )
