"""The chargers admin pages' reads and writes: the charger list with its filters and paging, a charger's settings
(time zone, tariff), its password and removal, and its raw OCPP message log with filters and CALL/answer pairing.

Passwords are only ever stored as Argon2 hashes (registry.hash_password); nothing here returns or logs them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, false, func, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from . import schema
from .billing_tables import tariffs
from .passwords import hash_password
from .registry import RegistryError, check_timezone

STATUSES = ("online", "offline", "faulted")
SEEN = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}  # seen within …
SEEN_CHOICES = ("", "1h", "24h", "7d", "stale", "never")  # stale: not seen for 7 days
DIRECTIONS = ("in", "out")
MESSAGE_TYPES = {2: "CALL", 3: "CALLRESULT", 4: "CALLERROR"}
MIN_PASSWORD = 8  # OCPP security profile 1/2: the basic auth password is 16…40 characters; refuse the trivial
MAX_PASSWORD = 64


@dataclass(frozen=True)
class ChargerFilter:
    q: str | None = None  # id, vendor, model, serial or firmware contains
    status: str | None = None  # online | offline | faulted
    site: str | None = None
    model: str | None = None
    firmware: str | None = None
    seen: str | None = None  # SEEN_CHOICES


@dataclass
class ChargerPage:
    items: list[dict[str, Any]]
    total: int
    offset: int
    limit: int
    facets: dict[str, list[str]] = field(default_factory=dict)


def _faulted() -> ColumnElement[bool]:
    k = schema.connectors
    return exists().where(k.c.charger_id == schema.chargers.c.id, or_(
        k.c.status == "Faulted", and_(k.c.error_code.is_not(None), k.c.error_code != "NoError")))


def _online(links: Collection[str]) -> ColumnElement[bool]:
    c = schema.chargers
    return or_(c.c.connected.is_(True), c.c.id.in_(list(links)) if links else false())


def charger_conditions(flt: ChargerFilter, links: Collection[str], now: datetime) -> list[ColumnElement[bool]]:
    """The SQL conditions of a filter; a value outside the choices is a ValueError (the page says so)."""
    c = schema.chargers
    found: list[ColumnElement[bool]] = []
    if flt.q:
        needle = flt.q.replace("\x00", "").lower()  # PostgreSQL text holds no NUL
        found.append(or_(*(func.lower(func.coalesce(col, "")).contains(needle, autoescape=True)
                           for col in (c.c.id, c.c.vendor, c.c.model, c.c.serial_number, c.c.firmware_version))))
    if flt.status:
        if flt.status not in STATUSES:
            raise ValueError(f"status {flt.status!r}: choose one of {', '.join(STATUSES)}")
        if flt.status == "faulted":
            found.append(_faulted())
        elif flt.status == "online":
            found.append(_online(links))
        else:
            found.append(~_online(links))
    if flt.site:
        found.append(c.c.site_id == flt.site)
    if flt.model:
        found.append(c.c.model == flt.model)
    if flt.firmware:
        found.append(c.c.firmware_version == flt.firmware)
    if flt.seen:
        if flt.seen not in SEEN_CHOICES:
            raise ValueError(f"last seen {flt.seen!r}: choose one of {', '.join(x for x in SEEN_CHOICES if x)}")
        if flt.seen == "never":
            found.append(c.c.last_seen_at.is_(None))
        elif flt.seen == "stale":
            found.append(or_(c.c.last_seen_at.is_(None), c.c.last_seen_at < now - timedelta(days=7)))
        else:
            found.append(c.c.last_seen_at >= now - SEEN[flt.seen])
    return found


def charger_page(connection: Connection, flt: ChargerFilter, *, links: Collection[str], now: datetime,
                 limit: int = 25, offset: int = 0) -> ChargerPage:
    """One page of chargers (by id) matching the filter, the total that match, and the filter's choices."""
    c, k = schema.chargers, schema.connectors
    conditions = charger_conditions(flt, links, now)
    total = connection.execute(select(func.count()).select_from(c).where(*conditions)).scalar_one()
    rows = [dict(r._mapping) for r in connection.execute(
        select(c.c.id, c.c.vendor, c.c.model, c.c.serial_number, c.c.firmware_version, c.c.site_id, c.c.timezone,
               c.c.tariff_id, c.c.last_seen_at, c.c.connected, c.c.registered, c.c.ocpp_version,
               c.c.password_hash.is_not(None).label("has_password"), _faulted().label("faulted"))
        .where(*conditions).order_by(c.c.id).offset(offset).limit(limit))]
    counts: dict[str, int] = {}
    if rows:
        counts = {r.charger_id: r.n for r in connection.execute(
            select(k.c.charger_id, func.count().label("n")).where(
                k.c.charger_id.in_([r["id"] for r in rows]), k.c.connector_id > 0).group_by(k.c.charger_id))}
    for row in rows:
        online = bool(row["connected"]) or row["id"] in links
        row["state"] = "faulted" if row["faulted"] else "online" if online else "offline"
        row["connectors"] = counts.get(row["id"], 0)
    return ChargerPage(rows, int(total), offset, limit, facets(connection))


