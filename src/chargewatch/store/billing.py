"""Queries of the billing domain: tariff versions and assignments, session bills, invoices, CDRs.

Numbering is gap-free per operator because the number comes from a counter row that is incremented
in the same transaction that inserts the invoice: a transaction that fails rolls its number back,
and the row lock (PostgreSQL) or the database write lock (SQLite) makes concurrent issuers take
turns, so no number is used twice or skipped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Table, and_, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..billing.cdr import build_credit_cdr, cdr_to_json_text
from ..billing.invoice import Invoice, credit_note, invoice_from_json
from ..billing.periods import MeterSample
from ..billing.settlement import Operator, SessionUsage, Settlement, issue_documents
from ..billing.tariff import Tariff, tariff_from_json, tariff_to_json
from ..sessions.meter import ENERGY_IMPORT, Reading, register_series, summarise
from . import schema
from .billing_tables import (
    cdrs,
    invoice_series,
    invoices,
    session_bills,
    session_tariffs,
    tariff_assignments,
    tariff_versions,
    tariffs,
)
from .upsert import insert_ignoring_duplicates, upsert

DEFAULT_SCOPE = ("", 0)  # the operator's default tariff in tariff_assignments


class BillingConflict(ValueError):
    """The request contradicts what is stored (an existing tariff, an invoice already credited, …)."""


# ------------------------------------------------------------------ tariffs


@dataclass(frozen=True, slots=True)
class TariffVersion:
    tariff_id: str
    version: int
    tariff: Tariff
    valid_from: datetime
    created_at: datetime


def tariff_text(tariff: Tariff) -> str:
    """The stored form: OCPI JSON whose numbers read back exactly (4-decimal prices survive a float)."""
    return cdr_to_json_text(tariff_to_json(tariff))


def store_tariff_version(connection: Connection, tariff: Tariff, now: datetime, *, create_only: bool) -> int:
    """Store `tariff` as the next version of its id (1 for a new id); old versions are kept as they were."""
    valid_from = tariff.start_date_time or now
    exists = connection.execute(select(tariffs.c.id).where(tariffs.c.id == tariff.id)).first() is not None
    if exists and create_only:
        raise BillingConflict(f"tariff {tariff.id!r} exists; PUT /api/v1/tariffs/{tariff.id} adds a version")
    if not exists:
        connection.execute(insert(tariffs).values(id=tariff.id, current_version=1, created_at=now, updated_at=now))
        version = 1
    else:
        # The row lock serialises concurrent updates of one tariff: each gets its own version number.
        version = connection.execute(
            update(tariffs).where(tariffs.c.id == tariff.id)
            .values(current_version=tariffs.c.current_version + 1, updated_at=now)
            .returning(tariffs.c.current_version)
        ).scalar_one()
    connection.execute(insert(tariff_versions).values(tariff_id=tariff.id, version=version, body=tariff_text(tariff),
                                                      valid_from=valid_from, created_at=now))
    return version


def _version(row: Any) -> TariffVersion:
    return TariffVersion(row.tariff_id, row.version, tariff_from_json(row.body), row.valid_from, row.created_at)


def tariff_versions_of(connection: Connection, tariff_id: str) -> list[TariffVersion]:
    rows = connection.execute(select(tariff_versions).where(tariff_versions.c.tariff_id == tariff_id)
                              .order_by(tariff_versions.c.version)).all()
    return [_version(r) for r in rows]


def list_tariffs(connection: Connection, *, after: str | None = None,
                 limit: int | None = None) -> list[tuple[dict[str, Any], TariffVersion]]:
    """Tariffs in id order (those after ``after``, at most ``limit``; default every one) with their current version."""
    v = tariff_versions
    query = (select(tariffs, v.c.tariff_id, v.c.version, v.c.body, v.c.valid_from, v.c.created_at.label("version_at"))
             .join(v, and_(v.c.tariff_id == tariffs.c.id, v.c.version == tariffs.c.current_version))
             .order_by(tariffs.c.id))
    if after is not None:
        query = query.where(tariffs.c.id > after)
    if limit is not None:
        query = query.limit(limit)
    rows = connection.execute(query).all()
    return [({"id": r.id, "current_version": r.current_version, "created_at": r.created_at,
              "updated_at": r.updated_at},
             TariffVersion(r.tariff_id, r.version, tariff_from_json(r.body), r.valid_from, r.version_at))
            for r in rows]


def tariff_row(connection: Connection, tariff_id: str) -> dict[str, Any] | None:
    row = connection.execute(select(tariffs).where(tariffs.c.id == tariff_id)).first()
    return dict(row._mapping) if row else None


def version_in_force(connection: Connection, tariff_id: str, at: datetime) -> TariffVersion | None:
    """The newest version valid at `at`; a session older than the tariff's first version gets that version."""
    v = tariff_versions
    row = connection.execute(select(v).where(v.c.tariff_id == tariff_id, v.c.valid_from <= at)
                             .order_by(v.c.version.desc()).limit(1)).first()
    if row is None:
        row = connection.execute(select(v).where(v.c.tariff_id == tariff_id).order_by(v.c.version).limit(1)).first()
    return _version(row) if row else None


