"""feedback: driver feedback (one per session), contacts kept apart, operator surveys

Revision ID: feedback_0001
Revises: 0001
Create Date: 2026-11-25 14:56:46.324299
"""
from alembic import op
import sqlalchemy as sa
import chargewatch.store.types


revision = 'feedback_0001'
down_revision = '0001'
branch_labels = ('feedback',)
depends_on = None


def upgrade() -> None:
    op.create_table('feedback',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('transaction_id', sa.BigInteger(), nullable=False),
    sa.Column('station_id', sa.String(length=64), nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('connector_id', sa.Integer(), nullable=False),
    sa.Column('overall', sa.Integer(), nullable=False),
    sa.Column('charging_speed', sa.Integer(), nullable=True),
    sa.Column('ease_of_use', sa.Integer(), nullable=True),
    sa.Column('availability', sa.Integer(), nullable=True),
    sa.Column('price_transparency', sa.Integer(), nullable=True),
    sa.Column('would_recommend', sa.Integer(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('survey_id', sa.String(length=64), nullable=True),
    sa.Column('session_started_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('handled', sa.Boolean(), nullable=False),
    sa.Column('handled_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('handled_by', sa.String(length=64), nullable=True),
    sa.Column('reply', sa.Text(), nullable=True),
    sa.Column('replied_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('replied_by', sa.String(length=64), nullable=True),
    sa.Column('reply_emailed_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback')),
    sa.UniqueConstraint('transaction_id', name=op.f('uq_feedback_transaction_id'))
    )
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_station_id_submitted_at'), ['station_id', 'submitted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_submitted_at'), ['submitted_at'], unique=False)

    op.create_table('surveys',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('target_kind', sa.String(length=32), nullable=False),
    sa.Column('active_from', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('active_until', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_surveys'))
    )
    op.create_table('feedback_contacts',
    sa.Column('transaction_id', sa.BigInteger(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('created_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['transaction_id'], ['feedback.transaction_id'], name=op.f('fk_feedback_contacts_transaction_id_feedback'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('transaction_id', name=op.f('pk_feedback_contacts'))
    )
    with op.batch_alter_table('feedback_contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_contacts_email'), ['email'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('feedback_contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_contacts_email'))

    op.drop_table('feedback_contacts')
    op.drop_table('surveys')
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_submitted_at'))
        batch_op.drop_index(batch_op.f('ix_feedback_station_id_submitted_at'))

    op.drop_table('feedback')
