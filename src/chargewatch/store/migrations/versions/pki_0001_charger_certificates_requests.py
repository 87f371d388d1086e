"""pki: charger certificates (CertificateHashData per charger) and certificate signing requests

Revision ID: pki_0001
Revises: 0004
Create Date: 2026-12-02 17:28:19.556783
"""
from alembic import op
import sqlalchemy as sa
import chargewatch.store.types


revision = 'pki_0001'
down_revision = '0004'
branch_labels = ('pki',)
depends_on = None


def upgrade() -> None:
    op.create_table('certificate_requests',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('certificate_type', sa.String(length=40), nullable=False),
    sa.Column('csr', sa.Text(), nullable=False),
    sa.Column('subject', sa.String(length=512), nullable=True),
    sa.Column('received_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=512), nullable=True),
    sa.Column('serial_number', sa.String(length=40), nullable=True),
    sa.Column('certificate_chain', sa.Text(), nullable=True),
    sa.Column('not_after', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['charger_id'], ['chargers.id'], name=op.f('fk_certificate_requests_charger_id_chargers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_requests')),
    sa.UniqueConstraint('charger_id', 'message_id', name=op.f('uq_certificate_requests_charger_id_message_id'))
    )
    with op.batch_alter_table('certificate_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_requests_charger_id_received_at'), ['charger_id', 'received_at'], unique=False)

    op.create_table('charger_certificates',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('charger_id', sa.String(length=64), nullable=False),
    sa.Column('certificate_type', sa.String(length=40), nullable=False),
    sa.Column('hash_algorithm', sa.String(length=8), nullable=False),
    sa.Column('issuer_name_hash', sa.String(length=128), nullable=False),
    sa.Column('issuer_key_hash', sa.String(length=128), nullable=False),
    sa.Column('serial_number', sa.String(length=40), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=512), nullable=True),
    sa.Column('not_after', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('certificate', sa.Text(), nullable=True),
    sa.Column('installed_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('reported_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', chargewatch.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['charger_id'], ['chargers.id'], name=op.f('fk_charger_certificates_charger_id_chargers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_charger_certificates')),
    sa.UniqueConstraint('charger_id', 'hash_algorithm', 'issuer_name_hash', 'issuer_key_hash', 'serial_number', name='uq_charger_certificates_hash_data')
    )
    with op.batch_alter_table('charger_certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_charger_certificates_charger_id_certificate_type'), ['charger_id', 'certificate_type'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('charger_certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_charger_certificates_charger_id_certificate_type'))

    op.drop_table('charger_certificates')
    with op.batch_alter_table('certificate_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificate_requests_charger_id_received_at'))

    op.drop_table('certificate_requests')
