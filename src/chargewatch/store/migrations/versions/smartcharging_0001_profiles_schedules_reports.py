"""smartcharging: charging profiles, composite schedules, charging reports

Revision ID: smartcharging_0001
Revises: 0004
Create Date: 2026-12-02 17:28:00.498525
"""
from alembic import op
import sqlalchemy as sa
import chargewatch.store.types


revision = 'smartcharging_0001'
down_revision = '0004'
branch_labels = ('smartcharging',)
depends_on = None


def upgrade() -> None:
    op.create_table('charging_profiles',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('connector_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('stack_level', sa.Integer(), nullable=False),
    sa.Column('profile', sa.JSON(), nullable=False),
    sa.Column('ocpp_version', sa.String(length=16), nullable=False),
    sa.Column('sent_action', sa.String(length=64), nullable=True),
    sa.Column('sent_payload', sa.JSON(), nullable=True),
    sa.Column('command_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('answer_status', sa.String(length=32), nullable=True),
    sa.Column('answer', sa.JSON(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=True),
    sa.Column('limit_kw', chargewatch.store.types.ExactDecimal(precision=20, scale=4), nullable=True),
    sa.Column('created_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('answered_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('cleared_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('clear_answer', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_charging_profiles'))
    )
    with op.batch_alter_table('charging_profiles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_charging_profiles_charger_id_connector_id_active'), ['charger_id', 'connector_id', 'active'], unique=False)
        batch_op.create_index(batch_op.f('ix_charging_profiles_site_id'), ['site_id'], unique=False)

    op.create_table('charging_reports',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('connector_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('limit_source', sa.String(length=8), nullable=False),
    sa.Column('cleared', sa.Boolean(), nullable=False),
    sa.Column('grid_critical', sa.Boolean(), nullable=True),
    sa.Column('more_to_come', sa.Boolean(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('received_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_charging_reports'))
    )
    with op.batch_alter_table('charging_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_charging_reports_charger_id_id'), ['charger_id', 'id'], unique=False)

    op.create_table('composite_schedules',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('connector_id', sa.Integer(), nullable=False),
    sa.Column('ocpp_version', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('schedule_start', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('duration', sa.Integer(), nullable=True),
    sa.Column('rate_unit', sa.String(length=1), nullable=True),
    sa.Column('periods', sa.JSON(), nullable=False),
    sa.Column('response', sa.JSON(), nullable=True),
    sa.Column('requested_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_composite_schedules'))
    )
    with op.batch_alter_table('composite_schedules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_composite_schedules_charger_id_connector_id_id'), ['charger_id', 'connector_id', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('composite_schedules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_composite_schedules_charger_id_connector_id_id'))

    op.drop_table('composite_schedules')
    with op.batch_alter_table('charging_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_charging_reports_charger_id_id'))

    op.drop_table('charging_reports')
    with op.batch_alter_table('charging_profiles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_charging_profiles_site_id'))
        batch_op.drop_index(batch_op.f('ix_charging_profiles_charger_id_connector_id_active'))

    op.drop_table('charging_profiles')
