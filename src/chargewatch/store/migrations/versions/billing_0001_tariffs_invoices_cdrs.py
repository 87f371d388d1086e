"""billing: versioned tariffs and their assignment, session bills, invoices with gap-free numbers, CDRs

Revision ID: billing_0001
Revises: 0001
Create Date: 2026-11-25 17:00:00
"""
from alembic import op
import sqlalchemy as sa
import chargewatch.store.types


revision = 'billing_0001'
down_revision = '0001'
branch_labels = ('billing',)
depends_on = None


def upgrade() -> None:
    op.create_table('tariffs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('created_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tariffs'))
    )
    op.create_table('tariff_versions',
    sa.Column('tariff_id', sa.String(length=36), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('valid_from', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('created_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tariff_id'], ['tariffs.id'], name=op.f('fk_tariff_versions_tariff_id_tariffs'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tariff_id', 'version', name=op.f('pk_tariff_versions'))
    )
    op.create_table('tariff_assignments',
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('connector_id', sa.Integer(), nullable=False),
    sa.Column('tariff_id', sa.String(length=36), nullable=False),
    sa.Column('assigned_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tariff_id'], ['tariffs.id'], name=op.f('fk_tariff_assignments_tariff_id_tariffs')),
    sa.PrimaryKeyConstraint('charger_id', 'connector_id', name=op.f('pk_tariff_assignments'))
    )
    op.create_table('session_tariffs',
    sa.Column('transaction_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('tariff_id', sa.String(length=36), nullable=False),
    sa.Column('tariff_version', sa.Integer(), nullable=False),
    sa.Column('pinned_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('transaction_id', name=op.f('pk_session_tariffs'))
    )
    op.create_table('invoice_series',
    sa.Column('operator_id', sa.String(length=64), nullable=False),
    sa.Column('last_number', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('operator_id', name=op.f('pk_invoice_series'))
    )
    op.create_table('session_bills',
    sa.Column('transaction_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('tariff_id', sa.String(length=36), nullable=True),
    sa.Column('tariff_version', sa.Integer(), nullable=True),
    sa.Column('meter_rule', sa.String(length=48), nullable=True),
    sa.Column('meter_verification', sa.String(length=16), nullable=False),
    sa.Column('invoice_number', sa.String(length=32), nullable=True),
    sa.Column('cdr_id', sa.String(length=39), nullable=True),
    sa.Column('resolved_by', sa.String(length=64), nullable=True),
    sa.Column('resolution_note', sa.Text(), nullable=True),
    sa.Column('created_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('transaction_id', name=op.f('pk_session_bills'))
    )
    with op.batch_alter_table('session_bills', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_bills_status'), ['status'], unique=False)

    op.create_table('invoices',
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('operator_id', sa.String(length=64), nullable=False),
    sa.Column('sequence', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('transaction_id', sa.BigInteger(), nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('credit_note_for', sa.String(length=32), nullable=True),
    sa.Column('cdr_id', sa.String(length=39), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total_net', chargewatch.store.types.ExactDecimal(precision=20, scale=4), nullable=False),
    sa.Column('total_vat', chargewatch.store.types.ExactDecimal(precision=20, scale=4), nullable=False),
    sa.Column('total_gross', chargewatch.store.types.ExactDecimal(precision=20, scale=4), nullable=False),
    sa.Column('meter_verification', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('issued_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('number', name=op.f('pk_invoices')),
    sa.UniqueConstraint('credit_note_for', name=op.f('uq_invoices_credit_note_for'))
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoices_issued_at'), ['issued_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_operator_id_sequence'), ['operator_id', 'sequence'],
                              unique=True)
        batch_op.create_index(batch_op.f('ix_invoices_transaction_id'), ['transaction_id'], unique=False)

    op.create_table('cdrs',
    sa.Column('id', sa.String(length=39), nullable=False),
    sa.Column('transaction_id', sa.BigInteger(), nullable=False),
    sa.Column('invoice_number', sa.String(length=32), nullable=False),
    sa.Column('credit', sa.Boolean(), nullable=False),
    sa.Column('credit_reference_id', sa.String(length=39), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total_cost_excl_vat', chargewatch.store.types.ExactDecimal(precision=20, scale=4), nullable=False),
    sa.Column('total_cost_incl_vat', chargewatch.store.types.ExactDecimal(precision=20, scale=4), nullable=True),
    sa.Column('total_energy', chargewatch.store.types.ExactDecimal(precision=20, scale=4), nullable=False),
    sa.Column('created_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cdrs')),
    sa.UniqueConstraint('credit_reference_id', name=op.f('uq_cdrs_credit_reference_id'))
    )
    with op.batch_alter_table('cdrs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cdrs_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cdrs_transaction_id'), ['transaction_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cdrs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cdrs_transaction_id'))
        batch_op.drop_index(batch_op.f('ix_cdrs_created_at'))
    op.drop_table('cdrs')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoices_transaction_id'))
        batch_op.drop_index(batch_op.f('ix_invoices_operator_id_sequence'))
        batch_op.drop_index(batch_op.f('ix_invoices_issued_at'))
    op.drop_table('invoices')
    with op.batch_alter_table('session_bills', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_bills_status'))
    op.drop_table('session_bills')
    op.drop_table('invoice_series')
    op.drop_table('session_tariffs')
    op.drop_table('tariff_assignments')
    op.drop_table('tariff_versions')
    op.drop_table('tariffs')
