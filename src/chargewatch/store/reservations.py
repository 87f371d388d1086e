"""Reservations in the store: the requests, the charger's answers, and what the charger's own messages make of them.

Two paths write here. The reservation service (``workers.reservations``) records a request, the answer to each call
and cancellations and expiry. The OCPP write path (``writes.apply_upserts``) settles what a charger's message says,
in the same transaction as the message: a new session naming a reservation uses it (:func:`claim_start`), a
2.0.1 ReservationStatusUpdate ends it (:func:`apply_report`); both are idempotent, so a replay changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update

from ..domain.reservations import ACTIVE, ReservationRequest, ReservationStatus, tag_matches
from . import schema
from .reservations_tables import reservations as table

_ACTIVE = [status.value for status in ACTIVE]


def _row(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data["answers"] = list(data.get("answers") or [])
    data["other_starts"] = list(data.get("other_starts") or [])
    return data


def _locked(connection: Connection, reservation_id: int) -> dict[str, Any] | None:
    row = connection.execute(select(table).where(table.c.id == reservation_id).with_for_update()).first()
    return None if row is None else _row(row)


def create(connection: Connection, request: ReservationRequest, now: datetime) -> int:
    """A new reservation, ``requested``; its id is the OCPP reservationId."""
    return int(connection.execute(insert(table).values(
        charger_id=request.charger_id, connector_id=request.connector_id, id_tag=request.id_tag,
        parent_id_tag=request.parent_id_tag, expires_at=request.expires_at, status=ReservationStatus.REQUESTED.value,
        requested_by=request.requested_by, external_id=request.external_id, requested_at=now, answers=[],
        other_starts=[], updated_at=now,
    ).returning(table.c.id)).scalar_one())


def replaced(connection: Connection, request: ReservationRequest, now: datetime) -> dict[str, Any] | None:
    """The active reservation the same requester holds under ``request.external_id``, now changed to ``request``
    (requested again, to be sent with its reservationId, which makes the charger replace it); None: there is none."""
    if request.external_id is None:
        return None
    row = connection.execute(select(table).where(
        table.c.requested_by == request.requested_by, table.c.external_id == request.external_id,
        table.c.status.in_(_ACTIVE)).with_for_update()).first()
    if row is None:
        return None
    current = _row(row)
    if current["charger_id"] != request.charger_id:
        return current  # the caller refuses: a reservation does not move to another charger
    connection.execute(update(table).where(table.c.id == current["id"]).values(
        connector_id=request.connector_id, id_tag=request.id_tag, parent_id_tag=request.parent_id_tag,
        expires_at=request.expires_at, status=ReservationStatus.REQUESTED.value, updated_at=now))
    return get(connection, current["id"])


def get(connection: Connection, reservation_id: int) -> dict[str, Any] | None:
    row = connection.execute(select(table).where(table.c.id == reservation_id)).first()
    return None if row is None else _row(row)


def listed(connection: Connection, *, charger_id: str | None = None, status: str | None = None,
           active: bool = False, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """Newest first; ``active``: only those that may still hold a connector."""
    conditions = []
    if charger_id:
        conditions.append(table.c.charger_id == charger_id)
    if status:
        conditions.append(table.c.status == status)
    if active:
        conditions.append(table.c.status.in_(_ACTIVE))
    query = select(table).where(*conditions).order_by(table.c.id.desc()).offset(offset).limit(limit)
    return [_row(row) for row in connection.execute(query)]


def record(connection: Connection, reservation_id: int, entry: dict[str, Any], now: datetime, *,
           only_if_active: bool = False, **values: Any) -> dict[str, Any] | None:
    """Append ``entry`` to the reservation's answers and set ``values``; with ``only_if_active`` the values are set
    only while it is requested or accepted (an answer arriving after the expiry sweep ended it changes no status)."""
    current = _locked(connection, reservation_id)
    if current is None:
        return None
    if only_if_active and current["status"] not in _ACTIVE:
        values = {}
    connection.execute(update(table).where(table.c.id == reservation_id).values(
        answers=[*current["answers"], entry], updated_at=now, **values))
    return get(connection, reservation_id)


def connectors_of(connection: Connection, charger_id: str) -> list[int]:
    """The connector numbers (2.0.1: EVSE ids) a charger has reported, by status or device model."""
    k, e = schema.connectors, schema.evse_connectors
    known = {row[0] for row in connection.execute(select(k.c.connector_id).where(k.c.charger_id == charger_id))}
    known |= {row[0] for row in connection.execute(select(e.c.evse_id).where(e.c.charger_id == charger_id))}
    return sorted(c for c in known if c > 0)


def expire_due(connection: Connection, now: datetime) -> list[dict[str, Any]]:
    """Mark every reservation still holding a connector past its expiry as expired; returns them (each once,
    however many nodes sweep: the UPDATE decides)."""
    rows = connection.execute(update(table).where(table.c.status.in_(_ACTIVE), table.c.expires_at <= now).values(
        status=ReservationStatus.EXPIRED.value, ended_at=table.c.expires_at, ended_by="expiry", updated_at=now,
    ).returning(table.c.id, table.c.charger_id, table.c.connector_id, table.c.expires_at)).all()
    return [dict(row._mapping) for row in rows]


# ---------------------------------------------------------------- what a charger's messages say


def claim_start(connection: Connection, charger_id: str, session: dict[str, Any], now: datetime) -> None:
    """A new session (its row): if it names a reservation of this charger, that reservation is used by it; a start
    without one by the reservation's own tag (or group) uses it too; a start by another tag on a connector reserved
    at that moment is recorded on the reservation (the charger should have refused it)."""
    transaction_id, started_at = session["transaction_id"], session["started_at"]
    reservation_id = session.get("reservation_id")
    if reservation_id is not None:
        current = _locked(connection, reservation_id)
        if current is not None and current["charger_id"] == charger_id:
            _use(connection, current, transaction_id, started_at, now, "named by the start")
        return
    id_tag = session.get("id_tag") or ""
    held = connection.execute(select(table).where(
        table.c.charger_id == charger_id,
        or_(table.c.connector_id == session["connector_id"], table.c.connector_id == 0),
        or_(table.c.status.in_(_ACTIVE), table.c.ended_at > started_at), table.c.requested_at <= started_at,
        table.c.expires_at > started_at, table.c.status != ReservationStatus.USED.value,
    ).order_by(table.c.connector_id.desc(), table.c.id)).all()
    if not held:
        return
    tags = schema.id_tags
    parent = connection.execute(select(tags.c.parent_id_tag).where(
        func.lower(tags.c.id_tag) == id_tag.lower())).scalar_one_or_none()
    for row in held:
        current = _row(row)
        if current["status"] in _ACTIVE and tag_matches(current["id_tag"], current["parent_id_tag"], id_tag, parent):
            _use(connection, current, transaction_id, started_at, now, "matched by id tag (the start named none)")
            return
    for row in held:
        current = _row(row)
        if current["connector_id"] == 0 or any(s.get("transaction_id") == transaction_id
                                               for s in current["other_starts"]):
            continue  # any-connector reservations leave the other connectors free; a replay records nothing new
        other = {"transaction_id": transaction_id, "id_tag": id_tag, "at": started_at.isoformat(),
                 "start_status": session.get("start_status")}
        connection.execute(update(table).where(table.c.id == current["id"]).values(
            other_starts=[*current["other_starts"], other], updated_at=now))


def _use(connection: Connection, current: dict[str, Any], transaction_id: int, started_at: datetime, now: datetime,
         how: str) -> None:
    if current["status"] == ReservationStatus.USED.value and current["transaction_id"] == transaction_id:
        return  # a replay
    entry = {"action": "StartTransaction", "at": started_at.isoformat(), "transaction_id": transaction_id,
             "status_before": current["status"], "how": how}
    connection.execute(update(table).where(table.c.id == current["id"]).values(
        status=ReservationStatus.USED.value, transaction_id=transaction_id, ended_at=started_at, ended_by="session",
        answers=[*current["answers"], entry], updated_at=now))


def apply_report(connection: Connection, charger_id: str, reservation_id: int, status: str, reported: str,
                 at: datetime, now: datetime) -> None:
    """The charger ended a reservation on its side (2.0.1 ReservationStatusUpdate): an active one takes the
    reported status; any other keeps its own (a used one stays used) with the report recorded."""
    current = _locked(connection, reservation_id)
    if current is None or current["charger_id"] != charger_id:
        return
    entry = {"action": "ReservationStatusUpdate", "at": at.isoformat(), "status": reported}
    if entry in current["answers"]:
        return  # a replay
    values: dict[str, Any] = {"answers": [*current["answers"], entry], "updated_at": now}
    if current["status"] in _ACTIVE:
        values.update(status=status, ended_at=at, ended_by="charger")
    connection.execute(update(table).where(table.c.id == reservation_id).values(**values))
