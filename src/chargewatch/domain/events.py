"""The events on the bus: typed, frozen, in neutral words (no OCPP version, no protocol type).

Publishers (gateway ingest and transport, the fault, billing and feedback workers, the support API) build
these; subscribers (fault detection, billing, the live streams) match on the type. Each type has one
``kind``, the name the live streams (``/api/v1/events``, the driver page) send it under, and
:meth:`BusEvent.to_json` gives the data sent with it: timestamps as ISO 8601 text, tuples as lists.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_json(item) for item in value]
    if isinstance(value, Evidence):
        return value.to_json()
    return value


@dataclass(frozen=True)
class BusEvent:
    """One thing that happened; ``kind`` names it on the live streams."""

    kind: ClassVar[str]
    quiet: ClassVar[bool] = False  # per-message housekeeping: for in-process listeners, not for live streams

    def to_json(self) -> dict[str, Any]:
        """The event's data as the live streams send it (JSON-ready)."""
        return {f.name: _json(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class Evidence:
    """The charger message an event came from, as received (for incidents' evidence)."""

    action: str
    message_id: str
    payload: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "message_id": self.message_id, "payload": self.payload}


# ---------------------------------------------------------------- a charger and its connectors


@dataclass(frozen=True)
class ChargerConnected(BusEvent):
    kind: ClassVar[str] = "charger.connected"
    charger_id: str
    at: datetime


@dataclass(frozen=True)
class ChargerDisconnected(BusEvent):
    kind: ClassVar[str] = "charger.disconnected"
    charger_id: str
    at: datetime


@dataclass(frozen=True)
class ChargerSeen(BusEvent):
    """Any frame from a charger (proof of life for the fault detector)."""

    kind: ClassVar[str] = "charger.seen"
    quiet: ClassVar[bool] = True
    charger_id: str
    at: datetime


@dataclass(frozen=True)
class ChargerBooted(BusEvent):
    """A boot notification was accepted; the charger now heartbeats every ``heartbeat_interval`` seconds."""

    kind: ClassVar[str] = "charger.booted"
    charger_id: str
    at: datetime
    heartbeat_interval: int | None
    evidence: Evidence


@dataclass(frozen=True)
class ConnectorStatus(BusEvent):
    """A connector's reported status (1.6 vocabulary; 2.0.1 EVSE n is connector n), at the charger's time."""

    kind: ClassVar[str] = "connector.status"
    charger_id: str
    connector_id: int
    status: str
    error_code: str
    info: str | None
    vendor_id: str | None
    vendor_error_code: str | None
    timestamp: datetime
    at: datetime
    evidence: Evidence
    errors_reported: bool = True  # False: the status says nothing of errors (2.0.1 reports them by NotifyEvent)


@dataclass(frozen=True)
class ChargerSecurityEvent(BusEvent):
    """A security event the charger reported (``type`` in its neutral name: the 2.0.1 spelling)."""

    kind: ClassVar[str] = "charger.security_event"
    charger_id: str
    type: str
    tech_info: str | None
    timestamp: datetime
    at: datetime
    evidence: Evidence


@dataclass(frozen=True)
class CertificateSigningRequested(BusEvent):
    """A charger sent a certificate signing request (answered Accepted: the PKI worker signs it; or Rejected for
    ``reason``). The CSR is public material (it holds no private key)."""

    kind: ClassVar[str] = "charger.certificate_requested"
    charger_id: str
    certificate_type: str
    csr: str
    accepted: bool
    reason: str | None
    subject: str | None
    at: datetime
    evidence: Evidence


@dataclass(frozen=True)
class Authorization(BusEvent):
    """A token decision: ``action`` is "Authorize", or "StartTransaction" when it decided a start."""

    kind: ClassVar[str] = "authorization"
    charger_id: str
    action: str
    id_tag: str | None
    connector_id: int | None
    status: str | None
    at: datetime
    evidence: Evidence


# ---------------------------------------------------------------- sessions


@dataclass(frozen=True)
class SessionEvent(BusEvent):
    """A session as just stored (``connector_id``: 2.0.1 EVSE id)."""

    charger_id: str
    connector_id: int
    transaction_id: int
    energy_wh: int
    power_w: int | None
    soc: int | None
    status: str
    stop_reason: str | None
    flags: tuple[str, ...]
    charging_seconds: int
    idle_seconds: int
    at: datetime
    evidence: Evidence


@dataclass(frozen=True)
class SessionStarted(SessionEvent):
    kind: ClassVar[str] = "session.started"


@dataclass(frozen=True)
class SessionUpdated(SessionEvent):
    kind: ClassVar[str] = "session.updated"


@dataclass(frozen=True)
class SessionStopped(SessionEvent):
    kind: ClassVar[str] = "session.stopped"


# ---------------------------------------------------------------- commands


@dataclass(frozen=True)
class CommandAnswered(BusEvent):
    """How a command we sent a charger ended (status answered | error | timeout | offline), in the words it
    was asked in (the adapter may have sent another action)."""

    kind: ClassVar[str] = "command.answered"
    charger_id: str
    action: str
    payload: dict[str, Any]
    status: str
    response: dict[str, Any] | None
    at: datetime


# ---------------------------------------------------------------- firmware and logs


@dataclass(frozen=True)
class FirmwareStatusReported(BusEvent):
    """A charger's firmware or log-upload progress report (``report``: firmware | signed_firmware | diagnostics |
    log), stored; ``request_id`` where the report names its request."""

    kind: ClassVar[str] = "charger.firmware_status"
    charger_id: str
    report: str
    status: str
    request_id: int | None
    at: datetime
    evidence: Evidence


@dataclass(frozen=True)
class FirmwareUpdateFailed(BusEvent):
    """A charger's firmware update failed: its own report (DownloadFailed, InvalidSignature …), its refusal of the
    request, a boot with another version, or no progress within the campaign's timeout (``reason``)."""

    kind: ClassVar[str] = "firmware.failed"
    charger_id: str
    reason: str
    target_id: int | None  # the campaign target (its requestId), when one is known
    campaign_id: int | None
    at: datetime
    evidence: Evidence | None = None


@dataclass(frozen=True)
class FirmwareUpdateInstalled(BusEvent):
    """A charger reported its new firmware installed (and, where the campaign names a version, booted with it)."""

    kind: ClassVar[str] = "firmware.installed"
    charger_id: str
    target_id: int | None
    at: datetime


# ---------------------------------------------------------------- incidents


@dataclass(frozen=True)
class IncidentSummary:
    """What the live stream carries of an incident: enough to render a row; the evidence is one API call away."""

    number: int | None
    id: str
    kind: str
    severity: str
    status: str
    charger_id: str
    connector_id: int | None
    code: str | None
    session_id: str | None
    first_seen: datetime
    last_seen: datetime
    occurrences: int
    escalation_level: int


@dataclass(frozen=True)
class IncidentChanged(BusEvent):
    incident: IncidentSummary
    at: datetime

    def to_json(self) -> dict[str, Any]:
        summary = self.incident
        return {**{f.name: _json(getattr(summary, f.name)) for f in fields(summary)}, "at": self.at.isoformat()}


@dataclass(frozen=True)
class IncidentOpened(IncidentChanged):
    kind: ClassVar[str] = "incident.opened"


@dataclass(frozen=True)
class IncidentUpdated(IncidentChanged):
    kind: ClassVar[str] = "incident.updated"


@dataclass(frozen=True)
class IncidentEscalated(IncidentChanged):
    kind: ClassVar[str] = "incident.escalated"


@dataclass(frozen=True)
class IncidentResolved(IncidentChanged):
    kind: ClassVar[str] = "incident.resolved"


@dataclass(frozen=True)
class IncidentAlert(IncidentChanged):
    """An incident is due to be alerted (its delay passed without it resolving)."""

    kind: ClassVar[str] = "incident.alert"


@dataclass(frozen=True)
class IncidentActionTaken(BusEvent):
    """A command sent for an incident (remediation, guidance on the charger's screen) and its outcome."""

    kind: ClassVar[str] = "incident.action"
    incident_id: str
    charger_id: str
    action: str
    ocpp_action: str
    status: str
    response: Any
    at: datetime


# ---------------------------------------------------------------- feedback and support


@dataclass(frozen=True)
class FaultReported(BusEvent):
    """A driver's comment newly reports a charger fault (``corroborated_by``: telemetry that agrees)."""

    kind: ClassVar[str] = "feedback.fault_reported"
    charger_id: str
    connector_id: int | None
    transaction_id: int
    category: str
    categories: tuple[str, ...]
    corroborated_by: tuple[str, ...]
    text: str
    at: datetime


@dataclass(frozen=True)
class BillingDisputed(BusEvent):
    """A driver's comment disputes the bill of a session."""

    kind: ClassVar[str] = "feedback.billing_disputed"
    charger_id: str
    transaction_id: int
    text: str
    at: datetime


@dataclass(frozen=True)
class DisputeDecided(BusEvent):
    """An operator decided a driver's dispute of an issued invoice (accepted: a credit note, maybe reissued)."""

    kind: ClassVar[str] = "billing.dispute_decided"
    dispute_id: int
    transaction_id: int
    status: str
    invoice_number: str
    credit_note: str | None
    reissued_invoice: str | None


@dataclass(frozen=True)
class SupportEvent(BusEvent):
    conversation_id: int
    transaction_id: int
    charger_id: str
    station_id: str
    status: str


@dataclass(frozen=True)
class SupportMessage(SupportEvent):
    """A message in a session's support conversation (``operator``: the operator's user name, or None)."""

    kind: ClassVar[str] = "support.message"
    message_id: int
    author: str
    operator: str | None
    body: str
    sent_at: datetime
    source: str  # web | email

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "sent_at": str(self.sent_at)}  # the stream's format since it began


