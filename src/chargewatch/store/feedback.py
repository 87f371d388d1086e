"""Queries of the feedback domain: session facts from telemetry, feedback rows, contacts, surveys,
and the operational numbers the fix-first ranking needs.

A station is a charger for now (one charger = one station): `station_id` is the charger id until
chargewatch has a notion of sites grouping several chargers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, Row, column, delete, func, insert, inspect, select, table, update
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import TableClause

from ..feedback.facts import SessionFacts
from ..feedback.priorities import StationOperations
from ..feedback.records import FeedbackRecord
from ..feedback.submission import Contact, Feedback
from ..feedback.surveys import Survey, parse_survey
from ..feedback.topics import Topic, parse_topics
from . import schema
from .faults_tables import fault_incidents
from .feedback_tables import feedback, feedback_contacts, feedback_topics, feedback_topics_version, surveys

NO_ERROR = "NoError"
DEFAULT_CURRENCY = "EUR"
# Billing is integrated separately: its tables are read only if they exist with these columns, so
# feedback neither imports billing nor breaks while billing's schema is young.
_BILLING_COLUMNS: dict[str, tuple[str, ...]] = {
    "session_bills": ("transaction_id", "invoice_number"),
    "invoices": ("number", "currency", "total_gross"),
}
_DOWN_STATUSES = frozenset({"Faulted", "Unavailable"})


# ------------------------------------------------------------------ session facts


def session_row(connection: Connection, transaction_id: int) -> Row[Any] | None:
    s = schema.sessions
    return connection.execute(select(s).where(s.c.transaction_id == transaction_id)).first()


def connector_rating_w(connection: Connection, charger_id: str, connector_id: int) -> int | None:
    """The connector's rated power: as configured, else the highest power any of its sessions reached."""
    k, s = schema.connectors, schema.sessions
    rated = connection.execute(
        select(k.c.max_power_w).where(k.c.charger_id == charger_id, k.c.connector_id == connector_id)
    ).scalar()
    if rated:
        return int(rated)
    seen = connection.execute(
        select(func.max(s.c.max_power_w)).where(s.c.charger_id == charger_id, s.c.connector_id == connector_id)
    ).scalar()
    return int(seen) if seen else None


def incident_codes(
    connection: Connection, charger_id: str, connector_id: int, start: datetime, end: datetime,
    transaction_id: int | None = None,
) -> frozenset[str]:
    """Error codes the charger reported for this connector (or the whole charger, connector 0) in the window.

    Read from the raw StatusNotification history rather than the faults domain's incidents, so the
    feedback facts do not depend on how faults are grouped into incidents.
    """
    e = schema.status_events
    rows = connection.execute(
        select(e.c.error_code).distinct().where(
            e.c.charger_id == charger_id,
            e.c.connector_id.in_((0, connector_id)),
            e.c.error_code != NO_ERROR,
            e.c.timestamp >= start,
            e.c.timestamp <= end,
        )
    ).scalars()
    codes = set(rows)
    if transaction_id is not None:  # what faults tied to this session (a ground fault, a frozen meter)
        f = fault_incidents
        codes.update(row.code or row.kind for row in connection.execute(
            select(f.c.code, f.c.kind).where(f.c.session_id == str(transaction_id),
                                             f.c.kind.in_(("connector_error", "frozen_meter")))))
    return frozenset(codes)


def _billing(connection: Connection) -> tuple[TableClause, TableClause] | None:
    """Billing's session bills and invoices, if billing has created them: the price of a session is the
    gross total of the invoice in force for it (after corrections, the latest)."""
    inspector = inspect(connection)
    for name, needed in _BILLING_COLUMNS.items():
        if not inspector.has_table(name):
            return None
        if not set(needed) <= {info["name"] for info in inspector.get_columns(name)}:
            return None
    bills, invoices = (table(name, *(column(c) for c in needed)) for name, needed in _BILLING_COLUMNS.items())
    return bills, invoices


def _decimal(value: object) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() and amount >= 0 else None


