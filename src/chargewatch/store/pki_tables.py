"""Tables of charger certificates (the PKI worker and API write them; on the shared metadata).

``charger_certificates``: what each charger holds, named as OCPP names a certificate (CertificateHashData) — from
its answers to GetInstalledCertificateIds, InstallCertificate and DeleteCertificate, and the certificates our CA
signed for it that it accepted (CertificateSigned). A row removed from the charger keeps its history
(``deleted_at``). ``certificate_requests``: each signing request (SignCertificate), what it was answered and why,
and how the signed certificate reached the charger.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text, UniqueConstraint

from .schema import BigId, metadata
from .types import UtcDateTime

charger_certificates = Table(
    "charger_certificates",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("charger_id", String(64), ForeignKey("chargers.id", ondelete="CASCADE"), nullable=False),
    # Neutral (OCPP 2.0.1) names: CSMSRootCertificate, ManufacturerRootCertificate, V2GRootCertificate,
    # MORootCertificate, V2GCertificateChain, ChargingStationCertificate, V2GCertificate.
    Column("certificate_type", String(40), nullable=False),
    Column("hash_algorithm", String(8), nullable=False),
    Column("issuer_name_hash", String(128), nullable=False),
    Column("issuer_key_hash", String(128), nullable=False),
    Column("serial_number", String(40), nullable=False),
    Column("source", String(16), nullable=False),  # installed | reported | signed
    Column("subject", String(512)),  # where we know the certificate itself (installed or signed by us)
    Column("not_after", UtcDateTime),
    Column("certificate", Text),  # PEM, where we know it (never a key)
    Column("installed_at", UtcDateTime),  # the charger accepted it from us
    Column("reported_at", UtcDateTime),  # last listed by the charger (GetInstalledCertificateIds)
    Column("deleted_at", UtcDateTime),  # gone from the charger (deleted, or no longer listed)
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("charger_id", "hash_algorithm", "issuer_name_hash", "issuer_key_hash", "serial_number",
                     name="uq_charger_certificates_hash_data"),  # the generated name passes PostgreSQL's 63
    Index(None, "charger_id", "certificate_type"),
)

certificate_requests = Table(
    "certificate_requests",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("charger_id", String(64), ForeignKey("chargers.id", ondelete="CASCADE"), nullable=False),
    Column("message_id", String(64), nullable=False),  # the SignCertificate CALL's id (once per request)
    Column("certificate_type", String(40), nullable=False),
    Column("csr", Text, nullable=False),
    Column("subject", String(512)),
    Column("received_at", UtcDateTime, nullable=False),
    # rejected | accepted | signed | delivered | refused | not_delivered | failed
    Column("status", String(16), nullable=False),
    Column("reason", String(512)),  # why rejected / failed / refused
    Column("serial_number", String(40)),
    Column("certificate_chain", Text),  # what CertificateSigned carried
    Column("not_after", UtcDateTime),
    Column("delivered_at", UtcDateTime),  # when the charger answered CertificateSigned
    UniqueConstraint("charger_id", "message_id"),
    Index(None, "charger_id", "received_at"),
)
