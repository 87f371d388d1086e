"""Queries of the faults domain: incidents, the detector's saved state, actions, deliveries, reports.

Incident rows are written by two parties that never touch each other's columns (see
``faults_tables``): :func:`save_incidents` writes what the detector observed,
:func:`set_operator_fields` what an operator decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from ..faults.incidents import Evidence, ExclusionReason, Incident, IncidentKind, IncidentStatus, Note, Severity
from ..faults.remediation import RemedyTaken
from . import schema
from .faults_tables import (
    fault_actions,
    fault_alert_deliveries,
    fault_detector_state,
    fault_driver_reports,
    fault_incidents,
)

_DETECTOR_COLUMNS = (
    "kind", "severity", "status", "charger_id", "connector_id", "code", "session_id", "outage", "first_seen",
    "last_seen", "opened_at", "acknowledged_at", "acknowledged_by", "resolved_at", "alerted_severity",
    "escalation_level", "occurrences",
)


def _detector_values(incident: Incident, now: datetime) -> dict[str, Any]:
    data = incident.to_dict()
    values = {name: getattr(incident, name) for name in _DETECTOR_COLUMNS}
    values.update(
        kind=incident.kind.value,
        severity=incident.severity.value,
        status=incident.status.value,
        alerted_severity=data["alerted_severity"],
        resolution=data["resolution"],
        evidence=data["evidence"],
        updated_at=now,
        members=list(incident.members) or None,
        parent_id=incident.parent_id,
        **vendor_words(incident),
    )
    return values


def vendor_words(incident: Incident) -> dict[str, str | None]:
    """vendorId / vendorErrorCode / info of the first StatusNotification that carried any."""
    for item in incident.evidence:
        found = {column: item.data.get(key) for column, key in
                 (("vendor_id", "vendorId"), ("vendor_error_code", "vendorErrorCode"), ("info", "info"))}
        if any(isinstance(value, str) and value for value in found.values()):
            return {column: str(value)[:limit] if isinstance(value, str) and value else None
                    for (column, value), limit in zip(found.items(), (255, 50, 50), strict=True)}
    return {"vendor_id": None, "vendor_error_code": None, "info": None}


# ------------------------------------------------------------------ incidents


class IncidentNotFound(LookupError):
    """No incident has that number."""


def save_incidents(connection: Connection, incidents: Sequence[Incident], now: datetime) -> dict[str, int]:
    """Insert or update the detector's view of ``incidents`` (later ones win); returns id → number."""
    numbers: dict[str, int] = {}
    t = fault_incidents
    for incident in incidents:
        values = _detector_values(incident, now)
        number = numbers.get(incident.id) or connection.execute(
            select(t.c.number).where(t.c.id == incident.id)
        ).scalar_one_or_none()
        if number is None:
            number = connection.execute(
                insert(t).values(id=incident.id, notes=[], **values).returning(t.c.number)
            ).scalar_one()
        else:
            connection.execute(update(t).where(t.c.number == number).values(**values))
        numbers[incident.id] = number
    return numbers


def set_operator_fields(connection: Connection, number: int, now: datetime, **values: Any) -> None:
    """Assignee, notes or exclusion reason: the columns the detector never writes."""
    allowed = {"assignee", "notes", "exclusion_reason"}
    if not values or set(values) - allowed:
        raise ValueError(f"operator fields are {sorted(allowed)}, got {sorted(values)}")
    connection.execute(update(fault_incidents).where(fault_incidents.c.number == number).values(
        updated_at=now, **values))


def incident_from_row(row: Any) -> Incident:
    data = row._mapping if hasattr(row, "_mapping") else row
    return Incident(
        id=data["id"],
        kind=IncidentKind(data["kind"]),
        severity=Severity(data["severity"]),
        charger_id=data["charger_id"],
        connector_id=data["connector_id"],
        code=data["code"],
        first_seen=data["first_seen"],
        last_seen=data["last_seen"],
        opened_at=data["opened_at"],
        session_id=data["session_id"],
        outage=bool(data["outage"]),
        status=IncidentStatus(data["status"]),
        acknowledged_at=data["acknowledged_at"],
        acknowledged_by=data["acknowledged_by"],
        resolved_at=data["resolved_at"],
        resolution=None if data["resolution"] is None else Evidence.from_dict(data["resolution"]),
        assignee=data["assignee"],
        exclusion_reason=None if data["exclusion_reason"] is None else ExclusionReason(data["exclusion_reason"]),
        notes=tuple(Note.from_dict(note) for note in data["notes"]),
        evidence=tuple(Evidence.from_dict(item) for item in data["evidence"]),
        occurrences=data["occurrences"],
        alerted_severity=None if data["alerted_severity"] is None else Severity(data["alerted_severity"]),
        escalation_level=data["escalation_level"],
        members=tuple(data.get("members") or ()),
        parent_id=data.get("parent_id"),
    )


