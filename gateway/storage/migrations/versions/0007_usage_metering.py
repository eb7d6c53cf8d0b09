"""usage metering per app, day, version, operation (issue 5, helper D)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Business quotas of a plan (ADR 0012): existing rows get the starter plan's values, then
    # `ensure_default_plans` (run by `gateway migrate`) writes each default plan's own.
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('orders_per_minute', sa.Integer(), nullable=False, server_default='600')
        )
        batch_op.add_column(
            sa.Column('notional_per_day', sa.String(length=48), nullable=False, server_default='10000000.00')
        )
        batch_op.add_column(
            sa.Column('points_per_day', sa.BigInteger(), nullable=False, server_default='5000000')
        )

    op.create_table('usage_counters',
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('api_version', sa.String(length=16), nullable=False),
    sa.Column('operation', sa.String(length=100), nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('requests', sa.BigInteger(), nullable=False),
    sa.Column('throttled', sa.BigInteger(), nullable=False),
    sa.Column('errors', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('client_id', 'day', 'api_version', 'operation')
    )
    with op.batch_alter_table('usage_counters', schema=None) as batch_op:
        batch_op.create_index('ix_usage_counters_partner_day', ['partner_id', 'day'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('usage_counters', schema=None) as batch_op:
        batch_op.drop_index('ix_usage_counters_partner_day')

    op.drop_table('usage_counters')
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_column('points_per_day')
        batch_op.drop_column('notional_per_day')
        batch_op.drop_column('orders_per_minute')