def session_price(connection: Connection, transaction_id: int) -> tuple[Decimal, str] | None:
    billing = _billing(connection)
    if billing is None:
        return None
    bills, invoices = billing
    row = connection.execute(
        select(invoices.c.total_gross, invoices.c.currency)
        .join_from(bills, invoices, invoices.c.number == bills.c.invoice_number)
        .where(bills.c.transaction_id == transaction_id)
    ).first()
    if row is None or not row[1]:
        return None
    amount = _decimal(row[0])
    return (amount, str(row[1])) if amount is not None else None


def session_facts(connection: Connection, session: Row[Any]) -> SessionFacts:
    """The telemetry facts of a completed session, frozen next to its feedback.

    Average power is energy over the time the car actually drew power (idle time excluded), so a
    car left plugged in does not make a fast charger look slow; idle time is a fact of its own.
    """
    ended = session.stopped_at or session.last_sample_at or session.started_at
    average = session.energy_wh * 3600 // session.charging_seconds if session.charging_seconds else None
    priced = session_price(connection, session.transaction_id)
    return SessionFacts(
        session_id=str(session.transaction_id),
        charger_id=session.charger_id,
        connector_id=session.connector_id,
        station_id=session.charger_id,
        started_at=session.started_at,
        ended_at=max(ended, session.started_at),
        energy_wh=max(int(session.energy_wh), 0),
        avg_power_w=int(average) if average is not None else None,
        peak_power_w=int(session.max_power_w) or None,
        connector_rating_w=connector_rating_w(connection, session.charger_id, session.connector_id),
        idle_seconds=max(int(session.idle_seconds), 0),
        price=priced[0] if priced else None,
        currency=priced[1] if priced else None,
        incident_codes=incident_codes(
            connection, session.charger_id, session.connector_id, session.started_at, max(ended, session.started_at),
            session.transaction_id,
        ),
        stop_reason=session.stop_reason,
    )


# ------------------------------------------------------------------ feedback rows


def feedback_row(connection: Connection, transaction_id: int) -> Row[Any] | None:
    return connection.execute(select(feedback).where(feedback.c.transaction_id == transaction_id)).first()


def _answers_json(answers: Mapping[str, Any]) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in answers.items()}


def _feedback_values(item: Feedback, facts: SessionFacts) -> dict[str, Any]:
    return {
        "station_id": facts.station_id,
        "charger_id": facts.charger_id,
        "connector_id": facts.connector_id,
        "overall": item.overall,
        "charging_speed": item.charging_speed,
        "ease_of_use": item.ease_of_use,
        "availability": item.availability,
        "price_transparency": item.price_transparency,
        "would_recommend": item.would_recommend,
        "comment": item.comment,
        "answers": _answers_json(item.answers),
        "survey_id": item.survey_id,
        "session_started_at": facts.started_at,
        "facts": facts.to_record(),
    }


def insert_feedback(connection: Connection, transaction_id: int, item: Feedback, facts: SessionFacts) -> None:
    connection.execute(insert(feedback).values(
        transaction_id=transaction_id, submitted_at=item.submitted_at, updated_at=item.submitted_at,
        handled=False, **_feedback_values(item, facts),
    ))


def replace_feedback(
    connection: Connection, transaction_id: int, item: Feedback, facts: SessionFacts, now: datetime
) -> None:
    """An edit: new content, same `submitted_at` (the edit window counts from the first submission)."""
    connection.execute(
        update(feedback).where(feedback.c.transaction_id == transaction_id)
        .values(updated_at=now, **_feedback_values(item, facts))
    )


def put_contact(connection: Connection, transaction_id: int, contact: Contact, now: datetime) -> None:
    c = feedback_contacts
    done = connection.execute(update(c).where(c.c.transaction_id == transaction_id).values(email=contact.email))
    if not done.rowcount:
        connection.execute(insert(c).values(transaction_id=transaction_id, email=contact.email, created_at=now))


def contact_email(connection: Connection, transaction_id: int) -> str | None:
    c = feedback_contacts
    return connection.execute(select(c.c.email).where(c.c.transaction_id == transaction_id)).scalar()


