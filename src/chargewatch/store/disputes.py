"""Queries of billing disputes on issued invoices (table `billing_disputes`, see `support_tables`).

A driver disputes the bill (in feedback); when the session's invoice is already issued, the dispute is recorded
against that invoice and waits for the operator: rejected with a reason the driver sees, or accepted with a
correction (credit note, and a reissued invoice where the session is still billable; see `workers.billing`).
One open dispute per invoice: a second complaint about the same invoice adds its words to the open one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from .support_tables import billing_disputes

MAX_TEXT = 4000


class DisputeConflict(RuntimeError):
    """The dispute is not open any more (decided by someone else)."""


def open_dispute(connection: Connection, transaction_id: int, invoice_number: str, text: str,
                 now: datetime) -> tuple[int, bool]:
    """Record the driver's dispute of ``invoice_number``; (its id, True if new)."""
    d = billing_disputes
    existing = connection.execute(select(d).where(d.c.invoice_number == invoice_number, d.c.status == "open")).first()
    if existing is not None:
        if text and text not in existing.text:
            connection.execute(update(d).where(d.c.id == existing.id).values(
                text=f"{existing.text}\n{text}"[:MAX_TEXT]))
        return existing.id, False
    new_id = connection.execute(insert(d).values(
        transaction_id=transaction_id, invoice_number=invoice_number, text=text[:MAX_TEXT] or "(no text)",
        status="open", opened_at=now).returning(d.c.id)).scalar_one()
    return int(new_id), True


def dispute(connection: Connection, dispute_id: int) -> Row[Any] | None:
    return connection.execute(select(billing_disputes).where(billing_disputes.c.id == dispute_id)).first()


def latest_of_session(connection: Connection, transaction_id: int) -> Row[Any] | None:
    d = billing_disputes
    return connection.execute(select(d).where(d.c.transaction_id == transaction_id)
                              .order_by(d.c.opened_at.desc(), d.c.id.desc()).limit(1)).first()


def list_disputes(connection: Connection, status: str | None, limit: int, offset: int) -> tuple[list[Row[Any]], int]:
    d = billing_disputes
    query = select(d)
    if status:
        query = query.where(d.c.status == status)
    total = connection.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = list(connection.execute(query.order_by(d.c.opened_at, d.c.id).limit(limit).offset(offset)))
    return rows, int(total)


def decide(connection: Connection, dispute_id: int, status: str, by: str | None, reason: str, now: datetime,
           credit_note: str | None = None, reissued_invoice: str | None = None) -> None:
    """Close an open dispute (``rejected`` / ``accepted``); DisputeConflict if it is not open any more."""
    d = billing_disputes
    changed = connection.execute(update(d).where(d.c.id == dispute_id, d.c.status == "open").values(
        status=status, decided_by=by, decided_at=now, reason=reason, credit_note=credit_note,
        reissued_invoice=reissued_invoice)).rowcount
    if changed != 1:
        raise DisputeConflict(f"dispute {dispute_id} is not open")
