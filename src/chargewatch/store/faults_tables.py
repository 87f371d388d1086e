"""Tables of the faults domain (on the shared metadata).

An incident row has two owners. The detector owns what it observes (severity, status, evidence,
first/last seen, resolution); the operator owns what only a person knows (assignee, notes,
exclusion reason). Each writer updates only its own columns, so an evidence update arriving
while someone types a note never erases the note.

Driver contact details live in ``fault_driver_reports``, apart from the incident evidence that
webhooks carry, so an alert never leaks a driver's address.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Integer, String, Table, Text

from .schema import BigId, metadata
from .types import UtcDateTime

fault_incidents = Table(
    "fault_incidents",
    metadata,
    Column("number", BigId, primary_key=True, autoincrement=True),  # short handle for people and URLs
    Column("id", String(255), nullable=False, unique=True),  # the detector's replay-stable id
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("charger_id", String(64), nullable=False),
    Column("connector_id", Integer),
    Column("code", String(100)),
    Column("session_id", String(32)),
    Column("outage", Boolean, nullable=False),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("acknowledged_at", UtcDateTime),
    Column("acknowledged_by", String(64)),
    Column("resolved_at", UtcDateTime),
    Column("resolution", JSON),
    Column("evidence", JSON, nullable=False),
    Column("occurrences", Integer, nullable=False),
    Column("alerted_severity", String(16)),
    Column("escalation_level", Integer, nullable=False),
    Column("assignee", String(64)),
    Column("exclusion_reason", String(32)),
    Column("notes", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # The charger's own words (StatusNotification vendorId/vendorErrorCode/info): operators search by them.
    Column("vendor_id", String(255)),
    Column("vendor_error_code", String(50)),
    Column("info", String(50)),
    Column("members", JSON),  # a site incident: the chargers it covers
    Column("parent_id", String(255)),  # a charger's incident covered by a site incident
    Index(None, "status", "number"),
    Index(None, "charger_id", "first_seen"),
    Index(None, "first_seen"),
)

# The detector's memory (FaultDetector.to_dict), one row per gateway node, so a restart resumes.
fault_detector_state = Table(
    "fault_detector_state",
    metadata,
    Column("node_id", String(64), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("saved_at", UtcDateTime, nullable=False),
)

# Commands sent because of an incident: by an operator, by a remediation rule, or to the screen.
fault_actions = Table(
    "fault_actions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("incident_id", String(255), nullable=False),
    Column("charger_id", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("rule", String(64)),  # the remediation rule; NULL for operator and screen actions
    Column("ocpp_action", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),  # pending | answered | error | timeout | offline
    Column("response", JSON),
    Column("completed_at", UtcDateTime),
    Index(None, "incident_id", "id"),
    Index(None, "rule", "requested_at"),
)

fault_alert_deliveries = Table(
    "fault_alert_deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("delivery_id", String(64), nullable=False, unique=True),
    Column("incident_id", String(255), nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("channel", String(16), nullable=False),  # webhook | email
    Column("target", String(500), nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    Column("attempt_log", JSON, nullable=False),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "incident_id", "id"),
    Index(None, "created_at"),
)

fault_driver_reports = Table(
    "fault_driver_reports",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("incident_id", String(255), nullable=False),
    Column("charger_id", String(64), nullable=False),
    Column("connector_id", Integer),
    Column("transaction_id", BigInteger),
    Column("category", String(40), nullable=False),
    Column("text", Text, nullable=False),
    Column("contact", String(255)),
    Column("at", UtcDateTime, nullable=False),
    Index(None, "incident_id", "id"),
)
