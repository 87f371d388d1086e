"""Fault signals: the protocol-neutral facts fault detection is fed, part of the neutral model.

The shell (the faults worker, from the bus events the gateway publishes after each stored message, and the
connection events it sees itself) turns whatever a charger's OCPP version said into these plain values, so
detection never parses frames, knows no OCPP version and touches no socket. ``at`` is the moment the central
system received the message (timezone-aware UTC): charger clocks drift and queued transaction messages arrive
with old timestamps, so the charger's own timestamp stays in ``evidence`` instead of steering detection.
``evidence`` holds the message payload (or any JSON object) that proves the fact; it travels into the incident
that the signal opens or resolves. What only a version knows arrives as data: a status's ``allowed_after`` (the
transition rule of the charger's version), a security event's neutral name and catalog severity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


def require_utc(value: datetime, name: str = "at") -> datetime:
    """Reject naive or non-UTC datetimes: mixing zones silently shifts outage minutes."""
    if value.tzinfo is None or value.utcoffset() != timedelta(0):
        raise ValueError(f"{name} must be a timezone-aware UTC datetime, got {value!r}")
    return value


def _evidence() -> dict[str, Any]:
    return {}


@dataclass(frozen=True, kw_only=True)
class _Stamped:
    """A signal at a moment: ``at`` is when we received it, timezone-aware UTC."""

    at: datetime

    def __post_init__(self) -> None:
        require_utc(self.at)


@dataclass(frozen=True, kw_only=True)
class StatusReported(_Stamped):
    """A StatusNotification.req: connector status plus the charger's error code."""

    charger_id: str
    connector_id: int
    status: str
    error_code: str
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None
    message_id: str | None = None
    reported_at: datetime | None = None
    """The charger's own timestamp: a queued report older than the last applied one is stale."""
    evidence: dict[str, Any] = field(default_factory=_evidence)
    allowed_after: frozenset[str] | None = None
    """Under the charger's protocol, the statuses this one may follow on this connector (its adapter says):
    any other previous status is a firmware deviation; empty: never on this connector; None: no rule."""
    errors_reported: bool = True
    """False: the report says nothing of error conditions (2.0.1 StatusNotification: NotifyEvent reports and
    clears them), so it ends an outage but not a warning."""


@dataclass(frozen=True, kw_only=True)
class MessageSeen(_Stamped):
    """Any inbound message: the charger is alive, whatever it said."""

    charger_id: str


@dataclass(frozen=True, kw_only=True)
class Connected(_Stamped):
    """The charger's WebSocket was accepted."""

    charger_id: str


@dataclass(frozen=True, kw_only=True)
class Disconnected(_Stamped):
    """The charger's WebSocket closed (either side, clean or not)."""

    charger_id: str


@dataclass(frozen=True, kw_only=True)
class BootReported(_Stamped):
    """A BootNotification.req: the charger (re)started."""

    charger_id: str
    evidence: dict[str, Any] = field(default_factory=_evidence)


@dataclass(frozen=True, kw_only=True)
class RebootRequested(_Stamped):
    """The central system asked for this reboot (Reset or TriggerMessage BootNotification accepted):
    the boot, and the dropped connection before it, are expected, not a fault."""

    charger_id: str
    action: str


@dataclass(frozen=True, kw_only=True)
class ProbeUnanswered(_Stamped):
    """A silent charger was probed (WebSocket ping, TriggerMessage Heartbeat) and did not answer."""

    charger_id: str
    evidence: dict[str, Any] = field(default_factory=_evidence)


@dataclass(frozen=True, kw_only=True)
class SiteAssigned:
    """The site a charger belongs to (None: no site); chargers of one site share network and power."""

    charger_id: str
    site_id: str | None


@dataclass(frozen=True, kw_only=True)
class HeartbeatIntervalSet:
    """The heartbeat interval the charger was told (BootNotification.conf or HeartbeatInterval key)."""

    charger_id: str
    seconds: int

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ValueError(f"heartbeat interval must be positive, got {self.seconds}")


