"""Aggregates the operator's overview shows: one SQL query each, never a sum over a page of rows.

Revenue is summed exactly: PostgreSQL sums its NUMERIC column; SQLite keeps amounts as text (its REAL would
round them), so there the amounts are summed as integers of 1/10,000 (the column's scale) and divided back.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Connection, Float, case, cast, func, select

from .billing_tables import invoices
from .faults_tables import fault_incidents as incidents

_SCALE = Decimal(10_000)  # ExactDecimal is Numeric(20, 4)
SEVERITIES = ("critical", "fault", "warning", "info")


def _exact_sum(connection: Connection, column: Any) -> Any:
    if connection.dialect.name == "sqlite":
        return func.coalesce(func.sum(cast(func.round(cast(column, Float) * 10_000), BigInteger)), 0)
    return func.coalesce(func.sum(column), 0)


def _exact(connection: Connection, value: Any) -> Decimal:
    if connection.dialect.name == "sqlite":
        return Decimal(int(value)) / _SCALE
    return Decimal(value)


def revenue_totals(connection: Connection, since: datetime, until: datetime | None = None) -> list[dict[str, Any]]:
    """Per currency: invoices and credit notes issued in [since, until), their number and net/VAT/gross totals
    (credit notes are negative, so they take back what they cancel)."""
    i = invoices
    conditions = [i.c.issued_at >= since]
    if until is not None:
        conditions.append(i.c.issued_at < until)
    rows = connection.execute(
        select(i.c.currency,
               func.count().label("documents"),
               func.sum(case((i.c.kind == "credit_note", 1), else_=0)).label("credit_notes"),
               _exact_sum(connection, i.c.total_net).label("total_net"),
               _exact_sum(connection, i.c.total_vat).label("total_vat"),
               _exact_sum(connection, i.c.total_gross).label("total_gross"))
        .where(*conditions).group_by(i.c.currency).order_by(i.c.currency)).all()
    return [{"currency": r.currency, "documents": int(r.documents), "credit_notes": int(r.credit_notes or 0),
             "invoices": int(r.documents) - int(r.credit_notes or 0),
             "total_net": _exact(connection, r.total_net), "total_vat": _exact(connection, r.total_vat),
             "total_gross": _exact(connection, r.total_gross)} for r in rows]


def incident_counts(connection: Connection) -> dict[str, int]:
    """Active (open or acknowledged) incidents per severity, every severity present (0 when none)."""
    f = incidents
    rows = connection.execute(select(f.c.severity, func.count()).where(f.c.status.in_(("open", "acknowledged")))
                              .group_by(f.c.severity)).all()
    counts = dict.fromkeys(SEVERITIES, 0)
    for severity, count in rows:
        counts[severity] = counts.get(severity, 0) + int(count)
    return counts
