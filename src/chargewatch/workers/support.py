"""Support in the running server: the driver/operator conversation routes, the site helplines, and support by
e-mail — the built-in SMTP receiver that turns a driver's reply to a receipt or answer e-mail into a message
of that session's conversation.

Shares the feedback settings (`cw.app.state.feedback`: its clock, mailer and support address), so it is
installed after feedback.

Settings (environment):

- ``CHARGEWATCH_SUPPORT_ADDRESS`` — the support mailbox, e.g. ``support@operator.example``: mail to drivers
  gets ``Reply-To: support+<token>@operator.example`` (see `notify.inbound`). Without it, no reply address.
- ``CHARGEWATCH_SUPPORT_SMTP_PORT`` — start the receiver on this port (unset: no receiver; 0: a free port);
  ``CHARGEWATCH_SUPPORT_SMTP_HOST`` (default 127.0.0.1: the operator's MTA, e.g. Postfix with
  ``support+*`` routed by a transport map to ``smtp:[127.0.0.1]:2525``, delivers to it);
  ``CHARGEWATCH_SUPPORT_SMTP_MAX_BYTES`` (default 10 MiB; larger mail is refused with 552).

Why an SMTP receiver rather than polling a mailbox over IMAP: it answers at RCPT time, so a forged or
unknown address is refused by the sending server's own bounce (no backscatter from us, nothing attached to
a wrong conversation), it is immediate (the conversation is live), and it needs no mailbox password stored
in chargewatch. An operator whose mail is hosted forwards ``support+*`` to it.

What the receiver does with a message (each counted in ``chargewatch_support_mail_total{outcome}``):
the conversation is the one named by the token in a recipient, else by our Message-ID in In-Reply-To /
References; none → 550 (bounced by the sender's server, logged). Automatic mail (auto-replies, bounces, lists)
→ 250 and dropped, so no loop. A redelivered Message-ID is taken once.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import Engine, Row

from .. import settings
from ..api.feedback import FeedbackConfig, RateLimit
from ..api.support import publish, support_router
from ..feedback.support import MAX_MESSAGE_LENGTH, Author
from ..gateway.events import EventBus
from ..notify.inbound import InboundMail, SupportAddress, parse
from ..store import feedback as feedback_store
from ..store import support as store

if TYPE_CHECKING:
    from ..runtime import Chargewatch

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class ReceiverConfig:
    host: str = "127.0.0.1"
    port: int = 2525
    max_bytes: int = DEFAULT_MAX_BYTES

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ReceiverConfig | None:
        if not env.get("CHARGEWATCH_SUPPORT_SMTP_PORT", "").strip():
            return None
        return cls(host=env.get("CHARGEWATCH_SUPPORT_SMTP_HOST", "").strip() or "127.0.0.1",
                   port=settings.integer(env, "CHARGEWATCH_SUPPORT_SMTP_PORT", 0),  # 0: a free port
                   max_bytes=settings.integer(env, "CHARGEWATCH_SUPPORT_SMTP_MAX_BYTES", DEFAULT_MAX_BYTES,
                                              above=True))


def support_address_from_env(env: Mapping[str, str], secret: bytes) -> SupportAddress | None:
    mailbox = env.get("CHARGEWATCH_SUPPORT_ADDRESS", "").strip()
    return SupportAddress(mailbox, secret) if mailbox else None


@dataclass(frozen=True)
class Outcome:
    reply: str  # the SMTP reply
    outcome: str  # stored | duplicate | automatic | empty | limited | unknown
    conversation: Row[Any] | None = None
    message: Row[Any] | None = None


def _body(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_LENGTH else text[:MAX_MESSAGE_LENGTH - 1].rstrip() + "…"


class SupportMailbox:
    """Turns one inbound e-mail into a driver message of the right conversation (or refuses it)."""

    def __init__(self, engine: Engine, bus: EventBus, address: SupportAddress, clock: Callable[[], datetime],
                 registry: CollectorRegistry | None = None):
        self.engine, self.bus, self.address, self.clock = engine, bus, address, clock
        self.limit = RateLimit(30, timedelta(minutes=1))  # per conversation, as for web messages
        self.counted = Counter("chargewatch_support_mail", "Inbound support e-mail by outcome", ["outcome"],
                               registry=registry or CollectorRegistry())

    def check_recipient(self, recipient: str) -> str | None:
        """An SMTP refusal for a recipient we do not take, else None (the bare mailbox is taken: the
        conversation may be found by In-Reply-To)."""
        if not self.address.is_ours(recipient):
            return "550 5.1.1 not a support address of this server"
        local = recipient.rpartition("@")[0]
        if self.address.separator in local and self.address.transaction_of_address(recipient) is None:
            log.warning("support mail to unknown address %s refused", recipient)
            self.counted.labels("unknown").inc()
            return "550 5.1.1 unknown support conversation address"
        return None

    def receive(self, raw: bytes, envelope_sender: str | None, recipients: list[str]) -> Outcome:
        mail = parse(raw, envelope_sender)
        if mail.automatic is not None:
            log.info("automatic mail from %s ignored (%s)", mail.sender or envelope_sender, mail.automatic)
            return Outcome("250 2.0.0 accepted (automatic mail is not answered)", "automatic")
        transaction_id = next((found for found in map(self.address.transaction_of_address, recipients)
                               if found is not None), None)
        if transaction_id is None:
            transaction_id = self.address.transaction_of_message_ids(mail.replying_to)
        now = self.clock()
        with self.engine.begin() as connection:
            session = feedback_store.session_row(connection, transaction_id) if transaction_id is not None else None
            if session is None:
                log.warning("support mail from %s (%s) names no known session: refused", mail.sender,
                            mail.message_id)
                return Outcome("550 5.1.1 no support conversation for this message", "unknown")
            if mail.message_id is not None and store.email_seen(connection, mail.message_id):
                return Outcome("250 2.0.0 already received", "duplicate")
            if not mail.text:
                log.info("support mail %s for session %d has no text of its own", mail.message_id, transaction_id)
                return Outcome("250 2.0.0 accepted (no text)", "empty")
            if self.limit.retry_after(("mail", str(session.transaction_id)), now) is not None:
                # A temporary refusal: the sending server keeps the mail and retries later.
                return Outcome("452 4.7.1 too many messages for this conversation, try again later", "limited")
            return self._store(connection, session, mail, now)

    def _store(self, connection: Any, session: Row[Any], mail: InboundMail, now: datetime) -> Outcome:
        conversation = store.open_conversation(connection, session.transaction_id, session.charger_id, now)
        message = store.add_message(connection, conversation, Author.DRIVER, _body(mail.text), None, now,
                                    source="email")
        if mail.message_id is not None:
            store.remember_email(connection, conversation.id, mail.message_id, "in", now)
        if mail.sender and not conversation.driver_email:
            store.set_driver_email(connection, conversation.id, mail.sender)
        return Outcome("250 2.0.0 message added to the support conversation", "stored",
                       store.conversation(connection, conversation.id), message)


class _Handler:
    """aiosmtpd handler: recipients checked at RCPT, the message at DATA (database work in a thread)."""

    def __init__(self, mailbox: SupportMailbox) -> None:
        self.mailbox = mailbox

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        refusal = self.mailbox.check_recipient(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        try:
            outcome = await asyncio.to_thread(self.mailbox.receive, raw, envelope.mail_from, list(envelope.rcpt_tos))
        except Exception:  # noqa: BLE001 - a temporary failure: the sending server keeps the mail and retries
            log.exception("support mail could not be stored")
            self.mailbox.counted.labels("error").inc()
            return "451 4.3.0 temporary failure, try again later"
        self.mailbox.counted.labels(outcome.outcome).inc()
        if outcome.conversation is not None and outcome.message is not None:
            publish(self.mailbox.bus, outcome.conversation, outcome.message)
        return outcome.reply


class SupportReceiver:
    """The SMTP listener on the server's own event loop."""

    def __init__(self, mailbox: SupportMailbox, config: ReceiverConfig) -> None:
        self.mailbox, self.config = mailbox, config
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        handler = _Handler(self.mailbox)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(handler, data_size_limit=self.config.max_bytes, enable_SMTPUTF8=True,
                         hostname=self.mailbox.address.domain, ident="chargewatch support"),
            host=self.config.host, port=self.config.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("support mail receiver on %s:%d", self.config.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def install(cw: Chargewatch) -> None:
    config = getattr(cw.app.state, "feedback", None) or FeedbackConfig()
    env = os.environ
    if config.support_address is None:
        config.support_address = support_address_from_env(env, cw.services.secret)
    cw.app.include_router(support_router(cw.engine, cw.bus, cw.services.secret, config))
    receiving = ReceiverConfig.from_env(env)
    if receiving is None:
        return
    if config.support_address is None:
        raise ValueError("CHARGEWATCH_SUPPORT_SMTP_PORT needs CHARGEWATCH_SUPPORT_ADDRESS (the support mailbox)")
    mailbox = SupportMailbox(cw.engine, cw.bus, config.support_address, lambda: config.clock(),
                             cw.gateway.metrics.registry)
    receiver = SupportReceiver(mailbox, receiving)
    cw.app.state.support_receiver = receiver
    cw.on_start(receiver.start)
    cw.on_stop(receiver.stop)
