"""Per-charger transport security: the security profile it connects with, the floor it may not go below, and a
new Basic auth password the charger accepted but has not connected with yet (hashes only, never the password)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table

from .schema import metadata
from .types import UtcDateTime

charger_security = Table(
    "charger_security",
    metadata,
    Column("charger_id", String(64), ForeignKey("chargers.id", ondelete="CASCADE"), primary_key=True),
    # 1: ws:// (Basic auth or none), 2: TLS + Basic auth, 3: TLS with a client certificate (its CN = the id).
    Column("security_profile", Integer),  # of its latest connection
    Column("highest_profile", Integer),  # ever seen: a connection below it is a downgrade and refused
    Column("min_profile", Integer),  # configured by the operator
    Column("profile_at", UtcDateTime),
    # Argon2 hashes of the password a ChangeConfiguration/SetVariables the charger accepted set (the second: the
    # 1.6 AuthorizationKey taken literally instead of hex-decoded); the old password stays valid until the
    # charger's first connection with one of them, which makes it the password.
    Column("pending_password_hash", String(255)),
    Column("pending_alt_password_hash", String(255)),
    Column("pending_since", UtcDateTime),
    Column("password_changed_at", UtcDateTime),
)
