"""faults: incidents, detector state, incident actions, alert deliveries, driver reports

Revision ID: faults_0001
Revises: 0001
Create Date: 2026-11-25 15:30:00
"""
from alembic import op
import sqlalchemy as sa
import chargewatch.store.types


revision = 'faults_0001'
down_revision = '0001'
branch_labels = ('faults',)
depends_on = None


def upgrade() -> None:
    op.create_table('fault_actions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('incident_id', sa.String(length=255), nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=True),
    sa.Column('ocpp_action', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('requested_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('response', sa.JSON(), nullable=True),
    sa.Column('completed_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fault_actions'))
    )
    with op.batch_alter_table('fault_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fault_actions_incident_id_id'), ['incident_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fault_actions_rule_requested_at'), ['rule', 'requested_at'], unique=False)

    op.create_table('fault_alert_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('delivery_id', sa.String(length=64), nullable=False),
    sa.Column('incident_id', sa.String(length=255), nullable=False),
    sa.Column('event_type', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('attempt_log', sa.JSON(), nullable=False),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fault_alert_deliveries')),
    sa.UniqueConstraint('delivery_id', name=op.f('uq_fault_alert_deliveries_delivery_id'))
    )
    with op.batch_alter_table('fault_alert_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fault_alert_deliveries_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_fault_alert_deliveries_incident_id_id'), ['incident_id', 'id'], unique=False)

    op.create_table('fault_detector_state',
    sa.Column('node_id', sa.String(length=64), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('saved_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('node_id', name=op.f('pk_fault_detector_state'))
    )
    op.create_table('fault_driver_reports',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('incident_id', sa.String(length=255), nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('connector_id', sa.Integer(), nullable=True),
    sa.Column('transaction_id', sa.BigInteger(), nullable=True),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('contact', sa.String(length=255), nullable=True),
    sa.Column('at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fault_driver_reports'))
    )
    with op.batch_alter_table('fault_driver_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fault_driver_reports_incident_id_id'), ['incident_id', 'id'], unique=False)

    op.create_table('fault_incidents',
    sa.Column('number', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('connector_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=100), nullable=True),
    sa.Column('session_id', sa.String(length=32), nullable=True),
    sa.Column('outage', sa.Boolean(), nullable=False),
    sa.Column('first_seen', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_seen', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('opened_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=64), nullable=True),
    sa.Column('resolved_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.JSON(), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('occurrences', sa.Integer(), nullable=False),
    sa.Column('alerted_severity', sa.String(length=16), nullable=True),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('assignee', sa.String(length=64), nullable=True),
    sa.Column('exclusion_reason', sa.String(length=32), nullable=True),
    sa.Column('notes', sa.JSON(), nullable=False),
    sa.Column('updated_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('number', name=op.f('pk_fault_incidents')),
    sa.UniqueConstraint('id', name=op.f('uq_fault_incidents_id'))
    )
    with op.batch_alter_table('fault_incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fault_incidents_charger_id_first_seen'), ['charger_id', 'first_seen'], unique=False)
        batch_op.create_index(batch_op.f('ix_fault_incidents_first_seen'), ['first_seen'], unique=False)
        batch_op.create_index(batch_op.f('ix_fault_incidents_status_number'), ['status', 'number'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('fault_incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fault_incidents_status_number'))
        batch_op.drop_index(batch_op.f('ix_fault_incidents_first_seen'))
        batch_op.drop_index(batch_op.f('ix_fault_incidents_charger_id_first_seen'))

    op.drop_table('fault_incidents')
    with op.batch_alter_table('fault_driver_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fault_driver_reports_incident_id_id'))

    op.drop_table('fault_driver_reports')
    op.drop_table('fault_detector_state')
    with op.batch_alter_table('fault_alert_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fault_alert_deliveries_incident_id_id'))
        batch_op.drop_index(batch_op.f('ix_fault_alert_deliveries_created_at'))

    op.drop_table('fault_alert_deliveries')
    with op.batch_alter_table('fault_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fault_actions_rule_requested_at'))
        batch_op.drop_index(batch_op.f('ix_fault_actions_incident_id_id'))

    op.drop_table('fault_actions')
