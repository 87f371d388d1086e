"""E-mail over SMTP (alerts to the operator, replies to drivers).

smtplib is blocking and battle-tested; running it in a worker thread keeps the event loop free
without pulling in an async SMTP client.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage

_STARTTLS_SETTINGS = {"true": True, "false": False, "auto": None}


@dataclass(frozen=True)
class SmtpConfig:
    """``starttls`` upgrades a plain connection (port 587), ``None`` only when the server offers it (a local
    relay without TLS); ``implicit_tls`` is SMTPS (port 465)."""

    host: str
    port: int = 587
    starttls: bool | None = True
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

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SmtpConfig | None:
        """The operator's mail relay: CHARGEWATCH_SMTP_HOST (none: no e-mail), _PORT (587), _STARTTLS
        (true | false | auto = when offered; default auto), _IMPLICIT_TLS (true | false), _USER, _PASSWORD."""
        host = env.get("CHARGEWATCH_SMTP_HOST", "").strip()
        if not host:
            return None
        starttls_setting = env.get("CHARGEWATCH_SMTP_STARTTLS", "auto").strip().lower()
        if starttls_setting not in _STARTTLS_SETTINGS:
            raise ValueError(f"CHARGEWATCH_SMTP_STARTTLS: {starttls_setting!r} is not one of true, false, auto")
        implicit = env.get("CHARGEWATCH_SMTP_IMPLICIT_TLS", "false").strip().lower() == "true"
        return cls(host=host, port=int(env.get("CHARGEWATCH_SMTP_PORT") or (465 if implicit else 587)),
                   starttls=False if implicit else _STARTTLS_SETTINGS[starttls_setting], implicit_tls=implicit,
                   username=env.get("CHARGEWATCH_SMTP_USER") or None,
                   password=env.get("CHARGEWATCH_SMTP_PASSWORD") or None)


class EmailDeliveryError(RuntimeError):
    """The SMTP server could not be reached or refused the message."""


class EmailSender:
    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self.deliver, message)

    def deliver(self, message: EmailMessage) -> None:
        """Send ``message`` now (blocking; call from a worker thread)."""
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
                if config.starttls or (config.starttls is None and smtp.has_extn("starttls")):
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if config.username is not None and config.password is not None:
                    smtp.login(config.username, config.password)
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as error:
            raise EmailDeliveryError(f"sending e-mail via {config.host}:{config.port} failed: {error}") from error
