"""faults: vendor code/info and site grouping on incidents; chargers.site_id

Revision ID: faults_0002
Revises: faults_0001
Create Date: 2026-12-02 04:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'faults_0002'
down_revision = 'faults_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('fault_incidents') as batch:
        batch.add_column(sa.Column('vendor_id', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('vendor_error_code', sa.String(length=50), nullable=True))
        batch.add_column(sa.Column('info', sa.String(length=50), nullable=True))
        batch.add_column(sa.Column('members', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('parent_id', sa.String(length=255), nullable=True))
    with op.batch_alter_table('chargers') as batch:
        batch.add_column(sa.Column('site_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('chargers') as batch:
        batch.drop_column('site_id')
    with op.batch_alter_table('fault_incidents') as batch:
        for column in ('parent_id', 'members', 'info', 'vendor_error_code', 'vendor_id'):
            batch.drop_column(column)