@dataclass(frozen=True, kw_only=True)
class SecurityReported(_Stamped):
    """The charger reported a security event (tamper, invalid firmware signature, a refused certificate, ...).
    ``type`` is the event's neutral name (the adapter's); ``severity`` the catalog's for it (``info``: an
    informational event such as a startup, which opens no incident)."""

    charger_id: str
    type: str
    severity: str
    tech_info: str | None = None
    evidence: dict[str, Any] = field(default_factory=_evidence)


@dataclass(frozen=True, kw_only=True)
class FirmwareFailed(_Stamped):
    """A charger's firmware update failed (``reason``: its status, its refusal, Timeout(phase), a version
    mismatch)."""

    charger_id: str
    reason: str
    evidence: dict[str, Any] = field(default_factory=_evidence)


@dataclass(frozen=True, kw_only=True)
class FirmwareInstalled(_Stamped):
    """A charger installed a firmware: an earlier failed update of it is over."""

    charger_id: str
    evidence: dict[str, Any] = field(default_factory=_evidence)


@dataclass(frozen=True, kw_only=True)
class SessionStarted(_Stamped):
    """A StartTransaction.req that was accepted: a transaction is open on the connector."""

    charger_id: str
    connector_id: int
    session_id: str
    evidence: dict[str, Any] = field(default_factory=_evidence)


@dataclass(frozen=True, kw_only=True)
class SessionProgress(_Stamped):
    """A normalised MeterValues sample of an open session (power in W, register in Wh)."""

    charger_id: str
    connector_id: int
    session_id: str
    power_w: float | None
    energy_wh: int | None
    connector_status: str
    soc: float | None = None
    evidence: dict[str, Any] = field(default_factory=_evidence)


@dataclass(frozen=True, kw_only=True)
class SessionStopped(_Stamped):
    """A StopTransaction.req; ``energy_wh`` is what the session delivered, ``was_charging`` whether
    energy was flowing (status Charging) just before the stop."""

    charger_id: str
    connector_id: int
    session_id: str
    reason: str
    energy_wh: int
    was_charging: bool
    evidence: dict[str, Any] = field(default_factory=_evidence)


@dataclass(frozen=True, kw_only=True)
class AuthorizeRejected(_Stamped):
    """An Authorize.conf whose idTagInfo.status was not Accepted."""

    charger_id: str
    id_tag: str
    status: str
    evidence: dict[str, Any] = field(default_factory=_evidence)


@dataclass(frozen=True, kw_only=True)
class StartRejected(_Stamped):
    """A StartTransaction.conf whose idTagInfo.status was not Accepted (or a refused RemoteStart)."""

    charger_id: str
    connector_id: int
    id_tag: str
    status: str
    evidence: dict[str, Any] = field(default_factory=_evidence)


@dataclass(frozen=True, kw_only=True)
class DriverReport(_Stamped):
    """A driver told us something is wrong (app, QR page, hotline)."""

    charger_id: str
    connector_id: int | None
    session_id: str | None
    category: str
    text: str


@dataclass(frozen=True, kw_only=True)
class IncidentAcknowledged(_Stamped):
    """An operator took ownership of an incident; stops its escalation."""

    incident_id: str
    by: str


@dataclass(frozen=True, kw_only=True)
class IncidentClosed(_Stamped):
    """An operator resolved an incident by hand (fixed on site, false alarm): the detector must
    forget it, or it would keep adding evidence to an incident the operator considers closed."""

    incident_id: str
    by: str
    note: str | None = None


Signal = (
    StatusReported
    | MessageSeen
    | Connected
    | Disconnected
    | BootReported
    | RebootRequested
    | ProbeUnanswered
    | SecurityReported
    | FirmwareFailed
    | FirmwareInstalled
    | SiteAssigned
    | HeartbeatIntervalSet
    | SessionStarted
    | SessionProgress
    | SessionStopped
    | AuthorizeRejected
    | StartRejected
    | DriverReport
    | IncidentAcknowledged
    | IncidentClosed
)
