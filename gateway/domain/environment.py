"""Sandbox and production are two environments of one deployment, strictly apart."""

from __future__ import annotations

from enum import StrEnum

from gateway.domain.ids import new_id


class Environment(StrEnum):
    PRODUCTION = "production"
    SANDBOX = "sandbox"

    @property
    def client_id_prefix(self) -> str:
        """Credentials carry their environment, like Stripe's test and live keys."""
        return "live_" if self is Environment.PRODUCTION else "sbx_"

    def new_client_id(self) -> str:
        return new_id(self.client_id_prefix.removesuffix("_"), random_bytes=12)

    @property
    def path_prefix(self) -> str:
        """Where the environment is served: production at the root, the sandbox under `/sandbox`."""
        return "" if self is Environment.PRODUCTION else "/sandbox"

    def issuer(self, base_url: str) -> str:
        return base_url.rstrip("/") + self.path_prefix

    @classmethod
    def of_client_id(cls, client_id: str) -> Environment | None:
        for environment in cls:
            if client_id.startswith(environment.client_id_prefix):
                return environment
        return None
