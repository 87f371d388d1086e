"""The protocol-neutral model: what every OCPP adapter hands the shell, whatever version the charger speaks.

An adapter (``ocpp.v16``, ``ocpp.v201``) turns one inbound CALL plus a :class:`ChargerState` into an
:class:`Outcome`: the reply payload and a list of neutral changes. The store and the bus only ever see
these types, so nothing below the adapters knows the OCPP version (and ``store`` needs nothing of ``ocpp``
to persist them).

Topology: the store numbers connectors the 1.6 way; OCPP 2.0.1 EVSE ``n`` is connector ``n`` here (an EVSE
with several connectors reports them under its EVSE number, which is what a session and a status belong to).
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
                       connector_ratings_w=dict(self.connector_ratings_w))


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


Change = (
    ChargerBooted | ChargerFirmwareStatus | ConnectorStatusChanged | SessionChanged | ReadingsRecorded | SecurityEvent
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
