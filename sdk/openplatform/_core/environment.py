"""Sandbox and production: a credential carries its environment, and the client keeps to it."""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from urllib.parse import urlsplit

from openplatform._core.errors import ConfigurationError

DEFAULT_BASE_URL = "https://api.openplatform.example"


class Environment(StrEnum):
    PRODUCTION = "production"
    SANDBOX = "sandbox"

    @property
    def path_prefix(self) -> str:
        """Production is served at the root, the sandbox under `/sandbox`; each is its own issuer."""
        return "" if self is Environment.PRODUCTION else "/sandbox"

    @classmethod
    def of_client_id(cls, client_id: str) -> Environment:
        if client_id.startswith("live_"):
            return cls.PRODUCTION
        if client_id.startswith("sbx_"):
            return cls.SANDBOX
        raise ConfigurationError(f"{client_id!r} is not a client id: it starts with live_ or sbx_")


def environment_root(base_url: str, environment: Environment, *, allow_insecure_loopback: bool) -> str:
    """The root URL (and issuer) of the credential's environment under the deployment's base URL.

    A sandbox credential can only ever reach `{base}/sandbox`; production refuses plain http, and
    so does the sandbox except on this machine (loopback), where `make run` serves it.
    """
    parts = urlsplit(base_url.rstrip("/"))
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(f"base_url must be an absolute http(s) URL, not {base_url!r}")
    if parts.query or parts.fragment:
        raise ConfigurationError("base_url must not carry a query or a fragment")
    if parts.path.endswith("/sandbox"):
        raise ConfigurationError(
            "base_url is the deployment's root: the client adds /sandbox itself for a sandbox credential"
        )
    if parts.scheme == "http":
        loopback = _is_loopback(parts.hostname)
        if not loopback:
            raise ConfigurationError(f"plain http is refused for {parts.hostname}: use https")
        if environment is Environment.PRODUCTION and not allow_insecure_loopback:
            raise ConfigurationError(
                "a production client refuses plain http; pass allow_insecure_loopback=True to talk to a "
                "gateway on this machine"
            )
    return base_url.rstrip("/") + environment.path_prefix


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