def open_incidents_by_id(connection: Connection, ids: Sequence[str]) -> dict[str, Incident]:
    """The ones of ``ids`` still open or acknowledged, by id (what a detector state saved without them names)."""
    t = fault_incidents
    found: dict[str, Incident] = {}
    for start in range(0, len(ids), 500):  # SQLite binds at most 32,766 parameters per statement
        rows = connection.execute(select(t).where(t.c.id.in_(ids[start:start + 500]),
                                                  t.c.status != IncidentStatus.RESOLVED.value))
        found.update((row.id, incident_from_row(row)) for row in rows)
    return found


def incident_row(connection: Connection, number: int) -> dict[str, Any] | None:
    row = connection.execute(select(fault_incidents).where(fault_incidents.c.number == number)).first()
    return dict(row._mapping) if row else None


def incident_numbers(connection: Connection, ids: Iterable[str]) -> dict[str, int]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    t = fault_incidents
    return {row.id: row.number for row in connection.execute(select(t.c.id, t.c.number).where(t.c.id.in_(wanted)))}


@dataclass(frozen=True)
class IncidentFilter:
    status: str | None = None  # open | acknowledged | resolved | active (open or acknowledged)
    severity: str | None = None  # this severity and worse
    charger_id: str | None = None
    kind: str | None = None
    since: datetime | None = None  # first_seen at or after
    q: str | None = None  # vendor error code, vendor id or info text contains (case-insensitive)


def list_incidents(
    connection: Connection, where: IncidentFilter, limit: int, before: int | None = None
) -> list[dict[str, Any]]:
    """Newest first; ``before`` is the number of the last row of the previous page."""
    t = fault_incidents
    conditions = []
    if where.status == "active":
        conditions.append(t.c.status != IncidentStatus.RESOLVED.value)
    elif where.status:
        conditions.append(t.c.status == where.status)
    if where.severity:
        floor = Severity(where.severity).rank
        conditions.append(t.c.severity.in_([s.value for s in Severity if s.rank >= floor]))
    if where.charger_id:
        conditions.append(t.c.charger_id == where.charger_id)
    if where.kind:
        conditions.append(t.c.kind == where.kind)
    if where.since:
        conditions.append(t.c.first_seen >= where.since)
    if where.q:
        pattern = f"%{where.q.lower()}%"
        conditions.append(or_(*(func.lower(column).like(pattern) for column in
                                (t.c.vendor_error_code, t.c.vendor_id, t.c.info, t.c.code))))
    if before is not None:
        conditions.append(t.c.number < before)
    query = select(t).where(*conditions).order_by(t.c.number.desc()).limit(limit)
    return [dict(row._mapping) for row in connection.execute(query)]


def incidents_between(
    connection: Connection, start: datetime, end: datetime, *, outages_only: bool = False,
    charger_id: str | None = None,
) -> list[Incident]:
    """Incidents that overlap [start, end): began before the end, not resolved before the start."""
    t = fault_incidents
    conditions = [t.c.first_seen < end, or_(t.c.resolved_at.is_(None), t.c.resolved_at > start)]
    if outages_only:
        conditions.append(t.c.outage.is_(True))
    if charger_id:
        conditions.append(t.c.charger_id == charger_id)
    return [incident_from_row(row) for row in connection.execute(select(t).where(*conditions))]