def has_contact(connection: Connection, transaction_ids: Sequence[int]) -> set[int]:
    if not transaction_ids:
        return set()
    c = feedback_contacts
    return set(connection.execute(select(c.c.transaction_id).where(c.c.transaction_id.in_(transaction_ids))).scalars())


def delete_contact(connection: Connection, transaction_id: int) -> bool:
    c = feedback_contacts
    return bool(connection.execute(delete(c).where(c.c.transaction_id == transaction_id)).rowcount)


def erase_contacts(connection: Connection, email: str) -> int:
    """Delete every stored contact with this address (a driver's erasure request); returns how many."""
    c = feedback_contacts
    return int(connection.execute(delete(c).where(func.lower(c.c.email) == email.lower())).rowcount)


def set_handled(connection: Connection, transaction_id: int, handled: bool, by: str | None, now: datetime) -> bool:
    done = connection.execute(update(feedback).where(feedback.c.transaction_id == transaction_id).values(
        handled=handled, handled_at=now if handled else None, handled_by=by if handled else None))
    return bool(done.rowcount)


def set_reply(connection: Connection, transaction_id: int, text: str, by: str | None, now: datetime) -> bool:
    done = connection.execute(update(feedback).where(feedback.c.transaction_id == transaction_id).values(
        reply=text, replied_at=now, replied_by=by, reply_emailed_at=None))
    return bool(done.rowcount)


def mark_reply_emailed(connection: Connection, transaction_id: int, now: datetime) -> None:
    connection.execute(
        update(feedback).where(feedback.c.transaction_id == transaction_id).values(reply_emailed_at=now)
    )


@dataclass(frozen=True, slots=True)
class FeedbackFilter:
    """Which feedback an operator is looking at; `since`/`until` bound `submitted_at` (until exclusive)."""

    station_id: str | None = None
    connector_id: int | None = None
    rating: int | None = None
    max_rating: int | None = None
    handled: bool | None = None
    survey_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        f = feedback.c
        conditions: list[ColumnElement[bool]] = []
        if self.station_id is not None:
            conditions.append(f.station_id == self.station_id)
        if self.connector_id is not None:
            conditions.append(f.connector_id == self.connector_id)
        if self.rating is not None:
            conditions.append(f.overall == self.rating)
        if self.max_rating is not None:
            conditions.append(f.overall <= self.max_rating)
        if self.handled is not None:
            conditions.append(f.handled.is_(self.handled))
        if self.survey_id is not None:
            conditions.append(f.survey_id == self.survey_id)
        if self.since is not None:
            conditions.append(f.submitted_at >= self.since)
        if self.until is not None:
            conditions.append(f.submitted_at < self.until)
        return conditions


def list_feedback(
    connection: Connection, where: FeedbackFilter, *, limit: int, offset: int
) -> tuple[list[Row[Any]], int]:
    """A page of feedback rows, newest submission first, and the total number matching."""
    conditions = where.conditions()
    total = connection.execute(select(func.count()).select_from(feedback).where(*conditions)).scalar_one()
    rows = connection.execute(
        select(feedback).where(*conditions)
        .order_by(feedback.c.submitted_at.desc(), feedback.c.transaction_id.desc())
        .limit(limit).offset(offset)
    ).all()
    return list(rows), int(total)


def record_of(row: Row[Any]) -> FeedbackRecord:
    answers = {key: tuple(value) if isinstance(value, list) else value for key, value in (row.answers or {}).items()}
    item = Feedback(
        session_id=str(row.transaction_id),
        overall=row.overall,
        submitted_at=row.submitted_at,
        charging_speed=row.charging_speed,
        ease_of_use=row.ease_of_use,
        availability=row.availability,
        price_transparency=row.price_transparency,
        comment=row.comment or "",
        would_recommend=row.would_recommend,
        survey_id=row.survey_id,
        answers=answers,
    )
    return FeedbackRecord(item, SessionFacts.from_record(row.facts))


