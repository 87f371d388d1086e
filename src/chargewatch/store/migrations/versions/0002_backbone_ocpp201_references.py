"""backbone: OCPP 2.0.1 — the charger's transaction reference, TransactionEvent seqNo, protocol per message

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 04:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('transaction_ref', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('last_seq_no', sa.Integer(), nullable=True))
        batch_op.alter_column('id_tag', existing_type=sa.String(length=20), type_=sa.String(length=36),
                              existing_nullable=False)
    # 1.6 sessions: the charger knows them by their integer transaction id.
    op.execute("UPDATE sessions SET transaction_ref = CAST(transaction_id AS VARCHAR(64))")
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_sessions_charger_id_transaction_ref'),
                                          ['charger_id', 'transaction_ref'])
    with op.batch_alter_table('ocpp_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('protocol', sa.String(length=16), nullable=True))
    with op.batch_alter_table('chargers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ocpp_version', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('chargers', schema=None) as batch_op:
        batch_op.drop_column('ocpp_version')
    with op.batch_alter_table('ocpp_messages', schema=None) as batch_op:
        batch_op.drop_column('protocol')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_sessions_charger_id_transaction_ref'), type_='unique')
        batch_op.alter_column('id_tag', existing_type=sa.String(length=36), type_=sa.String(length=20),
                              existing_nullable=False)
        batch_op.drop_column('last_seq_no')
        batch_op.drop_column('transaction_ref')
