"""Queries the gateway needs: charger credentials, the state to resume a charger with, id tags."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select

from ..domain.model import ChargerState, ReportProgress
from ..sessions.machine import ChargingSession
from . import schema

_SESSION_FIELDS = [
    "transaction_id", "charger_id", "connector_id", "id_tag", "started_at", "meter_start_wh", "status",
    "stopped_at", "meter_stop_wh", "stop_reason", "energy_wh", "last_register_wh", "baseline_wh", "offset_wh",
    "last_sample_at", "power_w", "max_power_w", "soc", "charging_seconds", "idle_seconds", "reservation_id",
    "transaction_ref", "last_seq_no", "evse_connector_id",
]


def session_from_row(row: Row[Any] | dict[str, Any]) -> ChargingSession:
    data = row._mapping if isinstance(row, Row) else row
    values = {name: data[name] for name in _SESSION_FIELDS}
    return ChargingSession(**values, flags=tuple(data["flags"] or ()))


def charger(connection: Connection, charger_id: str) -> dict[str, Any] | None:
    row = connection.execute(select(schema.chargers).where(schema.chargers.c.id == charger_id)).first()
    return dict(row._mapping) if row else None


def charger_state(connection: Connection, charger_id: str, heartbeat_interval: int) -> ChargerState:
    """Resume a charger after a (re)connect: its open sessions and their StartTransaction fingerprints."""
    s = schema.sessions
    rows = connection.execute(
        select(s).where(s.c.charger_id == charger_id, s.c.status == "active").order_by(s.c.started_at)
    ).all()
    state = ChargerState(charger_id=charger_id, heartbeat_interval=heartbeat_interval)
    for row in rows:
        session = session_from_row(row)
        state.active[session.connector_id] = session
        state.start_keys[row.start_key] = session.transaction_id
    c = schema.connectors
    for connector_id, status, status_at, rating in connection.execute(
        select(c.c.connector_id, c.c.status, c.c.status_at, c.c.max_power_w).where(c.c.charger_id == charger_id)
    ):
        state.connector_status[connector_id] = status
        state.connector_status_at[connector_id] = status_at
        if rating:
            state.connector_ratings_w[connector_id] = rating
    e = schema.evse_connectors
    for evse_id, plug, status, rating in connection.execute(
        select(e.c.evse_id, e.c.connector_id, e.c.status, e.c.max_power_w).where(e.c.charger_id == charger_id)
    ):
        if plug > 0 and status is not None:
            state.plug_status[(evse_id, plug)] = status
        elif plug == 0 and rating and evse_id not in state.connector_ratings_w:  # the EVSE's reported power
            state.connector_ratings_w[evse_id] = rating
    r = schema.device_reports
    for row in reversed(connection.execute(select(r).where(r.c.charger_id == charger_id).order_by(
            r.c.updated_at.desc()).limit(MAX_REPORTS_RESUMED)).all()):
        state.reports[row.request_id] = ReportProgress(parts=row.parts, last_seq_no=row.last_seq_no,
                                                       sequence_gap=row.sequence_gap, complete=row.complete)
    return state


MAX_REPORTS_RESUMED = 16  # device-model reports whose progress a reconnecting station resumes


def stored_sample_times(connection: Connection, transaction_id: int, times: list[datetime]) -> frozenset[datetime]:
    """Which of ``times`` already have readings of the transaction stored (a late sample sent once more)."""
    m = schema.meter_readings
    return frozenset(connection.execute(
        select(m.c.timestamp).where(m.c.transaction_id == transaction_id, m.c.timestamp.in_(times)).distinct()
    ).scalars())


def session_by_start_key(connection: Connection, charger_id: str, start_key: str) -> int | None:
    s = schema.sessions
    return connection.execute(
        select(s.c.transaction_id).where(s.c.charger_id == charger_id, s.c.start_key == start_key)
    ).scalar()


def session_by_reference(connection: Connection, charger_id: str, reference: str) -> ChargingSession | None:
    """A session by the charger's own transaction reference (2.0.1 transactionId, or a 1.6 id as text)."""
    s = schema.sessions
    row = connection.execute(select(s).where(s.c.charger_id == charger_id, s.c.transaction_ref == reference)).first()
    return session_from_row(row) if row else None


def session(connection: Connection, transaction_id: int) -> ChargingSession | None:
    row = connection.execute(select(schema.sessions).where(schema.sessions.c.transaction_id == transaction_id)).first()
    return session_from_row(row) if row else None


def id_tags(connection: Connection) -> dict[str, dict[str, Any]]:
    return {row.id_tag: dict(row._mapping) for row in connection.execute(select(schema.id_tags))}


def id_tag_info(tag: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    """OCPP 1.6 IdTagInfo for a directory entry (unknown tags are Invalid)."""
    if tag is None:
        return {"status": "Invalid"}
    info: dict[str, Any] = {"status": tag["status"]}
    expiry = tag.get("expiry_date")
    if expiry is not None:
        info["expiryDate"] = expiry.isoformat().replace("+00:00", "Z")
        if expiry <= now and tag["status"] == "Accepted":
            info["status"] = "Expired"
    if tag.get("parent_id_tag"):
        info["parentIdTag"] = tag["parent_id_tag"]
    return info


def evse_connectors(connection: Connection, charger_ids: list[str]) -> dict[tuple[str, int], dict[str, Any]]:
    """Per (charger, charging point): its rated power as reported and its physical connectors, in order."""
    if not charger_ids:
        return {}
    return _evse_connectors(connection, schema.evse_connectors.c.charger_id.in_(charger_ids))


def evse_connectors_between(connection: Connection, first: str, last: str) -> dict[tuple[str, int], dict[str, Any]]:
    """``evse_connectors`` of the chargers whose ids lie in [first, last] (a page): a range on the primary key
    instead of a list of a thousand ids."""
    return _evse_connectors(connection, schema.evse_connectors.c.charger_id.between(first, last))


def _evse_connectors(connection: Connection, condition: Any) -> dict[tuple[str, int], dict[str, Any]]:
    e = schema.evse_connectors
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for row in connection.execute(select(e).where(condition).order_by(
            e.c.charger_id, e.c.evse_id, e.c.connector_id)):
        entry = found.setdefault((row.charger_id, row.evse_id), {"max_power_w": None, "connectors": []})
        if row.connector_id == 0:
            entry["max_power_w"] = row.max_power_w
        else:
            entry["connectors"].append({name: row._mapping[name] for name in (
                "connector_id", "status", "status_at", "connector_type", "max_power_w")})
    return found