def tariff_version(connection: Connection, tariff_id: str, version: int) -> TariffVersion | None:
    v = tariff_versions
    row = connection.execute(select(v).where(v.c.tariff_id == tariff_id, v.c.version == version)).first()
    return _version(row) if row else None


def assign_tariff(connection: Connection, tariff_id: str, charger_id: str | None, connector_id: int | None,
                  now: datetime) -> None:
    """Assign to a connector, a whole charger (connector 0) or, with no charger, as the operator default."""
    if tariff_row(connection, tariff_id) is None:
        raise BillingConflict(f"tariff {tariff_id!r} does not exist")
    scope = (charger_id, connector_id or 0) if charger_id else DEFAULT_SCOPE
    upsert(connection, tariff_assignments, {"charger_id": scope[0], "connector_id": scope[1],
                                            "tariff_id": tariff_id, "assigned_at": now},
           ["charger_id", "connector_id"])
    if charger_id and not connector_id:
        # The backbone's charger column shows the charger's tariff in the charger API and CLI.
        connection.execute(update(schema.chargers).where(schema.chargers.c.id == charger_id)
                           .values(tariff_id=tariff_id))


def list_assignments(connection: Connection) -> list[dict[str, Any]]:
    a = tariff_assignments
    return [dict(r._mapping) for r in connection.execute(select(a).order_by(a.c.charger_id, a.c.connector_id))]


def assigned_tariff(connection: Connection, charger_id: str, connector_id: int) -> str | None:
    """Most specific first: the connector, the charger (ours, then the registry's), the operator default."""
    a = tariff_assignments
    found = {(r.charger_id, r.connector_id): r.tariff_id for r in connection.execute(
        select(a).where(a.c.charger_id.in_([charger_id, ""])))}
    for scope in ((charger_id, connector_id), (charger_id, 0)):
        if scope in found:
            return found[scope]
    registered = connection.execute(select(schema.chargers.c.tariff_id)
                                    .where(schema.chargers.c.id == charger_id)).scalar()
    if registered and tariff_row(connection, registered) is not None:
        return str(registered)
    return found.get(DEFAULT_SCOPE)


def connector_tariff(connection: Connection, charger_id: str, connector_id: int, now: datetime) -> tuple[
        TariffVersion | None, str] | None:
    """The tariff version a session starting `now` on the connector would be billed with, and the charger's zone.

    None when the charger is not registered.
    """
    zone = connection.execute(select(schema.chargers.c.timezone).where(schema.chargers.c.id == charger_id)).first()
    if zone is None:
        return None
    tariff_id = assigned_tariff(connection, charger_id, connector_id)
    version = version_in_force(connection, tariff_id, now) if tariff_id is not None else None
    return version, zone.timezone or "UTC"


