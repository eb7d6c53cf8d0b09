"""points conversion: valuations, quotes, conversions (issue 5, helper A)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _moment(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _decimal(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=48), nullable=nullable)


def upgrade() -> None:
    op.create_table('points_valuations',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    _decimal('amount'),
    sa.Column('currency', sa.String(length=3), nullable=False),
    _moment('valid_from'),
    _moment('valid_until'),
    _moment('created_at'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('points_valuations', schema=None) as batch_op:
        batch_op.create_index('ix_points_valuations_partner', ['partner_id', 'currency', 'valid_from'], unique=False)

    op.create_table('points_quotes',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=40), nullable=False),
    sa.Column('consent_id', sa.String(length=40), nullable=True),
    sa.Column('valuation_id', sa.String(length=40), nullable=False),
    sa.Column('instrument_id', sa.String(length=40), nullable=False),
    sa.Column('fund_code', sa.String(length=16), nullable=False),
    sa.Column('points_requested', sa.BigInteger(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    _decimal('amount'),
    sa.Column('currency', sa.String(length=3), nullable=False),
    _decimal('minimum_subscription'),
    sa.Column('dealing_day', sa.Date(), nullable=False),
    sa.Column('decision', sa.String(length=32), nullable=False),
    sa.Column('disclosures', sa.JSON(), nullable=False),
    _moment('created_at'),
    _moment('expires_at'),
    sa.PrimaryKeyConstraint('id')
    )

    op.create_table('points_conversions',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('partner_conversion_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=40), nullable=False),
    sa.Column('consent_id', sa.String(length=40), nullable=True),
    sa.Column('quote_id', sa.String(length=40), nullable=False),
    sa.Column('valuation_id', sa.String(length=40), nullable=False),
    sa.Column('instrument_id', sa.String(length=40), nullable=False),
    sa.Column('fund_code', sa.String(length=16), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    _decimal('amount'),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('dealing_day', sa.Date(), nullable=False),
    _moment('created_at'),
    _moment('updated_at'),
    _moment('cooling_off_until', nullable=True),
    sa.Column('order_id', sa.String(length=40), nullable=True),
    sa.Column('account_id', sa.String(length=40), nullable=True),
    _decimal('units'),
    _decimal('nav', nullable=True),
    _decimal('fees'),
    _decimal('cash_remainder'),
    sa.Column('points_returned', sa.BigInteger(), nullable=False),
    sa.Column('redemption_order_id', sa.String(length=40), nullable=True),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('partner_id', 'partner_conversion_id', name='uq_points_conversions_partner_id'),
    sa.UniqueConstraint('quote_id', name='uq_points_conversions_quote'),
    )
    with op.batch_alter_table('points_conversions', schema=None) as batch_op:
        batch_op.create_index('ix_points_conversions_owner_page', ['partner_id', 'customer_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_points_conversions_partner_day', ['partner_id', 'created_at'], unique=False)
        batch_op.create_index('ix_points_conversions_customer_day', ['customer_id', 'created_at'], unique=False)
        batch_op.create_index('ix_points_conversions_consent', ['consent_id', 'created_at'], unique=False)
        batch_op.create_index('ix_points_conversions_state', ['state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('points_conversions', schema=None) as batch_op:
        batch_op.drop_index('ix_points_conversions_state')
        batch_op.drop_index('ix_points_conversions_consent')
        batch_op.drop_index('ix_points_conversions_customer_day')
        batch_op.drop_index('ix_points_conversions_partner_day')
        batch_op.drop_index('ix_points_conversions_owner_page')
    op.drop_table('points_conversions')
    op.drop_table('points_quotes')
    with op.batch_alter_table('points_valuations', schema=None) as batch_op:
        batch_op.drop_index('ix_points_valuations_partner')
    op.drop_table('points_valuations')
