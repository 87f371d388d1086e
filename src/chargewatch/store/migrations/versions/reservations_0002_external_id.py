"""reservations: the requester's own id for a reservation (OCPI reservation_id), so a repeated request replaces it

Revision ID: reservations_0002
Revises: reservations_0001
Create Date: 2026-12-02 18:05:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'reservations_0002'
down_revision = 'reservations_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_reservations_requested_by_external_id'), ['requested_by', 'external_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reservations_requested_by_external_id'))
        batch_op.drop_column('external_id')
