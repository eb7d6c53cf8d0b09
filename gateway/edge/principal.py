"""Who is calling: set by the authentication middleware, read by handlers and the edge."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.auth.tokens import AccessToken
from gateway.domain.environment import Environment
from partners.models import Client


@dataclass(frozen=True, slots=True)
class Principal:
    client: Client
    token: AccessToken
    environment: Environment

    @property
    def client_id(self) -> str:
        return self.client.app.client_id

    @property
    def partner_id(self) -> str:
        return self.client.partner.id
