"""Billing disputes of issued invoices over HTTP: the operator's queue and decisions, the driver's outcome.

A driver disputes an issued invoice in their feedback (`workers.billing.Biller.dispute` records it). The operator
decides it credit-first:

- **reject** with a reason, which the driver reads on their session page and by e-mail;
- **accept** with a correction: a credit note for the invoice and, by default and where the corrected session is
  still billable (stated energy, another tariff, or as measured), a reissued invoice — the billing domain's own
  correction (`Biller.credit`: gap-free numbers, one transaction, the dispute decided in it). A session that cannot
  be billed again waits in the billing review queue.

Each decision is published as ``billing.dispute_decided`` (the console refreshes) and e-mailed to the driver when
an address is known (their feedback contact or the address they wrote to support from), with the session's
support reply address: answering the e-mail continues in the support conversation.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, Row

from ..domain.events import DisputeDecided
from ..gateway.events import EventBus
from ..sessions.links import transaction_of
from ..store import billing as billing_store
from ..store import disputes as store
from ..store import feedback as feedback_store
from ..store import support as support_store
from .errors import error_responses
from .feedback import FeedbackConfig
from .models import Offset, RowId
from .support import driver_email_of, send_mail

if TYPE_CHECKING:
    from ..workers.billing import Biller

log = logging.getLogger(__name__)


class DisputeOut(BaseModel):
    id: int
    transaction_id: int
    invoice_number: str = Field(description="the disputed invoice")
    text: str = Field(description="what the driver wrote")
    status: Literal["open", "rejected", "accepted"]
    opened_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None = Field(description="the operator's reason, shown to the driver")
    credit_note: str | None
    reissued_invoice: str | None = Field(description="the corrected invoice, when the session was billed again")


class DisputePage(BaseModel):
    items: list[DisputeOut]
    total: int
    limit: int
    offset: int


class RejectIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="why the invoice stands (the driver reads it)")
    by: str | None = Field(default=None, max_length=64)


class AcceptIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500, description="the correction (on the credit note and e-mail)")
    by: str | None = Field(default=None, max_length=64)
    reissue: bool = Field(default=True, description="bill the corrected session again, when it is billable")
    energy_wh: int | None = Field(default=None, ge=0, le=10_000_000, description="the billable energy stated")
    tariff_id: str | None = Field(default=None, max_length=64, description="re-price with this tariff")


class DriverDisputeOut(BaseModel):
    dispute: DisputeOut | None


def _out(row: Row[Any]) -> dict[str, Any]:
    return {name: value for name, value in row._mapping.items() if name in DisputeOut.model_fields}


_OUTCOME = {
    "rejected": ("Your dispute of invoice {invoice}: the invoice stands",
                 "We checked your dispute of invoice {invoice} (charging session {tx}). The invoice stands:\n\n"
                 "{reason}\n"),
    "accepted": ("Your dispute of invoice {invoice}: corrected",
                 "We accepted your dispute of invoice {invoice} (charging session {tx}): {reason}\n\n"
                 "Credit note {credit} cancels the invoice.{reissued}\n"),
}


def outcome_mail(connection: Connection, config: FeedbackConfig, dispute: Row[Any], conversation: Row[Any] | None,
                 to: str, now: datetime) -> EmailMessage:
    subject, body = _OUTCOME[dispute.status]
    values = {"invoice": dispute.invoice_number, "tx": dispute.transaction_id, "reason": dispute.reason,
              "credit": dispute.credit_note,
              "reissued": f" The corrected invoice is {dispute.reissued_invoice}." if dispute.reissued_invoice else
              " The session is checked again before any new invoice."}
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = subject.format(**values)
    message.set_content(body.format(**values) + "\n-- \nQuestions? Reply to this e-mail.\n")
    if config.support_address is not None:
        thread = support_store.email_thread(connection, conversation.id) if conversation is not None else []
        message_id = config.support_address.thread(message, dispute.transaction_id, thread)
        if conversation is not None:
            support_store.remember_email(connection, conversation.id, message_id, "out", now)
    return message


def disputes_router(engine: Engine, bus: EventBus, secret: bytes, biller: Biller,
                    config: FeedbackConfig) -> APIRouter:
    router = APIRouter(prefix="/api/v1")

    def found(connection: Connection, dispute_id: int) -> Row[Any]:
        row = store.dispute(connection, dispute_id)
        if row is None:
            raise HTTPException(404, f"dispute {dispute_id} not found")
        return row

    def tell_driver(dispute_id: int) -> dict[str, Any]:
        """After a decision: the dispute as decided, e-mailed to the driver (best effort), published."""
        now = biller.now()
        with engine.begin() as connection:
            row = found(connection, dispute_id)
            conversation = support_store.conversation_of_session(connection, row.transaction_id)
            to = (driver_email_of(connection, conversation) if conversation is not None
                  else feedback_store.contact_email(connection, row.transaction_id))
            mail = outcome_mail(connection, config, row, conversation, to, now) if to and config.mailer else None
        send_mail(config, mail, f"outcome of billing dispute {dispute_id}")
        return _out(row)

    def publish(out: dict[str, Any]) -> None:
        bus.publish(DisputeDecided(out["id"], out["transaction_id"], out["status"], out["invoice_number"],
                                   out["credit_note"], out["reissued_invoice"]))

    @router.get("/billing/disputes", response_model=DisputePage, tags=["billing"])
    def list_disputes(
        status: Literal["open", "rejected", "accepted"] | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """Drivers' disputes of issued invoices, oldest first; ``status=open`` is the queue to decide."""
        with engine.connect() as connection:
            rows, total = store.list_disputes(connection, status, limit, offset)
        return {"items": [_out(row) for row in rows], "total": total, "limit": limit, "offset": offset}

    @router.get("/billing/disputes/{dispute_id}", response_model=DisputeOut, responses=error_responses(404),
                tags=["billing"])
    def get_dispute(dispute_id: RowId) -> dict[str, Any]:
        """One driver's dispute of an invoice, with its state and history."""
        with engine.connect() as connection:
            return _out(found(connection, dispute_id))

    def operator_name(request: Request, given: str | None) -> str | None:
        operator = getattr(request.state, "operator", None)
        return given or (operator.username if operator is not None else None)

    @router.post("/billing/disputes/{dispute_id}/reject", response_model=DisputeOut,
                 responses=error_responses(404, 409), tags=["billing"])
    async def reject(dispute_id: RowId, body: RejectIn, request: Request) -> dict[str, Any]:
        """The invoice stands: the reason is shown on the driver's session page and e-mailed to them."""
        by = operator_name(request, body.by)

        def save() -> dict[str, Any]:
            with engine.begin() as connection:
                found(connection, dispute_id)
                try:
                    store.decide(connection, dispute_id, "rejected", by, body.reason, biller.now())
                except store.DisputeConflict as exc:
                    raise HTTPException(409, str(exc)) from None
            return tell_driver(dispute_id)

        out = await asyncio.to_thread(save)
        publish(out)
        return out

    @router.post("/billing/disputes/{dispute_id}/accept", response_model=DisputeOut,
                 responses=error_responses(404, 409), tags=["billing"])
    async def accept(dispute_id: RowId, body: AcceptIn, request: Request) -> dict[str, Any]:
        """Correct the invoice: a credit note cancels it and, when the session is still billable (as measured,
        with the stated energy or another tariff), a corrected invoice is issued; both get the next numbers."""
        by = operator_name(request, body.by)

        def save() -> dict[str, Any]:
            with engine.connect() as connection:
                row = found(connection, dispute_id)
            if row.status != "open":
                raise HTTPException(409, f"dispute {dispute_id} is not open")

            def decided(connection: Connection, credit_note: str, new_invoice: str | None) -> None:
                store.decide(connection, dispute_id, "accepted", by, body.reason, biller.now(), credit_note,
                             new_invoice)

            reason = f"dispute {dispute_id}: {body.reason}"
            try:
                try:
                    biller.credit(row.invoice_number, reason, reissue=body.reissue, energy_wh=body.energy_wh,
                                  tariff_id=body.tariff_id, also=decided)
                except billing_store.BillingConflict:
                    # Not billable again (e.g. the meter data need a check): credit only; the session waits in
                    # the review queue. A wrong tariff or an invoice corrected meanwhile is the operator's to fix.
                    if not body.reissue or body.tariff_id is not None or not in_force(row):
                        raise
                    log.warning("dispute %d: session %d cannot be billed again; credited only", dispute_id,
                                row.transaction_id)
                    biller.credit(row.invoice_number, reason, reissue=False, also=decided)
            except (billing_store.BillingConflict, store.DisputeConflict) as exc:
                raise HTTPException(409, str(exc)) from None
            except LookupError as exc:
                raise HTTPException(404, str(exc)) from None
            return tell_driver(dispute_id)

        out = await asyncio.to_thread(save)
        publish(out)
        return out

    def in_force(row: Row[Any]) -> bool:
        with engine.connect() as connection:
            bill = billing_store.bill_of(connection, row.transaction_id)
        return bill is not None and bill["invoice_number"] == row.invoice_number

    @router.get("/driver/{token}/billing-dispute", response_model=DriverDisputeOut, responses=error_responses(404),
                tags=["billing (driver)"])
    def driver_dispute(token: str) -> dict[str, Any]:
        """The driver's latest dispute of this session's invoice and its outcome (null when there is none)."""
        transaction_id = transaction_of(secret, token)
        if transaction_id is None:
            raise HTTPException(404, "unknown session link")
        with engine.connect() as connection:
            row = store.latest_of_session(connection, transaction_id)
        return {"dispute": _out(row) if row is not None else None}

    return router
