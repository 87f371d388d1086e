"""backbone: chargers, connectors, raw OCPP log, sessions, meter readings

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 14:53:52.769400
"""
from alembic import op
import sqlalchemy as sa
import chargewatch.store.types


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('chargers',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('registered', sa.Boolean(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('tariff_id', sa.String(length=36), nullable=True),
    sa.Column('ocmf_public_key', sa.Text(), nullable=True),
    sa.Column('vendor', sa.String(length=64), nullable=True),
    sa.Column('model', sa.String(length=64), nullable=True),
    sa.Column('serial_number', sa.String(length=64), nullable=True),
    sa.Column('firmware_version', sa.String(length=64), nullable=True),
    sa.Column('meter_type', sa.String(length=64), nullable=True),
    sa.Column('meter_serial_number', sa.String(length=64), nullable=True),
    sa.Column('firmware_status', sa.String(length=64), nullable=True),
    sa.Column('diagnostics_status', sa.String(length=64), nullable=True),
    sa.Column('heartbeat_interval', sa.Integer(), nullable=False),
    sa.Column('connected', sa.Boolean(), nullable=False),
    sa.Column('node_id', sa.String(length=64), nullable=True),
    sa.Column('last_seen_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_boot_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('connected_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('disconnected_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chargers'))
    )
    op.create_table('commands',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('response', sa.JSON(), nullable=True),
    sa.Column('requested_by', sa.String(length=64), nullable=True),
    sa.Column('requested_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('node_id', sa.String(length=64), nullable=True),
    sa.Column('timeout_s', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commands'))
    )
    with op.batch_alter_table('commands', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_commands_charger_id_id'), ['charger_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_commands_node_id_status'), ['node_id', 'status'], unique=False)

    op.create_table('counters',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_counters'))
    )
    op.create_table('id_tags',
    sa.Column('id_tag', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('expiry_date', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('parent_id_tag', sa.String(length=20), nullable=True),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id_tag', name=op.f('pk_id_tags'))
    )
    op.create_table('meter_readings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('connector_id', sa.Integer(), nullable=False),
    sa.Column('transaction_id', sa.BigInteger(), nullable=True),
    sa.Column('timestamp', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('measurand', sa.String(length=48), nullable=False),
    sa.Column('phase', sa.String(length=8), nullable=False),
    sa.Column('location', sa.String(length=8), nullable=False),
    sa.Column('context', sa.String(length=32), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('value', chargewatch.store.types.ExactDecimal(precision=20, scale=4), nullable=False),
    sa.Column('format', sa.String(length=10), nullable=False),
    sa.Column('signed_data', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meter_readings')),
    sa.UniqueConstraint('charger_id', 'connector_id', 'timestamp', 'measurand', 'phase', 'location', 'context', 'format', name='uq_meter_readings_reading')
    )
    with op.batch_alter_table('meter_readings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meter_readings_transaction_id_timestamp'), ['transaction_id', 'timestamp'], unique=False)

    op.create_table('ocpp_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('message_type', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('node_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ocpp_messages'))
    )
    with op.batch_alter_table('ocpp_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ocpp_messages_charger_id_id'), ['charger_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ocpp_messages_charger_id_message_id'), ['charger_id', 'message_id'], unique=False)

    op.create_table('security_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('timestamp', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('tech_info', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_security_events'))
    )
    op.create_table('sessions',
    sa.Column('transaction_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('connector_id', sa.Integer(), nullable=False),
    sa.Column('id_tag', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('stopped_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('meter_start_wh', sa.BigInteger(), nullable=False),
    sa.Column('meter_stop_wh', sa.BigInteger(), nullable=True),
    sa.Column('energy_wh', sa.BigInteger(), nullable=False),
    sa.Column('stop_reason', sa.String(length=32), nullable=True),
    sa.Column('power_w', sa.Integer(), nullable=True),
    sa.Column('max_power_w', sa.Integer(), nullable=False),
    sa.Column('soc', sa.Integer(), nullable=True),
    sa.Column('charging_seconds', sa.Integer(), nullable=False),
    sa.Column('idle_seconds', sa.Integer(), nullable=False),
    sa.Column('last_sample_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_register_wh', sa.BigInteger(), nullable=True),
    sa.Column('baseline_wh', sa.BigInteger(), nullable=True),
    sa.Column('offset_wh', sa.BigInteger(), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('reservation_id', sa.Integer(), nullable=True),
    sa.Column('start_key', sa.String(length=200), nullable=False),
    sa.Column('updated_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('transaction_id', name=op.f('pk_sessions')),
    sa.UniqueConstraint('charger_id', 'start_key', name=op.f('uq_sessions_charger_id_start_key'))
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sessions_charger_id_connector_id_status'), ['charger_id', 'connector_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_sessions_charger_id_started_at'), ['charger_id', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sessions_started_at'), ['started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sessions_status_started_at'), ['status', 'started_at'], unique=False)

    op.create_table('settings',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_settings'))
    )
    op.create_table('status_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('connector_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=False),
    sa.Column('info', sa.String(length=255), nullable=True),
    sa.Column('vendor_id', sa.String(length=255), nullable=True),
    sa.Column('vendor_error_code', sa.String(length=255), nullable=True),
    sa.Column('timestamp', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('received_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_events'))
    )
    with op.batch_alter_table('status_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_status_events_charger_id_connector_id_timestamp'), ['charger_id', 'connector_id', 'timestamp'], unique=False)

    op.create_table('connectors',
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('connector_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=False),
    sa.Column('info', sa.String(length=255), nullable=True),
    sa.Column('vendor_id', sa.String(length=255), nullable=True),
    sa.Column('vendor_error_code', sa.String(length=255), nullable=True),
    sa.Column('status_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('max_power_w', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['charger_id'], ['chargers.id'], name=op.f('fk_connectors_charger_id_chargers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('charger_id', 'connector_id', name=op.f('pk_connectors'))
    )


def downgrade() -> None:
    op.drop_table('connectors')
    with op.batch_alter_table('status_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_status_events_charger_id_connector_id_timestamp'))

    op.drop_table('status_events')
    op.drop_table('settings')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sessions_status_started_at'))
        batch_op.drop_index(batch_op.f('ix_sessions_started_at'))
        batch_op.drop_index(batch_op.f('ix_sessions_charger_id_connector_id_status'))
        batch_op.drop_index(batch_op.f('ix_sessions_charger_id_started_at'))

    op.drop_table('sessions')
    op.drop_table('security_events')
    with op.batch_alter_table('ocpp_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ocpp_messages_charger_id_message_id'))
        batch_op.drop_index(batch_op.f('ix_ocpp_messages_charger_id_id'))

    op.drop_table('ocpp_messages')
    with op.batch_alter_table('meter_readings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meter_readings_transaction_id_timestamp'))

    op.drop_table('meter_readings')
    op.drop_table('id_tags')
    op.drop_table('counters')
    with op.batch_alter_table('commands', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_commands_charger_id_id'))
        batch_op.drop_index(batch_op.f('ix_commands_node_id_status'))

    op.drop_table('commands')
    op.drop_table('chargers')
