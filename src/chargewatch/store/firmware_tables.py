"""Tables of firmware campaigns and log uploads (their own migration branch, ``firmware``).

A campaign is one firmware for a set of chargers; each charger's part of it is a target row, whose id is the
``requestId`` the charger's progress reports carry (1.6 security extension, 2.0.1). Every progress report is kept
in ``firmware_status_events`` as received. A log request (GetDiagnostics / GetLog) holds the SHA-256 of the
unguessable token in its upload URL, never the token; the files a charger uploads are kept in the database with
their SHA-256, so every node serves them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .schema import BigId, metadata
from .types import UtcDateTime

firmware_campaigns = Table(
    "firmware_campaigns",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("location", String(512), nullable=False),
    Column("retrieve_at", UtcDateTime, nullable=False),
    Column("install_at", UtcDateTime),
    Column("signing_certificate", Text),
    Column("signature", String(800)),
    Column("retries", Integer),
    Column("retry_interval", Integer),
    Column("expected_version", String(64)),  # the version a boot must report to confirm the install
    Column("timeout_seconds", Integer, nullable=False),  # no progress for this long: the charger's update failed
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(64)),
)

firmware_targets = Table(
    "firmware_targets",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),  # the requestId sent to the charger
    Column("campaign_id", BigInteger, ForeignKey("firmware_campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("charger_id", String(64), nullable=False),
    Column("phase", String(16), nullable=False),  # domain.firmware.Phase
    Column("last_status", String(32)),  # the charger's last FirmwareStatus
    Column("reason", String(64)),  # why it failed: the charger's status, its refusal, Timeout, …
    Column("sent_action", String(32)),  # UpdateFirmware | SignedUpdateFirmware
    Column("attempts", Integer, nullable=False),
    Column("confirmed", Boolean, nullable=False),  # a boot reported the new firmware
    Column("booted_version", String(64)),
    Column("sent_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("campaign_id", "charger_id"),
    Index(None, "charger_id", "phase"),
    Index(None, "phase", "updated_at"),
)

firmware_status_events = Table(
    "firmware_status_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("charger_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # firmware | signed_firmware | diagnostics | log
    Column("status", String(32), nullable=False),
    Column("request_id", BigInteger),  # as the charger sent it
    Column("target_id", BigInteger),  # the firmware target or log request it was applied to
    Column("received_at", UtcDateTime, nullable=False),
    Index(None, "charger_id", "received_at"),
)

log_requests = Table(
    "log_requests",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),  # the requestId sent to the charger
    Column("charger_id", String(64), nullable=False),
    Column("log_type", String(16), nullable=False),  # DiagnosticsLog | SecurityLog
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("state", String(16), nullable=False),  # requested | accepted | rejected | uploading | received | failed …
    Column("last_status", String(32)),
    Column("sent_action", String(32)),  # GetDiagnostics | GetLog
    Column("file_name", String(255)),  # the file the charger said it will upload
    Column("oldest", UtcDateTime),
    Column("latest", UtcDateTime),
    Column("requested_by", String(64)),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),  # the upload URL works until then
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "charger_id", "requested_at"),
)

log_uploads = Table(
    "log_uploads",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("request_id", BigInteger, ForeignKey("log_requests.id", ondelete="CASCADE"), nullable=False),
    Column("charger_id", String(64), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("content_type", String(127)),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Index(None, "charger_id", "received_at"),
    Index(None, "request_id"),
)
