"""Alert senders: the thin I/O shell around ``chargewatch.faults.alerts``."""

from chargewatch.notify.email import EmailDeliveryError, EmailSender, SmtpConfig
from chargewatch.notify.webhook import DeliveryAttempt, WebhookDelivery, WebhookSender

__all__ = [
    "DeliveryAttempt",
    "EmailDeliveryError",
    "EmailSender",
    "SmtpConfig",
    "WebhookDelivery",
    "WebhookSender",
]
