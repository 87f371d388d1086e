"""locallist: per charger the local authorization list sent, confirmed and answered; every update with its answer

Revision ID: locallist_0001
Revises: 0004
Create Date: 2026-12-02 17:30:02.882380
"""
from alembic import op
import sqlalchemy as sa
import chargewatch.store.types


revision = 'locallist_0001'
down_revision = '0004'
branch_labels = ('locallist',)
depends_on = None


def upgrade() -> None:
    op.create_table('local_list_state',
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('version_sent', sa.Integer(), nullable=True),
    sa.Column('version_confirmed', sa.Integer(), nullable=True),
    sa.Column('version_reported', sa.Integer(), nullable=True),
    sa.Column('version_reported_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('entries', sa.JSON(), nullable=True),
    sa.Column('entries_hash', sa.String(length=64), nullable=True),
    sa.Column('entries_count', sa.Integer(), nullable=True),
    sa.Column('last_full_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('target_hash', sa.String(length=64), nullable=True),
    sa.Column('last_update_type', sa.String(length=16), nullable=True),
    sa.Column('last_status', sa.String(length=32), nullable=True),
    sa.Column('last_answer', sa.JSON(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_attempt_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('supported', sa.Boolean(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=True),
    sa.Column('max_entries', sa.Integer(), nullable=True),
    sa.Column('per_message', sa.Integer(), nullable=True),
    sa.Column('limits_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('conflict_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('conflict_reason', sa.String(length=255), nullable=True),
    sa.Column('conflict_resolved_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['charger_id'], ['chargers.id'], name=op.f('fk_local_list_state_charger_id_chargers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('charger_id', name=op.f('pk_local_list_state'))
    )
    op.create_table('local_list_updates',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('update_type', sa.String(length=16), nullable=False),
    sa.Column('entries_count', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('answer', sa.JSON(), nullable=True),
    sa.Column('sent_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('answered_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['charger_id'], ['chargers.id'], name=op.f('fk_local_list_updates_charger_id_chargers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_local_list_updates'))
    )
    with op.batch_alter_table('local_list_updates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_local_list_updates_charger_id_id'), ['charger_id', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('local_list_updates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_local_list_updates_charger_id_id'))

    op.drop_table('local_list_updates')
    op.drop_table('local_list_state')
