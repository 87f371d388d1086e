"""Tables. The raw OCPP log is the source of truth; everything else is derived and rebuildable from it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .types import ExactDecimal, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")

chargers = Table(
    "chargers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("password_hash", String(255)),
    Column("registered", Boolean, nullable=False, default=True),  # False: admitted by --accept-unknown
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("tariff_id", String(36)),
    Column("ocmf_public_key", Text),
    Column("vendor", String(64)),
    Column("model", String(64)),
    Column("serial_number", String(64)),
    Column("firmware_version", String(64)),
    Column("meter_type", String(64)),
    Column("meter_serial_number", String(64)),
    Column("firmware_status", String(64)),
    Column("diagnostics_status", String(64)),
    Column("heartbeat_interval", Integer, nullable=False, default=300),
    Column("site_id", String(64)),  # chargers of one site share network and power (faults groups their outages)
    Column("connected", Boolean, nullable=False, default=False),
    Column("node_id", String(64)),
    Column("last_seen_at", UtcDateTime),
    Column("last_boot_at", UtcDateTime),
    Column("connected_at", UtcDateTime),
    Column("disconnected_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("ocpp_version", String(16)),  # the subprotocol of its latest connection: ocpp1.6 | ocpp2.0.1
)

connectors = Table(
    "connectors",
    metadata,
    Column("charger_id", String(64), ForeignKey("chargers.id", ondelete="CASCADE"), nullable=False),
    Column("connector_id", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("error_code", String(64), nullable=False, default="NoError"),
    Column("info", String(255)),
    Column("vendor_id", String(255)),
    Column("vendor_error_code", String(255)),
    Column("status_at", UtcDateTime, nullable=False),
    Column("max_power_w", Integer),
    PrimaryKeyConstraint("charger_id", "connector_id"),
)

status_events = Table(
    "status_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("charger_id", String(64), nullable=False),
    Column("connector_id", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("error_code", String(64), nullable=False),
    Column("info", String(255)),
    Column("vendor_id", String(255)),
    Column("vendor_error_code", String(255)),
    Column("timestamp", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    # The physical connector that reported (1.6: 1) and its own status when ``status`` is the charging point's.
    Column("evse_connector_id", Integer, nullable=False, default=1, server_default="1"),
    Column("reported_status", String(32)),
    Index(None, "charger_id", "connector_id", "timestamp"),
)

# The physical connectors of each charging point (2.0.1 EVSE; 1.6 connector n is EVSE n connector 1), with their own
# status and what the station's device model says of them; connector_id 0 is the EVSE itself (its rated power).
evse_connectors = Table(
    "evse_connectors",
    metadata,
    Column("charger_id", String(64), ForeignKey("chargers.id", ondelete="CASCADE"), nullable=False),
    Column("evse_id", Integer, nullable=False),
    Column("connector_id", Integer, nullable=False),
    Column("status", String(32)),  # as the charger last reported it
    Column("status_at", UtcDateTime),
    Column("connector_type", String(32)),  # 2.0.1 ConnectorEnumType value (cCCS2, cType2, sType2, cChaoJi, ...)
    Column("max_power_w", Integer),
    Column("reported_at", UtcDateTime),  # when a device-model report last described it
    PrimaryKeyConstraint("charger_id", "evse_id", "connector_id"),
)

# A station's device model as it reported it (OCPP 2.0.1 NotifyReport): one row per variable attribute.
# Lengths are the 2.0.1 schema's; "" and 0 stand for "no instance" and "not on an EVSE/connector".
device_variables = Table(
    "device_variables",
    metadata,
    Column("charger_id", String(64), ForeignKey("chargers.id", ondelete="CASCADE"), nullable=False),
    Column("component", String(50), nullable=False),
    Column("component_instance", String(50), nullable=False),
    Column("evse_id", Integer, nullable=False),
    Column("connector_id", Integer, nullable=False),
    Column("variable", String(50), nullable=False),
    Column("variable_instance", String(50), nullable=False),
    Column("attribute_type", String(8), nullable=False),  # Actual | Target | MinSet | MaxSet
    Column("value", String(2500)),  # None: WriteOnly
    Column("mutability", String(10), nullable=False),  # ReadOnly | WriteOnly | ReadWrite
    Column("persistent", Boolean, nullable=False),
    Column("constant", Boolean, nullable=False),
    Column("unit", String(16)),
    Column("data_type", String(16)),
    Column("min_limit", Float),
    Column("max_limit", Float),
    Column("values_list", String(1000)),
    Column("request_id", Integer, nullable=False),  # the report that last described it
    Column("reported_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("charger_id", "component", "component_instance", "evse_id", "connector_id", "variable",
                         "variable_instance", "attribute_type"),
)

# How far each device-model report got: its parts (seqNo 0, 1, ...), whether one was skipped, whether it ended.
device_reports = Table(
    "device_reports",
    metadata,
    Column("charger_id", String(64), ForeignKey("chargers.id", ondelete="CASCADE"), nullable=False),
    Column("request_id", Integer, nullable=False),
    Column("parts", Integer, nullable=False),
    Column("last_seq_no", Integer, nullable=False),
    Column("sequence_gap", Boolean, nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("generated_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("charger_id", "request_id"),
)

id_tags = Table(
    "id_tags",
    metadata,
    Column("id_tag", String(20), primary_key=True),
    Column("status", String(16), nullable=False, default="Accepted"),
    Column("expiry_date", UtcDateTime),
    Column("parent_id_tag", String(20)),
    Column("description", String(255)),
)

ocpp_messages = Table(
    "ocpp_messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("charger_id", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("direction", String(3), nullable=False),  # in | out
    Column("message_type", Integer),  # 2, 3, 4; NULL for an undecodable frame
    Column("message_id", String(64)),
    Column("action", String(64)),
    Column("payload", Text, nullable=False),  # the frame exactly as sent or received
    Column("node_id", String(64)),
    Column("protocol", String(16)),  # the connection's subprotocol; NULL (before 2.0.1 support) is ocpp1.6
    Index(None, "charger_id", "id"),
    Index(None, "charger_id", "message_id"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("transaction_id", BigId, primary_key=True, autoincrement=False),
    Column("charger_id", String(64), nullable=False),
    Column("connector_id", Integer, nullable=False),
    Column("id_tag", String(36), nullable=False),  # 2.0.1 idToken is up to 36 characters
    Column("status", String(16), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("stopped_at", UtcDateTime),
    Column("meter_start_wh", BigInteger, nullable=False),
    Column("meter_stop_wh", BigInteger),
    Column("energy_wh", BigInteger, nullable=False, default=0),
    Column("stop_reason", String(32)),
    Column("power_w", Integer),
    Column("max_power_w", Integer, nullable=False, default=0),
    Column("soc", Integer),
    Column("charging_seconds", Integer, nullable=False, default=0),
    Column("idle_seconds", Integer, nullable=False, default=0),
    Column("last_sample_at", UtcDateTime),
    Column("last_register_wh", BigInteger),
    Column("baseline_wh", BigInteger),
    Column("offset_wh", BigInteger, nullable=False, default=0),
    Column("flags", JSON, nullable=False, default=list),
    Column("reservation_id", Integer),
    Column("start_key", String(200), nullable=False),
    # The charger's name for the transaction: the 1.6 transactionId as text, the 2.0.1 transactionId string.
    Column("transaction_ref", String(64)),
    Column("last_seq_no", Integer),  # OCPP 2.0.1 TransactionEvent seqNo last applied
    # The idTagInfo status a refused StartTransaction was answered (Invalid, Blocked, Expired, ConcurrentTx).
    Column("start_status", String(16)),
    # The physical connector on the charging point the session used (1.6: 1; 2.0.1: the EVSE's connectorId).
    Column("evse_connector_id", Integer, nullable=False, default=1, server_default="1"),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("charger_id", "start_key"),
    UniqueConstraint("charger_id", "transaction_ref"),
    Index(None, "charger_id", "connector_id", "status"),
    Index(None, "charger_id", "started_at"),  # a station's sessions, newest first
    Index(None, "started_at"),
    Index(None, "status", "started_at"),
)

meter_readings = Table(
    "meter_readings",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("charger_id", String(64), nullable=False),
    Column("connector_id", Integer, nullable=False),
    Column("transaction_id", BigInteger),
    Column("timestamp", UtcDateTime, nullable=False),
    Column("measurand", String(48), nullable=False),
    Column("phase", String(8), nullable=False, default=""),
    Column("location", String(8), nullable=False, default=""),
    Column("context", String(32), nullable=False),
    Column("unit", String(16), nullable=False),
    Column("value", ExactDecimal, nullable=False),
    Column("format", String(10), nullable=False, default="Raw"),  # Raw | SignedData
    Column("signed_data", Text),
    # Offline-queue replays re-send identical readings; the unique key makes them a no-op. A signed reading
    # beside the plain one of the same instant is a different reading (format is part of the key).
    UniqueConstraint("charger_id", "connector_id", "timestamp", "measurand", "phase", "location", "context",
                     "format", name="uq_meter_readings_reading"),
    Index(None, "transaction_id", "timestamp"),
)

counters = Table(
    "counters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

settings = Table(
    "settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

commands = Table(
    "commands",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("charger_id", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("message_id", String(64)),
    Column("status", String(16), nullable=False),  # pending | answered | error | timeout | offline
    Column("response", JSON),
    Column("requested_by", String(64)),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("completed_at", UtcDateTime),
    # Set when the command is relayed to the gateway node holding the charger's connection.
    Column("node_id", String(64)),
    Column("timeout_s", Float),
    Index(None, "charger_id", "id"),
    Index(None, "node_id", "status"),
)

security_events = Table(
    "security_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("charger_id", String(64), nullable=False),
    Column("type", String(64), nullable=False),
    Column("timestamp", UtcDateTime, nullable=False),
    Column("tech_info", Text),
)


# Each domain keeps its tables in its own module on this metadata (imported for their side effect).
from . import (  # noqa: E402, F401
    billing_tables,
    charging_tables,
    faults_tables,
    feedback_tables,
    firmware_tables,
    local_list_tables,
    operators_tables,
    pki_tables,
    reservations_tables,
    security_tables,
    support_tables,
)
