"""The protocol-neutral model: what every OCPP adapter hands the shell, whatever version the charger speaks.

An adapter (``ocpp.v16``, ``ocpp.v201``) turns one inbound CALL plus a :class:`ChargerState` into an
:class:`Outcome`: the reply payload and a list of neutral changes. The store and the bus only ever see
these types, so nothing below the adapters knows the OCPP version (and ``store`` needs nothing of ``ocpp``
to persist them).

Topology: a charging point is ``connector_id`` the 1.6 way, and OCPP 2.0.1 EVSE ``n`` is connector ``n`` here: what a
session, a status, a fault and a tariff belong to (one car at a time). The physical connector on it is the reference
(``evse_id``, ``evse_connector_id``): 1.6 connector ``n`` is EVSE ``n`` connector 1; a 2.0.1 EVSE with a CCS and a
CHAdeMO plug is one charging point with connectors 1 and 2, each with its own reported status and type.
Statuses use the 1.6 vocabulary (a superset of 2.0.1's connectorStatus once ``Occupied`` is refined by the
charging state); error codes use the 1.6 ChargePointErrorCode names, which the fault catalog knows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..sessions.machine import ChargingSession
from ..sessions.meter import Reading
from .charging import ChargingLimitChanged, ChargingProfilesReported

DEFAULT_HEARTBEAT_INTERVAL = 300


# ---------------------------------------------------------------- state and environment


@dataclass
class ChargerState:
    """What an adapter needs to remember about one charger between its messages."""

    charger_id: str
    heartbeat_interval: int = DEFAULT_HEARTBEAT_INTERVAL
    active: dict[int, ChargingSession] = field(default_factory=dict)  # by connector id (2.0.1: EVSE id)
    # The charger's own key for a session → its internal transaction id: the 1.6 StartTransaction
    # fingerprint, or the 2.0.1 transactionId. Stored as sessions.start_key.
    start_keys: dict[str, int] = field(default_factory=dict)
    connector_status: dict[int, str] = field(default_factory=dict)
    # The charger's timestamp of each connector's status: an older report arriving later does not replace it.
    connector_status_at: dict[int, datetime] = field(default_factory=dict)
    connector_ratings_w: dict[int, int] = field(default_factory=dict)  # rated power by connector, where known
    # The status each physical connector (evse_id, connector on it) last reported, as the charger spelled it.
    plug_status: dict[tuple[int, int], str] = field(default_factory=dict)
    # Device-model reports in progress (2.0.1 NotifyReport parts), by requestId.
    reports: dict[int, ReportProgress] = field(default_factory=dict)

    def session(self, transaction_id: int) -> ChargingSession | None:
        for session in self.active.values():
            if session.transaction_id == transaction_id:
                return session
        return None

    def status_is_current(self, connector_id: int, timestamp: datetime) -> bool:
        """Whether a status the charger reports for ``timestamp`` is its latest (not older than the one held);
        if so it becomes the connector's status here."""
        held = self.connector_status_at.get(connector_id)
        if held is not None and timestamp < held:
            return False
        self.connector_status_at[connector_id] = timestamp
        return True

    def copy(self) -> ChargerState:
        return replace(self, active=dict(self.active), start_keys=dict(self.start_keys),
                       connector_status=dict(self.connector_status),
                       connector_status_at=dict(self.connector_status_at),
                       connector_ratings_w=dict(self.connector_ratings_w), plug_status=dict(self.plug_status),
                       reports=dict(self.reports))


@dataclass(frozen=True)
class ReportProgress:
    """How much of one multi-part device-model report has arrived."""

    parts: int  # distinct parts received
    last_seq_no: int
    sequence_gap: bool  # a part was skipped
    complete: bool  # the last part (tbc false) arrived


# ---------------------------------------------------------------- changes for the store


@dataclass(frozen=True)
class ChargerBooted:
    info: dict[str, Any]  # BootNotification fields in 1.6 names (chargePointVendor, chargePointModel, …)
    at: datetime


@dataclass(frozen=True)
class ChargerFirmwareStatus:
    kind: str  # firmware | diagnostics | signed_firmware | log
    status: str
    at: datetime
    request_id: int | None = None  # the request it reports on (1.6 security extension, 2.0.1); Core 1.6 names none


@dataclass(frozen=True)
class ConnectorStatusChanged:
    connector_id: int
    status: str
    error_code: str
    info: str | None
    vendor_id: str | None
    vendor_error_code: str | None
    timestamp: datetime
    received_at: datetime
    evse_connector_id: int = 1  # the physical connector on the charging point that reported (1.6: always 1)
    # That connector's own status when ``status`` is the charging point's (a 2.0.1 EVSE with several connectors:
    # the others are Unavailable while one is in use); None: the same as ``status``.
    reported_status: str | None = None
    # False: the report says nothing of error conditions (a 2.0.1 StatusNotification or chargingState; 2.0.1
    # reports and clears those by NotifyEvent), so "NoError" in it ends no warning. 1.6: errorCode is the truth.
    errors_reported: bool = True


