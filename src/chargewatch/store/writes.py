"""Persist what the protocol core decided: raw frames, sessions, readings, connector status."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, Integer, Numeric, String, Table, bindparam, func, insert, or_, update

from ..domain import model
from ..sessions.machine import ChargingSession
from . import charging_tables, firmware, reservations, schema
from .bulk import BulkStatement
from .charging import charging_report_row
from .upsert import _insert, insert_ignoring_duplicates, upsert
from .writer import Unit

_SESSION_COLUMNS = {c.name for c in schema.sessions.columns}
# Read straight off the dataclass: asdict() deep-copies every datetime, a measurable cost per MeterValues.
_SESSION_FIELDS = [f.name for f in fields(ChargingSession) if f.name in _SESSION_COLUMNS and f.name != "flags"]


def _insert_rows(table):  # type: ignore[no-untyped-def]
    def write(connection: Connection, rows: list[dict[str, Any]]) -> None:
        connection.execute(insert(table), rows)

    return write


def _insert_new_rows(table):  # type: ignore[no-untyped-def]
    def write(connection: Connection, rows: list[dict[str, Any]]) -> None:
        insert_ignoring_duplicates(connection, table, rows)

    return write


def _update_rows(table: Table, key: str):  # type: ignore[no-untyped-def]
    """UPDATE … WHERE key = :_key, executed once for many rows (the SET columns are the rows' other keys)."""
    statement = update(table).where(table.c[key] == bindparam("_key"))

    def write(connection: Connection, rows: list[dict[str, Any]]) -> None:
        connection.execute(statement, rows)

    return write


def _upsert_rows(table: Table, keys: list[str], newer_by: str | None = None):  # type: ignore[no-untyped-def]
    """INSERT … ON CONFLICT (keys) DO UPDATE for many rows; a key seen twice in one batch keeps its last row.

    With ``newer_by`` (a column) the latest row is the one with the greatest value there (the last of equals),
    and a stored row later than it is kept: a connector's status follows the charger's clock, so a queued older
    StatusNotification that arrives after a newer one does not overwrite it."""

    def write(connection: Connection, rows: list[dict[str, Any]]) -> None:
        latest: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in rows:
            key = tuple(row[k] for k in keys)
            if newer_by is None or key not in latest or latest[key][newer_by] <= row[newer_by]:
                latest[key] = row
        statement = _insert(connection, table)
        where = None if newer_by is None else or_(table.c[newer_by].is_(None),
                                                  table.c[newer_by] <= statement.excluded[newer_by])
        statement = statement.on_conflict_do_update(
            index_elements=keys, set_={name: statement.excluded[name] for name in rows[0] if name not in keys},
            where=where)
        connection.execute(statement, list(latest.values()))

    return write


def _upsert_known(table: Table, keys: list[str]):  # type: ignore[no-untyped-def]
    """Upsert that fills in what a row knows and keeps what it does not (None): one part of a device-model report
    names an EVSE's power, another its connectors' types."""

    def write(connection: Connection, rows: list[dict[str, Any]]) -> None:
        latest = {tuple(row[k] for k in keys): row for row in rows}
        statement = _insert(connection, table)
        statement = statement.on_conflict_do_update(index_elements=keys, set_={
            name: func.coalesce(statement.excluded[name], table.c[name]) for name in rows[0] if name not in keys})
        connection.execute(statement, list(latest.values()))

    return write


_EVSE_CONNECTOR_KEY = ["charger_id", "evse_id", "connector_id"]
_DEVICE_VARIABLE_KEY = [c.name for c in schema.device_variables.primary_key.columns]

# Bulk statements the group-commit writer merges across callers.
STATEMENTS = {
    "message": BulkStatement(schema.ocpp_messages),
    "reading": BulkStatement(schema.meter_readings, ignore_duplicates=True),
    "status_event": _insert_rows(schema.status_events),
    "security_event": _insert_rows(schema.security_events),
    "session_progress": BulkStatement(schema.sessions, update_key="transaction_id"),
    "charger_seen": BulkStatement(schema.chargers, update_key="id", last_per_key=True),
    "charger_booted": _update_rows(schema.chargers, "id"),
    "charger_connected": _update_rows(schema.chargers, "id"),
    "charger_disconnected": _update_rows(schema.chargers, "id"),
    "connector_status": _upsert_rows(schema.connectors, ["charger_id", "connector_id"], newer_by="status_at"),
    "plug_status": _upsert_rows(schema.evse_connectors, _EVSE_CONNECTOR_KEY, newer_by="status_at"),
    "evse_reported": _upsert_known(schema.evse_connectors, _EVSE_CONNECTOR_KEY),
    "device_variable": _upsert_rows(schema.device_variables, _DEVICE_VARIABLE_KEY),
    "device_report": _upsert_rows(schema.device_reports, ["charger_id", "request_id"]),
    "charging_report": _insert_rows(charging_tables.charging_reports),
}
_CONNECTOR_FIELDS = ("charger_id", "connector_id", "status", "error_code", "info", "vendor_id", "vendor_error_code")


_ACTION_LENGTH = schema.ocpp_messages.c.action.type.length


def message_row(
    charger_id: str, at: datetime, direction: str, frame: str, message_type: int | None,
    message_id: str | None, action: str | None, node_id: str | None, protocol: str | None = None,
) -> dict[str, Any]:
    """One raw-log row. The frame is kept as received, except that a NUL (only ever in a frame that is not JSON,
    which forbids it unescaped) is written as ``\\u0000``: PostgreSQL text cannot hold it. An action longer
    than the column is cut (it is an unknown one, answered NotImplemented; the frame keeps it whole)."""
    if "\x00" in frame:
        frame = frame.replace("\x00", "\\u0000")
    if action is not None and len(action) > _ACTION_LENGTH:
        action = action[:_ACTION_LENGTH]
    return {
        "charger_id": charger_id, "at": at, "direction": direction, "message_type": message_type,
        "message_id": message_id, "action": action, "payload": frame, "node_id": node_id, "protocol": protocol,
    }


class Unstorable(ValueError):
    """A value the protocol allows but a column cannot hold; the charger gets PropertyConstraintViolation."""

    def __init__(self, column: str, reason: str):
        super().__init__(f"{column}: {reason}")
        self.column = column


_INT_LIMITS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def _limits(table: Table) -> dict[str, tuple[str, Any]]:
    """What each column of ``table`` holds, read off its SQLAlchemy type: integer width, text length, digits."""
    limits: dict[str, tuple[str, Any]] = {}
    for column in table.columns:
        kind = column.type
        if isinstance(kind, BigInteger):
            limits[column.name] = ("int", _INT_LIMITS["int64"])
        elif isinstance(kind, Integer):
            limits[column.name] = ("int", _INT_LIMITS["int32"])
        elif isinstance(kind, String):  # Text is a String without a length
            limits[column.name] = ("text", kind.length)
        elif isinstance(getattr(kind, "impl", None), Numeric):
            numeric = kind.impl
            limits[column.name] = ("decimal", 10 ** ((numeric.precision or 20) - (numeric.scale or 0)))
    return limits


_TABLE_LIMITS = {table.name: _limits(table) for table in (
    schema.meter_readings, schema.status_events, schema.security_events, schema.sessions, schema.connectors,
    schema.chargers, schema.evse_connectors, schema.device_variables, schema.device_reports)}


def check_row(table: Table, row: dict[str, Any]) -> None:
    """Raise :class:`Unstorable` if a value of ``row`` does not fit its column on SQLite and PostgreSQL."""
    limits = _TABLE_LIMITS[table.name]
    for name, value in row.items():
        limit = limits.get(name)
        if limit is None or value is None:
            continue
        kind, bound = limit
        if kind == "int":
            if isinstance(value, int) and not bound[0] <= value <= bound[1]:
                raise Unstorable(f"{table.name}.{name}", "out of range")
        elif kind == "text":
            if isinstance(value, str):
                if bound is not None and len(value) > bound:
                    raise Unstorable(f"{table.name}.{name}", f"longer than {bound} characters")
                if "\x00" in value:
                    raise Unstorable(f"{table.name}.{name}", "NUL characters are not allowed")
        elif kind == "decimal" and not -bound < value < bound:
            raise Unstorable(f"{table.name}.{name}", "out of range")


def session_row(session: ChargingSession, start_key: str, now: datetime) -> dict[str, Any]:
    row = {name: getattr(session, name) for name in _SESSION_FIELDS}
    row["flags"] = list(session.flags)
    row["transaction_ref"] = session.transaction_ref or str(session.transaction_id)
    row["start_key"] = start_key
    row["updated_at"] = now
    return row


def add_changes(unit: Unit, charger_id: str, changes: list[model.Change], start_keys: dict[int, str],
                now: datetime) -> list[tuple[str, Any]]:
    """Queue the changes' rows on ``unit``; returns the row-level upserts to run in ``apply``."""
    upserts: list[tuple[str, Any]] = []
    for change in changes:
        if isinstance(change, model.ReadingsRecorded):
            for r in change.readings:
                reading = {
                    "charger_id": charger_id, "connector_id": change.connector_id,
                    "transaction_id": change.transaction_id, "timestamp": r.timestamp,
                    "measurand": r.measurand, "phase": r.phase, "location": r.location, "context": r.context,
                    "unit": r.unit, "value": r.value, "signed_data": r.signed,
                    "format": "Raw" if r.signed is None else "SignedData",
                }
                check_row(schema.meter_readings, reading)
                unit.add("reading", reading)
        elif isinstance(change, model.ConnectorStatusChanged):
            row = {
                "charger_id": charger_id, "connector_id": change.connector_id, "status": change.status,
                "error_code": change.error_code, "info": change.info, "vendor_id": change.vendor_id,
                "vendor_error_code": change.vendor_error_code, "timestamp": change.timestamp,
                "received_at": change.received_at, "evse_connector_id": change.evse_connector_id,
                "reported_status": change.reported_status,
            }
            check_row(schema.status_events, row)
            unit.add("status_event", row)
            upserts.append(("connector", row))
            if change.connector_id > 0 and change.evse_connector_id > 0:
                unit.add("plug_status", {
                    "charger_id": charger_id, "evse_id": change.connector_id, "connector_id": change.evse_connector_id,
                    "status": change.reported_status or change.status, "status_at": change.timestamp})
        elif isinstance(change, model.DeviceModelReported):
            _add_device_model(unit, charger_id, change, now)
        elif isinstance(change, model.SessionChanged):
            key = start_keys.get(change.session.transaction_id, "")
            session = session_row(change.session, key, now)
            check_row(schema.sessions, session)
            upserts.append(("session", session))
        elif isinstance(change, model.ChargerBooted):
            check_row(schema.chargers, _boot_values(change))
            upserts.append(("boot", change))
        elif isinstance(change, model.ChargerFirmwareStatus):
            check_row(schema.chargers, {"firmware_status": change.status})
            upserts.append(("firmware", change))
        elif isinstance(change, model.SecurityEvent):
            event = {"charger_id": charger_id, "type": change.type, "timestamp": change.timestamp,
                     "tech_info": change.tech_info}
            check_row(schema.security_events, event)
            unit.add("security_event", event)
        elif isinstance(change, model.ChargingProfilesReported | model.ChargingLimitChanged):
            unit.add("charging_report", charging_report_row(charger_id, change))
        elif isinstance(change, model.ReservationStatusReported):
            upserts.append(("reservation_report", change))
    return upserts


def _add_device_model(unit: Unit, charger_id: str, change: model.DeviceModelReported, now: datetime) -> None:
    """Queue one NotifyReport part: its variables, the EVSEs and connectors it describes, the report's progress."""
    for variable in change.variables:
        row = {"charger_id": charger_id, **{f.name: getattr(variable, f.name) for f in fields(variable)},
               "request_id": change.request_id, "reported_at": change.generated_at}
        check_row(schema.device_variables, row)
        unit.add("device_variable", row)
    for connector in change.connectors:
        row = {"charger_id": charger_id, "evse_id": connector.evse_id, "connector_id": connector.connector_id,
               "connector_type": connector.connector_type, "max_power_w": connector.max_power_w,
               "reported_at": change.generated_at}
        check_row(schema.evse_connectors, row)
        unit.add("evse_reported", row)
    progress = change.progress
    unit.add("device_report", {
        "charger_id": charger_id, "request_id": change.request_id, "parts": progress.parts,
        "last_seq_no": progress.last_seq_no, "sequence_gap": progress.sequence_gap, "complete": progress.complete,
        "generated_at": change.generated_at, "updated_at": now})


def _connector_row(item: dict[str, Any]) -> dict[str, Any]:
    row = {k: item[k] for k in _CONNECTOR_FIELDS}
    row["status_at"] = item["timestamp"]
    return row


def _boot_values(item: model.ChargerBooted) -> dict[str, Any]:
    info = item.info
    return {
        "vendor": info.get("chargePointVendor"), "model": info.get("chargePointModel"),
        "serial_number": info.get("chargePointSerialNumber") or info.get("chargeBoxSerialNumber"),
        "firmware_version": info.get("firmwareVersion"), "meter_type": info.get("meterType"),
        "meter_serial_number": info.get("meterSerialNumber"), "last_boot_at": item.at,
    }


def apply_upserts(connection: Connection, charger_id: str, upserts: list[tuple[str, Any]], now: datetime) -> None:
    chargers = schema.chargers
    values: dict[str, Any] = {"last_seen_at": now}
    for kind, item in upserts:
        if kind == "connector":
            upsert(connection, schema.connectors, _connector_row(item), ["charger_id", "connector_id"],
                   newer_by="status_at")
        elif kind == "session":
            if item["start_key"]:
                upsert(connection, schema.sessions, item, ["transaction_id"])
                reservations.claim_start(connection, charger_id, item, now)  # a new session may use a reservation
            else:
                row = {k: v for k, v in item.items() if k != "start_key"}
                connection.execute(
                    update(schema.sessions).where(schema.sessions.c.transaction_id == item["transaction_id"]),
                    row,
                )
        elif kind == "boot":
            values.update(_boot_values(item))
        elif kind == "reservation_report":
            reservations.apply_report(connection, charger_id, item.reservation_id, item.status, item.reported,
                                      item.at, now)
        elif kind == "firmware":
            column = "diagnostics_status" if item.kind in ("diagnostics", "log") else "firmware_status"
            values[column] = item.status
            firmware.record_status(connection, charger_id, item.kind, item.status, item.request_id, now)
    connection.execute(update(chargers).where(chargers.c.id == charger_id).values(**values))


def stage_upserts(unit: Unit, charger_id: str, upserts: list[tuple[str, Any]], now: datetime) -> None:
    """Queue ``upserts`` on ``unit``: the same writes as :func:`apply_upserts`, mostly as bulk rows.

    The frequent ones (an open session's progress, connector status, boot, the charger's last-seen time)
    become rows that the group-commit writer runs as one executemany per statement across all chargers in
    the batch; only the rare ones (a new session, firmware status) stay row-by-row in ``unit.apply``.
    """
    rare: list[tuple[str, Any]] = []
    booted: model.ChargerBooted | None = None
    for kind, item in upserts:
        if kind == "session" and not item["start_key"]:
            row = {k: v for k, v in item.items() if k != "start_key"}
            row["_key"] = item["transaction_id"]
            unit.add("session_progress", row)
        elif kind == "connector":
            unit.add("connector_status", _connector_row(item))
        elif kind == "boot":
            booted = item
        else:
            rare.append((kind, item))
    if rare:  # the charger row is updated once, with everything, in apply
        if booted is not None:
            rare.append(("boot", booted))
        unit.apply = lambda connection: apply_upserts(connection, charger_id, rare, now)
    elif booted is not None:
        unit.add("charger_booted", {"_key": charger_id, "last_seen_at": now, **_boot_values(booted)})
    else:
        unit.add("charger_seen", {"_key": charger_id, "last_seen_at": now})


def stage_outcome(unit: Unit, charger_id: str, outcome: model.Outcome | None, before: model.ChargerState,
                  now: datetime) -> None:
    """Queue all a handled call changed (or, with no outcome, just that the charger was seen): the one way both
    the live gateway and the replay turn the protocol core's decision into rows."""
    upserts: list[tuple[str, Any]] = []
    if outcome is not None:
        after = outcome.state.start_keys if outcome.state is not None else {}
        new_keys = {tx: key for key, tx in after.items() if key not in before.start_keys}
        upserts = add_changes(unit, charger_id, outcome.changes, new_keys, now)
    stage_upserts(unit, charger_id, upserts, now)
