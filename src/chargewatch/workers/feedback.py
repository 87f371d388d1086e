"""Driver feedback in the running server: its HTTP routes, its settings and the reply e-mail.

Settings come from the environment: the operator's mail relay ``CHARGEWATCH_SMTP_*`` (see
`notify.email.SmtpConfig.from_env`; without a host, replies are stored but not mailed) with
``CHARGEWATCH_SMTP_FROM`` as sender, and ``CHARGEWATCH_FEEDBACK_EDIT_HOURS``
(default 48) for how long a driver may change a submitted feedback. The live `FeedbackConfig` is
``cw.app.state.feedback``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING

from .. import settings
from ..api.feedback import FeedbackConfig, feedback_router
from ..feedback.submission import EditPolicy
from ..notify.email import EmailSender, SmtpConfig

if TYPE_CHECKING:
    from ..runtime import Chargewatch

DEFAULT_SENDER = "chargewatch@localhost"


def config_from_env(env: Mapping[str, str]) -> FeedbackConfig:
    hours = settings.number(env, "CHARGEWATCH_FEEDBACK_EDIT_HOURS", 48.0)
    smtp = SmtpConfig.from_env(env)
    return FeedbackConfig(policy=EditPolicy(edit_window=timedelta(hours=hours)),
                          mailer=_mailer(EmailSender(smtp), env.get("CHARGEWATCH_SMTP_FROM") or DEFAULT_SENDER)
                          if smtp is not None else None)


def _mailer(sender: EmailSender, from_address: str) -> Callable[[EmailMessage], None]:
    def send(message: EmailMessage) -> None:
        if "From" not in message:
            message["From"] = from_address
        sender.deliver(message)

    return send


def install(cw: Chargewatch) -> None:
    config = config_from_env(os.environ)
    cw.app.state.feedback = config
    cw.app.include_router(feedback_router(cw.engine, cw.bus, cw.services.secret, config))
