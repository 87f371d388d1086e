"""support: site helplines, per-session support conversations and messages

Revision ID: feedback_0003
Revises: feedback_0002
Create Date: 2026-12-02 05:24:23.488529
"""
from alembic import op
import sqlalchemy as sa
import chargewatch.store.types


revision = 'feedback_0003'
down_revision = 'feedback_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('support_conversations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('transaction_id', sa.BigInteger(), nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('station_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('opened_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('first_response_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_support_conversations')),
    sa.UniqueConstraint('transaction_id', name=op.f('uq_support_conversations_transaction_id'))
    )
    with op.batch_alter_table('support_conversations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_support_conversations_station_id_opened_at'), ['station_id', 'opened_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_support_conversations_status_updated_at'), ['status', 'updated_at'], unique=False)

    op.create_table('support_sites',
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('helpline', sa.String(length=40), nullable=False),
    sa.Column('hours', sa.String(length=200), nullable=False),
    sa.Column('languages', sa.JSON(), nullable=False),
    sa.Column('chat', sa.Boolean(), nullable=False),
    sa.Column('updated_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('site_id', name=op.f('pk_support_sites'))
    )
    op.create_table('support_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.BigInteger(), nullable=False),
    sa.Column('author', sa.String(length=16), nullable=False),
    sa.Column('operator', sa.String(length=64), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('sent_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['support_conversations.id'], name=op.f('fk_support_messages_conversation_id_support_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_support_messages'))
    )
    with op.batch_alter_table('support_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_support_messages_conversation_id_id'), ['conversation_id', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('support_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_support_messages_conversation_id_id'))

    op.drop_table('support_messages')
    op.drop_table('support_sites')
    with op.batch_alter_table('support_conversations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_support_conversations_status_updated_at'))
        batch_op.drop_index(batch_op.f('ix_support_conversations_station_id_opened_at'))

    op.drop_table('support_conversations')