def facets(connection: Connection) -> dict[str, list[str]]:
    """The sites, models and firmware versions the fleet has (the filter's drop-downs)."""
    c = schema.chargers

    def distinct(column: Any) -> list[str]:
        return [v for (v,) in connection.execute(select(column).where(column.is_not(None)).distinct()
                                                 .order_by(column))]

    return {"site": distinct(c.c.site_id), "model": distinct(c.c.model), "firmware": distinct(c.c.firmware_version),
            "tariff": [v for (v,) in connection.execute(select(tariffs.c.id).order_by(tariffs.c.id))]}


def charger(connection: Connection, charger_id: str) -> dict[str, Any] | None:
    c = schema.chargers
    row = connection.execute(select(*(col for col in c.c if col.name != "password_hash"),
                                    c.c.password_hash.is_not(None).label("has_password"))
                             .where(c.c.id == charger_id)).first()
    return dict(row._mapping) if row else None


def check_tariff(connection: Connection, tariff_id: str | None) -> None:
    if tariff_id and connection.execute(select(tariffs.c.id).where(tariffs.c.id == tariff_id)).first() is None:
        raise RegistryError("tariff_id", f"no tariff {tariff_id!r} (upload it first)")


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise RegistryError("password", f"{MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


def update_settings(connection: Connection, charger_id: str, *, timezone: str, tariff_id: str | None) -> bool:
    """Set the charger's time zone and tariff (None: the operator's default); False if there is no such charger."""
    check_timezone(timezone)
    check_tariff(connection, tariff_id)
    c = schema.chargers
    return connection.execute(update(c).where(c.c.id == charger_id).values(
        timezone=timezone, tariff_id=tariff_id or None)).rowcount > 0


def set_password(connection: Connection, charger_id: str, password: str) -> bool:
    """A new basic-auth password for the charger (Argon2 hash only); False if there is no such charger."""
    check_password(password)
    c = schema.chargers
    return connection.execute(update(c).where(c.c.id == charger_id).values(
        password_hash=hash_password(password))).rowcount > 0


def delete_charger(connection: Connection, charger_id: str) -> bool:
    """Remove the charger and its connectors; its sessions, invoices and message log stay (they are records)."""
    c, k = schema.chargers, schema.connectors
    connection.execute(delete(k).where(k.c.charger_id == charger_id))
    connection.execute(delete(schema.evse_connectors).where(schema.evse_connectors.c.charger_id == charger_id))
    return connection.execute(delete(c).where(c.c.id == charger_id)).rowcount > 0


def record_command(connection: Connection, charger_id: str, action: str, payload: dict[str, Any],
                   now: datetime) -> int:
    cmd = schema.commands
    return int(connection.execute(insert(cmd).values(charger_id=charger_id, action=action, payload=payload,
                                                     status="pending", requested_at=now)
                                  .returning(cmd.c.id)).scalar_one())


def finish_command(connection: Connection, command_id: int, status: str, response: Any, now: datetime) -> None:
    cmd = schema.commands
    connection.execute(update(cmd).where(cmd.c.id == command_id).values(status=status, response=response,
                                                                        completed_at=now))


def device_variables(connection: Connection, charger_id: str, limit: int = 500) -> list[dict[str, Any]]:
    """A 2.0.1 station's reported variables (its configuration), Actual values first."""
    v = schema.device_variables
    return [dict(r._mapping) for r in connection.execute(
        select(v).where(v.c.charger_id == charger_id).order_by(
            v.c.component, v.c.component_instance, v.c.evse_id, v.c.connector_id, v.c.variable,
            v.c.variable_instance, v.c.attribute_type).limit(limit))]


# ------------------------------------------------------------------------------------------- the raw log


@dataclass(frozen=True)
class MessageFilter:
    direction: str | None = None  # in | out
    action: str | None = None
    message_id: str | None = None
    since: datetime | None = None  # UTC
    until: datetime | None = None  # UTC, exclusive
    text: str | None = None  # the frame contains (case-insensitive)


@dataclass
class MessagePage:
    items: list[dict[str, Any]]
    answers: dict[str, dict[str, Any]]  # CALL's message id -> its CALLRESULT/CALLERROR
    calls: dict[str, dict[str, Any]]  # answered message id -> its CALL
    older: int | None  # `before` for the next (older) page
    actions: list[str]


def message_page(connection: Connection, charger_id: str, flt: MessageFilter, *, before: int | None = None,
                 limit: int = 50) -> MessagePage:
    """The newest frames (before row ``before``) matching the filter, each CALL with its answer and each answer
    with its CALL (matched by message id in the opposite direction, as OCPP-J pairs them)."""
    m = schema.ocpp_messages
    conditions: list[ColumnElement[bool]] = [m.c.charger_id == charger_id]
    if flt.direction:
        if flt.direction not in DIRECTIONS:
            raise ValueError(f"direction {flt.direction!r}: in or out")
        conditions.append(m.c.direction == flt.direction)
    if flt.action:
        # An answer carries no action: filtering by action shows the CALLs and the answers to them.
        called = select(m.c.message_id).where(m.c.charger_id == charger_id, m.c.action == flt.action,
                                              m.c.message_type == 2)
        conditions.append(or_(m.c.action == flt.action, and_(m.c.message_type.in_((3, 4)),
                                                             m.c.message_id.in_(called))))
    if flt.message_id:
        conditions.append(m.c.message_id == flt.message_id.replace("\x00", ""))
    if flt.since is not None:
        conditions.append(m.c.at >= flt.since)
    if flt.until is not None:
        conditions.append(m.c.at < flt.until)
    if flt.since is not None and flt.until is not None and flt.until <= flt.since:
        raise ValueError("the time range ends before it starts")
    if flt.text:
        conditions.append(func.lower(m.c.payload).contains(flt.text.replace("\x00", "").lower(), autoescape=True))
    if before is not None:
        conditions.append(m.c.id < before)
    rows = [dict(r._mapping) for r in connection.execute(
        select(m).where(*conditions).order_by(m.c.id.desc()).limit(limit + 1))]
    items = rows[:limit]
    call_ids = sorted({r["message_id"] for r in items if r["message_type"] == 2 and r["message_id"]})
    answered_ids = sorted({r["message_id"] for r in items if r["message_type"] in (3, 4) and r["message_id"]})
    answers = _partners(connection, charger_id, call_ids, (3, 4), items, answers=True)
    calls = _partners(connection, charger_id, answered_ids, (2,), items, answers=False)
    actions = [a for (a,) in connection.execute(select(m.c.action).where(
        m.c.charger_id == charger_id, m.c.action.is_not(None)).distinct().order_by(m.c.action))]
    return MessagePage(items, answers, calls, items[-1]["id"] if items and len(rows) > limit else None, actions)


def _partners(connection: Connection, charger_id: str, ids: Sequence[str], types: tuple[int, ...],
              items: list[dict[str, Any]], *, answers: bool) -> dict[str, dict[str, Any]]:
    """For each message id, the frame of ``types`` in the opposite direction: a CALL's answer comes after it, an
    answer's CALL before it (the first such, should a charger reuse an id)."""
    if not ids:
        return {}
    m = schema.ocpp_messages
    mine = (2,) if answers else (3, 4)  # the frames on the page whose partners are looked for
    direction = {r["message_id"]: r["direction"] for r in items if r["message_type"] in mine}
    found: dict[str, dict[str, Any]] = {}
    for chunk_start in range(0, len(ids), 200):
        chunk = list(ids[chunk_start:chunk_start + 200])
        for r in connection.execute(select(m).where(m.c.charger_id == charger_id, m.c.message_id.in_(chunk),
                                                    m.c.message_type.in_(types))
                                    .order_by(m.c.id if answers else m.c.id.desc())):
            row = dict(r._mapping)
            if row["direction"] != direction.get(row["message_id"]) and row["message_id"] not in found:
                found[row["message_id"]] = row
    return found
