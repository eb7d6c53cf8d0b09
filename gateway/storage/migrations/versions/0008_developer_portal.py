"""developer portal accounts and sessions (issue 5, helper E)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Sessions are signed cookies (gateway/auth/developers.py): only the accounts need a table.
    op.create_table('developer_accounts',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email')
    )
    with op.batch_alter_table('developer_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_developer_accounts_partner_id'), ['partner_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('developer_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_developer_accounts_partner_id'))

    op.drop_table('developer_accounts')
