"""Queries of support: site helplines and per-session conversations (see `feedback/support.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..feedback.support import Author, ConversationStatus, ConversationTimes, SiteSupport, status_after
from . import schema
from .faults_tables import fault_incidents
from .feedback_tables import feedback
from .support_tables import support_conversations, support_email_ids, support_messages, support_sites

# ------------------------------------------------------------------ sites


def put_site(connection: Connection, site: SiteSupport, now: datetime) -> bool:
    """Create or replace a site's support record; True if it was created."""
    values = {"helpline": site.helpline, "hours": site.hours, "languages": list(site.languages),
              "chat": site.chat, "updated_at": now}
    t = support_sites
    changed = connection.execute(update(t).where(t.c.site_id == site.site_id).values(**values)).rowcount
    if changed:
        return False
    connection.execute(insert(t).values(site_id=site.site_id, **values))
    return True


def _site(row: Row[Any]) -> SiteSupport:
    return SiteSupport(row.site_id, row.helpline, row.hours, tuple(row.languages or ("en",)), bool(row.chat))


def site(connection: Connection, site_id: str) -> SiteSupport | None:
    row = connection.execute(select(support_sites).where(support_sites.c.site_id == site_id)).first()
    return _site(row) if row else None


def sites(connection: Connection) -> list[SiteSupport]:
    return [_site(row) for row in connection.execute(select(support_sites).order_by(support_sites.c.site_id))]


def delete_site(connection: Connection, site_id: str) -> bool:
    t = support_sites
    return bool(connection.execute(t.delete().where(t.c.site_id == site_id)).rowcount)


def site_of_charger(connection: Connection, charger_id: str) -> str:
    """The charger's site id (`chargers.site_id`), else the charger's own id (one charger = one site)."""
    c = schema.chargers
    found = connection.execute(select(c.c.site_id).where(c.c.id == charger_id)).scalar()
    return found or charger_id


def site_for_charger(connection: Connection, charger_id: str) -> SiteSupport | None:
    return site(connection, site_of_charger(connection, charger_id))


# ------------------------------------------------------------------ conversations


def conversation_of_session(connection: Connection, transaction_id: int) -> Row[Any] | None:
    t = support_conversations
    return connection.execute(select(t).where(t.c.transaction_id == transaction_id)).first()


def conversation(connection: Connection, conversation_id: int) -> Row[Any] | None:
    t = support_conversations
    return connection.execute(select(t).where(t.c.id == conversation_id)).first()


def messages(connection: Connection, conversation_id: int) -> list[Row[Any]]:
    m = support_messages
    return list(connection.execute(select(m).where(m.c.conversation_id == conversation_id).order_by(m.c.id)))


def open_conversation(connection: Connection, transaction_id: int, charger_id: str, now: datetime) -> Row[Any]:
    """The session's conversation, created on first use (racing requests end up with the same one)."""
    existing = conversation_of_session(connection, transaction_id)
    if existing is not None:
        return existing
    try:
        with connection.begin_nested():
            connection.execute(insert(support_conversations).values(
                transaction_id=transaction_id, charger_id=charger_id, station_id=charger_id,
                status=ConversationStatus.WAITING.value, opened_at=now, updated_at=now))
    except IntegrityError:
        pass
    found = conversation_of_session(connection, transaction_id)
    assert found is not None
    return found


def add_message(connection: Connection, conversation_row: Row[Any], author: Author, body: str,
                operator: str | None, now: datetime, source: str = "web") -> Row[Any]:
    """Append a message (``source`` web or email); the conversation's status follows, and an operator's first
    answer is timed."""
    m, t = support_messages, support_conversations
    message_id = connection.execute(insert(m).values(
        conversation_id=conversation_row.id, author=author.value, operator=operator, body=body, sent_at=now,
        source=source,
    ).returning(m.c.id)).scalar_one()
    values: dict[str, Any] = {"status": status_after(author).value, "updated_at": now, "resolved_at": None,
                              "resolved_by": None}
    if author is Author.OPERATOR and conversation_row.first_response_at is None:
        values["first_response_at"] = now
    connection.execute(update(t).where(t.c.id == conversation_row.id).values(**values))
    row = connection.execute(select(m).where(m.c.id == message_id)).first()
    assert row is not None
    return row


def resolve(connection: Connection, conversation_id: int, by: str | None, now: datetime) -> bool:
    t = support_conversations
    return bool(connection.execute(update(t).where(t.c.id == conversation_id).values(
        status=ConversationStatus.RESOLVED.value, resolved_at=now, resolved_by=by, updated_at=now)).rowcount)


def list_conversations(connection: Connection, status: str | None, station: str | None, limit: int,
                       offset: int) -> tuple[list[Row[Any]], int]:
    t = support_conversations
    query = select(t)
    if status:
        query = query.where(t.c.status == status)
    if station:
        query = query.where(t.c.station_id == station)
    total = connection.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = list(connection.execute(query.order_by(t.c.updated_at.desc(), t.c.id.desc()).limit(limit).offset(offset)))
    return rows, int(total)


def links(connection: Connection, transaction_id: int) -> dict[str, Any]:
    """What the conversation is linked to: the session's incidents (numbers) and whether it has feedback."""
    f = fault_incidents
    incidents = [row.number for row in connection.execute(
        select(f.c.number).where(f.c.session_id == str(transaction_id)).order_by(f.c.number))]
    rated = connection.execute(select(feedback.c.overall).where(feedback.c.transaction_id == transaction_id)).scalar()
    return {"incidents": incidents, "feedback_overall": rated}


def conversation_times(connection: Connection, since: datetime | None, until: datetime | None
                       ) -> Sequence[ConversationTimes]:
    t = support_conversations
    query = select(t.c.station_id, t.c.opened_at, t.c.first_response_at, t.c.resolved_at)
    if since is not None:
        query = query.where(t.c.opened_at >= since)
    if until is not None:
        query = query.where(t.c.opened_at < until)
    return [ConversationTimes(r.station_id, r.opened_at, r.first_response_at, r.resolved_at)
            for r in connection.execute(query)]


# ------------------------------------------------------------------ e-mail


def email_seen(connection: Connection, message_id: str) -> bool:
    e = support_email_ids
    return connection.execute(select(e.c.message_id).where(e.c.message_id == message_id[:255])).first() is not None


def remember_email(connection: Connection, conversation_id: int, message_id: str, direction: str,
                   now: datetime) -> None:
    """Keep a Message-ID of the conversation's mail (``out``: ours, ``in``: the driver's) for threading and to
    take a redelivered mail once."""
    if email_seen(connection, message_id):
        return
    connection.execute(insert(support_email_ids).values(message_id=message_id[:255], conversation_id=conversation_id,
                                                        direction=direction, at=now))


def email_thread(connection: Connection, conversation_id: int) -> list[str]:
    """The conversation's Message-IDs, oldest first (for In-Reply-To / References of the next mail)."""
    e = support_email_ids
    return [row.message_id for row in connection.execute(
        select(e.c.message_id).where(e.c.conversation_id == conversation_id).order_by(e.c.at, e.c.message_id))]


def set_driver_email(connection: Connection, conversation_id: int, email: str) -> None:
    t = support_conversations
    connection.execute(update(t).where(t.c.id == conversation_id).values(driver_email=email[:254]))
