"""sandbox workspaces: each app's generation of persona copies

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 17:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sandbox_workspaces',
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('reset_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('client_id')
    )
    op.create_table('sandbox_persona_copies',
    sa.Column('customer_id', sa.String(length=40), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('persona', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('customer_id')
    )
    with op.batch_alter_table('sandbox_persona_copies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_persona_copies_client_id'), ['client_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sandbox_persona_copies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_persona_copies_client_id'))
    op.drop_table('sandbox_persona_copies')
    op.drop_table('sandbox_workspaces')
