"""Support over HTTP: a conversation per charging session between its driver and the operator, each site's
helpline, and response times per station.

The driver's routes (``/api/v1/driver/{token}/support…``) are authenticated by the session's driver link token
(`sessions/links.py`), like the driver page and the feedback form; the operator's under ``/api/v1/support`` and
``/api/v1/sites`` need an operator (see `auth`). Every message is published on the event bus
(``support.message``, ``support.resolved``), so the operator console (``/api/v1/events``) and the driver page
(``/s/{token}/events``) update live.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, Row

from ..domain.events import SupportMessage, SupportResolved
from ..feedback.errors import FieldValidationError
from ..feedback.support import (
    MAX_HOURS_LENGTH,
    MAX_MESSAGE_LENGTH,
    Author,
    ConversationStatus,
    SiteSupport,
    parse_message,
    parse_site_support,
    response_times,
    still_stuck,
)
from ..gateway.events import EventBus
from ..sessions.links import transaction_of
from ..store import feedback as feedback_store
from ..store import support as store
from .errors import error_responses
from .feedback import FeedbackConfig, RateLimit
from .models import Offset, RowId, Timestamp

log = logging.getLogger(__name__)

SiteId = Annotated[str, Path(max_length=64, description="chargers.site_id, or a charger id for a charger without one")]

# ------------------------------------------------------------------ shapes


class MessageIn(BaseModel):
    body: str = Field(min_length=1, max_length=MAX_MESSAGE_LENGTH, description="the message text")


class MessageOut(BaseModel):
    id: int
    author: Literal["driver", "operator"]
    operator: str | None = None
    body: str
    sent_at: datetime
    source: Literal["web", "email"] = Field("web", description="written on the session page/console, or e-mailed")


class SiteIn(BaseModel):
    helpline: str = Field(max_length=40, description="phone number, e.g. +49 30 1234567")
    hours: str = Field(max_length=MAX_HOURS_LENGTH, description="support hours as shown to drivers")
    languages: list[Annotated[str, Field(max_length=2)]] = Field(default=["en"], max_length=20)
    chat: bool = Field(True, description="offer the support conversation on the session page")


class SiteOut(BaseModel):
    site_id: str
    helpline: str
    hours: str
    languages: list[str]
    chat: bool


class LinksOut(BaseModel):
    incidents: list[int] = Field(description="numbers of the session's incidents")
    feedback_overall: int | None = Field(description="the driver's overall rating of the session, if given")


class ConversationOut(BaseModel):
    id: int
    transaction_id: int
    charger_id: str
    station_id: str
    status: Literal["waiting", "answered", "resolved"]
    opened_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None
    reachable_by_email: bool = Field(False, description="operator answers are e-mailed to the driver too")
    messages: list[MessageOut] = []
    links: LinksOut | None = None


class ConversationPage(BaseModel):
    items: list[ConversationOut]
    total: int
    limit: int
    offset: int


class DriverSupportOut(BaseModel):
    transaction_id: int
    site: SiteOut | None
    still_stuck: str | None = Field(description="'Still stuck? Call … or chat …' in the driver's language")
    conversation: ConversationOut | None


class ResponseTimesOut(BaseModel):
    station_id: str
    conversations: int
    waiting_for_first_response: int
    unresolved: int
    median_first_response_seconds: float | None
    max_first_response_seconds: float | None
    median_resolution_seconds: float | None


class ResolveIn(BaseModel):
    by: str | None = Field(default=None, max_length=64)


# ------------------------------------------------------------------ helpers


def _site_out(site: SiteSupport) -> dict[str, Any]:
    return site.to_record()


def _message_out(row: Row[Any]) -> dict[str, Any]:
    return {"id": row.id, "author": row.author, "operator": row.operator, "body": row.body, "sent_at": row.sent_at,
            "source": row.source}


def _conversation_out(connection: Connection, row: Row[Any], *, full: bool = True) -> dict[str, Any]:
    out = {name: value for name, value in row._mapping.items() if name in ConversationOut.model_fields}
    out["reachable_by_email"] = bool(row.driver_email) or feedback_store.contact_email(
        connection, row.transaction_id) is not None
    if full:
        out["messages"] = [_message_out(m) for m in store.messages(connection, row.id)]
        out["links"] = store.links(connection, row.transaction_id)
    return out


def _unprocessable(error: FieldValidationError) -> HTTPException:
    return HTTPException(422, error.as_dicts())


def publish(bus: EventBus, conversation: Row[Any], message: Row[Any] | None = None) -> None:
    """A new ``message`` in the conversation (:class:`SupportMessage`), else the conversation resolved
    (:class:`SupportResolved`), on the bus: the console and the driver page update live."""
    about = (conversation.id, conversation.transaction_id, conversation.charger_id, conversation.station_id,
             conversation.status)
    if message is None:
        bus.publish(SupportResolved(*about))
    else:
        bus.publish(SupportMessage(*about, message.id, message.author, message.operator, message.body,
                                   message.sent_at, message.source))


def driver_email_of(connection: Connection, conversation: Row[Any]) -> str | None:
    """Where the driver reads mail: the address they e-mailed from, else the contact left with their feedback."""
    return conversation.driver_email or feedback_store.contact_email(connection, conversation.transaction_id)


def session_subject(transaction_id: int, charger_id: str) -> str:
    return f"Your charging session {transaction_id} at {charger_id}"


def answer_mail(connection: Connection, config: FeedbackConfig, conversation: Row[Any], text: str,
                now: datetime) -> EmailMessage | None:
    """The operator's answer as an e-mail to the driver, threaded under the conversation's earlier mails and
    with the session's reply address (None when there is no address or no mail set up)."""
    to = driver_email_of(connection, conversation)
    if to is None or config.mailer is None or config.support_address is None:
        return None
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = f"Re: {session_subject(conversation.transaction_id, conversation.charger_id)}"
    message.set_content(f"{text}\n\n-- \nReply to this e-mail to answer: your reply reaches us in the support "
                        f"conversation of charging session {conversation.transaction_id}.\n")
    message_id = config.support_address.thread(message, conversation.transaction_id,
                                               store.email_thread(connection, conversation.id))
    store.remember_email(connection, conversation.id, message_id, "out", now)
    return message