def records(
    connection: Connection,
    *,
    station_id: str | None = None,
    sessions_since: datetime | None = None,
    sessions_until: datetime | None = None,
) -> list[FeedbackRecord]:
    """Feedback with its facts for analytics, selected by when the session started (as analytics group it)."""
    f = feedback.c
    conditions = []
    if station_id is not None:
        conditions.append(f.station_id == station_id)
    if sessions_since is not None:
        conditions.append(f.session_started_at >= sessions_since)
    if sessions_until is not None:
        conditions.append(f.session_started_at < sessions_until)
    rows = connection.execute(select(feedback).where(*conditions).order_by(f.session_started_at, f.transaction_id))
    return [record_of(row) for row in rows]


# ------------------------------------------------------------------ surveys


def survey_rows(connection: Connection) -> list[Row[Any]]:
    return list(connection.execute(select(surveys).order_by(surveys.c.id)))


def survey_row(connection: Connection, survey_id: str) -> Row[Any] | None:
    return connection.execute(select(surveys).where(surveys.c.id == survey_id)).first()


def all_surveys(connection: Connection) -> list[Survey]:
    """Every stored survey; definitions were validated on the way in, so parsing them cannot fail."""
    return [parse_survey(row.definition) for row in survey_rows(connection)]


def put_survey(connection: Connection, survey: Survey, definition: Mapping[str, Any], now: datetime) -> bool:
    """Create or replace a survey; True if it was created."""
    values = {
        "name": survey.name,
        "definition": dict(definition),
        "target_kind": survey.target.kind.value,
        "active_from": survey.active_from,
        "active_until": survey.active_until,
        "updated_at": now,
    }
    done = connection.execute(update(surveys).where(surveys.c.id == survey.id).values(**values))
    if done.rowcount:
        return False
    connection.execute(insert(surveys).values(id=survey.id, created_at=now, **values))
    return True


def delete_survey(connection: Connection, survey_id: str) -> bool:
    return bool(connection.execute(delete(surveys).where(surveys.c.id == survey_id)).rowcount)


# ------------------------------------------------------------------ operator topics


def operator_topics(connection: Connection) -> tuple[Topic, ...]:
    """Stored operator topics; definitions were validated on the way in."""
    rows = connection.execute(select(feedback_topics.c.definition).order_by(feedback_topics.c.created_at,
                                                                            feedback_topics.c.id))
    return parse_topics([row.definition for row in rows])


def put_topic(connection: Connection, definition: Mapping[str, Any], source: str | None, now: datetime) -> bool:
    """Create or replace an operator topic (keyed by its id); True if it was created."""
    topic_id = str(definition["id"])
    values = {"definition": dict(definition), "source": source, "updated_at": now}
    _bump_topics_version(connection)
    if connection.execute(update(feedback_topics).where(feedback_topics.c.id == topic_id).values(**values)).rowcount:
        return False
    connection.execute(insert(feedback_topics).values(id=topic_id, created_at=now, **values))
    return True


def topics_version(connection: Connection) -> int:
    """The operator topics' version: every change bumps it in its own transaction (one row, read cheaply)."""
    t = feedback_topics_version
    return int(connection.execute(select(t.c.version).where(t.c.id == 1)).scalar() or 0)


def _bump_topics_version(connection: Connection) -> None:
    t = feedback_topics_version
    if not connection.execute(update(t).where(t.c.id == 1).values(version=t.c.version + 1)).rowcount:
        connection.execute(insert(t).values(id=1, version=1))


# ------------------------------------------------------------------ operations for the fix-first ranking


