"""reservations: ReserveNow requests, the charger's answers and what became of each reservation

Revision ID: reservations_0001
Revises: 0004
Create Date: 2026-12-02 17:40:00
"""
from alembic import op
import sqlalchemy as sa
import chargewatch.store.types


revision = 'reservations_0001'
down_revision = '0004'
branch_labels = ('reservations',)
depends_on = None


def upgrade() -> None:
    op.create_table('reservations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('connector_id', sa.Integer(), nullable=False),
    sa.Column('id_tag', sa.String(length=36), nullable=False),
    sa.Column('parent_id_tag', sa.String(length=36), nullable=True),
    sa.Column('expires_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('rejection', sa.String(length=64), nullable=True),
    sa.Column('requested_by', sa.String(length=64), nullable=True),
    sa.Column('requested_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('answered_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('ended_by', sa.String(length=16), nullable=True),
    sa.Column('transaction_id', sa.BigInteger(), nullable=True),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('other_starts', sa.JSON(), nullable=False),
    sa.Column('updated_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['charger_id'], ['chargers.id'], name=op.f('fk_reservations_charger_id_chargers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reservations'))
    )
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reservations_charger_id_status'), ['charger_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_reservations_status_expires_at'), ['status', 'expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reservations_status_expires_at'))
        batch_op.drop_index(batch_op.f('ix_reservations_charger_id_status'))
    op.drop_table('reservations')
