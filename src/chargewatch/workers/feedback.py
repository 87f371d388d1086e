"""Driver feedback in the running server: its HTTP routes, its settings and the reply e-mail relay.

Settings come from the environment:
``CHARGEWATCH_SMTP_HOST`` / ``CHARGEWATCH_SMTP_PORT`` (default 25) / ``CHARGEWATCH_SMTP_FROM`` for reply
e-mails (without a host, replies are stored but not mailed) and ``CHARGEWATCH_FEEDBACK_EDIT_HOURS``
(default 48) for how long a driver may change a submitted feedback. The live `FeedbackConfig` is
``cw.app.state.feedback``.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING

from ..api.feedback import FeedbackConfig, feedback_router
from ..feedback.submission import EditPolicy

if TYPE_CHECKING:
    from ..runtime import Chargewatch

DEFAULT_SENDER = "chargewatch@localhost"


@dataclass(frozen=True)
class SmtpRelay:
    """Hands reply e-mails to the operator's mail relay: plain SMTP, upgraded with STARTTLS (certificate
    verified) whenever the relay offers it.

    Blocking smtplib on purpose: a reply is one message, sent from a worker thread.
    """

    host: str
    port: int = 25
    sender: str = DEFAULT_SENDER
    timeout_s: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SmtpRelay | None:
        host = env.get("CHARGEWATCH_SMTP_HOST", "").strip()
        if not host:
            return None
        port = int(env.get("CHARGEWATCH_SMTP_PORT") or 25)
        return cls(host, port, env.get("CHARGEWATCH_SMTP_FROM") or DEFAULT_SENDER)

    def send(self, message: EmailMessage) -> None:
        if "From" not in message:
            message["From"] = self.sender
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            smtp.send_message(message)


def config_from_env(env: Mapping[str, str]) -> FeedbackConfig:
    hours = float(env.get("CHARGEWATCH_FEEDBACK_EDIT_HOURS") or 48)
    relay = SmtpRelay.from_env(env)
    return FeedbackConfig(policy=EditPolicy(edit_window=timedelta(hours=hours)),
                          mailer=relay.send if relay is not None else None)


def install(cw: Chargewatch) -> None:
    config = config_from_env(os.environ)
    cw.app.state.feedback = config
    cw.app.include_router(feedback_router(cw.engine, cw.bus, cw.services.secret, config))