@dataclass(frozen=True)
class SessionChanged:
    session: ChargingSession


@dataclass(frozen=True)
class ReadingsRecorded:
    connector_id: int
    transaction_id: int | None
    readings: tuple[Reading, ...]


@dataclass(frozen=True)
class SecurityEvent:
    type: str  # as the charger sent it (stored so)
    timestamp: datetime
    tech_info: str | None
    # Its neutral name where versions spell it differently (the 2.0.1 name: 1.6's InvalidCentralSystemCertificate
    # is InvalidCsmsCertificate); None: ``type`` is it.
    neutral_type: str | None = None

    @property
    def event(self) -> str:
        return self.neutral_type or self.type


@dataclass(frozen=True)
class ReportedVariable:
    """One attribute of one variable of one component, as a station reports its device model."""

    component: str
    component_instance: str  # "" when the component has no instance
    evse_id: int  # 0: not on an EVSE
    connector_id: int  # 0: not on a connector
    variable: str
    variable_instance: str
    attribute_type: str  # Actual | Target | MinSet | MaxSet
    value: str | None  # None: WriteOnly
    mutability: str  # ReadOnly | WriteOnly | ReadWrite
    persistent: bool
    constant: bool
    unit: str | None = None
    data_type: str | None = None
    min_limit: float | None = None
    max_limit: float | None = None
    values_list: str | None = None


@dataclass(frozen=True)
class ReportedConnector:
    """An EVSE (``connector_id`` 0) or a physical connector on it, from a device-model report."""

    evse_id: int
    connector_id: int
    connector_type: str | None = None
    max_power_w: int | None = None


@dataclass(frozen=True)
class DeviceModelReported:
    """One part of a device-model report (2.0.1 NotifyReport), and how far the report has got."""

    request_id: int
    seq_no: int
    generated_at: datetime
    progress: ReportProgress
    variables: tuple[ReportedVariable, ...]
    connectors: tuple[ReportedConnector, ...]


@dataclass(frozen=True)
class CertificateSigningRequested:
    """A charger asked for its certificate to be signed (SignCertificate); ``accepted`` is what it was answered,
    ``reason`` why not. ``certificate_type`` in neutral words: ChargingStationCertificate or V2GCertificate."""

    certificate_type: str
    csr: str
    accepted: bool
    reason: str | None
    subject: str | None
    at: datetime


@dataclass(frozen=True)
class ReservationStatusReported:
    """A charger says one of its reservations ended on its side (2.0.1 ReservationStatusUpdate: Expired, Removed)."""

    reservation_id: int
    status: str  # the neutral status it now has (domain.reservations.ReservationStatus value)
    reported: str  # as the charger said it
    at: datetime


Change = (
    ChargerBooted | ChargerFirmwareStatus | ConnectorStatusChanged | SessionChanged | ReadingsRecorded | SecurityEvent
    | DeviceModelReported | CertificateSigningRequested | ChargingProfilesReported | ChargingLimitChanged
    | ReservationStatusReported
)


@dataclass
class Outcome:
    reply: dict[str, Any]
    changes: list[Change] = field(default_factory=list)
    state: ChargerState | None = None  # the state after the call; adopt it only once the changes are stored
    # The session whose final cost the reply should carry (2.0.1 TransactionEventResponse.totalCost), priced by
    # the shell from the committed session with the billing engine; None: no cost in this reply.
    cost_for: int | None = None


# ---------------------------------------------------------------- commands to the charger


class RemedyAction(StrEnum):
    """What fault handling asks of a charger, whatever its version; its adapter says it in OCPP words."""

    SOFT_RESET = "SoftReset"
    HARD_RESET = "HardReset"
    UNLOCK_CONNECTOR = "UnlockConnector"
    SET_INOPERATIVE = "SetInoperative"
    SET_OPERATIVE = "SetOperative"
    STOP_SESSION = "StopSession"


@dataclass(frozen=True)
class RemedyIntent:
    """One remedy for one charger: the action, where (EVSE ``evse_id``, 0 = the whole charger, and the
    connector on it) and, to stop a session, the charger's own transaction reference (1.6: the integer id as
    text; 2.0.1: the station's transactionId). The charger's adapter renders it (``Adapter.render_remedy``)."""

    action: RemedyAction
    evse_id: int = 0
    connector_id: int | None = None  # None: the EVSE as a whole (evse 0), else its connector (1.6 n = EVSE n, 1)
    transaction_ref: str | None = None

    def __post_init__(self) -> None:
        if self.evse_id < 0:
            raise ValueError(f"evse_id must be 0 (the charger) or an EVSE number, got {self.evse_id}")
        if self.action is RemedyAction.UNLOCK_CONNECTOR and self.evse_id == 0:
            raise ValueError("unlocking needs a connector; 0 is the whole charger")
        if self.action is RemedyAction.STOP_SESSION and not self.transaction_ref:
            raise ValueError("stopping a session needs the charger's transaction reference")
