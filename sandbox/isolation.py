"""The sandbox never touches production data: a configuration that points it at the production
database is refused before anything starts."""

from __future__ import annotations

from pathlib import Path
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
    if _identity(production) == _identity(sandbox):
        raise SandboxIsolationError(
            f"the sandbox must not use the production database ({production.describe()})"
        )


def _identity(target: Target) -> tuple[str, str | None]:
    """What a database really is: a SQLite file by its resolved path, however the URL spells it."""
    if target.url.startswith("sqlite") and "///" in target.url:
        return "sqlite:" + str(Path(target.url.split("///", 1)[1]).resolve()), None
    return target.url, target.schema
