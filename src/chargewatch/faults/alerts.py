"""Alerts, the pure half: who hears about an incident event, and what exactly they receive.

The senders in ``chargewatch.notify`` only move bytes; routing, payloads, signatures, retry
timing and e-mail text are decided here so they can be tested without a network.

Webhook signatures follow the Stripe scheme receivers already know: header
``Chargewatch-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``. The timestamp
inside the signed text lets a receiver reject replays older than its tolerance.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from enum import StrEnum
from typing import Any

from chargewatch.faults.catalog import Guidance
from chargewatch.faults.detection import AlertDue, Escalated, IncidentEvent, Opened, Resolved, Updated
from chargewatch.faults.incidents import Severity

SIGNATURE_HEADER = "Chargewatch-Signature"
DELIVERY_HEADER = "Chargewatch-Delivery"
EVENT_HEADER = "Chargewatch-Event"


class Channel(StrEnum):
    DASHBOARD = "dashboard"
    WEBHOOK = "webhook"
    EMAIL = "email"


def _default_routes() -> dict[Severity, frozenset[Channel]]:
    return {
        Severity.INFO: frozenset({Channel.DASHBOARD}),
        Severity.WARNING: frozenset({Channel.DASHBOARD, Channel.WEBHOOK}),
        Severity.FAULT: frozenset({Channel.DASHBOARD, Channel.WEBHOOK, Channel.EMAIL}),
        Severity.CRITICAL: frozenset({Channel.DASHBOARD, Channel.WEBHOOK, Channel.EMAIL}),
    }


@dataclass(frozen=True)
class AlertRouting:
    """Channels per severity; an escalation also reaches ``escalation_channels``."""

    by_severity: Mapping[Severity, frozenset[Channel]] = field(default_factory=_default_routes)
    escalation_channels: frozenset[Channel] = frozenset({Channel.EMAIL})

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> AlertRouting:
        """Operator config: ``{"by_severity": {"warning": ["dashboard", "webhook"], ...},
        "escalation_channels": ["email"]}``; severities left out keep their defaults."""
        try:
            routes = _default_routes()
            for severity, channels in raw.get("by_severity", {}).items():
                routes[Severity(severity)] = frozenset(Channel(channel) for channel in channels)
            escalation = frozenset(Channel(channel) for channel in raw.get("escalation_channels", ["email"]))
        except ValueError as error:
            raise ValueError(f"invalid alert routing: {error}") from error
        return cls(by_severity=routes, escalation_channels=escalation)

    def channels_for(self, event: IncidentEvent) -> frozenset[Channel]:
        """Opening and updates show on the dashboard only: nobody is paged before the alert delay.
        A resolution reaches the channels that were alerted, so they can stand down."""
        incident = event.incident
        if incident.parent_id is not None:  # a member of a site incident: the site incident does the talking
            return frozenset({Channel.DASHBOARD})
        if isinstance(event, AlertDue):
            return self.by_severity.get(incident.severity, frozenset({Channel.DASHBOARD}))
        if isinstance(event, Escalated):
            return self.by_severity.get(incident.severity, frozenset()) | self.escalation_channels
        if isinstance(event, Resolved) and incident.alerted_severity is not None:
            return self.by_severity.get(incident.alerted_severity, frozenset({Channel.DASHBOARD}))
        return frozenset({Channel.DASHBOARD})


_EVENT_TYPES: dict[type, str] = {
    Opened: "incident.opened",
    Updated: "incident.updated",
    Escalated: "incident.escalated",
    Resolved: "incident.resolved",
    AlertDue: "incident.alert",
}


def event_type(event: IncidentEvent) -> str:
    return _EVENT_TYPES[type(event)]


def guidance_to_dict(guidance: Guidance) -> dict[str, Any]:
    return {
        "key": guidance.key,
        "language": guidance.language,
        "title": guidance.title,
        "driver_message": guidance.driver_message,
        "driver_steps": list(guidance.driver_steps),
        "technical": guidance.technical,
        "operator_checklist": list(guidance.operator_checklist),
    }


def next_action(guidance: Guidance | None) -> str | None:
    """The one thing to do first: the head of the operator checklist."""
    return guidance.operator_checklist[0] if guidance is not None and guidance.operator_checklist else None


def webhook_payload(
    event: IncidentEvent, delivery_id: str, guidance: Guidance | None = None, max_evidence: int = 5
) -> dict[str, Any]:
    """The JSON document a webhook receives; only the latest evidence travels, the rest is in the API."""
    incident = event.incident.to_dict()
    incident["evidence"] = incident["evidence"][-max_evidence:]
    payload: dict[str, Any] = {
        "id": delivery_id,
        "type": event_type(event),
        "at": event.at.isoformat(),
        "incident": incident,
        # When drivers were first affected (not when we noticed): first_seen counts from the last sign of life.
        "drivers_affected_since": event.incident.first_seen.isoformat(),
        "next_action": next_action(guidance),
    }
    if isinstance(event, Escalated):
        payload["escalation_level"] = event.level
    if isinstance(event, Resolved):
        payload["resolution"] = event.evidence.to_dict()
    if guidance is not None:
        payload["guidance"] = guidance_to_dict(guidance)
    return payload


def encode_body(payload: Mapping[str, Any]) -> bytes:
    """Canonical bytes; the signature covers exactly these, so they are produced once and sent as-is."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def _digest(body: bytes, secret: str | bytes, timestamp: int) -> str:
    return hmac.new(_key(secret), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str | bytes, timestamp: int) -> str:
    """The ``Chargewatch-Signature`` header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    if not _key(secret):
        raise ValueError("a webhook secret must not be empty")
    return f"t={timestamp},v1={_digest(body, secret, timestamp)}"


class SignatureError(ValueError):
    """The webhook signature is missing, malformed, wrong or too old."""


def verify_signature(
    body: bytes, header: str | None, secret: str | bytes, now: int, tolerance: timedelta = timedelta(minutes=5)
) -> None:
    """For receivers: raise :class:`SignatureError` unless one ``v1`` matches and ``t`` is within
    ``tolerance`` of ``now`` (several ``v1`` entries are allowed while a secret is rotated)."""
    if not header:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError("timestamp t is not an integer") from None
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("signature header needs t=<unix seconds> and at least one v1=<hex>")
    if abs(now - timestamp) > tolerance.total_seconds():
        raise SignatureError(f"timestamp {timestamp} is outside the tolerance of {tolerance}")
    expected = _digest(body, secret, timestamp)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureError("no v1 signature matches the body")


@dataclass(frozen=True)
class RetrySchedule:
    """Exponential backoff: attempt n+1 waits initial_delay × factor^(n−1), capped at max_delay.

    No jitter here, to keep it deterministic; receivers are few and deliveries are spread by
    incidents, not synchronised."""

    max_attempts: int = 6
    initial_delay: timedelta = timedelta(seconds=5)
    factor: float = 2.0
    max_delay: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.factor < 1:
            raise ValueError("factor must be at least 1")

    def delay_before(self, attempt: int) -> timedelta:
        """Wait before ``attempt`` (1-based); the first attempt goes out at once."""
        if not 1 <= attempt <= self.max_attempts:
            raise ValueError(f"attempt must be within 1..{self.max_attempts}")
        if attempt == 1:
            return timedelta(0)
        return min(self.initial_delay * self.factor ** (attempt - 2), self.max_delay)

    def delays(self) -> tuple[timedelta, ...]:
        return tuple(self.delay_before(attempt) for attempt in range(1, self.max_attempts + 1))


_SUBJECT_VERBS = {
    Opened: "opened",
    Updated: "updated",
    Escalated: "ESCALATED",
    Resolved: "resolved",
    AlertDue: "alert",
}


def build_email(
    event: IncidentEvent,
    guidance: Guidance,
    sender: str,
    recipients: Sequence[str],
    dashboard_url: str | None = None,
) -> EmailMessage:
    """A plain-text alert mail: what, where, since when, what the driver sees, what to check."""
    if not recipients:
        raise ValueError("an alert e-mail needs at least one recipient")
    incident = event.incident
    where = incident.charger_id if incident.connector_id is None else f"{incident.charger_id}/{incident.connector_id}"
    verb = _SUBJECT_VERBS[type(event)]
    message = EmailMessage()
    message["Subject"] = f"[chargewatch] {incident.severity.value.upper()} {verb}: {guidance.title} at {where}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    lines = [
        f"{guidance.title} — {where}",
        "",
        f"Event:      {event_type(event)} at {event.at.isoformat()}",
        f"Incident:   {incident.id}",
        f"Severity:   {incident.severity.value}",
        f"Status:     {incident.status.value}",
        f"First seen: {incident.first_seen.isoformat()}",
        f"Last seen:  {incident.last_seen.isoformat()}",
        f"Drivers affected since: {incident.first_seen.isoformat()}",
        f"Next action: {next_action(guidance) or 'see the operator checklist'}",
    ]
    if incident.members:
        lines.append(f"Chargers:   {', '.join(incident.members)}")
    if incident.code:
        lines.append(f"Code:       {incident.code}")
    if incident.session_id:
        lines.append(f"Session:    {incident.session_id}")
    if isinstance(event, Escalated):
        lines.append(f"Escalation: level {event.level}, still unacknowledged")
    if isinstance(event, Resolved):
        lines.append(f"Resolved by: {event.evidence.source} at {event.evidence.at.isoformat()}")
    lines += ["", "What happened:", guidance.technical, "", "Operator checklist:"]
    lines += [f"  - {item}" for item in guidance.operator_checklist]
    lines += ["", "What the driver is told:", guidance.driver_message]
    lines += [f"  - {step}" for step in guidance.driver_steps]
    if incident.evidence:
        lines += ["", "Latest evidence:", json.dumps(incident.evidence[-1].to_dict(), ensure_ascii=False)]
    if dashboard_url:
        lines += ["", f"Dashboard: {dashboard_url}"]
    message.set_content("\n".join(lines) + "\n")
    return message
