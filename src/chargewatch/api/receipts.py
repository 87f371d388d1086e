"""The receipt by e-mail: the driver asks on their session page for the invoice PDF at an address they give.

The address is used for this one mail and not stored. The mail carries the session's support reply address
(``Reply-To: support+<token>@…``) and a threading Message-ID, so a driver who answers it writes in the
session's support conversation (see `notify.inbound`, `workers.support`).
"""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from ..feedback.errors import FieldError, FieldValidationError
from ..feedback.submission import normalise_email
from ..sessions.links import transaction_of
from ..store import billing as billing_store
from .errors import error_responses
from .feedback import FeedbackConfig, RateLimit
from .support import send_mail, session_subject

if TYPE_CHECKING:
    from ..workers.billing import Biller

_TEXT = {
    "en": ("Your receipt {number}",
           "Thank you for charging with us. Your receipt {number} for charging session {tx} at {charger} is "
           "attached.\n\nYour session page: {url}\n\n-- \nA question about this charge? Reply to this e-mail.\n"),
    "de": ("Ihr Beleg {number}",
           "Vielen Dank für Ihren Ladevorgang. Anbei Ihr Beleg {number} für den Ladevorgang {tx} an {charger}."
           "\n\nIhre Ladeseite: {url}\n\n-- \nFragen zu diesem Ladevorgang? Antworten Sie einfach auf diese E-Mail.\n"),
}


class ReceiptMailIn(BaseModel):
    email: str = Field(min_length=3, max_length=254, description="where to send the receipt (not stored)")
    lang: Literal["en", "de"] = "en"


class ReceiptMailOut(BaseModel):
    invoice_number: str
    email: Literal["sent", "failed", "not_configured"]


def receipt_router(engine: Engine, secret: bytes, biller: Biller, config: FeedbackConfig) -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    limit = RateLimit(5, timedelta(hours=1))

    @router.post("/driver/{token}/receipt/email", response_model=ReceiptMailOut,
                 responses=error_responses(404, 422, 429), tags=["billing (driver)"])
    async def mail_receipt(token: str, body: ReceiptMailIn, request: Request) -> dict[str, Any]:
        """E-mail the session's receipt (PDF) to the driver; answering that e-mail reaches support."""
        transaction_id = transaction_of(secret, token)
        if transaction_id is None:
            raise HTTPException(404, "unknown session link")
        try:
            to = normalise_email(body.email)
        except ValueError as error:
            raise HTTPException(422, FieldValidationError([FieldError("email", str(error))]).as_dicts()) from None
        client = request.client.host if request.client else "?"
        wait = limit.retry_after((client, token), config.clock())
        if wait is not None:
            raise HTTPException(429, "too many receipt e-mails for this session; try again later",
                                headers={"Retry-After": str(max(1, math.ceil(wait)))})

        def build() -> tuple[str, EmailMessage | None]:
            with engine.connect() as connection:
                bill = billing_store.bill_of(connection, transaction_id)
                record = billing_store.invoice_record(connection, bill["invoice_number"]) \
                    if bill is not None and bill["invoice_number"] else None
            number = bill["invoice_number"] if bill is not None and bill["status"] == "issued" else None
            if not number:
                raise HTTPException(404, "no receipt for this session (yet)")
            if config.mailer is None:
                return number, None
            pdf = biller.pdf(number, body.lang)
            assert pdf is not None
            subject, text = _TEXT[body.lang]
            message = EmailMessage()
            message["To"] = to
            charger = record["charger_id"] if record is not None else "?"
            message["Subject"] = f"{subject.format(number=number)} · {session_subject(transaction_id, charger)}"
            message.set_content(text.format(number=number, tx=transaction_id, charger=charger,
                                            url=biller.driver_url(transaction_id)))
            message.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"receipt-{number}.pdf")
            if config.support_address is not None:
                config.support_address.thread(message, transaction_id)
            return number, message

        number, message = await asyncio.to_thread(build)
        if message is None:
            return {"invoice_number": number, "email": "not_configured"}
        sent = await asyncio.to_thread(send_mail, config, message, f"receipt {number}")
        return {"invoice_number": number, "email": "sent" if sent else "failed"}

    return router
