"""Operator-managed records: registered chargers and id tags."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, select, update

from . import schema
from .billing_tables import tariffs
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


CHARGER_ID_LENGTH = schema.chargers.c.id.type.length
ID_TAG_LENGTH = schema.id_tags.c.id_tag.type.length
PASSWORD_LENGTH = (8, 64)  # what ChargerIn takes; OCPP 1.6 security profile 1 says 16..40 for AuthorizationKey


def check_charger_id(charger_id: str) -> str:
    """What a charger connects with as the last path segment of ws://…/ocpp/{id}: no slash, no blank."""
    if not 1 <= len(charger_id) <= (CHARGER_ID_LENGTH or 64):
        raise RegistryError("charger_id", f"1 to {CHARGER_ID_LENGTH} characters, got {len(charger_id)}")
    if any(ch == "/" or ch.isspace() or not ch.isprintable() for ch in charger_id):
        raise RegistryError("charger_id", f"{charger_id!r}: no slash, blank or control character")
    return charger_id


def register_charger(connection: Connection, charger_id: str, *, password: str | None, timezone: str,
                     tariff_id: str | None, now: datetime) -> None:
    """Register a charger, or re-register one (seen or registered before: its time zone and tariff are set again, its
    password replaced when one is given); the password is kept only as an Argon2 hash."""
    check_charger_id(charger_id)
    check_timezone(timezone)
    if password is not None and not PASSWORD_LENGTH[0] <= len(password) <= PASSWORD_LENGTH[1]:
        raise RegistryError("password", f"{PASSWORD_LENGTH[0]} to {PASSWORD_LENGTH[1]} characters")
    if tariff_id is not None and connection.execute(select(tariffs.c.id).where(tariffs.c.id == tariff_id)).first() \
            is None:
        raise RegistryError("tariff_id", f"no tariff {tariff_id!r} (add it first: chargewatch tariffs add FILE)")
    c = schema.chargers
    row: dict[str, Any] = {"registered": True, "timezone": timezone, "tariff_id": tariff_id}
    if password:
        row["password_hash"] = hash_password(password)
    # An UPDATE for a charger we have: the upsert's INSERT half lacks created_at, which SQLite checks first.
    if connection.execute(update(c).where(c.c.id == charger_id).values(row)).rowcount == 0:
        row.update(id=charger_id, created_at=now, connected=False, heartbeat_interval=300)
        upsert(connection, c, row, ["id"])


def check_id_tag(tag: dict[str, Any]) -> None:
    for field in ("id_tag", "parent_id_tag"):
        value = tag.get(field)
        if value is None and field == "parent_id_tag":
            continue
        if not isinstance(value, str) or not 1 <= len(value) <= (ID_TAG_LENGTH or 20):
            raise RegistryError(field, f"1 to {ID_TAG_LENGTH} characters (OCPP 1.6 IdToken)")


def put_id_tag(connection: Connection, tag: dict[str, Any]) -> None:
    check_id_tag(tag)
    upsert(connection, schema.id_tags, tag, ["id_tag"])