def incidents_of_connector(
    connection: Connection, charger_id: str, connector_id: int, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Incidents of a connector or of its whole charger that overlap [start, end]."""
    t = fault_incidents
    rows = connection.execute(
        select(t).where(
            t.c.charger_id == charger_id,
            or_(t.c.connector_id.is_(None), t.c.connector_id == 0, t.c.connector_id == connector_id),
            t.c.first_seen <= end,
            or_(t.c.resolved_at.is_(None), t.c.resolved_at >= start),
        ).order_by(t.c.number)
    )
    return [dict(row._mapping) for row in rows]


# ------------------------------------------------------------------ detector state


def load_detector_state(connection: Connection, node_id: str) -> dict[str, Any] | None:
    t = fault_detector_state
    return connection.execute(select(t.c.state).where(t.c.node_id == node_id)).scalar_one_or_none()


def save_detector_state(connection: Connection, node_id: str, state: dict[str, Any], now: datetime) -> None:
    t = fault_detector_state
    done = connection.execute(update(t).where(t.c.node_id == node_id).values(state=state, saved_at=now))
    if done.rowcount == 0:
        connection.execute(insert(t).values(node_id=node_id, state=state, saved_at=now))


# ------------------------------------------------------------------ actions


def insert_action(connection: Connection, **values: Any) -> int:
    t = fault_actions
    return connection.execute(insert(t).values(status="pending", **values).returning(t.c.id)).scalar_one()


def finish_action(connection: Connection, action_id: int, status: str, response: Any, now: datetime) -> None:
    t = fault_actions
    connection.execute(update(t).where(t.c.id == action_id).values(status=status, response=response,
                                                                   completed_at=now))


def action_row(connection: Connection, action_id: int) -> dict[str, Any]:
    return dict(connection.execute(select(fault_actions).where(fault_actions.c.id == action_id)).one()._mapping)


def actions_of(connection: Connection, incident_id: str) -> list[dict[str, Any]]:
    t = fault_actions
    rows = connection.execute(select(t).where(t.c.incident_id == incident_id).order_by(t.c.id))
    return [dict(row._mapping) for row in rows]


def remediation_history(connection: Connection) -> list[RemedyTaken]:
    """Every remedy a remediation rule asked for: each rule fires once per incident, ever."""
    t = fault_actions
    rows = connection.execute(select(t.c.charger_id, t.c.incident_id, t.c.rule, t.c.requested_at)
                              .where(t.c.rule.is_not(None)).order_by(t.c.id))
    return [RemedyTaken(row.charger_id, row.incident_id, row.rule, row.requested_at) for row in rows]


def transaction_refs(connection: Connection, session_ids: Iterable[str]) -> dict[str, str]:
    """The charger's own reference (1.6 id as text, 2.0.1 transactionId) of each session, by its internal id."""
    ids = sorted({int(session_id) for session_id in session_ids if session_id.isdigit()})
    if not ids:
        return {}
    s = schema.sessions
    rows = connection.execute(select(s.c.transaction_id, s.c.transaction_ref).where(s.c.transaction_id.in_(ids)))
    return {str(row.transaction_id): row.transaction_ref or str(row.transaction_id) for row in rows}


def ocpp_version(connection: Connection, charger_id: str) -> str | None:
    """The subprotocol of the charger's latest connection (None: unknown charger, or from before 2.0.1)."""
    c = schema.chargers
    return connection.execute(select(c.c.ocpp_version).where(c.c.id == charger_id)).scalar_one_or_none()


# ------------------------------------------------------------------ alert deliveries


def insert_delivery(connection: Connection, **values: Any) -> None:
    connection.execute(insert(fault_alert_deliveries).values(status="pending", attempts=0, attempt_log=[], **values))


def update_delivery(
    connection: Connection, delivery_id: str, attempts: Sequence[dict[str, Any]], status: str, now: datetime
) -> None:
    """Record the attempts so far (the whole log: a delivery is updated by one task, in order)."""
    last = attempts[-1] if attempts else {}
    connection.execute(update(fault_alert_deliveries).where(fault_alert_deliveries.c.delivery_id == delivery_id).values(
        attempts=len(attempts), attempt_log=list(attempts), status=status,
        last_status_code=last.get("status_code"), last_error=last.get("error"), updated_at=now))


def list_deliveries(
    connection: Connection, *, incident_id: str | None, status: str | None, channel: str | None, limit: int,
    before: int | None = None,
) -> list[dict[str, Any]]:
    t = fault_alert_deliveries
    conditions = []
    if incident_id:
        conditions.append(t.c.incident_id == incident_id)
    if status:
        conditions.append(t.c.status == status)
    if channel:
        conditions.append(t.c.channel == channel)
    if before is not None:
        conditions.append(t.c.id < before)
    rows = connection.execute(select(t).where(*conditions).order_by(t.c.id.desc()).limit(limit))
    return [dict(row._mapping) for row in rows]


# ------------------------------------------------------------------ driver reports


def insert_report(connection: Connection, **values: Any) -> int:
    t = fault_driver_reports
    return connection.execute(insert(t).values(**values).returning(t.c.id)).scalar_one()


def reports_of(connection: Connection, incident_id: str) -> list[dict[str, Any]]:
    t = fault_driver_reports
    rows = connection.execute(select(t).where(t.c.incident_id == incident_id).order_by(t.c.id))
    return [dict(row._mapping) for row in rows]


# ------------------------------------------------------------------ what the faults shell reads elsewhere


@dataclass(frozen=True)
class LoggedFrame:
    """One ``ocpp_messages`` row: who, when it was logged, ``in`` or ``out``, the frame text as sent, and the
    subprotocol of the connection it came on (None: from before 2.0.1 support, i.e. ocpp1.6)."""

    charger_id: str
    at: datetime
    direction: str
    frame: str
    protocol: str | None = None


def logged_frames(connection: Connection) -> list[LoggedFrame]:
    """The raw OCPP log in the order it was written, as the detection replay reads it."""
    m = schema.ocpp_messages
    rows = connection.execute(select(m.c.charger_id, m.c.at, m.c.direction, m.c.payload, m.c.protocol)
                              .order_by(m.c.id))
    return [LoggedFrame(row.charger_id, row.at, row.direction, row.payload, row.protocol) for row in rows]


def connector_statuses(connection: Connection) -> dict[tuple[str, int], str]:
    k = schema.connectors
    return {(row.charger_id, row.connector_id): row.status
            for row in connection.execute(select(k.c.charger_id, k.c.connector_id, k.c.status))}


def flag_session(connection: Connection, transaction_id: int, flag: str) -> bool:
    """Add ``flag`` to a session's flags (idempotent); False when there is no such session."""
    s = schema.sessions
    flags = connection.execute(select(s.c.flags).where(s.c.transaction_id == transaction_id)).scalar_one_or_none()
    if flags is None:
        return False
    if flag not in flags:
        connection.execute(update(s).where(s.c.transaction_id == transaction_id).values(flags=[*flags, flag]))
    return True


def charger_sites(connection: Connection) -> dict[str, str | None]:
    c = schema.chargers
    return {row.id: row.site_id for row in connection.execute(select(c.c.id, c.c.site_id))}


def set_charger_site(connection: Connection, charger_id: str, site_id: str | None) -> bool:
    c = schema.chargers
    return connection.execute(update(c).where(c.c.id == charger_id).values(site_id=site_id)).rowcount > 0


def active_sessions(connection: Connection) -> dict[tuple[str, int], int]:
    s = schema.sessions
    query = select(s.c.charger_id, s.c.connector_id, s.c.transaction_id).where(s.c.status == "active")
    rows = connection.execute(query)
    return {(row.charger_id, row.connector_id): row.transaction_id for row in rows}


def ports(connection: Connection, charger_id: str | None = None) -> list[tuple[str, int]]:
    """Every known connector (connector 0 is the charger itself, not a port)."""
    k = schema.connectors
    query = select(k.c.charger_id, k.c.connector_id).where(k.c.connector_id > 0)
    if charger_id:
        query = query.where(k.c.charger_id == charger_id)
    return [(row.charger_id, row.connector_id) for row in connection.execute(query.order_by(k.c.charger_id,
                                                                                            k.c.connector_id))]


def session_row(connection: Connection, transaction_id: int) -> dict[str, Any] | None:
    s = schema.sessions
    row = connection.execute(select(s).where(s.c.transaction_id == transaction_id)).first()
    return dict(row._mapping) if row else None


def session_telemetry(connection: Connection, transaction_id: int, limit: int = 100) -> list[dict[str, Any]]:
    """The session's latest meter readings, oldest first."""
    m = schema.meter_readings
    rows = connection.execute(select(m).where(m.c.transaction_id == transaction_id)
                              .order_by(m.c.timestamp.desc(), m.c.id.desc()).limit(limit)).all()
    return [{"timestamp": row.timestamp, "measurand": row.measurand, "phase": row.phase, "unit": row.unit,
             "value": str(row.value)} for row in reversed(rows)]


def connector_error(connection: Connection, charger_id: str, connector_id: int) -> dict[str, Any] | None:
    k = schema.connectors
    row = connection.execute(select(k).where(and_(k.c.charger_id == charger_id,
                                                  k.c.connector_id == connector_id))).first()
    return dict(row._mapping) if row else None


def charger_exists(connection: Connection, charger_id: str) -> bool:
    c = schema.chargers
    return connection.execute(select(func.count()).where(c.c.id == charger_id)).scalar_one() > 0
