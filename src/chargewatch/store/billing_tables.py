"""Tables of the billing domain (on the shared metadata).

Tariffs are versioned, never edited: a bill names the exact version it was priced with. Invoices,
credit notes and CDRs are written once; a correction adds rows. `session_bills` holds one row per
session, which is what makes billing a session twice impossible.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from .schema import metadata
from .types import ExactDecimal, UtcDateTime

tariffs = Table(
    "tariffs",
    metadata,
    Column("id", String(36), primary_key=True),  # the OCPI tariff id
    Column("current_version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

tariff_versions = Table(
    "tariff_versions",
    metadata,
    Column("tariff_id", String(36), nullable=False),
    Column("version", Integer, nullable=False),
    Column("body", Text, nullable=False),  # OCPI tariff JSON, numbers written exactly
    # From when this version prices new sessions: the tariff's start_date_time, else when it was stored.
    Column("valid_from", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tariff_id", "version"),
    ForeignKeyConstraint(["tariff_id"], ["tariffs.id"], ondelete="CASCADE"),
)

# charger_id "" with connector_id 0 is the operator default; connector_id 0 is the whole charger
# (as OCPP uses connector 0).
tariff_assignments = Table(
    "tariff_assignments",
    metadata,
    Column("charger_id", String(64), nullable=False),
    Column("connector_id", Integer, nullable=False),
    Column("tariff_id", String(36), nullable=False),
    Column("assigned_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("charger_id", "connector_id"),
    ForeignKeyConstraint(["tariff_id"], ["tariffs.id"]),
)

# The tariff version a session is priced with, fixed when it starts so later reassignments do not reach it.
session_tariffs = Table(
    "session_tariffs",
    metadata,
    Column("transaction_id", BigInteger, primary_key=True, autoincrement=False),
    Column("tariff_id", String(36), nullable=False),
    Column("tariff_version", Integer, nullable=False),
    Column("pinned_at", UtcDateTime, nullable=False),
)

# Last number given per operator; incremented in the transaction that inserts the invoice.
invoice_series = Table(
    "invoice_series",
    metadata,
    Column("operator_id", String(64), primary_key=True),
    Column("last_number", BigInteger, nullable=False),
)

session_bills = Table(
    "session_bills",
    metadata,
    Column("transaction_id", BigInteger, primary_key=True, autoincrement=False),
    Column("status", String(16), nullable=False),  # issued | needs_review | waived
    Column("reason", Text, nullable=False),
    Column("tariff_id", String(36)),
    Column("tariff_version", Integer),
    Column("meter_rule", String(48)),
    Column("meter_verification", String(16), nullable=False),  # VALID | INVALID | NOT_SIGNED
    Column("invoice_number", String(32)),  # the invoice in force (after corrections: the latest)
    Column("cdr_id", String(39)),
    Column("resolved_by", String(64)),
    Column("resolution_note", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "status"),
)

invoices = Table(
    "invoices",
    metadata,
    Column("number", String(32), primary_key=True),
    Column("operator_id", String(64), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),  # invoice | credit_note
    Column("transaction_id", BigInteger, nullable=False),
    Column("charger_id", String(64), nullable=False),
    Column("credit_note_for", String(32), unique=True),  # an invoice is credited at most once
    Column("cdr_id", String(39), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total_net", ExactDecimal, nullable=False),
    Column("total_vat", ExactDecimal, nullable=False),
    Column("total_gross", ExactDecimal, nullable=False),
    Column("meter_verification", String(16), nullable=False),
    Column("reason", Text),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("body", Text, nullable=False),  # Invoice.to_json()
    Column("pdf", LargeBinary),  # kept once rendered, so the document a driver got never changes
    Index(None, "operator_id", "sequence", unique=True),
    Index(None, "transaction_id"),
    Index(None, "issued_at"),
)

cdrs = Table(
    "cdrs",
    metadata,
    Column("id", String(39), primary_key=True),
    Column("transaction_id", BigInteger, nullable=False),
    Column("invoice_number", String(32), nullable=False),
    Column("credit", Boolean, nullable=False),
    Column("credit_reference_id", String(39), unique=True),
    Column("currency", String(3), nullable=False),
    Column("total_cost_excl_vat", ExactDecimal, nullable=False),
    Column("total_cost_incl_vat", ExactDecimal),
    Column("total_energy", ExactDecimal, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("body", Text, nullable=False),  # the OCPI CDR JSON
    Index(None, "transaction_id"),
    Index(None, "created_at"),
)
