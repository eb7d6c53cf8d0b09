"""Who is calling: set by the authentication middleware, read by handlers and the edge."""

from __future__ import annotations

from gateway.auth.tokens import AccessToken
from gateway.domain.consent.models import Consent
from gateway.domain.environment import Environment
from partners.models import Client


class Principal:
    """A plain class, not a dataclass: Litestar re-validates dataclass dependencies field by field
    with msgspec, which cannot walk the consent's union of limit dataclasses (and need not)."""

    __slots__ = ("client", "consent", "environment", "token")

    def __init__(
        self, *, client: Client, token: AccessToken, environment: Environment, consent: Consent | None = None
    ) -> None:
        self.client = client
        self.token = token
        self.environment = environment
        self.consent = consent  # set for customer-delegated tokens, checked on this call

    @property
    def client_id(self) -> str:
        return self.client.app.client_id

    @property
    def partner_id(self) -> str:
        return self.client.partner.id

    @property
    def customer_id(self) -> str | None:
        """The customer a delegated token acts for (never published: partners see `sub`)."""
        return self.consent.customer_id if self.consent is not None else None
