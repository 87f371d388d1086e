"""Tables of the local authorization list: what each charger was sent and confirmed, and every update's answer."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from .schema import BigId, metadata
from .types import UtcDateTime

# One row per charger that was ever sent a list (it "holds a list" while version_confirmed is set).
local_list_state = Table(
    "local_list_state",
    metadata,
    Column("charger_id", String(64), ForeignKey("chargers.id", ondelete="CASCADE"), primary_key=True),
    Column("version_sent", Integer),  # the highest version ever sent
    Column("version_confirmed", Integer),  # the version of the list the charger accepted last
    Column("version_reported", Integer),  # what it answered GetLocalListVersion last
    Column("version_reported_at", UtcDateTime),
    Column("entries", JSON),  # the list the charger holds as confirmed (domain.local_list.entries_to_json)
    Column("entries_hash", String(64)),
    Column("entries_count", Integer),
    Column("last_full_at", UtcDateTime),  # when a Full list was accepted last
    Column("target_hash", String(64)),  # the list the last push aimed at (a failed one is not retried for it)
    Column("last_update_type", String(16)),
    Column("last_status", String(32)),  # Accepted | Failed | VersionMismatch | NotSupported | TooLong | timeout | …
    Column("last_answer", JSON),
    Column("last_error", Text),
    Column("last_attempt_at", UtcDateTime),
    Column("supported", Boolean),  # False: the charger answered it has no local list
    Column("enabled", Boolean),  # its LocalAuthListEnabled / LocalAuthListCtrlr.Enabled, as reported
    Column("max_entries", Integer),  # LocalAuthListMaxLength / LocalAuthListCtrlr.Entries maxLimit
    Column("per_message", Integer),  # SendLocalListMaxLength / LocalAuthListCtrlr.ItemsPerMessage
    Column("limits_at", UtcDateTime),
    Column("conflict_at", UtcDateTime),  # an open conflict (LocalListConflict, a version mismatch) …
    Column("conflict_reason", String(255)),
    Column("conflict_resolved_at", UtcDateTime),  # … ended by an accepted Full list
    Column("updated_at", UtcDateTime, nullable=False),
)

# Every update sent and its answer, newest last.
local_list_updates = Table(
    "local_list_updates",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("charger_id", String(64), ForeignKey("chargers.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("update_type", String(16), nullable=False),
    Column("entries_count", Integer, nullable=False),
    Column("reason", String(64), nullable=False),  # operator | tags_changed | reconnect | conflict | version_mismatch …
    Column("status", String(32), nullable=False),
    Column("answer", JSON),
    Column("sent_at", UtcDateTime, nullable=False),
    Column("answered_at", UtcDateTime),
    Index(None, "charger_id", "id"),
)
