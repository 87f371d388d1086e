"""Alert e-mail over SMTP.

smtplib is blocking and battle-tested; running it in a worker thread keeps the event loop free
without pulling in an async SMTP client.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage


@dataclass(frozen=True)
class SmtpConfig:
    """``starttls`` upgrades a plain connection (port 587); ``implicit_tls`` is SMTPS (port 465)."""

    host: str
    port: int = 587
    starttls: bool = True
    implicit_tls: bool = False
    username: str | None = None
    password: str | None = None
    timeout_s: float = 10.0
    ssl_context: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        if self.starttls and self.implicit_tls:
            raise ValueError("choose STARTTLS or implicit TLS, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("SMTP username and password go together")


class EmailDeliveryError(RuntimeError):
    """The SMTP server could not be reached or refused the message."""


class EmailSender:
    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        config = self._config
        context = config.ssl_context or ssl.create_default_context()
        try:
            smtp: smtplib.SMTP
            if config.implicit_tls:
                smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout_s, context=context)
            else:
                smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
            with smtp:
                smtp.ehlo()
                if config.starttls:
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if config.username is not None and config.password is not None:
                    smtp.login(config.username, config.password)
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as error:
            raise EmailDeliveryError(f"sending alert e-mail via {config.host}:{config.port} failed: {error}") from error
