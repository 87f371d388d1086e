"""backbone: per-EVSE connectors (evse_connectors, sessions/status_events.evse_connector_id) and the 2.0.1 device
model (device_variables, device_reports)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 13:50:00
"""
from alembic import op
import sqlalchemy as sa

from chargewatch.store.types import UtcDateTime


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('evse_connectors',
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('evse_id', sa.Integer(), nullable=False),
    sa.Column('connector_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=True),
    sa.Column('status_at', UtcDateTime(timezone=True), nullable=True),
    sa.Column('connector_type', sa.String(length=32), nullable=True),
    sa.Column('max_power_w', sa.Integer(), nullable=True),
    sa.Column('reported_at', UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['charger_id'], ['chargers.id'], name=op.f('fk_evse_connectors_charger_id_chargers'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('charger_id', 'evse_id', 'connector_id', name=op.f('pk_evse_connectors'))
    )
    op.create_table('device_variables',
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('component', sa.String(length=50), nullable=False),
    sa.Column('component_instance', sa.String(length=50), nullable=False),
    sa.Column('evse_id', sa.Integer(), nullable=False),
    sa.Column('connector_id', sa.Integer(), nullable=False),
    sa.Column('variable', sa.String(length=50), nullable=False),
    sa.Column('variable_instance', sa.String(length=50), nullable=False),
    sa.Column('attribute_type', sa.String(length=8), nullable=False),
    sa.Column('value', sa.String(length=2500), nullable=True),
    sa.Column('mutability', sa.String(length=10), nullable=False),
    sa.Column('persistent', sa.Boolean(), nullable=False),
    sa.Column('constant', sa.Boolean(), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=True),
    sa.Column('data_type', sa.String(length=16), nullable=True),
    sa.Column('min_limit', sa.Float(), nullable=True),
    sa.Column('max_limit', sa.Float(), nullable=True),
    sa.Column('values_list', sa.String(length=1000), nullable=True),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('reported_at', UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['charger_id'], ['chargers.id'], name=op.f('fk_device_variables_charger_id_chargers'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('charger_id', 'component', 'component_instance', 'evse_id', 'connector_id', 'variable',
                            'variable_instance', 'attribute_type', name=op.f('pk_device_variables'))
    )
    op.create_table('device_reports',
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('parts', sa.Integer(), nullable=False),
    sa.Column('last_seq_no', sa.Integer(), nullable=False),
    sa.Column('sequence_gap', sa.Boolean(), nullable=False),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('generated_at', UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['charger_id'], ['chargers.id'], name=op.f('fk_device_reports_charger_id_chargers'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('charger_id', 'request_id', name=op.f('pk_device_reports'))
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('evse_connector_id', sa.Integer(), server_default='1', nullable=False))
    with op.batch_alter_table('status_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('evse_connector_id', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('reported_status', sa.String(length=32), nullable=True))
    # Every stored charging point has (at least) its connector 1: 1.6 connector n is EVSE n connector 1.
    op.execute("INSERT INTO evse_connectors (charger_id, evse_id, connector_id, status, status_at) "
               "SELECT charger_id, connector_id, 1, status, status_at FROM connectors WHERE connector_id > 0")


def downgrade() -> None:
    with op.batch_alter_table('status_events', schema=None) as batch_op:
        batch_op.drop_column('reported_status')
        batch_op.drop_column('evse_connector_id')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('evse_connector_id')
    op.drop_table('device_reports')
    op.drop_table('device_variables')
    op.drop_table('evse_connectors')