def pin_tariff(connection: Connection, transaction_id: int, now: datetime) -> TariffVersion | None:
    """The tariff version this session is priced with: pinned once, from the assignment at its start."""
    pinned = connection.execute(select(session_tariffs).where(session_tariffs.c.transaction_id == transaction_id)
                                ).first()
    if pinned is not None:
        return tariff_version(connection, pinned.tariff_id, pinned.tariff_version)
    s = schema.sessions
    session = connection.execute(select(s.c.charger_id, s.c.connector_id, s.c.started_at)
                                 .where(s.c.transaction_id == transaction_id)).first()
    if session is None:
        return None
    tariff_id = assigned_tariff(connection, session.charger_id, session.connector_id)
    if tariff_id is None:
        return None
    found = version_in_force(connection, tariff_id, session.started_at)
    if found is None:
        return None
    insert_ignoring_duplicates(connection, session_tariffs, [{
        "transaction_id": transaction_id, "tariff_id": found.tariff_id, "tariff_version": found.version,
        "pinned_at": now}])
    return found


def repin_tariff(connection: Connection, transaction_id: int, tariff_id: str, now: datetime) -> TariffVersion:
    """A correction that names another tariff: its version in force at the session start replaces the pin."""
    started = connection.execute(select(schema.sessions.c.started_at)
                                 .where(schema.sessions.c.transaction_id == transaction_id)).scalar_one()
    found = version_in_force(connection, tariff_id, started)
    if found is None:
        raise BillingConflict(f"tariff {tariff_id!r} does not exist")
    upsert(connection, session_tariffs, {"transaction_id": transaction_id, "tariff_id": found.tariff_id,
                                         "tariff_version": found.version, "pinned_at": now}, ["transaction_id"])
    return found


# ------------------------------------------------------------------ session usage


def session_usage(connection: Connection, transaction_id: int) -> tuple[SessionUsage, dict[str, Any]] | None:
    """The session, its meter series and signed documents, and its charger row (time zone, OCMF key)."""
    s = schema.sessions
    row = connection.execute(select(s).where(s.c.transaction_id == transaction_id)).first()
    if row is None:
        return None
    charger = connection.execute(select(schema.chargers).where(schema.chargers.c.id == row.charger_id)).first()
    charger_row = dict(charger._mapping) if charger else {"id": row.charger_id, "timezone": "UTC",
                                                          "ocmf_public_key": None}
    m = schema.meter_readings
    readings = connection.execute(select(m).where(m.c.transaction_id == transaction_id)
                                  .order_by(m.c.timestamp, m.c.id)).all()
    unsigned = [Reading(r.timestamp, r.measurand, r.value, r.unit, r.phase, r.location, r.context)
                for r in readings if r.signed_data is None]
    samples = tuple(MeterSample(at, int(register_wh), power_w)
                    for at, register_wh, power_w in register_series(summarise(unsigned), row.meter_start_wh))
    # Signed energy documents in the order the meter produced them (begin before end).
    signed = tuple(r.signed_data for r in readings if r.signed_data and r.measurand == ENERGY_IMPORT)
    usage = SessionUsage(
        transaction_id=row.transaction_id, charger_id=row.charger_id, connector_id=row.connector_id,
        id_tag=row.id_tag, started_at=row.started_at,
        stopped_at=row.stopped_at if row.status == "completed" else None,
        meter_start_wh=row.meter_start_wh, meter_stop_wh=row.meter_stop_wh if row.status == "completed" else None,
        flags=tuple(row.flags or ()), samples=samples, signed_documents=signed,
        time_zone=charger_row.get("timezone") or "UTC", start_status=row.start_status,
    )
    return usage, charger_row


def running_201_sessions(connection: Connection) -> list[tuple[int, str, str]]:
    """(transaction id, charger id, the station's transactionId) of active sessions on OCPP 2.0.1 stations: those
    whose station can show a running cost (CostUpdated)."""
    s, c = schema.sessions, schema.chargers
    query = (select(s.c.transaction_id, s.c.charger_id, s.c.transaction_ref).join(c, c.c.id == s.c.charger_id)
             .where(s.c.status == "active", c.c.ocpp_version == "ocpp2.0.1", s.c.transaction_ref.is_not(None))
             .order_by(s.c.transaction_id))
    return [(r.transaction_id, r.charger_id, r.transaction_ref) for r in connection.execute(query)]


