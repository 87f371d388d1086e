"""security: each charger's security profile (latest, highest seen, configured minimum) and its pending password

Revision ID: security_0001
Revises: 0004
Create Date: 2026-12-02 17:40:00
"""
from alembic import op
import sqlalchemy as sa

from chargewatch.store.types import UtcDateTime


revision = 'security_0001'
down_revision = '0004'
branch_labels = ('security',)
depends_on = None


def upgrade() -> None:
    op.create_table('charger_security',
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('security_profile', sa.Integer(), nullable=True),
    sa.Column('highest_profile', sa.Integer(), nullable=True),
    sa.Column('min_profile', sa.Integer(), nullable=True),
    sa.Column('profile_at', UtcDateTime(timezone=True), nullable=True),
    sa.Column('pending_password_hash', sa.String(length=255), nullable=True),
    sa.Column('pending_alt_password_hash', sa.String(length=255), nullable=True),
    sa.Column('pending_since', UtcDateTime(timezone=True), nullable=True),
    sa.Column('password_changed_at', UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['charger_id'], ['chargers.id'], name=op.f('fk_charger_security_charger_id_chargers'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('charger_id', name=op.f('pk_charger_security'))
    )


def downgrade() -> None:
    op.drop_table('charger_security')