def send_mail(config: FeedbackConfig, message: EmailMessage | None, what: str) -> bool:
    """Deliver (blocking, in a worker thread); a failure is logged, the stored message stays."""
    if message is None or config.mailer is None:
        return False
    try:
        config.mailer(message)
    except Exception:  # noqa: BLE001 - delivery is best effort; the conversation has the message
        log.warning("%s could not be e-mailed", what, exc_info=True)
        return False
    return True


def support_router(engine: Engine, bus: EventBus, secret: bytes, config: FeedbackConfig) -> APIRouter:
    router = APIRouter()
    driver_limit = RateLimit(30, timedelta(minutes=1))

    def session_of(connection: Connection, token: str) -> Row[Any]:
        transaction_id = transaction_of(secret, token)
        session = feedback_store.session_row(connection, transaction_id) if transaction_id is not None else None
        if session is None:
            raise HTTPException(404, "unknown session link")
        return session

    def limited(request: Request, token: str) -> None:
        client = request.client.host if request.client else "?"
        wait = driver_limit.retry_after((client, token), config.clock())
        if wait is not None:
            raise HTTPException(429, "too many messages for this session; try again later",
                                headers={"Retry-After": str(max(1, math.ceil(wait)))})

    # -------------------------------------------------------------- driver

    @router.get("/api/v1/driver/{token}/support", response_model=DriverSupportOut,
                responses=error_responses(404), tags=["support (driver)"])
    def driver_support(token: str, lang: Annotated[str, Query(pattern="^[a-z]{2}$")] = "en") -> dict[str, Any]:
        """The site's helpline and hours, and this session's support conversation (null until the driver writes).

        Not rate-limited: the driver page reads it on every live refresh; only writing is (30 a minute)."""
        with engine.connect() as connection:
            session = session_of(connection, token)
            site = store.site_for_charger(connection, session.charger_id)
            row = store.conversation_of_session(connection, session.transaction_id)
            return {"transaction_id": session.transaction_id, "site": _site_out(site) if site else None,
                    "still_stuck": still_stuck(site, lang),
                    "conversation": _conversation_out(connection, row) if row else None}

    @router.post("/api/v1/driver/{token}/support/messages", response_model=ConversationOut, status_code=201,
                 responses=error_responses(404, 422, 429), tags=["support (driver)"])
    async def driver_message(token: str, body: MessageIn, request: Request) -> dict[str, Any]:
        """Write to the operator about this session; the first message opens the conversation."""
        limited(request, token)
        try:
            text = parse_message(body.model_dump())
        except FieldValidationError as error:
            raise _unprocessable(error) from None
        now = config.clock()

        def save() -> tuple[dict[str, Any], Row[Any], Row[Any]]:
            with engine.begin() as connection:
                session = session_of(connection, token)
                row = store.open_conversation(connection, session.transaction_id, session.charger_id, now)
                message = store.add_message(connection, row, Author.DRIVER, text, None, now)
                row = store.conversation(connection, row.id)  # type: ignore[assignment]
                return _conversation_out(connection, row), row, message

        out, row, message = await asyncio.to_thread(save)
        publish(bus, row, message)
        return out

    # -------------------------------------------------------------- operator: conversations

    @router.get("/api/v1/support/conversations", response_model=ConversationPage, tags=["support"])
    def list_conversations(
        status: ConversationStatus | None = None,
        station: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """Conversations, most recently active first; ``status=waiting`` is the queue of drivers owed an answer."""
        with engine.connect() as connection:
            rows, total = store.list_conversations(connection, status.value if status else None, station, limit,
                                                   offset)
            items = [_conversation_out(connection, row) for row in rows]
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    def conversation_or_404(connection: Connection, conversation_id: int) -> Row[Any]:
        row = store.conversation(connection, conversation_id)
        if row is None:
            raise HTTPException(404, f"conversation {conversation_id} not found")
        return row

    @router.get("/api/v1/support/conversations/{conversation_id}", response_model=ConversationOut,
                responses=error_responses(404), tags=["support"])
    def get_conversation(conversation_id: RowId) -> dict[str, Any]:
        """One conversation with its messages and what it is linked to (the session's incidents and feedback)."""
        with engine.connect() as connection:
            return _conversation_out(connection, conversation_or_404(connection, conversation_id))

    @router.post("/api/v1/support/conversations/{conversation_id}/messages", response_model=ConversationOut,
                 status_code=201, responses=error_responses(404, 422), tags=["support"])
    async def operator_message(conversation_id: RowId, body: MessageIn, request: Request) -> dict[str, Any]:
        """Answer the driver; the first answer sets the conversation's first response time."""
        try:
            text = parse_message(body.model_dump())
        except FieldValidationError as error:
            raise _unprocessable(error) from None
        operator = getattr(request.state, "operator", None)
        name = operator.username if operator is not None else None
        now = config.clock()

        def save() -> tuple[dict[str, Any], Row[Any], Row[Any], EmailMessage | None]:
            with engine.begin() as connection:
                row = conversation_or_404(connection, conversation_id)
                message = store.add_message(connection, row, Author.OPERATOR, text, name, now)
                row = conversation_or_404(connection, conversation_id)
                mail = answer_mail(connection, config, row, text, now)
                return _conversation_out(connection, row), row, message, mail

        out, row, message, mail = await asyncio.to_thread(save)
        publish(bus, row, message)
        await asyncio.to_thread(send_mail, config, mail, f"answer in support conversation {conversation_id}")
        return out

    @router.post("/api/v1/support/conversations/{conversation_id}/resolve", response_model=ConversationOut,
                 responses=error_responses(404), tags=["support"])
    async def resolve(conversation_id: RowId, request: Request, body: ResolveIn | None = None) -> dict[str, Any]:
        """Mark the conversation resolved (a later message from either side reopens it)."""
        operator = getattr(request.state, "operator", None)
        by = (body.by if body else None) or (operator.username if operator is not None else None)
        now = config.clock()

        def save() -> tuple[dict[str, Any], Row[Any]]:
            with engine.begin() as connection:
                conversation_or_404(connection, conversation_id)
                store.resolve(connection, conversation_id, by, now)
                row = conversation_or_404(connection, conversation_id)
                return _conversation_out(connection, row), row

        out, row = await asyncio.to_thread(save)
        publish(bus, row)
        return out

    @router.get("/api/v1/support/response-times", response_model=list[ResponseTimesOut], tags=["support"])
    def times(since: Timestamp | None = None, until: Timestamp | None = None) -> list[dict[str, Any]]:
        """First response and resolution times per station, of conversations opened in [since, until)."""
        with engine.connect() as connection:
            found = store.conversation_times(connection, since, until)
        return [{"station_id": t.station_id, "conversations": t.conversations,
                 "waiting_for_first_response": t.waiting_for_first_response, "unresolved": t.unresolved,
                 "median_first_response_seconds": t.median_first_response_seconds,
                 "max_first_response_seconds": t.max_first_response_seconds,
                 "median_resolution_seconds": t.median_resolution_seconds} for t in response_times(found)]

    # -------------------------------------------------------------- operator: site support records

    @router.get("/api/v1/sites/support", response_model=list[SiteOut], tags=["support"])
    def list_sites() -> list[dict[str, Any]]:
        """Every site's helpline, hours and languages (a charger without ``site_id`` is its own site)."""
        with engine.connect() as connection:
            return [_site_out(site) for site in store.sites(connection)]

    @router.get("/api/v1/sites/{site_id}/support", response_model=SiteOut, responses=error_responses(404),
                tags=["support"])
    def get_site(site_id: SiteId) -> dict[str, Any]:
        """A site's support record: helpline, support hours, languages and whether chat is offered."""
        with engine.connect() as connection:
            site = store.site(connection, site_id)
        if site is None:
            raise HTTPException(404, f"no support record for site {site_id!r}")
        return _site_out(site)

    @router.put("/api/v1/sites/{site_id}/support", response_model=SiteOut,
                responses={201: {"model": SiteOut, "description": "created"}, **error_responses(422)},
                tags=["support"])
    def put_site(site_id: SiteId, body: SiteIn, response: Response) -> dict[str, Any]:
        """Create or replace a site's helpline, hours and languages."""
        try:
            site = parse_site_support(site_id, body.model_dump())
        except FieldValidationError as error:
            raise _unprocessable(error) from None
        with engine.begin() as connection:
            if store.put_site(connection, site, config.clock()):
                response.status_code = 201
        return _site_out(site)

    @router.delete("/api/v1/sites/{site_id}/support", status_code=204, responses=error_responses(404),
                   tags=["support"])
    def delete_site(site_id: SiteId) -> Response:
        """Delete a site's support record (helpline, hours, languages)."""
        with engine.begin() as connection:
            if not store.delete_site(connection, site_id):
                raise HTTPException(404, f"no support record for site {site_id!r}")
        return Response(status_code=204)

    return router