def unbilled_sessions(connection: Connection, limit: int = 1000) -> list[int]:
    """Completed sessions without a bill (what a crash or downtime left behind), oldest first."""
    s, b = schema.sessions, session_bills
    rows = connection.execute(
        select(s.c.transaction_id).outerjoin(b, b.c.transaction_id == s.c.transaction_id)
        .where(s.c.status == "completed", b.c.transaction_id.is_(None))
        .order_by(s.c.stopped_at, s.c.transaction_id).limit(limit))
    return [r.transaction_id for r in rows]


def set_ocmf_key(connection: Connection, charger_id: str, public_key: str | None) -> bool:
    result = connection.execute(update(schema.chargers).where(schema.chargers.c.id == charger_id)
                                .values(ocmf_public_key=public_key))
    return result.rowcount > 0


# ------------------------------------------------------------------ bills, invoices, CDRs


def bill_of(connection: Connection, transaction_id: int) -> dict[str, Any] | None:
    row = connection.execute(select(session_bills).where(session_bills.c.transaction_id == transaction_id)).first()
    return dict(row._mapping) if row else None


def bills_needing_review(connection: Connection, limit: int = 100) -> list[dict[str, Any]]:
    b = session_bills
    rows = connection.execute(select(b).where(b.c.status == "needs_review").order_by(b.c.created_at).limit(limit))
    return [dict(r._mapping) for r in rows]


def record_review(connection: Connection, transaction_id: int, settlement: Settlement,
                  pinned: TariffVersion | None, now: datetime) -> bool:
    """Hold the session for an operator instead of billing it; False when it already has a bill."""
    return _insert_new(connection, session_bills, {
        "transaction_id": transaction_id, "status": "needs_review", "reason": settlement.reason,
        "tariff_id": pinned.tariff_id if pinned else None, "tariff_version": pinned.version if pinned else None,
        "meter_rule": settlement.rule.value if settlement.rule else None,
        "meter_verification": settlement.verification.value, "created_at": now, "updated_at": now})


def hold_for_dispute(connection: Connection, transaction_id: int, text: str, now: datetime) -> bool:
    """A driver disputes the bill (in feedback) before it is issued: the session waits in the review queue
    instead of being billed. False when it already has a bill (or is already held)."""
    return _insert_new(connection, session_bills, {
        "transaction_id": transaction_id, "status": "needs_review",
        "reason": f"driver disputes the bill: {text[:500]}", "meter_verification": "NOT_SIGNED",
        "created_at": now, "updated_at": now})


def claim_session(connection: Connection, transaction_id: int, now: datetime, *, from_review: bool) -> bool:
    """Take the one right to bill a session (first bill, or the resolution of its review).

    The primary key on session_bills (or the status check) makes a second, concurrent claim fail or
    wait and then find nothing to do: a session is never billed twice.
    """
    if from_review:
        claimed = connection.execute(
            update(session_bills).where(session_bills.c.transaction_id == transaction_id,
                                        session_bills.c.status == "needs_review")
            .values(status="issuing", updated_at=now))
        return claimed.rowcount == 1
    return _insert_new(connection, session_bills, {
        "transaction_id": transaction_id, "status": "issuing", "reason": "", "meter_verification": "NOT_SIGNED",
        "created_at": now, "updated_at": now})


def _insert_new(connection: Connection, table: Table, row: dict[str, Any]) -> bool:
    """INSERT unless the key exists; True when this call inserted (a concurrent insert waits, then loses)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    key = list(table.primary_key.columns)[0]
    statement = dialect.insert(table).values(row).on_conflict_do_nothing().returning(key)
    return connection.execute(statement).first() is not None


def next_number(connection: Connection, operator: Operator) -> tuple[int, str]:
    """The operator's next invoice number; call inside the transaction that inserts the invoice."""
    insert_ignoring_duplicates(connection, invoice_series, [{"operator_id": operator.id, "last_number": 0}])
    sequence = connection.execute(
        update(invoice_series).where(invoice_series.c.operator_id == operator.id)
        .values(last_number=invoice_series.c.last_number + 1).returning(invoice_series.c.last_number)
    ).scalar_one()
    return sequence, operator.invoice_number(sequence)


