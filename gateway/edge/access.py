"""Every route declares who may call it; a route without a declaration is refused (fail closed)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from gateway.domain.scopes import Scope

ACCESS_KEY: Final = "access"
SECURITY_SCHEME: Final = "oauth2"


class Audience(StrEnum):
    API = "api"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Access:
    scopes: frozenset[str]
    audience: Audience = Audience.API
    public: bool = False


def requires(*scopes: Scope) -> dict[str, Any]:
    """Handler keywords for a partner route: the access policy and its OpenAPI security."""
    return {
        "opt": {ACCESS_KEY: Access(frozenset(scopes))},
        "security": [{SECURITY_SCHEME: sorted(scopes)}],
    }


def staff(*scopes: Scope) -> dict[str, Any]:
    """Handler keywords for a staff route (production control plane only)."""
    return {
        "opt": {ACCESS_KEY: Access(frozenset(scopes), audience=Audience.ADMIN)},
        "security": [{SECURITY_SCHEME: sorted(scopes)}],
    }


def public() -> dict[str, Any]:
    """Handler keywords for a route anyone may call (discovery, JWKS, the token endpoint)."""
    return {"opt": {ACCESS_KEY: Access(frozenset(), public=True)}, "security": []}


def access_of(route_handler: Any) -> Access | None:
    access = route_handler.opt.get(ACCESS_KEY)
    return access if isinstance(access, Access) else None
