"""Who is calling: set by the authentication middleware, read by handlers and the edge."""

from __future__ import annotations

from gateway.auth.tokens import AccessToken
from gateway.domain.consent.models import Consent
from gateway.domain.customers.service import Delegation, delegation_of
from gateway.domain.environment import Environment
from gateway.domain.sharing.models import Recipient
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

    @property
    def recipient(self) -> Recipient:
        """The calling app as the domain sees a receiver of customer data."""
        return Recipient(
            partner_id=self.partner_id,
            client_id=self.client_id,
            partner_region=self.client.partner.region,
            consent=self.consent,
            scopes=self.token.scopes,
        )

    def delegation(self, *, refusal: str) -> Delegation:
        """The customer who delegated this token and its consent; `refusal` is the 404 detail without one."""
        return delegation_of(self.consent, refusal=refusal)
