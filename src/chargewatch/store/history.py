"""Queries of the sessions and invoices history (the operator console's history pages and their CSV export).

Filters arrive already checked (api/history_pages.py turns the operator's local dates into UTC instants).
Pages are keyset-free offset pages (the console pages 50 at a time); the CSV export walks the same order in
chunks on the (started_at, transaction_id) / (issued_at, number) keys, so memory stays bounded however long.
The monthly table is two aggregate queries (sessions, invoices) bucketed by the months' UTC boundaries, which the
caller computes in the operator's zone, so SQLite and PostgreSQL agree without any time-zone SQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, String, and_, case, cast, exists, func, literal, or_, select, tuple_
from sqlalchemy.sql.elements import ColumnElement

from . import schema
from .billing_tables import invoices, session_bills
from .console import _exact, _exact_sum

NO_SITE = ""  # chargers without a site are grouped under this key
SESSION_STATUSES = ("active", "completed", "rejected")
INVOICE_KINDS = ("invoice", "credit_note")
INVOICE_STATES = ("in_force", "credited")


@dataclass(frozen=True)
class SessionFilter:
    charger_id: str | None = None
    site_id: str | None = None
    id_tag: str | None = None
    since: datetime | None = None  # started at or after (UTC)
    until: datetime | None = None  # started before (UTC)
    status: str | None = None
    flag: str | None = None


@dataclass(frozen=True)
class InvoiceFilter:
    number: str | None = None
    charger_id: str | None = None
    site_id: str | None = None
    id_tag: str | None = None
    since: datetime | None = None  # issued at or after (UTC)
    until: datetime | None = None
    kind: str | None = None
    state: str | None = None  # in_force | credited (invoices only)
    transaction_id: int | None = None


def _like(text: str) -> str:
    """A LIKE pattern matching ``text`` literally (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _site_of() -> ColumnElement[Any]:
    return func.coalesce(schema.chargers.c.site_id, literal(NO_SITE))


def _session_conditions(f: SessionFilter) -> list[ColumnElement[bool]]:
    s = schema.sessions
    conditions: list[ColumnElement[bool]] = []
    if f.charger_id:
        conditions.append(s.c.charger_id == f.charger_id)
    if f.site_id is not None:
        conditions.append(_site_of() == f.site_id)
    if f.id_tag:
        conditions.append(s.c.id_tag == f.id_tag)
    if f.since is not None:
        conditions.append(s.c.started_at >= f.since)
    if f.until is not None:
        conditions.append(s.c.started_at < f.until)
    if f.status:
        conditions.append(s.c.status == f.status)
    if f.flag:
        # flags is a JSON list of names: its text holds "name" exactly when the list does (names are [a-z_]).
        conditions.append(cast(s.c.flags, String).like(f'%"{_like(f.flag)}"%', escape="\\"))
    return conditions


def _sessions_query(f: SessionFilter) -> Any:
    s, c = schema.sessions, schema.chargers
    return (select(s, _site_of().label("site_id"), c.c.timezone.label("timezone"),
                   session_bills.c.status.label("bill_status"), session_bills.c.invoice_number)
            .select_from(s.outerjoin(c, c.c.id == s.c.charger_id)
                         .outerjoin(session_bills, session_bills.c.transaction_id == s.c.transaction_id))
            .where(*_session_conditions(f)))


def _session_row(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data["flags"] = list(data.get("flags") or ())
    data["timezone"] = data.get("timezone") or "UTC"
    return data


def find_sessions(connection: Connection, f: SessionFilter, *, limit: int = 50,
                  offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """One page of the sessions matching ``f``, newest first, and how many match in all."""
    s = schema.sessions
    rows = connection.execute(_sessions_query(f).order_by(s.c.started_at.desc(), s.c.transaction_id.desc())
                              .limit(limit).offset(offset)).all()
    c = schema.chargers
    total = connection.execute(select(func.count()).select_from(s.outerjoin(c, c.c.id == s.c.charger_id))
                               .where(*_session_conditions(f))).scalar_one()
    return [_session_row(r) for r in rows], int(total)


def iter_sessions(engine: Engine, f: SessionFilter, chunk: int = 500) -> Iterator[dict[str, Any]]:
    """Every matching session, newest first, read ``chunk`` rows at a time (a short connection each)."""
    s = schema.sessions
    after: tuple[datetime, int] | None = None
    while True:
        query = _sessions_query(f)
        if after is not None:
            query = query.where(tuple_(s.c.started_at, s.c.transaction_id) < tuple_(*after))
        with engine.connect() as connection:
            rows = connection.execute(query.order_by(s.c.started_at.desc(), s.c.transaction_id.desc())
                                      .limit(chunk)).all()
        for row in rows:
            yield _session_row(row)
        if len(rows) < chunk:
            return
        after = (rows[-1].started_at, rows[-1].transaction_id)


# ------------------------------------------------------------------------------------------- invoices


def _credited() -> ColumnElement[bool]:
    notes = invoices.alias("notes")
    return exists(select(notes.c.number).where(notes.c.credit_note_for == invoices.c.number))


def _invoice_conditions(f: InvoiceFilter) -> list[ColumnElement[bool]]:
    i, s = invoices, schema.sessions
    conditions: list[ColumnElement[bool]] = []
    if f.number:
        conditions.append(or_(i.c.number == f.number, i.c.credit_note_for == f.number))
    if f.charger_id:
        conditions.append(i.c.charger_id == f.charger_id)
    if f.site_id is not None:
        conditions.append(_site_of() == f.site_id)
    if f.id_tag:
        conditions.append(s.c.id_tag == f.id_tag)
    if f.transaction_id is not None:
        conditions.append(i.c.transaction_id == f.transaction_id)
    if f.since is not None:
        conditions.append(i.c.issued_at >= f.since)
    if f.until is not None:
        conditions.append(i.c.issued_at < f.until)
    if f.kind:
        conditions.append(i.c.kind == f.kind)
    if f.state == "credited":
        conditions.append(and_(i.c.kind == "invoice", _credited()))
    elif f.state == "in_force":
        conditions.append(and_(i.c.kind == "invoice", ~_credited()))
    return conditions


def _invoice_from() -> Any:
    i, c, s = invoices, schema.chargers, schema.sessions
    return i.outerjoin(c, c.c.id == i.c.charger_id).outerjoin(s, s.c.transaction_id == i.c.transaction_id)


def _invoices_query(f: InvoiceFilter) -> Any:
    i, c, s = invoices, schema.chargers, schema.sessions
    notes = invoices.alias("credit")
    columns = [col for col in i.c if col.name not in ("body", "pdf")]
    credited_by = (select(notes.c.number).where(notes.c.credit_note_for == i.c.number)
                   .correlate(i).scalar_subquery())
    return (select(*columns, _site_of().label("site_id"), c.c.timezone.label("timezone"), s.c.id_tag,
                   credited_by.label("credited_by"))
            .select_from(_invoice_from()).where(*_invoice_conditions(f)))


def _invoice_row(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data["timezone"] = data.get("timezone") or "UTC"
    return data


def find_invoices(connection: Connection, f: InvoiceFilter, *, limit: int = 50,
                  offset: int = 0) -> tuple[list[dict[str, Any]], int, list[dict[str, Any]]]:
    """One page of matching documents (newest first), their number, and their exact totals per currency."""
    i = invoices
    rows = connection.execute(_invoices_query(f).order_by(i.c.issued_at.desc(), i.c.number.desc())
                              .limit(limit).offset(offset)).all()
    sums = connection.execute(
        select(i.c.currency, func.count().label("documents"),
               _exact_sum(connection, i.c.total_net).label("net"),
               _exact_sum(connection, i.c.total_gross).label("gross"))
        .select_from(_invoice_from()).where(*_invoice_conditions(f)).group_by(i.c.currency)
        .order_by(i.c.currency)).all()
    totals = [{"currency": r.currency, "documents": int(r.documents), "total_net": _exact(connection, r.net),
               "total_gross": _exact(connection, r.gross)} for r in sums]
    return [_invoice_row(r) for r in rows], sum(t["documents"] for t in totals), totals


def iter_invoices(engine: Engine, f: InvoiceFilter, chunk: int = 500) -> Iterator[dict[str, Any]]:
    i = invoices
    after: tuple[datetime, str] | None = None
    while True:
        query = _invoices_query(f)
        if after is not None:
            query = query.where(tuple_(i.c.issued_at, i.c.number) < tuple_(*after))
        with engine.connect() as connection:
            rows = connection.execute(query.order_by(i.c.issued_at.desc(), i.c.number.desc()).limit(chunk)).all()
        for row in rows:
            yield _invoice_row(row)
        if len(rows) < chunk:
            return
        after = (rows[-1].issued_at, rows[-1].number)


# ------------------------------------------------------------------------------------------- monthly


def _bucket(column: Any, bounds: Sequence[datetime]) -> Any:
    """The index of the [bounds[n], bounds[n+1]) interval ``column`` falls in (rows outside are filtered out)."""
    return case(*((and_(column >= bounds[n], column < bounds[n + 1]), n) for n in range(len(bounds) - 1)),
                else_=-1)


def monthly(connection: Connection, bounds: Sequence[datetime],
            site_id: str | None = None) -> dict[str, Any]:
    """Per site and month: sessions started, their energy (Wh), and revenue issued (invoices minus credit notes,
    gross and net, per currency). ``bounds`` are the months' starts in UTC and the end of the last one.

    Sessions count in the month they started in; revenue in the month the document was issued in (a credit
    note takes back in the month it is issued).
    """
    s, c, i = schema.sessions, schema.chargers, invoices
    site = _site_of().label("site")
    session_month = _bucket(s.c.started_at, bounds).label("month")
    where_s = [s.c.started_at >= bounds[0], s.c.started_at < bounds[-1]]
    where_i = [i.c.issued_at >= bounds[0], i.c.issued_at < bounds[-1]]
    if site_id is not None:
        where_s.append(_site_of() == site_id)
        where_i.append(_site_of() == site_id)
    sessions = connection.execute(
        select(site, session_month, func.count().label("sessions"),
               func.coalesce(func.sum(s.c.energy_wh), 0).label("energy_wh"))
        .select_from(s.outerjoin(c, c.c.id == s.c.charger_id)).where(*where_s)
        .group_by(site, session_month)).all()
    invoice_month = _bucket(i.c.issued_at, bounds).label("month")
    revenue = connection.execute(
        select(site, invoice_month, i.c.currency,
               _exact_sum(connection, i.c.total_gross).label("gross"),
               _exact_sum(connection, i.c.total_net).label("net"),
               func.sum(case((i.c.kind == "invoice", 1), else_=0)).label("invoices"),
               func.sum(case((i.c.kind == "credit_note", 1), else_=0)).label("credit_notes"))
        .select_from(i.outerjoin(c, c.c.id == i.c.charger_id)).where(*where_i)
        .group_by(site, invoice_month, i.c.currency)).all()
    cells: dict[tuple[str, int], dict[str, Any]] = {}

    def cell(key: tuple[str, int]) -> dict[str, Any]:
        return cells.setdefault(key, {"sessions": 0, "energy_wh": 0, "revenue": {}})

    for r in sessions:
        entry = cell((r.site, int(r.month)))
        entry["sessions"], entry["energy_wh"] = int(r.sessions), int(r.energy_wh)
    for r in revenue:
        cell((r.site, int(r.month)))["revenue"][r.currency] = {
            "gross": _exact(connection, r.gross), "net": _exact(connection, r.net),
            "invoices": int(r.invoices or 0), "credit_notes": int(r.credit_notes or 0)}
    sites = sorted({key[0] for key in cells})
    return {"sites": sites, "cells": cells}


def sites(connection: Connection) -> list[str]:
    c = schema.chargers
    return [r[0] for r in connection.execute(select(c.c.site_id).where(c.c.site_id.is_not(None))
                                             .distinct().order_by(c.c.site_id))]
