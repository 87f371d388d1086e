"""operators: one login throttle shared by every process and node (failed logins per account and address)

Revision ID: operators_0002
Revises: operators_0001
Create Date: 2026-12-02 04:45:00
"""
from alembic import op
import sqlalchemy as sa
import chargewatch.store.types


revision = 'operators_0002'
down_revision = 'operators_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_throttle',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('blocked_until', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttle'))
    )
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_throttle_last_failure_at'), ['last_failure_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_throttle_last_failure_at'))
    op.drop_table('login_throttle')