def _insert_invoice(connection: Connection, operator: Operator, sequence: int, invoice: Invoice,
                    transaction_id: int, charger_id: str, cdr_id: str, reason: str | None, now: datetime) -> None:
    connection.execute(insert(invoices).values(
        number=invoice.number, operator_id=operator.id, sequence=sequence,
        kind="credit_note" if invoice.is_credit_note else "invoice", transaction_id=transaction_id,
        charger_id=charger_id, credit_note_for=invoice.credit_note_for, cdr_id=cdr_id, currency=invoice.currency,
        total_net=invoice.total_net, total_vat=invoice.total_vat, total_gross=invoice.total_gross,
        meter_verification=invoice.meter_verification.value, reason=reason, issued_at=now,
        body=json.dumps(invoice.to_json()), pdf=None))


def _insert_cdr(connection: Connection, cdr: dict[str, Any], transaction_id: int, invoice_number: str,
                now: datetime) -> None:
    total = cdr["total_cost"]
    connection.execute(insert(cdrs).values(
        id=cdr["id"], transaction_id=transaction_id, invoice_number=invoice_number, credit=bool(cdr.get("credit")),
        credit_reference_id=cdr.get("credit_reference_id"), currency=cdr["currency"],
        total_cost_excl_vat=Decimal(total["excl_vat"]),
        total_cost_incl_vat=Decimal(total["incl_vat"]) if total.get("incl_vat") is not None else None,
        total_energy=Decimal(cdr["total_energy"]), created_at=now, body=cdr_to_json_text(cdr)))


def issue_invoice(connection: Connection, operator: Operator, usage: SessionUsage, settlement: Settlement,
                  pinned: TariffVersion, now: datetime, feedback_url: str | None, public_key: str | None,
                  *, resolution: tuple[str, str] | None = None, reason: str | None = None) -> str:
    """Number, build and store the invoice and CDR of a claimed session; returns the invoice number."""
    sequence, number = next_number(connection, operator)
    invoice, cdr = issue_documents(usage, settlement, pinned.tariff, operator, number=number, issued_at=now,
                                   issue_date=now.date(), feedback_url=feedback_url, public_key=public_key)
    _insert_invoice(connection, operator, sequence, invoice, usage.transaction_id, usage.charger_id, cdr["id"],
                    reason, now)
    _insert_cdr(connection, cdr, usage.transaction_id, number, now)
    values: dict[str, Any] = {
        "status": "issued", "reason": settlement.reason, "tariff_id": pinned.tariff_id,
        "tariff_version": pinned.version, "meter_rule": settlement.rule.value if settlement.rule else None,
        "meter_verification": settlement.verification.value, "invoice_number": number, "cdr_id": cdr["id"],
        "updated_at": now}
    if resolution is not None:
        values.update(resolved_by=resolution[0], resolution_note=resolution[1])
    connection.execute(update(session_bills).where(session_bills.c.transaction_id == usage.transaction_id)
                       .values(**values))
    return number


def waive(connection: Connection, transaction_id: int, resolved_by: str, note: str, now: datetime) -> bool:
    """An operator decides a session under review is not billed at all."""
    result = connection.execute(
        update(session_bills).where(session_bills.c.transaction_id == transaction_id,
                                    session_bills.c.status == "needs_review")
        .values(status="waived", resolved_by=resolved_by, resolution_note=note, updated_at=now))
    return result.rowcount == 1