@dataclass(frozen=True)
class SupportResolved(SupportEvent):
    kind: ClassVar[str] = "support.resolved"


# ---------------------------------------------------------------- reservations


@dataclass(frozen=True)
class ReservationEvent(BusEvent):
    """A reservation (``reservation_id``: the OCPP reservationId) of a charger's connector (0: any; None: the
    charger's message did not say) changed; ``by`` says who ended or changed it: operator, charger, expiry, session."""

    charger_id: str
    reservation_id: int
    connector_id: int | None
    at: datetime
    by: str


@dataclass(frozen=True)
class ReservationAnswered(ReservationEvent):
    """The charger answered ReserveNow (``status``: the reservation's status after it; ``rejection``: how it was
    refused, e.g. Occupied)."""

    kind: ClassVar[str] = "reservation.answered"
    status: str
    rejection: str | None


@dataclass(frozen=True)
class ReservationCancelled(ReservationEvent):
    kind: ClassVar[str] = "reservation.cancelled"


@dataclass(frozen=True)
class ReservationExpired(ReservationEvent):
    kind: ClassVar[str] = "reservation.expired"


@dataclass(frozen=True)
class ReservationUsed(ReservationEvent):
    """A session started naming the reservation (the charger's word; the store links them)."""

    kind: ClassVar[str] = "reservation.used"
    transaction_id: int


# ---------------------------------------------------------------- the bus itself


@dataclass(frozen=True)
class Lagged(BusEvent):
    """A live subscriber fell behind and lost its oldest events: it should reload what it shows."""

    kind: ClassVar[str] = "lagged"
