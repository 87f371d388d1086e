"""operators: dashboard accounts (Argon2 hashes, roles) and their browser sessions

Revision ID: operators_0001
Revises: 0001
Create Date: 2026-11-25 16:00:00
"""
from alembic import op
import sqlalchemy as sa
import chargewatch.store.types


revision = 'operators_0001'
down_revision = '0001'
branch_labels = ('operators',)
depends_on = None


def upgrade() -> None:
    op.create_table('operators',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('password_changed_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('username', name=op.f('pk_operators'))
    )
    op.create_table('operator_sessions',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['username'], ['operators.username'],
                            name=op.f('fk_operator_sessions_username_operators'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_operator_sessions'))
    )
    with op.batch_alter_table('operator_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_operator_sessions_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_operator_sessions_username'), ['username'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('operator_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_operator_sessions_username'))
        batch_op.drop_index(batch_op.f('ix_operator_sessions_expires_at'))
    op.drop_table('operator_sessions')
    op.drop_table('operators')