def credit(connection: Connection, operator: Operator, number: str, reason: str, now: datetime) -> str:
    """A credit note and credit CDR cancelling invoice `number`; the session's bill is left without invoice.

    Only the invoice in force can be credited (not a credit note, not one already credited).
    """
    row = connection.execute(select(invoices).where(invoices.c.number == number)).first()
    if row is None:
        raise LookupError(f"invoice {number} not found")
    if row.kind != "invoice":
        raise BillingConflict(f"{number} is a credit note; credit the invoice it corrects instead")
    claimed = connection.execute(
        update(session_bills).where(session_bills.c.transaction_id == row.transaction_id,
                                    session_bills.c.invoice_number == number)
        .values(status="issuing", invoice_number=None, cdr_id=None, updated_at=now))
    if claimed.rowcount != 1:
        raise BillingConflict(f"invoice {number} is no longer in force (already credited)")
    sequence, credit_number = next_number(connection, operator)
    note = credit_note(invoice_from_json(json.loads(row.body)), number=credit_number, issue_date=now.date())
    original_cdr = json.loads(connection.execute(select(cdrs.c.body).where(cdrs.c.id == row.cdr_id)).scalar_one(),
                              parse_float=Decimal)
    credit_cdr = build_credit_cdr(original_cdr, last_updated=now)
    _insert_invoice(connection, operator, sequence, note, row.transaction_id, row.charger_id, credit_cdr["id"],
                    reason, now)
    _insert_cdr(connection, credit_cdr, row.transaction_id, credit_number, now)
    return credit_number


def restore_after_credit(connection: Connection, transaction_id: int, reason: str, now: datetime) -> None:
    """A credit without a new invoice leaves the session for an operator to bill again or waive."""
    connection.execute(update(session_bills).where(session_bills.c.transaction_id == transaction_id)
                       .values(status="needs_review", reason=f"invoice credited: {reason}", updated_at=now))


def invoice_record(connection: Connection, number: str) -> dict[str, Any] | None:
    row = connection.execute(select(invoices).where(invoices.c.number == number)).first()
    return dict(row._mapping) if row else None


def store_pdf(connection: Connection, number: str, pdf: bytes) -> bytes:
    """Keep the first rendering: a driver's copy stays byte-identical to what they were sent."""
    connection.execute(update(invoices).where(invoices.c.number == number, invoices.c.pdf.is_(None)).values(pdf=pdf))
    return bytes(connection.execute(select(invoices.c.pdf).where(invoices.c.number == number)).scalar_one())


def list_invoices(connection: Connection, *, transaction_id: int | None = None, charger_id: str | None = None,
                  kind: str | None = None, since: datetime | None = None, until: datetime | None = None,
                  limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    i = invoices
    conditions = []
    if transaction_id is not None:
        conditions.append(i.c.transaction_id == transaction_id)
    if charger_id:
        conditions.append(i.c.charger_id == charger_id)
    if kind:
        conditions.append(i.c.kind == kind)
    if since:
        conditions.append(i.c.issued_at >= since)
    if until:
        conditions.append(i.c.issued_at < until)
    columns = [c for c in i.c if c.name not in ("body", "pdf")]
    rows = connection.execute(select(*columns).where(*conditions)
                              .order_by(i.c.operator_id, i.c.sequence).limit(limit).offset(offset))
    return [dict(r._mapping) for r in rows]


def cdr_body(connection: Connection, cdr_id: str) -> str | None:
    return connection.execute(select(cdrs.c.body).where(cdrs.c.id == cdr_id)).scalar()


def list_cdrs(connection: Connection, *, transaction_id: int | None = None, credit_only: bool | None = None,
              since: datetime | None = None, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    c = cdrs
    conditions = []
    if transaction_id is not None:
        conditions.append(c.c.transaction_id == transaction_id)
    if credit_only is not None:
        conditions.append(c.c.credit == credit_only)
    if since:
        conditions.append(c.c.created_at >= since)
    columns = [col for col in c.c if col.name != "body"]
    rows = connection.execute(select(*columns).where(*conditions).order_by(c.c.created_at, c.c.id)
                              .limit(limit).offset(offset))
    return [dict(r._mapping) for r in rows]


def invoice_numbers(connection: Connection, operator_id: str) -> Sequence[int]:
    """The sequence numbers issued for an operator, in order (gap checks and audits)."""
    return [r.sequence for r in connection.execute(select(invoices.c.sequence)
                                                   .where(invoices.c.operator_id == operator_id)
                                                   .order_by(invoices.c.sequence))]


def count_invoices(connection: Connection, transaction_id: int) -> int:
    return connection.execute(select(func.count()).select_from(invoices)
                              .where(invoices.c.transaction_id == transaction_id,
                                     invoices.c.kind == "invoice")).scalar_one()
