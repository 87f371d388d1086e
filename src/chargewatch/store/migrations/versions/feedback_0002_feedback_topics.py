"""feedback: operator topics (promoted from discovered clusters)

Revision ID: feedback_0002
Revises: feedback_0001
Create Date: 2026-12-02 05:30:00
"""
from alembic import op
import sqlalchemy as sa
import chargewatch.store.types


revision = 'feedback_0002'
down_revision = 'feedback_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('feedback_topics',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.Column('created_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('feedback_topics')
