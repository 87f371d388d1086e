"""Reads and writes of each charger's transport security (tables: ``security_tables``).

The password rule of a rotation: a new password the charger accepted is kept only as a hash, *pending*; the old
one stays valid until the charger's first connection with the new one (:func:`promote`), after which only the new
one is. A profile seen once is the charger's floor: a later connection with a lower one is a downgrade.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from . import schema
from .security_tables import charger_security
from .upsert import upsert

PROFILES = (1, 2, 3)
_FIELDS = ("security_profile", "highest_profile", "min_profile", "profile_at", "pending_password_hash",
           "pending_alt_password_hash", "pending_since", "password_changed_at")


def security_of(connection: Connection, charger_id: str) -> dict[str, Any]:
    """The charger's security record (every field None when it has none yet)."""
    row = connection.execute(select(charger_security).where(charger_security.c.charger_id == charger_id)).first()
    return {name: (getattr(row, name) if row is not None else None) for name in _FIELDS}


def required_profile(record: dict[str, Any], server_floor: int = 0) -> int:
    """The lowest profile the charger may connect with: the server's floor, its configured minimum, the highest
    profile it has been seen on (a lower one is a downgrade)."""
    return max(server_floor, record.get("min_profile") or 0, record.get("highest_profile") or 0)


def pending_hashes(record: dict[str, Any]) -> list[str]:
    return [h for h in (record.get("pending_password_hash"), record.get("pending_alt_password_hash")) if h]


def record_profile(connection: Connection, charger_id: str, profile: int, now: datetime) -> None:
    current = security_of(connection, charger_id)
    highest = max(profile, current["highest_profile"] or 0)
    upsert(connection, charger_security, {"charger_id": charger_id, "security_profile": profile,
                                          "highest_profile": highest, "profile_at": now}, ["charger_id"])


def set_min_profile(connection: Connection, charger_id: str, profile: int | None) -> None:
    upsert(connection, charger_security, {"charger_id": charger_id, "min_profile": profile}, ["charger_id"])


def set_pending(connection: Connection, charger_id: str, hashes: list[str], now: datetime) -> None:
    """The charger accepted a new password: its hashes wait for the charger's first connection with it."""
    upsert(connection, charger_security, {
        "charger_id": charger_id, "pending_password_hash": hashes[0],
        "pending_alt_password_hash": hashes[1] if len(hashes) > 1 else None, "pending_since": now}, ["charger_id"])


def promote(connection: Connection, charger_id: str, password_hash: str, now: datetime) -> bool:
    """The charger connected with its pending password: it becomes the password, the old one is dropped.
    False when that password is no longer pending (another node promoted it, or a newer one replaced it)."""
    s = charger_security
    cleared = connection.execute(update(s).where(
        s.c.charger_id == charger_id,
        (s.c.pending_password_hash == password_hash) | (s.c.pending_alt_password_hash == password_hash),
    ).values(pending_password_hash=None, pending_alt_password_hash=None, pending_since=None,
             password_changed_at=now))
    if cleared.rowcount != 1:
        return False
    connection.execute(update(schema.chargers).where(schema.chargers.c.id == charger_id)
                       .values(password_hash=password_hash))
    return True
