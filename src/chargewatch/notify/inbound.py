"""Support by e-mail: the reply address and Message-IDs of what we send, and reading what drivers send back.

Every e-mail that may start or continue a support conversation (the receipt, a feedback reply, an operator's
answer) carries

- ``Reply-To: support+<token>@operator-domain`` (plus addressing; the token is the session's reply token,
  `sessions.links.reply_token`, an HMAC under the instance secret: unguessable, lower case so that mail
  systems that fold the local part's case keep it working), and
- ``Message-ID: <cw.<token>.<random>@operator-domain>``, so that a reply whose recipient lost the token (sent
  to the bare support address, forwarded, an old client) still finds its conversation by ``In-Reply-To`` /
  ``References``, without a lookup table.

A driver's reply is parsed with the stdlib `email` package (policy.default): the text/plain part (else the
HTML part as text), without the quoted earlier messages and the signature (`mailparser_reply`, EN and DE
reply headers of Gmail, Outlook and Apple Mail, plus the mobile "Sent from my iPhone" lines it keeps).
Automatic mail (auto-replies, out-of-office, bounces, lists) is recognised so that it never enters a
conversation: answering it would start a mail loop.
"""

from __future__ import annotations

import functools
import re
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser
from typing import Any

from ..sessions.links import reply_token, transaction_of_reply_token

_LANGUAGES = ["en", "de"]

# Mobile clients' sign-offs that mailparser_reply leaves in (it knows "Sent from my iPhone" only in English).
_MOBILE_SIGNOFF = re.compile(
    r"^\s*(sent from my \w[\w ]{0,30}|von meinem \w[\w ]{0,30} gesendet|gesendet von meinem \w[\w ]{0,30}"
    r"|get outlook for \w+|outlook für \w+ beziehen|gesendet von outlook für \w+|sent from outlook for \w+"
    r"|sent from (yahoo )?mail for \w+)\s*$", re.IGNORECASE)
_MESSAGE_ID = re.compile(r"<([^<>\s]{1,250})>")


@dataclass(frozen=True, slots=True)
class SupportAddress:
    """The operator's support mailbox ``support@operator.example`` and the per-session addresses below it."""

    mailbox: str
    secret: bytes
    separator: str = "+"

    def __post_init__(self) -> None:
        local, at, domain = self.mailbox.rpartition("@")
        if not at or not local or not domain or self.separator in local:
            raise ValueError(f"support address {self.mailbox!r} must look like support@operator.example")

    @property
    def local(self) -> str:
        return self.mailbox.rpartition("@")[0]

    @property
    def domain(self) -> str:
        return self.mailbox.rpartition("@")[2].lower()

    def reply_to(self, transaction_id: int) -> str:
        return f"{self.local}{self.separator}{reply_token(self.secret, transaction_id)}@{self.domain}"

    def new_message_id(self, transaction_id: int) -> str:
        return f"<cw.{reply_token(self.secret, transaction_id)}.{secrets.token_hex(8)}@{self.domain}>"

    def is_ours(self, address: str) -> bool:
        """An address of the support mailbox (with or without a token)."""
        local, _, domain = address.strip().rpartition("@")
        base = local.split(self.separator, 1)[0]
        return domain.lower() == self.domain and base.lower() == self.local.lower()

    def transaction_of_address(self, address: str) -> int | None:
        """The session of ``support+<token>@domain``; None for the bare mailbox, another address or a bad token."""
        if not self.is_ours(address):
            return None
        local = address.strip().rpartition("@")[0]
        _, separator, token = local.partition(self.separator)
        return transaction_of_reply_token(self.secret, token) if separator else None

    def transaction_of_message_ids(self, message_ids: Iterable[str]) -> int | None:
        """The session named by the newest of our Message-IDs among ``message_ids`` (In-Reply-To first)."""
        for message_id in message_ids:
            local, _, domain = message_id.strip("<>").rpartition("@")
            parts = local.split(".")
            if domain.lower() == self.domain and len(parts) == 3 and parts[0] == "cw":
                found = transaction_of_reply_token(self.secret, parts[1])
                if found is not None:
                    return found
        return None

    def thread(self, message: EmailMessage, transaction_id: int, replying_to: Sequence[str] = ()) -> str:
        """Give an outgoing ``message`` the session's Reply-To and a Message-ID (threaded under ``replying_to``,
        oldest first, when it answers earlier mails); the Message-ID is returned so that it can be stored."""
        message_id = self.new_message_id(transaction_id)
        del message["Reply-To"], message["Message-ID"], message["In-Reply-To"], message["References"]
        message["Reply-To"] = Address(addr_spec=self.reply_to(transaction_id))
        message["Message-ID"] = message_id
        if replying_to:
            message["In-Reply-To"] = replying_to[-1]
            message["References"] = " ".join(replying_to[-20:])
        return message_id


