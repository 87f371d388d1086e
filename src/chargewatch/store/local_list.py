"""Queries of the local authorization list: each charger's list state, the updates sent, the tags it is built from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from . import reads, schema
from .local_list_tables import local_list_state, local_list_updates
from .upsert import upsert


def id_tags(connection: Connection) -> list[dict[str, Any]]:
    return list(reads.id_tags(connection).values())


def state(connection: Connection, charger_id: str) -> dict[str, Any] | None:
    row = connection.execute(select(local_list_state).where(local_list_state.c.charger_id == charger_id)).first()
    return None if row is None else dict(row._mapping)


def states(connection: Connection) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in connection.execute(
        select(local_list_state).order_by(local_list_state.c.charger_id))]


def save_state(connection: Connection, charger_id: str, values: dict[str, Any], now: datetime) -> None:
    """Set these columns of the charger's list state (the row is made on first use)."""
    upsert(connection, local_list_state, {**values, "charger_id": charger_id, "updated_at": now}, ["charger_id"])


def record_update(connection: Connection, row: dict[str, Any]) -> int:
    return int(connection.execute(insert(local_list_updates).values(row).returning(
        local_list_updates.c.id)).scalar_one())


def finish_update(connection: Connection, update_id: int, status: str, answer: Any, at: datetime) -> None:
    connection.execute(update(local_list_updates).where(local_list_updates.c.id == update_id).values(
        status=status, answer=answer, answered_at=at))


def updates(connection: Connection, charger_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """The charger's latest updates, newest first."""
    u = local_list_updates
    return [dict(row._mapping) for row in connection.execute(
        select(u).where(u.c.charger_id == charger_id).order_by(u.c.id.desc()).limit(limit))]


def reported_capacity(connection: Connection, charger_id: str) -> int | None:
    """How many entries a 2.0.1 station's list holds at most, from its device-model report (LocalAuthListCtrlr
    Entries maxLimit), if it reported one."""
    v = schema.device_variables
    row = connection.execute(select(v.c.max_limit).where(
        v.c.charger_id == charger_id, v.c.component == "LocalAuthListCtrlr", v.c.variable == "Entries",
        v.c.max_limit.is_not(None)).limit(1)).first()
    return None if row is None else int(row.max_limit)


def charger_exists(connection: Connection, charger_id: str) -> bool:
    return reads.charger(connection, charger_id) is not None


def ocpp_version(connection: Connection, charger_id: str) -> str | None:
    c = schema.chargers
    return connection.execute(select(c.c.ocpp_version).where(c.c.id == charger_id)).scalar_one_or_none()
