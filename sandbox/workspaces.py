"""Each sandbox app works on its own copies of the published personas, and can reset them.

Rules:
- A persona signs in with its published name and password; in the sandbox the session belongs to
  the copy of that persona in the workspace of the app that asked (its pending authorization
  request, or the app a developer names on the sign-in page). Two apps never share a customer.
- A copy is the persona with every identifier rewritten from (app, generation, original id): the
  same app and generation always give the same ids, so a workspace is reproducible, and no two
  workspaces collide. Copies are made on first use, with their opening balances in the ledger;
  a restricted persona's accounts start restricted.
- A reset starts a new generation: the next use makes fresh copies, and every consent the app
  holds from the old copies is revoked (its tokens and refresh tokens die with it). What the old
  copies did stays in the books, out of reach; no other app's workspace is touched.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from gateway.domain.clock import Clock
from gateway.domain.consent.models import ConsentStatus
from gateway.domain.consent.service import ConsentService
from gateway.domain.customers.models import Customer
from gateway.domain.errors import NotFoundError, RuleViolationError
from sandbox.personas import Persona


class PersonaNotFoundError(NotFoundError):
    """No published persona has this sign-in name."""


class AppRequiredError(RuleViolationError):
    """A sandbox sign-in names no app: personas live in an app's workspace."""


def _tag(*parts: object) -> str:
    """16 lowercase base32 characters from a BLAKE2b digest of `parts` (stable on every machine)."""
    digest = hashlib.blake2b("\0".join(str(part) for part in parts).encode(), digest_size=10).digest()
    return base64.b32encode(digest).decode().lower()


def _number(*parts: object) -> str:
    """A 16-digit account number from the same digest family."""
    digest = hashlib.blake2b("\0".join(str(part) for part in parts).encode(), digest_size=8).digest()
    return "9" + str(int.from_bytes(digest, "big") % 10**15).zfill(15)


def copy_of(persona: Customer, client_id: str, generation: int) -> Customer:
    """The persona as it lives in one app's workspace: same facts, identifiers of its own."""
    seed = (client_id, generation)
    accounts = {account.id: f"acc_{_tag(*seed, account.id)}" for account in persona.accounts}
    document: dict[str, Any] = persona.to_document()
    document["id"] = f"cus_{_tag(*seed, persona.id)}"
    document["username"] = f"{persona.username}.{_tag(*seed, persona.username)[:10]}"
    for account in document["accounts"]:
        account["number"] = _number(*seed, account["id"])
        account["id"] = accounts[account["id"]]
    for holding in document["holdings"]:
        holding["account_id"] = accounts[holding["account_id"]]
    for transaction in document["transactions"]:
        transaction["account_id"] = accounts[transaction["account_id"]]
        transaction["id"] = f"txn_{_tag(*seed, transaction['id'])}"
    return Customer.from_document(document)


@dataclass(frozen=True, slots=True)
class PersonaCopy:
    persona: Persona
    customer: Customer


@dataclass(frozen=True, slots=True)
class Reset:
    client_id: str
    generation: int
    revoked_consents: int
    at: datetime


class WorkspaceStore(Protocol):
    def generation(self, client_id: str) -> int:
        """The app's current generation; 0 before its first reset."""
        ...

    def next_generation(self, client_id: str, *, at: datetime) -> tuple[int, Sequence[str]]:
        """Start the next generation atomically; the new number and the customers of the old copies."""
        ...

    def owner(self, customer_id: str) -> str | None:
        """The client id whose workspace holds this customer, if it is a copy."""
        ...

    def add_copy(
        self, client_id: str, generation: int, customer: Customer, *, restricted: bool, at: datetime
    ) -> bool:
        """Write the copy, its opening balances and restrictions once; False if it exists already."""
        ...


class AppConsents(Protocol):
    def revoke_for_customers(self, client_id: str, customer_ids: Sequence[str]) -> int:
        """Revoke every live consent the app holds from these customers; how many were revoked."""
        ...


@dataclass(frozen=True, slots=True)
class ConsentsOfApp:
    """`AppConsents` through the consent service: each revocation is a ledger event and a webhook."""

    service: ConsentService

    def revoke_for_customers(self, client_id: str, customer_ids: Sequence[str]) -> int:
        revoked = 0
        for customer_id in customer_ids:
            for consent in self.service.list_for_customer(customer_id):
                if consent.client_id == client_id and consent.status is ConsentStatus.AUTHORIZED:
                    self.service.revoke(consent.id, by="partner", party_id=consent.partner_id)
                    revoked += 1
        return revoked


@dataclass(frozen=True, slots=True)
class SandboxWorkspaces:
    personas: Sequence[Persona]
    store: WorkspaceStore
    consents: AppConsents
    clock: Clock
    is_app: Callable[[str], bool]  # whether a client id names an active sandbox app
    # Told the client id of every app that reset, after the reset (its test clocks end).
    listeners: tuple[Callable[[str], object], ...] = ()

    def persona(self, username: str) -> Persona:
        for persona in self.personas:
            if persona.customer.username == username:
                return persona
        raise PersonaNotFoundError("no persona has this sign-in name", username=username[:64])

    def customer_for(self, client_id: str, username: str) -> str:
        """The id of the app's copy of the persona signing in as `username`, made on first use."""
        return self._copy(client_id, self.persona(username), self.store.generation(client_id)).customer.id

    def signed_in(self, customer_id: str, username: str, client_id: str | None) -> str:
        """`AppCustomers`: a published persona works as the asking app's copy of itself; any other
        sandbox customer (seeded by an operator or a test) signs in as themselves."""
        if not any(persona.customer.username == username for persona in self.personas):
            return customer_id
        if not client_id:
            raise AppRequiredError(
                "Personas live in each app's workspace: sign in from your app's authorization "
                "request, or name the app's client id.",
                field="client_id",
            )
        if not self.is_app(client_id):
            raise AppRequiredError("no active sandbox app has this client id", field="client_id")
        return self.customer_for(client_id, username)

    def serves(self, customer_id: str, client_id: str) -> bool:
        """Whether a session of `customer_id` may answer the app: a copy only its own app."""
        owner = self.store.owner(customer_id)
        return owner is None or owner == client_id

    def copies(self, client_id: str) -> list[PersonaCopy]:
        """Every persona as the app sees it now, made where not yet made."""
        generation = self.store.generation(client_id)
        return [self._copy(client_id, persona, generation) for persona in self.personas]

    def reset(self, client_id: str) -> Reset:
        """Fresh copies for the app on next use; its consents from the old copies are revoked."""
        now = self.clock.now()
        generation, old = self.store.next_generation(client_id, at=now)
        revoked = self.consents.revoke_for_customers(client_id, old)
        for listener in self.listeners:
            listener(client_id)
        return Reset(client_id, generation, revoked, now)

    def _copy(self, client_id: str, persona: Persona, generation: int) -> PersonaCopy:
        customer = copy_of(persona.customer, client_id, generation)
        if self.store.owner(customer.id) is None:  # a read first: most calls find the copy made
            self.store.add_copy(
                client_id, generation, customer, restricted=persona.restricted, at=self.clock.now()
            )
        return PersonaCopy(persona, customer)