@dataclass(frozen=True, slots=True)
class InboundMail:
    sender: str  # the From address (lower case), where an operator's answer goes
    subject: str
    message_id: str | None
    replying_to: tuple[str, ...]  # In-Reply-To, then References newest first
    text: str  # the new text only: no quoted reply, no signature
    automatic: str | None  # why it is automatic mail (never enters a conversation), else None


def parse(raw: bytes, envelope_sender: str | None = None) -> InboundMail:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    sender = parseaddr(str(message.get("From", "")))[1].lower()
    in_reply_to = _MESSAGE_ID.findall(str(message.get("In-Reply-To", "")))
    references = list(reversed(_MESSAGE_ID.findall(str(message.get("References", "")))))
    own = _MESSAGE_ID.findall(str(message.get("Message-ID", "")))
    return InboundMail(sender=sender, subject=str(message.get("Subject", "")),
                       message_id=f"<{own[0]}>" if own else None,
                       replying_to=tuple(dict.fromkeys(f"<{m}>" for m in [*in_reply_to, *references])),
                       text=latest_reply(body_text(message)), automatic=automatic(message, envelope_sender))


def automatic(message: EmailMessage, envelope_sender: str | None = None) -> str | None:
    """Why ``message`` was sent by a machine (RFC 3834 Auto-Submitted, Precedence, bounce senders, delivery
    reports, vacation headers), else None."""
    submitted = str(message.get("Auto-Submitted", "no")).strip().lower()
    if submitted and submitted != "no":
        return f"Auto-Submitted: {submitted}"
    precedence = str(message.get("Precedence", "")).strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    for header in ("X-Autoreply", "X-Autorespond", "X-Auto-Response", "List-Id", "List-Unsubscribe"):
        if header in message:
            return f"{header} header"
    if str(message.get("X-Auto-Response-Suppress", "")).strip().lower() in ("all", "oof", "autoreply") and (
            "automatic reply" in str(message.get("Subject", "")).lower()
            or "automatische antwort" in str(message.get("Subject", "")).lower()):
        return "Outlook automatic reply"
    if envelope_sender is not None and envelope_sender.strip("<> ") == "":
        return "null envelope sender (a bounce)"
    if message.get_content_type() == "multipart/report":
        return "delivery report"
    senders = [address.lower() for _, address in getaddresses([str(message.get("From", "")),
                                                                str(message.get("Sender", ""))])]
    if envelope_sender:
        senders.append(envelope_sender.strip("<>").lower())
    for address in senders:
        local = address.rpartition("@")[0]
        if local in ("mailer-daemon", "postmaster") or local.startswith(("noreply", "no-reply", "do-not-reply")):
            return f"sender {address}"
    return None


class _Text(HTMLParser):
    """HTML to text: block elements become line breaks, quoted blocks (blockquote, Gmail's gmail_quote,
    Outlook's divRplyFwdMsg and everything after it) are dropped, as are style and script."""

    _BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._stack: list[bool] = []
        self._stopped = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._stopped:
            return
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if attributes.get("id") in ("divRplyFwdMsg", "appendonsend") or "gmail_quote" in classes:
            self._stopped = True  # everything from Outlook's reply header or Gmail's quote on is history
            return
        if tag in ("br",):
            self.parts.append("\n")
            return
        quoted = tag in ("blockquote", "style", "script", "head") or attributes.get("type") == "cite"
        self._stack.append(quoted)
        self._skip += quoted
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._stopped or tag == "br" or not self._stack:
            return
        self._skip -= self._stack.pop()
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip and not self._stopped:
            self.parts.append(data)


def html_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def body_text(message: EmailMessage) -> str:
    """The text of the message: its text/plain body, else its text/html body as text (no attachments)."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    assert isinstance(part, EmailMessage)
    content = part.get_content()
    text = content if isinstance(content, str) else content.decode("utf-8", "replace")
    return html_text(text) if part.get_content_subtype() == "html" else text


@functools.cache
def _reply_parser() -> Any:
    # Imported on first use: a server without inbound mail (or a work tree not yet reinstalled) starts without it.
    from mailparser_reply import EmailReplyParser

    return EmailReplyParser(languages=_LANGUAGES)


def latest_reply(text: str) -> str:
    """Only what the driver wrote now: quoted earlier messages, reply headers and the signature removed."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "".join(char for char in text if char in "\n\t" or unicodedata.category(char) != "Cc")
    parsed = _reply_parser().read(text=text)
    reply = parsed.replies[0].body if parsed.replies else text
    lines = reply.strip().splitlines()
    while lines and (not lines[-1].strip() or _MOBILE_SIGNOFF.match(lines[-1])):
        lines.pop()
    return "\n".join(lines).strip()
