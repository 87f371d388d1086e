"""support by e-mail (message source, threading ids, driver address), billing disputes of issued invoices, and
the operator topics version polled by every node

Revision ID: feedback_0004
Revises: feedback_0003
Create Date: 2026-12-02 13:40:00
"""
from alembic import op
import sqlalchemy as sa
import chargewatch.store.types


revision = 'feedback_0004'
down_revision = 'feedback_0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    version = op.create_table('feedback_topics_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_topics_version'))
    )
    op.bulk_insert(version, [{'id': 1, 'version': 0}])
    with op.batch_alter_table('support_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=8), server_default='web', nullable=False))
    with op.batch_alter_table('support_conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('driver_email', sa.String(length=254), nullable=True))
    op.create_table('support_email_ids',
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('conversation_id', sa.BigInteger(), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['support_conversations.id'], name=op.f('fk_support_email_ids_conversation_id_support_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('message_id', name=op.f('pk_support_email_ids'))
    )
    op.create_table('billing_disputes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('transaction_id', sa.BigInteger(), nullable=False),
    sa.Column('invoice_number', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('opened_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('credit_note', sa.String(length=64), nullable=True),
    sa.Column('reissued_invoice', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_disputes'))
    )
    with op.batch_alter_table('billing_disputes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_disputes_status_opened_at'), ['status', 'opened_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_billing_disputes_transaction_id'), ['transaction_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('billing_disputes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_disputes_transaction_id'))
        batch_op.drop_index(batch_op.f('ix_billing_disputes_status_opened_at'))
    op.drop_table('billing_disputes')
    op.drop_table('support_email_ids')
    with op.batch_alter_table('support_conversations', schema=None) as batch_op:
        batch_op.drop_column('driver_email')
    with op.batch_alter_table('support_messages', schema=None) as batch_op:
        batch_op.drop_column('source')
    op.drop_table('feedback_topics_version')
