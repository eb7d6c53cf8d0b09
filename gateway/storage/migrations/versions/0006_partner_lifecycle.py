"""partner lifecycle stages, pilot caps, lifecycle events (issue 5, helper C)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Partners from before the lifecycle are in production already (ADR 0011).
    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stage', sa.String(length=20), nullable=False, server_default='production'))
        batch_op.add_column(sa.Column('pilot_caps', sa.JSON(), nullable=True))

    op.create_table('partner_lifecycle_events',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('from_stage', sa.String(length=20), nullable=True),
    sa.Column('to_stage', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], ),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('id')
    )
    with op.batch_alter_table('partner_lifecycle_events', schema=None) as batch_op:
        batch_op.create_index('ix_partner_lifecycle_events_partner', ['partner_id', 'at', 'seq'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('partner_lifecycle_events', schema=None) as batch_op:
        batch_op.drop_index('ix_partner_lifecycle_events_partner')

    op.drop_table('partner_lifecycle_events')
    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.drop_column('pilot_caps')
        batch_op.drop_column('stage')
