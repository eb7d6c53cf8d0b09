"""sandbox conformance observations

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sandbox_conformance_observations',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('resource', sa.String(length=300), nullable=True),
    sa.Column('consent_id', sa.String(length=64), nullable=True),
    sa.Column('retry_after', sa.Integer(), nullable=True),
    sa.Column('grant', sa.String(length=60), nullable=True),
    sa.Column('dpop', sa.Boolean(), nullable=True),
    sa.Column('client_auth', sa.String(length=40), nullable=True),
    sa.Column('scope_refused', sa.Boolean(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('sandbox_conformance_observations', schema=None) as batch_op:
        batch_op.create_index('ix_sandbox_conformance_observations_client_at', ['client_id', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sandbox_conformance_observations', schema=None) as batch_op:
        batch_op.drop_index('ix_sandbox_conformance_observations_client_at')
    op.drop_table('sandbox_conformance_observations')
