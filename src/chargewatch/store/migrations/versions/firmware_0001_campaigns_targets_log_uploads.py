"""firmware: campaigns, targets, status events, log requests and uploads

Revision ID: firmware_0001
Revises: 0004
Create Date: 2026-12-02 17:26:58.024871
"""
from alembic import op
import sqlalchemy as sa
import chargewatch.store.types


revision = 'firmware_0001'
down_revision = '0004'
branch_labels = ('firmware',)
depends_on = None


def upgrade() -> None:
    op.create_table('firmware_campaigns',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('location', sa.String(length=512), nullable=False),
    sa.Column('retrieve_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('install_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('signing_certificate', sa.Text(), nullable=True),
    sa.Column('signature', sa.String(length=800), nullable=True),
    sa.Column('retries', sa.Integer(), nullable=True),
    sa.Column('retry_interval', sa.Integer(), nullable=True),
    sa.Column('expected_version', sa.String(length=64), nullable=True),
    sa.Column('timeout_seconds', sa.Integer(), nullable=False),
    sa.Column('created_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_firmware_campaigns'))
    )
    op.create_table('firmware_status_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('request_id', sa.BigInteger(), nullable=True),
    sa.Column('target_id', sa.BigInteger(), nullable=True),
    sa.Column('received_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_firmware_status_events'))
    )
    with op.batch_alter_table('firmware_status_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_firmware_status_events_charger_id_received_at'), ['charger_id', 'received_at'], unique=False)

    op.create_table('log_requests',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('log_type', sa.String(length=16), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('last_status', sa.String(length=32), nullable=True),
    sa.Column('sent_action', sa.String(length=32), nullable=True),
    sa.Column('file_name', sa.String(length=255), nullable=True),
    sa.Column('oldest', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('latest', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('requested_by', sa.String(length=64), nullable=True),
    sa.Column('requested_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_requests')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_log_requests_token_sha256'))
    )
    with op.batch_alter_table('log_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_log_requests_charger_id_requested_at'), ['charger_id', 'requested_at'], unique=False)

    op.create_table('firmware_targets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('campaign_id', sa.BigInteger(), nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('phase', sa.String(length=16), nullable=False),
    sa.Column('last_status', sa.String(length=32), nullable=True),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('sent_action', sa.String(length=32), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('confirmed', sa.Boolean(), nullable=False),
    sa.Column('booted_version', sa.String(length=64), nullable=True),
    sa.Column('sent_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['firmware_campaigns.id'], name=op.f('fk_firmware_targets_campaign_id_firmware_campaigns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_firmware_targets')),
    sa.UniqueConstraint('campaign_id', 'charger_id', name=op.f('uq_firmware_targets_campaign_id_charger_id'))
    )
    with op.batch_alter_table('firmware_targets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_firmware_targets_charger_id_phase'), ['charger_id', 'phase'], unique=False)
        batch_op.create_index(batch_op.f('ix_firmware_targets_phase_updated_at'), ['phase', 'updated_at'], unique=False)

    op.create_table('log_uploads',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('request_id', sa.BigInteger(), nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=127), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['log_requests.id'], name=op.f('fk_log_uploads_request_id_log_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_uploads'))
    )
    with op.batch_alter_table('log_uploads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_log_uploads_charger_id_received_at'), ['charger_id', 'received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_log_uploads_request_id'), ['request_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('log_uploads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_log_uploads_request_id'))
        batch_op.drop_index(batch_op.f('ix_log_uploads_charger_id_received_at'))

    op.drop_table('log_uploads')
    with op.batch_alter_table('firmware_targets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_firmware_targets_phase_updated_at'))
        batch_op.drop_index(batch_op.f('ix_firmware_targets_charger_id_phase'))

    op.drop_table('firmware_targets')
    with op.batch_alter_table('log_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_log_requests_charger_id_requested_at'))

    op.drop_table('log_requests')
    with op.batch_alter_table('firmware_status_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_firmware_status_events_charger_id_received_at'))

    op.drop_table('firmware_status_events')
    op.drop_table('firmware_campaigns')
