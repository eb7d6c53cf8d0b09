"""Advisory proposals on SQL: each kept whole as its document, visible only to the partner that asked
for it and, for a customer's proposal, only under that same customer (no object leaks, no BOLA)."""

from __future__ import annotations

from datetime import UTC

from gateway.domain.advisory.codec import proposal_from_document, proposal_to_document
from gateway.domain.advisory.models import Proposal
from gateway.storage.database import Database
from gateway.storage.tables.proposals import ProposalRow

proposals = ProposalRow.__table__


class SqlProposalStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, partner_id: str, client_id: str, customer_id: str | None, proposal: Proposal) -> None:
        """Keep a proposal; `customer_id` is None for a white-label proposal, which has no customer."""
        if proposal.customer_id != customer_id:
            # The document names the customer it was made for; the row must not say otherwise.
            raise ValueError("the proposal was made for another customer")
        with self._db.write() as conn:
            conn.execute(
                proposals.insert().values(
                    id=proposal.id,
                    partner_id=partner_id,
                    client_id=client_id,
                    customer_id=customer_id,
                    document=proposal_to_document(proposal),
                    created_at=proposal.created_at.astimezone(UTC),
                )
            )

    def get(self, proposal_id: str, partner_id: str, customer_id: str | None) -> Proposal | None:
        """The proposal if this partner asked for it under this customer (None: a white-label one)."""
        owner = (
            proposals.c.customer_id.is_(None)
            if customer_id is None
            else proposals.c.customer_id == customer_id
        )
        query = proposals.select().where(
            (proposals.c.id == proposal_id) & (proposals.c.partner_id == partner_id) & owner
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return proposal_from_document(row.document) if row else None
