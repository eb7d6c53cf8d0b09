"""sandbox test clocks and the personas attached to them

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sandbox_test_clocks',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('frozen_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sandbox_test_clocks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_test_clocks_client_id'), ['client_id'], unique=False)
    op.create_table('sandbox_clock_attachments',
    sa.Column('customer_id', sa.String(length=40), nullable=False),
    sa.Column('clock_id', sa.String(length=40), nullable=False),
    sa.Column('persona', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('customer_id')
    )
    with op.batch_alter_table('sandbox_clock_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_clock_attachments_clock_id'), ['clock_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sandbox_clock_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_clock_attachments_clock_id'))
    op.drop_table('sandbox_clock_attachments')
    with op.batch_alter_table('sandbox_test_clocks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_test_clocks_client_id'))
    op.drop_table('sandbox_test_clocks')
