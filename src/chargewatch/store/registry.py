"""Operator-managed records: registered chargers and id tags."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, select

from . import schema
from .passwords import hash_password
from .upsert import upsert


class RegistryError(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RegistryError("timezone", f"{name!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
    return name


def register_charger(connection: Connection, charger_id: str, *, password: str | None, timezone: str,
                     tariff_id: str | None, now: datetime) -> None:
    """Register (or re-register) a charger; the password is kept only as an Argon2 hash."""
    check_timezone(timezone)
    existing = connection.execute(select(schema.chargers).where(schema.chargers.c.id == charger_id)).first()
    row: dict[str, Any] = {"id": charger_id, "registered": True, "timezone": timezone, "tariff_id": tariff_id,
                           "password_hash": hash_password(password) if password else None}
    if existing is None:
        row.update(created_at=now, connected=False, heartbeat_interval=300)
    upsert(connection, schema.chargers, row, ["id"])


def put_id_tag(connection: Connection, tag: dict[str, Any]) -> None:
    upsert(connection, schema.id_tags, tag, ["id_tag"])