def _fault_summary(
    events: Iterable[Row[Any]], since: datetime, until: datetime
) -> tuple[dict[str, Counter[str]], dict[str, int]]:
    """Fault onsets by charger and code, and each charger's down time (Faulted/Unavailable), from the
    status history ordered by charger, connector, time.

    A repeated StatusNotification with the same error is one fault, not several. A charger's down
    time is the mean over its connectors, so it stays within the period.
    """
    onsets: dict[str, Counter[str]] = defaultdict(Counter)
    down: dict[tuple[str, int], int] = defaultdict(int)
    previous: dict[tuple[str, int], tuple[str, str, datetime]] = {}
    for event in events:
        key = (event.charger_id, event.connector_id)
        before = previous.get(key)
        if before is not None and before[1] in _DOWN_STATUSES:
            start, end = max(before[2], since), min(event.timestamp, until)
            down[key] += max(0, int((end - start).total_seconds()))
        if event.error_code != NO_ERROR and since <= event.timestamp < until:
            if before is None or before[0] != event.error_code:
                onsets[event.charger_id][event.error_code] += 1
        previous[key] = (event.error_code, event.status, event.timestamp)
    for key, (_, status, at) in previous.items():
        if status in _DOWN_STATUSES:
            down[key] += max(0, int((until - max(at, since)).total_seconds()))
    per_charger: dict[str, list[int]] = defaultdict(list)
    for (charger_id, connector_id), seconds in down.items():
        if connector_id:
            per_charger[charger_id].append(seconds)
    return onsets, {charger: sum(values) // len(values) for charger, values in per_charger.items()}


def station_operations(connection: Connection, since: datetime, until: datetime) -> list[StationOperations]:
    """Sessions, average price, incidents and down time per station (= charger) over [since, until).

    Revenue comes from billing's invoices when that table exists; until then prices are 0 EUR, so the
    ranking weighs ratings and reliability only.
    """
    s, e = schema.sessions, schema.status_events
    sessions: dict[str, int] = {
        charger_id: count
        for charger_id, count in connection.execute(
            select(s.c.charger_id, func.count()).where(s.c.started_at >= since, s.c.started_at < until)
            .group_by(s.c.charger_id)
        )
    }
    events = connection.execute(
        select(e.c.charger_id, e.c.connector_id, e.c.status, e.c.error_code, e.c.timestamp)
        .where(e.c.timestamp < until)
        .order_by(e.c.charger_id, e.c.connector_id, e.c.timestamp, e.c.id)
    ).all()
    onsets, downtime = _fault_summary(events, since, until)
    prices, currency = _average_prices(connection, since, until)
    period = max(int((until - since).total_seconds()), 1)
    stations = sorted(set(sessions) | set(onsets))
    return [
        StationOperations(
            station_id=station,
            sessions=int(sessions.get(station, 0)),
            average_price=prices.get(station, Decimal(0)),
            currency=currency,
            period_seconds=period,
            incidents=sum(onsets[station].values()),
            downtime_seconds=min(downtime.get(station, 0), period),
            fault_counts=dict(onsets[station]),
        )
        for station in stations
    ]


def _average_prices(connection: Connection, since: datetime, until: datetime) -> tuple[dict[str, Decimal], str]:
    """Mean invoiced price per charger in the period, in the (single) billing currency; empty without billing."""
    billing = _billing(connection)
    if billing is None:
        return {}, DEFAULT_CURRENCY
    bills, invoices = billing
    s = schema.sessions
    rows = connection.execute(
        select(s.c.charger_id, invoices.c.total_gross, invoices.c.currency)
        .join_from(s, bills, bills.c.transaction_id == s.c.transaction_id)
        .join(invoices, invoices.c.number == bills.c.invoice_number)
        .where(s.c.started_at >= since, s.c.started_at < until)
    ).all()
    priced = [(charger_id, _decimal(amount), str(currency)) for charger_id, amount, currency in rows if currency]
    valid = [(charger_id, amount, currency) for charger_id, amount, currency in priced if amount is not None]
    if not valid:
        return {}, DEFAULT_CURRENCY
    # The ranking cannot compare currencies; the dominant one is the network's.
    main = Counter(currency for _, _, currency in valid).most_common(1)[0][0]
    amounts: dict[str, list[Decimal]] = defaultdict(list)
    for charger_id, amount, currency in valid:
        if currency == main:
            amounts[charger_id].append(amount)
    return {charger: sum(values, Decimal(0)) / len(values) for charger, values in amounts.items()}, main
