"""Fault detection: signals in, incident events out, no I/O (the h11 way).

``FaultDetector.feed(signal)`` applies one signal; ``FaultDetector.tick(now)`` applies the rules
that fire on the passage of time (silence, stalls, alert delays, escalation). ``feed`` first
advances time to the signal's ``at``, so replaying a log of signals, with or without ticks in
between, gives the same events; time never runs backwards (a late signal is treated as "now").

All state lives in this object and round-trips through ``to_dict``/``from_dict``, so the shell
can persist it next to the raw message log and rebuild it after a restart. ``to_dict(with_incidents=False)``
names the open incidents by id only, for a shell that stores them in their own rows anyway.

What is kept stays bounded by the fleet, not by its traffic (issue 10 item 8): an info-only failed start (a
card nobody knows) with no new attempt for ``info_expiry`` resolves with that reason, and a charger that has
been disconnected for ``forget_after`` keeps only what its offline incident needs (heartbeat interval, site,
when it left): its connectors' state and the windows of past disconnects, boots and failed starts go. A
charger that comes back starts afresh, as after any reconnect; warnings and worse stay open until resolved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from chargewatch.domain.signals import (
    AuthorizeRejected,
    BootReported,
    Connected,
    Disconnected,
    DriverReport,
    FirmwareFailed,
    FirmwareInstalled,
    HeartbeatIntervalSet,
    IncidentAcknowledged,
    IncidentClosed,
    MessageSeen,
    ProbeUnanswered,
    RebootRequested,
    SecurityReported,
    SessionProgress,
    SessionStarted,
    SessionStopped,
    Signal,
    SiteAssigned,
    StartRejected,
    StatusReported,
    require_utc,
)
from chargewatch.faults.incidents import (
    Evidence,
    Incident,
    IncidentKind,
    IncidentStatus,
    InvalidTransition,
    Severity,
    acknowledge,
    incident_key,
    open_incident,
    record_occurrence,
    reopen,
    resolve,
)

# Errors that trip protective devices: a person may be at risk, so they alert fastest.
SAFETY_ERROR_CODES = frozenset({"GroundFailure", "OverCurrentFailure", "OverVoltage", "HighTemperature"})
# Faults of the car, not the charger ("not a real error": the connector need not go out of service).
VEHICLE_ERROR_CODES = frozenset({"EVCommunicationError"})
# Stop reasons that end a session abnormally whatever the connector was doing.
ABORT_REASONS = frozenset({"EmergencyStop", "PowerLoss", "Reboot"})
# Stops someone chose (the operator's RemoteStop, the driver at the charger): never an aborted session.
DELIBERATE_STOP_REASONS = frozenset({"Remote", "Local"})
# Stop reasons that are normal when idle but abort a session that was delivering energy.
MID_CHARGE_ABORT_REASONS = frozenset({"EVDisconnected", "HardReset", "SoftReset"})
# The code of a fault reported without one (status Faulted, errorCode NoError; a 2.0.1 StatusNotification, whose
# detail comes in a NotifyEvent): the first coded fault on that connector names it instead of opening another.
UNCODED_FAULT = "Faulted"
# Connector states in which an open session is expected to draw energy.
ENERGY_EXPECTED_STATUSES = frozenset({"Preparing", "Charging", "SuspendedEVSE"})


@dataclass(frozen=True)
class FaultConfig:
    """Thresholds of the detection rules; the defaults suit a public AC/DC network."""

    alert_delay: timedelta = timedelta(minutes=3)
    critical_alert_delay: timedelta = timedelta(minutes=1)
    escalate_after: timedelta = timedelta(minutes=30)
    max_escalations: int = 2
    default_heartbeat: timedelta = timedelta(minutes=5)
    heartbeat_grace_factor: float = 2.0
    reconnect_grace: timedelta = timedelta(minutes=2)
    offline_recovery_hold: timedelta = timedelta(minutes=2)
    flap_threshold: int = 3
    flap_window: timedelta = timedelta(minutes=15)
    stall_after: timedelta = timedelta(minutes=10)
    min_flow_w: float = 50.0
    low_power_ratio: float = 0.2
    low_power_after: timedelta = timedelta(minutes=30)
    connector_ratings_w: Mapping[str, float] = field(default_factory=dict)
    zero_energy_wh: int = 10
    preparing_timeout: timedelta = timedelta(minutes=5)
    repeated_failures: int = 3
    failure_window: timedelta = timedelta(minutes=30)
    boot_loop_count: int = 3
    boot_loop_window: timedelta = timedelta(minutes=15)
    max_evidence: int = 50
    # A reboot we asked for (Reset, TriggerMessage BootNotification) may take this long without being an outage.
    requested_reboot_window: timedelta = timedelta(minutes=5)
    # Reconnects only flap when the charger was also offline this share of the time since the first one in
    # the window: judged by time offline, so 8-24 s blips every few minutes never page.
    flap_offline_ratio: float = 0.25
    # A safety trip on the same connector within this window reopens its incident and alerts at once.
    trip_window: timedelta = timedelta(minutes=30)
    # A silent charger is probed after this many heartbeat intervals; no answer opens the offline incident.
    probe_factor: float = 1.5
    # Frozen meter: the register stays flat while the charger reports at least this power for this long.
    frozen_min_power_w: float = 1000.0
    frozen_after: timedelta = timedelta(minutes=5)
    frozen_min_wh: int = 200
    frozen_min_soc_rise: float = 3.0
    # Chargers of one site offline within this window of each other are one site incident.
    site_min_chargers: int = 2
    site_window: timedelta = timedelta(minutes=2)
    # An info-only failed start (an unknown or blocked card) with no new failed attempt for this long is over:
    # it resolves as expired, so a charger that left does not keep it open forever. Warnings and worse never do.
    info_expiry: timedelta = timedelta(hours=1)
    # A charger disconnected this long keeps only what its open incidents need (keep it above the flap, boot
    # loop, failure and trip windows, whose history it drops).
    forget_after: timedelta = timedelta(hours=1)

    def rating_w(self, charger_id: str, connector_id: int) -> float | None:
        """Rated power of a connector: key ``"CP1/2"`` wins over a charger-wide ``"CP1"``."""
        return self.connector_ratings_w.get(f"{charger_id}/{connector_id}", self.connector_ratings_w.get(charger_id))

    def alert_delay_for(self, severity: Severity) -> timedelta:
        return self.critical_alert_delay if severity is Severity.CRITICAL else self.alert_delay


@dataclass(frozen=True)
class Opened:
    incident: Incident
    at: datetime


@dataclass(frozen=True)
class Updated:
    """New evidence, a raised severity, or an acknowledgement."""

    incident: Incident
    at: datetime


@dataclass(frozen=True)
class Escalated:
    """Still unacknowledged ``level`` × escalate_after after the alert went out."""

    incident: Incident
    at: datetime
    level: int


@dataclass(frozen=True)
class Resolved:
    incident: Incident
    at: datetime
    evidence: Evidence


@dataclass(frozen=True)
class AlertDue:
    """Send the alert now: the alert delay passed and the incident is still open (or got worse)."""

    incident: Incident
    at: datetime


IncidentEvent = Opened | Updated | Escalated | Resolved | AlertDue


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _times(raw: Any) -> list[datetime]:
    return [datetime.fromisoformat(item) for item in raw or ()]


@dataclass
class _ChargerState:
    heartbeat_s: int | None = None
    last_message_at: datetime | None = None
    connected: bool | None = None
    disconnected_at: datetime | None = None
    returned_at: datetime | None = None
    return_evidence: Evidence | None = None
    disconnects: list[datetime] = field(default_factory=list)
    boots: list[datetime] = field(default_factory=list)
    reboot_expected_until: datetime | None = None
    offline_spans: list[tuple[datetime, datetime]] = field(default_factory=list)
    probe_sent_at: datetime | None = None
    site_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "heartbeat_s": self.heartbeat_s,
            "last_message_at": _iso(self.last_message_at),
            "connected": self.connected,
            "disconnected_at": _iso(self.disconnected_at),
            "returned_at": _iso(self.returned_at),
            "return_evidence": None if self.return_evidence is None else self.return_evidence.to_dict(),
            "disconnects": [d.isoformat() for d in self.disconnects],
            "boots": [b.isoformat() for b in self.boots],
            "reboot_expected_until": _iso(self.reboot_expected_until),
            "offline_spans": [[a.isoformat(), b.isoformat()] for a, b in self.offline_spans],
            "probe_sent_at": _iso(self.probe_sent_at),
            "site_id": self.site_id,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> _ChargerState:
        evidence = raw["return_evidence"]
        return cls(
            heartbeat_s=raw["heartbeat_s"],
            last_message_at=_when(raw["last_message_at"]),
            connected=raw["connected"],
            disconnected_at=_when(raw["disconnected_at"]),
            returned_at=_when(raw["returned_at"]),
            return_evidence=None if evidence is None else Evidence.from_dict(evidence),
            disconnects=_times(raw["disconnects"]),
            boots=_times(raw["boots"]),
            reboot_expected_until=_when(raw.get("reboot_expected_until")),
            offline_spans=[(datetime.fromisoformat(a), datetime.fromisoformat(b))
                           for a, b in raw.get("offline_spans") or ()],
            probe_sent_at=_when(raw.get("probe_sent_at")),
            site_id=raw.get("site_id"),
        )

    def offline_within(self, window: timedelta, now: datetime) -> timedelta:
        """Time offline (closed spans) within ``window`` before ``now``."""
        start = now - window
        return sum((end - max(begin, start) for begin, end in self.offline_spans if end > start), timedelta())


@dataclass
class _ConnectorState:
    status: str | None = None
    preparing_since: datetime | None = None
    failures: list[datetime] = field(default_factory=list)
    status_at: datetime | None = None
    tripped: Incident | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "preparing_since": _iso(self.preparing_since),
            "failures": [f.isoformat() for f in self.failures],
            "status_at": _iso(self.status_at),
            "tripped": None if self.tripped is None else self.tripped.to_dict(),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> _ConnectorState:
        tripped = raw.get("tripped")
        return cls(
            status=raw["status"],
            preparing_since=_when(raw["preparing_since"]),
            failures=_times(raw["failures"]),
            status_at=_when(raw.get("status_at")),
            tripped=None if tripped is None else Incident.from_dict(tripped),
        )


@dataclass
class _SessionState:
    charger_id: str
    connector_id: int
    session_id: str
    last_flow_at: datetime
    status: str | None = None
    last_energy_wh: int | None = None
    low_power_since: datetime | None = None
    last_progress_at: datetime | None = None
    last_power_w: float | None = None
    frozen_since: datetime | None = None
    frozen_expected_wh: float = 0.0
    frozen_soc_from: float | None = None
    last_soc: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "charger_id": self.charger_id,
            "connector_id": self.connector_id,
            "session_id": self.session_id,
            "last_flow_at": self.last_flow_at.isoformat(),
            "status": self.status,
            "last_energy_wh": self.last_energy_wh,
            "low_power_since": _iso(self.low_power_since),
            "last_progress_at": _iso(self.last_progress_at),
            "last_power_w": self.last_power_w,
            "frozen_since": _iso(self.frozen_since),
            "frozen_expected_wh": self.frozen_expected_wh,
            "frozen_soc_from": self.frozen_soc_from,
            "last_soc": self.last_soc,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> _SessionState:
        return cls(
            charger_id=raw["charger_id"],
            connector_id=raw["connector_id"],
            session_id=raw["session_id"],
            last_flow_at=datetime.fromisoformat(raw["last_flow_at"]),
            status=raw["status"],
            last_energy_wh=raw["last_energy_wh"],
            low_power_since=_when(raw["low_power_since"]),
            last_progress_at=_when(raw.get("last_progress_at")),
            last_power_w=raw.get("last_power_w"),
            frozen_since=_when(raw.get("frozen_since")),
            frozen_expected_wh=float(raw.get("frozen_expected_wh") or 0.0),
            frozen_soc_from=raw.get("frozen_soc_from"),
            last_soc=raw.get("last_soc"),
        )


def _connector_key(charger_id: str, connector_id: int | None) -> str:
    return f"{charger_id}|{'' if connector_id is None else connector_id}"


def _session_key(charger_id: str, session_id: str) -> str:
    return f"{charger_id}|{session_id}"


class FaultDetector:
    """Recognises charger and session problems and keeps one open incident per problem."""

    STATE_VERSION = 3
    # Version 2 only added fields, which default when absent; version 3 may name the open incidents by id
    # ("open_incident_ids": the incidents are passed to from_dict) instead of carrying them.
    READABLE_VERSIONS = frozenset({1, 2, 3})

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.config = config or FaultConfig()
        self._now: datetime | None = None
        self._chargers: dict[str, _ChargerState] = {}
        self._connectors: dict[str, _ConnectorState] = {}
        self._sessions: dict[str, _SessionState] = {}
        self._session_of_connector: dict[str, str] = {}  # derived from _sessions (not saved): an index
        self._open: dict[str, Incident] = {}
        self._compacted: set[str] = set()  # departed chargers already cut down to what they need (not saved)

    @property
    def open_incidents(self) -> list[Incident]:
        """Open and acknowledged incidents, in key order."""
        return [self._open[key] for key in sorted(self._open)]

    def feed(self, signal: Signal) -> list[IncidentEvent]:
        if isinstance(signal, HeartbeatIntervalSet):
            self._charger(signal.charger_id).heartbeat_s = signal.seconds
            return []
        if isinstance(signal, SiteAssigned):
            self._charger(signal.charger_id).site_id = signal.site_id
            return []
        previous = self._now
        # The time rules (and alert delays) scan every charger, session and open incident: on a busy fleet that
        # runs once per second of signal time, not once per message (deterministic, so replays agree).
        scan = previous is None or _scan_slot(signal.at) > _scan_slot(previous)
        if previous is None or scan:
            events = self._advance(signal.at)
        else:
            events = []
            self._now = max(previous, signal.at)
        now = self._now
        assert now is not None
        applied = self._apply(signal, now)
        events += applied
        if scan or applied:
            events += self._alerts(now)
        return events

    def tick(self, now: datetime) -> list[IncidentEvent]:
        require_utc(now, "now")
        return self._advance(now)

    def _apply(self, signal: Signal, now: datetime) -> list[IncidentEvent]:
        if isinstance(signal, StatusReported):
            return self._on_status(signal, now)
        if isinstance(signal, SecurityReported):
            return self._on_security(signal, now)
        if isinstance(signal, FirmwareFailed | FirmwareInstalled):
            return self._on_firmware(signal, now)
        if isinstance(signal, MessageSeen):
            return self._alive(signal.charger_id, now, Evidence(now, "Message"))
        if isinstance(signal, Connected):
            return self._on_connected(signal, now)
        if isinstance(signal, Disconnected):
            return self._on_disconnected(signal, now)
        if isinstance(signal, BootReported):
            return self._on_boot(signal, now)
        if isinstance(signal, RebootRequested):
            self._charger(signal.charger_id).reboot_expected_until = now + self.config.requested_reboot_window
            return []
        if isinstance(signal, ProbeUnanswered):
            return self._on_probe_unanswered(signal, now)
        if isinstance(signal, SessionStarted):
            return self._on_session_started(signal, now)
        if isinstance(signal, SessionProgress):
            return self._on_progress(signal, now)
        if isinstance(signal, SessionStopped):
            return self._on_session_stopped(signal, now)
        if isinstance(signal, AuthorizeRejected):
            evidence = Evidence(now, "Authorize", {"idTag": signal.id_tag, "status": signal.status, **signal.evidence})
            events = self._alive(signal.charger_id, now, evidence)
            return events + self._failed_start(
                signal.charger_id, self._preparing_connector(signal.charger_id), f"Authorize.{signal.status}",
                Severity.INFO, now, evidence
            )
        if isinstance(signal, StartRejected):
            evidence = Evidence(
                now, "StartTransaction", {"idTag": signal.id_tag, "status": signal.status, **signal.evidence}
            )
            events = self._alive(signal.charger_id, now, evidence)
            return events + self._failed_start(
                signal.charger_id,
                signal.connector_id,
                f"StartTransaction.{signal.status}",
                Severity.INFO,
                now,
                evidence,
            )
        if isinstance(signal, DriverReport):
            evidence = Evidence(now, "DriverReport", {"category": signal.category, "text": signal.text})
            return self._upsert(
                IncidentKind.DRIVER_REPORT,
                Severity.WARNING,
                signal.charger_id,
                signal.connector_id,
                signal.category,
                now,
                evidence,
                session_id=signal.session_id,
            )
        if isinstance(signal, IncidentAcknowledged):
            return self._on_acknowledged(signal, now)
        if isinstance(signal, IncidentClosed):
            return self._on_closed(signal, now)
        raise TypeError(f"not a fault signal: {signal!r}")

    # --- connectivity -------------------------------------------------------------------------

    def _charger(self, charger_id: str) -> _ChargerState:
        return self._chargers.setdefault(charger_id, _ChargerState())

    def _connector(self, charger_id: str, connector_id: int | None) -> _ConnectorState:
        return self._connectors.setdefault(_connector_key(charger_id, connector_id), _ConnectorState())

    def _alive(self, charger_id: str, now: datetime, evidence: Evidence) -> list[IncidentEvent]:
        """Any message proves the charger is back; the offline incident resolves once it stays back
        for ``offline_recovery_hold`` (so a flapping link keeps one incident, not one per flap)."""
        charger = self._charger(charger_id)
        charger.last_message_at = now
        charger.probe_sent_at = None
        if charger.connected is False:
            charger.connected = True
            if charger.disconnected_at is not None:
                charger.offline_spans.append((charger.disconnected_at, now))
            charger.disconnected_at = None
            self._compacted.discard(charger_id)
        offline = self._open.get(incident_key(IncidentKind.CHARGER_OFFLINE, charger_id, None, None))
        if offline is not None and charger.returned_at is None:
            charger.returned_at = now
            charger.return_evidence = evidence
        return self._resolve_returned(charger_id, now)

    def _resolve_returned(self, charger_id: str, now: datetime) -> list[IncidentEvent]:
        charger = self._charger(charger_id)
        if charger.returned_at is None or now - charger.returned_at < self.config.offline_recovery_hold:
            return []
        returned_at, evidence = charger.returned_at, charger.return_evidence
        charger.returned_at = charger.return_evidence = None
        assert evidence is not None
        key = incident_key(IncidentKind.CHARGER_OFFLINE, charger_id, None, None)
        return self._resolve_keys([key], returned_at, evidence, now)

    def _on_connected(self, signal: Connected, now: datetime) -> list[IncidentEvent]:
        self._forget_statuses(signal.charger_id)
        return self._alive(signal.charger_id, now, Evidence(now, "Connected"))

    def _on_disconnected(self, signal: Disconnected, now: datetime) -> list[IncidentEvent]:
        charger = self._charger(signal.charger_id)
        charger.connected = False
        charger.disconnected_at = now
        charger.returned_at = charger.return_evidence = None
        charger.offline_spans = [span for span in charger.offline_spans if now - span[1] < self.config.flap_window]
        if self._reboot_expected(charger, now):
            return []  # the reboot we asked for drops the connection: neither flapping nor an outage
        charger.disconnects = [d for d in charger.disconnects if now - d < self.config.flap_window] + [now]
        offline = charger.offline_within(self.config.flap_window, now)
        evidence = Evidence(now, "Disconnected", {"disconnects_in_window": len(charger.disconnects),
                                                  "offline_s_in_window": offline.total_seconds()})
        offline_key = incident_key(IncidentKind.CHARGER_OFFLINE, signal.charger_id, None, None)
        if offline_key in self._open:
            return self._update(offline_key, evidence, now)
        # A charger that keeps rebooting drops its connection each time: that is the boot loop
        # showing, not a second problem with the network.
        boot_key = incident_key(IncidentKind.BOOT_LOOP, signal.charger_id, None, None)
        if boot_key in self._open:
            return self._update(boot_key, evidence, now)
        flapping_key = incident_key(IncidentKind.CONNECTION_FLAPPING, signal.charger_id, None, None)
        span = now - charger.disconnects[0]
        if len(charger.disconnects) >= self.config.flap_threshold and (
            offline >= span * self.config.flap_offline_ratio or flapping_key in self._open
        ):
            return self._upsert(
                IncidentKind.CONNECTION_FLAPPING,
                Severity.WARNING,
                signal.charger_id,
                None,
                None,
                now,
                evidence,
                first_seen=charger.disconnects[0],
            )
        return []

    def _on_boot(self, signal: BootReported, now: datetime) -> list[IncidentEvent]:
        charger = self._charger(signal.charger_id)
        evidence = Evidence(now, "BootNotification", dict(signal.evidence))
        events = self._alive(signal.charger_id, now, evidence)
        self._forget_statuses(signal.charger_id, rebooted=True)
        if self._reboot_expected(charger, now):
            charger.reboot_expected_until = None  # one requested reboot excuses one boot
            return events
        charger.boots = [b for b in charger.boots if now - b < self.config.boot_loop_window] + [now]
        if len(charger.boots) >= self.config.boot_loop_count:
            events += self._upsert(
                IncidentKind.BOOT_LOOP,
                Severity.FAULT,
                signal.charger_id,
                None,
                None,
                now,
                replace(evidence, data={**evidence.data, "boots_in_window": len(charger.boots)}),
                first_seen=charger.boots[0],
                outage=True,
            )
            # The reboots explain the dropped connections that may have raised a flapping warning.
            flapping_key = incident_key(IncidentKind.CONNECTION_FLAPPING, signal.charger_id, None, None)
            events += self._resolve_keys([flapping_key], now, evidence, now)
        return events

    @staticmethod
    def _reboot_expected(charger: _ChargerState, now: datetime) -> bool:
        return charger.reboot_expected_until is not None and now <= charger.reboot_expected_until

    def _preparing_connector(self, charger_id: str) -> int | None:
        """Authorize.req names no connector; a rejected card read belongs to the one connector in Preparing."""
        prefix = f"{charger_id}|"
        preparing = [key for key, c in self._connectors.items() if key.startswith(prefix) and c.status == "Preparing"]
        if len(preparing) != 1:
            return None
        connector = preparing[0].rpartition("|")[2]
        return int(connector) if connector else None

    def _session_on(self, charger_id: str, connector_id: int) -> str | None:
        session = self._sessions.get(self._session_of_connector.get(_connector_key(charger_id, connector_id), ""))
        return None if session is None else session.session_id

    def _index_session(self, session: _SessionState) -> None:
        key = _session_key(session.charger_id, session.session_id)
        self._session_of_connector[_connector_key(session.charger_id, session.connector_id)] = key

    def _forget_statuses(self, charger_id: str, rebooted: bool = False) -> None:
        """After a reboot or reconnect the last known status is stale: the first report is not a
        transition. A reboot may also reset the charger's clock, so its time order starts afresh."""
        prefix = f"{charger_id}|"
        for key, connector in self._connectors.items():
            if key.startswith(prefix):
                connector.status = None
                if rebooted:
                    connector.status_at = None

    # --- security ---------------------------------------------------------------------------

    def _on_security(self, signal: SecurityReported, now: datetime) -> list[IncidentEvent]:
        """A security event is its own incident per charger and type (repeats add occurrences); it stays open
        until an operator resolves it, since no message says a tamper or a refused certificate is over."""
        data: dict[str, Any] = {**signal.evidence, "type": signal.type}
        if signal.tech_info is not None:
            data["techInfo"] = signal.tech_info
        evidence = Evidence(now, "SecurityEvent", data)
        events = self._alive(signal.charger_id, now, evidence)
        severity = Severity(signal.severity)
        if severity is Severity.INFO:
            return events  # informational (a startup, a reboot, the clock set): in the security log, no incident
        return events + self._upsert(IncidentKind.SECURITY_EVENT, severity, signal.charger_id, None, signal.type,
                                     now, evidence)

    # --- firmware ---------------------------------------------------------------------------

    def _on_firmware(self, signal: FirmwareFailed | FirmwareInstalled, now: datetime) -> list[IncidentEvent]:
        """A failed firmware update is an incident of the charger per reason (repeats add occurrences); a later
        successful install resolves them all (the charger runs the firmware it was meant to)."""
        if isinstance(signal, FirmwareInstalled):
            evidence = Evidence(now, "FirmwareInstalled", dict(signal.evidence))
            return self._resolve_keys(self._matching(IncidentKind.FIRMWARE_FAILED, signal.charger_id, None), now,
                                      evidence, now)
        evidence = Evidence(now, "FirmwareUpdate", {**signal.evidence, "reason": signal.reason})
        return self._upsert(IncidentKind.FIRMWARE_FAILED, Severity.WARNING, signal.charger_id, None,
                            signal.reason[:100], now, evidence)

    # --- connector status ---------------------------------------------------------------------

    def _on_status(self, signal: StatusReported, now: datetime) -> list[IncidentEvent]:
        data: dict[str, Any] = {
            "connectorId": signal.connector_id,
            "status": signal.status,
            "errorCode": signal.error_code,
        }
        for name, value in (
            ("info", signal.info),
            ("vendorId", signal.vendor_id),
            ("vendorErrorCode", signal.vendor_error_code),
            ("messageId", signal.message_id),
        ):
            if value is not None:
                data[name] = value
        evidence = Evidence(now, "StatusNotification", {**signal.evidence, **data})
        events = self._alive(signal.charger_id, now, evidence)
        connector = self._connector(signal.charger_id, signal.connector_id)
        reported, applied = signal.reported_at, connector.status_at
        if reported is not None and applied is not None and reported < applied:
            # A queued report older than the one already applied (offline-queue flush): charger-time order
            # says it is history, superseded by what we know; it changes neither state nor incidents.
            return events
        events += self._check_transition(signal, now, evidence)
        connector.status = signal.status
        if signal.reported_at is not None:
            connector.status_at = signal.reported_at
        if signal.status == "Preparing":
            connector.preparing_since = connector.preparing_since or now
        else:
            connector.preparing_since = None
        if signal.status == "Available":  # the driver left: a failed start on this connector is over
            gone = self._matching(IncidentKind.FAILED_START, signal.charger_id, signal.connector_id)
            events += self._resolve_keys(gone, now, evidence, now)
        session_id = self._session_on(signal.charger_id, signal.connector_id)

        faulted = signal.status == "Faulted"
        on_connector = [
            key
            for key, incident in self._open.items()
            if incident.kind is IncidentKind.CONNECTOR_ERROR
            and incident.charger_id == signal.charger_id
            and incident.connector_id == signal.connector_id
        ]
        if signal.error_code == "NoError" and not faulted:
            # Back in service ends the outage; a warning ends only with a report about errors (1.6 errorCode
            # NoError, a cleared 2.0.1 NotifyEvent), not with a 2.0.1 status that says nothing of them.
            ended = on_connector if signal.errors_reported else [key for key in on_connector if self._open[key].outage]
            return events + self._resolve_keys(ended, now, evidence, now)
        if signal.error_code == "NoError":
            if on_connector:  # faulted without a code: the fault already reported (2.0.1 NotifyEvent) did it
                for key in sorted(on_connector):
                    events += self._out_of_service(key, now, evidence)
                return events
            return events + self._upsert(
                IncidentKind.CONNECTOR_ERROR,
                Severity.FAULT,
                signal.charger_id,
                signal.connector_id,
                UNCODED_FAULT,
                now,
                evidence,
                outage=True,
                session_id=session_id,
            )
        if signal.error_code in VEHICLE_ERROR_CODES:
            severity = Severity.INFO
        elif faulted:
            severity = Severity.CRITICAL if signal.error_code in SAFETY_ERROR_CODES else Severity.FAULT
        else:
            severity = Severity.WARNING
        # A code that is no longer reported, or one whose outage state flipped, ends its incident:
        # uptime must count the outage from the moment the connector actually went out of service.
        stale = [
            key
            for key in on_connector
            if (self._open[key].code != signal.error_code and not faulted) or self._open[key].outage != faulted
        ]
        events += self._resolve_keys(stale, now, evidence, now)
        key = incident_key(IncidentKind.CONNECTOR_ERROR, signal.charger_id, signal.connector_id, signal.error_code)
        uncoded = incident_key(IncidentKind.CONNECTOR_ERROR, signal.charger_id, signal.connector_id, UNCODED_FAULT)
        if faulted and uncoded in self._open and key not in self._open:
            return events + self._name_fault(uncoded, signal.error_code, severity, now, evidence, session_id)
        tripped = connector.tripped
        if (
            faulted
            and key not in self._open
            and tripped is not None
            and tripped.code == signal.error_code
            and tripped.resolved_at is not None
            and now - tripped.resolved_at <= self.config.trip_window
        ):
            return events + self._trip_again(key, tripped, connector, now, evidence, session_id)
        return events + self._upsert(
            IncidentKind.CONNECTOR_ERROR,
            severity,
            signal.charger_id,
            signal.connector_id,
            signal.error_code,
            now,
            evidence,
            outage=faulted,
            session_id=session_id,
        )

    def _name_fault(self, uncoded: str, code: str, severity: Severity, now: datetime, evidence: Evidence,
                    session_id: str | None) -> list[IncidentEvent]:
        """The open fault reported without a code gets the code (and detail) that followed: still one incident,
        from when the connector went out of service, its severity raised to the code's."""
        incident = self._open.pop(uncoded)
        named = record_occurrence(incident, evidence, self.config.max_evidence)
        named = replace(named, code=code, occurrences=incident.occurrences,
                        severity=severity if severity.rank > incident.severity.rank else incident.severity,
                        session_id=incident.session_id or session_id)
        self._open[named.key] = named
        return [Updated(named, now)]

    def _out_of_service(self, key: str, now: datetime, evidence: Evidence) -> list[IncidentEvent]:
        """A connector reported Faulted without a code while a coded fault is open on it (a 2.0.1 NotifyEvent on a
        variable that does not itself fault the EVSE, e.g. UnderVoltage, then the Faulted status): that fault took
        it out of service. Still one incident, now an outage from this moment (uptime counts from first_seen)."""
        events = self._update(key, evidence, now)
        incident = self._open[key]
        if incident.outage or incident.code == UNCODED_FAULT:
            return events
        code = incident.code or ""
        severity = (Severity.INFO if code in VEHICLE_ERROR_CODES
                    else Severity.CRITICAL if code in SAFETY_ERROR_CODES else Severity.FAULT)
        self._open[key] = replace(incident, outage=True, first_seen=max(incident.first_seen, now),
                                  severity=severity if severity.rank > incident.severity.rank else incident.severity)
        return [Updated(self._open[key], now)]

    def _trip_again(
        self,
        key: str,
        tripped: Incident,
        connector: _ConnectorState,
        now: datetime,
        evidence: Evidence,
        session_id: str | None,
    ) -> list[IncidentEvent]:
        """The same safety code tripped again on the connector: one escalating incident, alerted now."""
        trips = _trips(tripped) + 1
        evidence = replace(evidence, data={**evidence.data, "trips": trips})
        incident = reopen(tripped, evidence, self.config.max_evidence)
        if session_id is not None and incident.session_id is None:
            incident = replace(incident, session_id=session_id)
        connector.tripped = None
        self._open[key] = incident
        return [Updated(incident, now), *self._alert_now(key, now)]

    def _alert_now(self, key: str, now: datetime) -> list[IncidentEvent]:
        """Skip the alert delay: the problem is already proven (a repeat trip, an unanswered probe)."""
        incident = self._open[key]
        if incident.alerted_severity is not None and incident.alerted_severity.rank >= incident.severity.rank:
            return []
        incident = replace(incident, alerted_severity=incident.severity)
        self._open[key] = incident
        return [AlertDue(incident, now)]

    def _check_transition(self, signal: StatusReported, now: datetime, evidence: Evidence) -> list[IncidentEvent]:
        """The charger's protocol says (``allowed_after``) which statuses this one may follow; detection only
        compares with the status it holds."""
        allowed = signal.allowed_after
        if allowed is None:
            return []
        if not allowed:
            code = f"connector {signal.connector_id} cannot be {signal.status}"
        else:
            previous = self._connector(signal.charger_id, signal.connector_id).status
            if previous is None or previous in allowed:
                return []
            code = f"{previous}->{signal.status}"
        return self._upsert(
            IncidentKind.INVALID_TRANSITION,
            Severity.WARNING,
            signal.charger_id,
            signal.connector_id,
            code,
            now,
            evidence,
        )

    # --- sessions -----------------------------------------------------------------------------

    def _on_session_started(self, signal: SessionStarted, now: datetime) -> list[IncidentEvent]:
        evidence = Evidence(
            now, "StartTransaction", {"connectorId": signal.connector_id, "transactionId": signal.session_id}
        )
        evidence = replace(evidence, data={**signal.evidence, **evidence.data})
        events = self._alive(signal.charger_id, now, evidence)
        opened_session = _SessionState(
            charger_id=signal.charger_id,
            connector_id=signal.connector_id,
            session_id=signal.session_id,
            last_flow_at=now,
        )
        self._sessions[_session_key(signal.charger_id, signal.session_id)] = opened_session
        self._index_session(opened_session)
        connector = self._connector(signal.charger_id, signal.connector_id)
        connector.preparing_since = None
        connector.failures = []
        started = self._matching(IncidentKind.FAILED_START, signal.charger_id, signal.connector_id, charger_wide=True)
        return events + self._resolve_keys(started, now, evidence, now)

    def _on_progress(self, signal: SessionProgress, now: datetime) -> list[IncidentEvent]:
        evidence = Evidence(
            now,
            "MeterValues",
            {
                **signal.evidence,
                "transactionId": signal.session_id,
                "power_w": signal.power_w,
                "energy_wh": signal.energy_wh,
                "connector_status": signal.connector_status,
            },
        )
        events = self._alive(signal.charger_id, now, evidence)
        key = _session_key(signal.charger_id, signal.session_id)
        known = key in self._sessions
        session = self._sessions.setdefault(
            key, _SessionState(signal.charger_id, signal.connector_id, signal.session_id, last_flow_at=now)
        )
        if not known:
            self._index_session(session)
        energy_rose = (
            signal.energy_wh is not None
            and session.last_energy_wh is not None
            and signal.energy_wh > session.last_energy_wh
        )
        flowing = energy_rose or (signal.power_w is not None and signal.power_w > self.config.min_flow_w)
        events += self._frozen_meter(session, signal, energy_rose, now, evidence)
        if signal.energy_wh is not None:
            session.last_energy_wh = signal.energy_wh
        session.status = signal.connector_status
        stalled = self._matching(IncidentKind.STALLED_SESSION, signal.charger_id, signal.connector_id)
        if flowing or signal.connector_status not in ENERGY_EXPECTED_STATUSES:
            session.last_flow_at = now
            events += self._resolve_keys(stalled, now, evidence, now)

        rating = self.config.rating_w(signal.charger_id, signal.connector_id)
        if rating is None or signal.power_w is None or signal.connector_status != "Charging":
            session.low_power_since = None
        elif signal.power_w < rating * self.config.low_power_ratio:
            session.low_power_since = session.low_power_since or now
        else:
            session.low_power_since = None
            low = self._matching(IncidentKind.LOW_POWER_SESSION, signal.charger_id, signal.connector_id)
            events += self._resolve_keys(low, now, evidence, now)
        return events

    def _frozen_meter(
        self, session: _SessionState, signal: SessionProgress, energy_rose: bool, now: datetime, evidence: Evidence
    ) -> list[IncidentEvent]:
        """The register stays flat while the charger reports power (or the EV's SoC climbs): the meter
        froze and the bill would miss what the EV got. Expected energy integrates the reported power over
        receive time, so a queued burst (no time between samples) never looks frozen."""
        previous_at, previous_power = session.last_progress_at, session.last_power_w
        session.last_progress_at = now
        session.last_power_w = signal.power_w
        if signal.soc is not None:
            session.last_soc = signal.soc
        flat = signal.energy_wh is not None and session.last_energy_wh is not None and not energy_rose
        powered = signal.power_w is not None and signal.power_w >= self.config.frozen_min_power_w
        if not flat or not (powered or signal.soc is not None) or signal.connector_status != "Charging":
            session.frozen_since, session.frozen_expected_wh, session.frozen_soc_from = None, 0.0, None
            return []
        if session.frozen_since is None:
            session.frozen_since = previous_at or now
            session.frozen_soc_from = signal.soc
            session.frozen_expected_wh = 0.0
        if previous_at is not None and previous_power is not None and signal.power_w is not None:
            hours = (now - previous_at).total_seconds() / 3600
            session.frozen_expected_wh += (previous_power + signal.power_w) / 2 * hours
        soc_rise = (
            None
            if session.frozen_soc_from is None or signal.soc is None
            else signal.soc - session.frozen_soc_from
        )
        by_power = session.frozen_expected_wh >= self.config.frozen_min_wh
        by_soc = soc_rise is not None and soc_rise >= self.config.frozen_min_soc_rise
        if now - session.frozen_since < self.config.frozen_after or not (by_power or by_soc):
            return []
        key = incident_key(IncidentKind.FROZEN_METER, session.charger_id, session.connector_id, None)
        data = {
            **evidence.data,
            "register_wh": signal.energy_wh,
            "frozen_since": session.frozen_since.isoformat(),
            "expected_wh": round(session.frozen_expected_wh),
            "soc_from": session.frozen_soc_from,
            "soc_to": signal.soc,
        }
        if key in self._open:
            return self._update(key, replace(evidence, source="FrozenMeter", data=data), now)
        return self._upsert(
            IncidentKind.FROZEN_METER,
            Severity.FAULT,
            session.charger_id,
            session.connector_id,
            None,
            now,
            replace(evidence, source="FrozenMeter", data=data),
            first_seen=session.frozen_since,
            session_id=session.session_id,
        )

    def _on_session_stopped(self, signal: SessionStopped, now: datetime) -> list[IncidentEvent]:
        evidence = Evidence(
            now,
            "StopTransaction",
            {
                **signal.evidence,
                "transactionId": signal.session_id,
                "reason": signal.reason,
                "energy_wh": signal.energy_wh,
                "was_charging": signal.was_charging,
            },
        )
        events = self._alive(signal.charger_id, now, evidence)
        self._sessions.pop(_session_key(signal.charger_id, signal.session_id), None)
        ended = self._matching(IncidentKind.STALLED_SESSION, signal.charger_id, signal.connector_id)
        ended += self._matching(IncidentKind.LOW_POWER_SESSION, signal.charger_id, signal.connector_id)
        # A frozen meter ends with its session: the session itself waits in billing review.
        ended += self._matching(IncidentKind.FROZEN_METER, signal.charger_id, signal.connector_id)
        events += self._resolve_keys(ended, now, evidence, now)

        abort_code: str | None = None
        if signal.reason in ABORT_REASONS or (signal.reason in MID_CHARGE_ABORT_REASONS and signal.was_charging):
            abort_code = signal.reason
        elif signal.energy_wh <= self.config.zero_energy_wh and signal.reason not in DELIBERATE_STOP_REASONS:
            abort_code = "ZeroEnergy"
        if abort_code is None:
            recovered = self._matching(IncidentKind.ABORTED_SESSION, signal.charger_id, signal.connector_id)
            recovered += self._matching(
                IncidentKind.DRIVER_REPORT, signal.charger_id, signal.connector_id, charger_wide=True
            )
            return events + self._resolve_keys(recovered, now, evidence, now)
        count = self._record_failure(signal.charger_id, signal.connector_id, now)
        severity = Severity.FAULT if count >= self.config.repeated_failures else Severity.WARNING
        return events + self._upsert(
            IncidentKind.ABORTED_SESSION,
            severity,
            signal.charger_id,
            signal.connector_id,
            abort_code,
            now,
            evidence,
            session_id=signal.session_id,
        )

    def _record_failure(self, charger_id: str, connector_id: int | None, now: datetime) -> int:
        connector = self._connector(charger_id, connector_id)
        connector.failures = [f for f in connector.failures if now - f < self.config.failure_window] + [now]
        return len(connector.failures)

    def _failed_start(
        self,
        charger_id: str,
        connector_id: int | None,
        code: str,
        severity: Severity,
        now: datetime,
        evidence: Evidence,
    ) -> list[IncidentEvent]:
        """One failure is usually the driver's (wrong card); repeated failures on one connector are
        the connector's, so they raise the severity to fault."""
        count = self._record_failure(charger_id, connector_id, now)
        if count >= self.config.repeated_failures:
            severity = Severity.FAULT
        evidence = replace(evidence, data={**evidence.data, "failures_in_window": count})
        return self._upsert(IncidentKind.FAILED_START, severity, charger_id, connector_id, code, now, evidence)

    # --- operators ----------------------------------------------------------------------------

    def _on_acknowledged(self, signal: IncidentAcknowledged, now: datetime) -> list[IncidentEvent]:
        for key, incident in self._open.items():
            if incident.id == signal.incident_id:
                self._open[key] = acknowledge(incident, now, signal.by)
                return [Updated(self._open[key], now)]
        raise InvalidTransition(f"incident {signal.incident_id} is not open (unknown or already resolved)")

    def _on_closed(self, signal: IncidentClosed, now: datetime) -> list[IncidentEvent]:
        for key, incident in self._open.items():
            if incident.id == signal.incident_id:
                data = {"by": signal.by} if signal.note is None else {"by": signal.by, "note": signal.note}
                return self._resolve_keys([key], now, Evidence(now, "Operator", data), now)
        raise InvalidTransition(f"incident {signal.incident_id} is not open (unknown or already resolved)")

    # --- time ---------------------------------------------------------------------------------

    def _advance(self, at: datetime) -> list[IncidentEvent]:
        now = at if self._now is None or at > self._now else self._now
        self._now = now
        events: list[IncidentEvent] = []
        for charger_id in sorted(self._chargers):
            events += self._connectivity_rules(charger_id, now)
        for key in sorted(self._connectors):
            connector = self._connectors[key]
            if connector.preparing_since and now - connector.preparing_since >= self.config.preparing_timeout:
                charger_id, _, connector_id = key.rpartition("|")
                evidence = Evidence(now, "PreparingTimeout", {"preparing_since": connector.preparing_since.isoformat()})
                connector.preparing_since = None
                events += self._failed_start(
                    charger_id, int(connector_id), "NoSessionAfterPlugIn", Severity.WARNING, now, evidence
                )
        for key in sorted(self._sessions):
            events += self._session_rules(self._sessions[key], now)
        events += self._site_rules(now)
        events += self._expire_info(now)
        self._forget_departed(now)
        return events + self._alerts(now)

    def _expire_info(self, now: datetime) -> list[IncidentEvent]:
        """An info-only failed start with no new failed attempt for ``info_expiry`` is over (the driver with the
        unknown card gave up, or the charger left): resolved, with the reason the operator reads."""
        expiry = self.config.info_expiry
        expired = [key for key, incident in self._open.items()
                   if incident.kind is IncidentKind.FAILED_START and incident.severity is Severity.INFO
                   and now - incident.last_seen >= expiry]
        events: list[IncidentEvent] = []
        for key in sorted(expired):
            incident = self._open[key]
            charger = self._chargers.get(incident.charger_id)
            left = charger is not None and charger.connected is False
            reason = (f"expired: no failed start for {_duration(expiry)} since the last one"
                      + (" and the charger has disconnected" if left else ""))
            evidence = Evidence(now, "Expired", {"reason": reason, "last_seen": incident.last_seen.isoformat(),
                                                 "occurrences": incident.occurrences})
            events += self._resolve_keys([key], now, evidence, now)
        return events

    def _forget_departed(self, now: datetime) -> None:
        """A charger disconnected for ``forget_after`` (and past the grace that opens its offline incident): its
        connectors' state (failed-start counts, a trip long resolved) and the windows of disconnects and boots
        are history. What stays is what the offline incident needs: heartbeat interval, site, when it left."""
        horizon = max(self.config.forget_after, self.config.reconnect_grace, self.config.requested_reboot_window)
        departed = {charger_id for charger_id, charger in self._chargers.items()
                    if charger.connected is False and charger.disconnected_at is not None
                    and now - charger.disconnected_at > horizon and charger_id not in self._compacted}
        if not departed:
            return
        for key in [key for key in self._connectors if key.rpartition("|")[0] in departed]:
            del self._connectors[key]
        for charger_id in departed:
            charger = self._chargers[charger_id]
            charger.disconnects, charger.boots, charger.offline_spans = [], [], []
            charger.reboot_expected_until = charger.probe_sent_at = None
        self._compacted |= departed

    def probes_due(self, now: datetime) -> list[str]:
        """Chargers to probe now (WebSocket ping + TriggerMessage Heartbeat): connected, but silent for
        ``probe_factor`` heartbeat intervals. Each silence is probed once; any message ends it."""
        require_utc(now, "now")
        due = []
        for charger_id in sorted(self._chargers):
            charger = self._chargers[charger_id]
            if charger.connected is False or charger.last_message_at is None or charger.probe_sent_at is not None:
                continue
            if incident_key(IncidentKind.CHARGER_OFFLINE, charger_id, None, None) in self._open:
                continue
            heartbeat = timedelta(seconds=charger.heartbeat_s) if charger.heartbeat_s else self.config.default_heartbeat
            if now - charger.last_message_at >= heartbeat * self.config.probe_factor:
                charger.probe_sent_at = now
                due.append(charger_id)
        return due

    def _on_probe_unanswered(self, signal: ProbeUnanswered, now: datetime) -> list[IncidentEvent]:
        """Silent and deaf to a probe: offline since the last sign of life, and the proof is in, so it
        alerts without waiting the alert delay again."""
        charger = self._charger(signal.charger_id)
        since = charger.last_message_at
        if since is None or charger.probe_sent_at is None or since >= charger.probe_sent_at:
            return []  # it spoke after the probe went out
        key = incident_key(IncidentKind.CHARGER_OFFLINE, signal.charger_id, None, None)
        evidence = Evidence(now, "ProbeUnanswered", {"last_message_at": since.isoformat(),
                                                     "probe_sent_at": charger.probe_sent_at.isoformat(),
                                                     **signal.evidence})
        events = self._open_offline(signal.charger_id, since, now, evidence)
        if key in self._open:
            events += self._alert_now(key, now)
        return events

    def _site_rules(self, now: datetime) -> list[IncidentEvent]:
        """Chargers of one site going offline together share a cause (the site's network or power):
        one site incident with them as members alerts; the members keep their own outage records."""
        events: list[IncidentEvent] = []
        by_site: dict[str, list[str]] = {}
        for key, incident in self._open.items():
            if incident.kind is IncidentKind.CHARGER_OFFLINE:
                site = self._charger(incident.charger_id).site_id
                if site is not None:
                    by_site.setdefault(site, []).append(key)
        for site, keys in sorted(by_site.items()):
            site_key = incident_key(IncidentKind.SITE_OFFLINE, site, None, None)
            site_incident = self._open.get(site_key)
            if site_incident is None:
                keys.sort(key=lambda k: self._open[k].first_seen)
                group = [k for k in keys if self._open[k].first_seen - self._open[keys[0]].first_seen
                         <= self.config.site_window]
                if len(group) < self.config.site_min_chargers:
                    continue
                members = [self._open[k] for k in group]
                evidence = Evidence(now, "SiteOffline", {"site_id": site,
                                                         "chargers": sorted(m.charger_id for m in members)})
                events += self._upsert(IncidentKind.SITE_OFFLINE, Severity.FAULT, site, None, None, now, evidence,
                                       first_seen=min(m.first_seen for m in members))
                site_incident = self._open[site_key]
            else:
                group = [k for k in keys if self._open[k].parent_id is None]
            joined = [k for k in group if self._open[k].parent_id != site_incident.id]
            if not joined:
                continue
            for key in joined:
                # The site incident speaks for the member: it does not page on its own.
                self._open[key] = replace(self._open[key], parent_id=site_incident.id,
                                          alerted_severity=self._open[key].severity)
                events.append(Updated(self._open[key], now))
            members_now = tuple(sorted({*site_incident.members, *(self._open[k].charger_id for k in joined)}))
            self._open[site_key] = replace(self._open[site_key], members=members_now)
            events.append(Updated(self._open[site_key], now))
        return events

    def _connectivity_rules(self, charger_id: str, now: datetime) -> list[IncidentEvent]:
        charger = self._chargers[charger_id]
        events = self._resolve_returned(charger_id, now)
        offline_key = incident_key(IncidentKind.CHARGER_OFFLINE, charger_id, None, None)
        if offline_key not in self._open:
            heartbeat = timedelta(seconds=charger.heartbeat_s) if charger.heartbeat_s else self.config.default_heartbeat
            if charger.connected is False and charger.disconnected_at is not None:
                grace = self.config.reconnect_grace
                if self._reboot_expected(charger, charger.disconnected_at):
                    grace = max(grace, self.config.requested_reboot_window)
                if now - charger.disconnected_at > grace:
                    evidence = Evidence(now, "ConnectionLost", {"disconnected_at": charger.disconnected_at.isoformat()})
                    events += self._open_offline(charger_id, charger.disconnected_at, now, evidence)
            elif charger.last_message_at is not None and (
                now - charger.last_message_at > heartbeat * self.config.heartbeat_grace_factor
            ):
                evidence = Evidence(
                    now,
                    "Silence",
                    {
                        "last_message_at": charger.last_message_at.isoformat(),
                        "heartbeat_interval_s": int(heartbeat.total_seconds()),
                    },
                )
                events += self._open_offline(charger_id, charger.last_message_at, now, evidence)
        flapping_key = incident_key(IncidentKind.CONNECTION_FLAPPING, charger_id, None, None)
        if (
            flapping_key in self._open
            and charger.connected is not False
            and charger.disconnects
            and now - charger.disconnects[-1] >= self.config.flap_window
        ):
            evidence = Evidence(now, "StableConnection", {"last_disconnect": charger.disconnects[-1].isoformat()})
            events += self._resolve_keys([flapping_key], now, evidence, now)
        boot_key = incident_key(IncidentKind.BOOT_LOOP, charger_id, None, None)
        if boot_key in self._open and charger.boots and now - charger.boots[-1] >= self.config.boot_loop_window:
            evidence = Evidence(now, "StableUptime", {"last_boot": charger.boots[-1].isoformat()})
            events += self._resolve_keys([boot_key], now, evidence, now)
        return events

    def _open_offline(self, charger_id: str, since: datetime, now: datetime, evidence: Evidence) -> list[IncidentEvent]:
        """Offline counts from the last sign of life, so uptime does not lose the grace period."""
        events = self._upsert(
            IncidentKind.CHARGER_OFFLINE,
            Severity.FAULT,
            charger_id,
            None,
            None,
            now,
            evidence,
            first_seen=since,
            outage=True,
        )
        # The outage supersedes the flapping warning that led up to it.
        flapping_key = incident_key(IncidentKind.CONNECTION_FLAPPING, charger_id, None, None)
        return events + self._resolve_keys([flapping_key], now, evidence, now)

    def _session_rules(self, session: _SessionState, now: datetime) -> list[IncidentEvent]:
        events: list[IncidentEvent] = []
        # Without a meter sample we know nothing about the flow: chargers that send no MeterValues
        # must not have every session flagged as stalled.
        if session.status in ENERGY_EXPECTED_STATUSES and now - session.last_flow_at >= self.config.stall_after:
            evidence = Evidence(
                now,
                "NoEnergyFlow",
                {"transactionId": session.session_id, "last_flow_at": session.last_flow_at.isoformat()},
            )
            events += self._upsert_once(
                IncidentKind.STALLED_SESSION, Severity.WARNING, session, session.last_flow_at, now, evidence
            )
        if session.low_power_since and now - session.low_power_since >= self.config.low_power_after:
            evidence = Evidence(
                now,
                "LowPower",
                {
                    "transactionId": session.session_id,
                    "low_power_since": session.low_power_since.isoformat(),
                    "rating_w": self.config.rating_w(session.charger_id, session.connector_id),
                },
            )
            events += self._upsert_once(
                IncidentKind.LOW_POWER_SESSION,
                Severity.WARNING,
                session,
                session.low_power_since,
                now,
                evidence,
            )
        return events

    def _upsert_once(
        self,
        kind: IncidentKind,
        severity: Severity,
        session: _SessionState,
        since: datetime,
        now: datetime,
        evidence: Evidence,
    ) -> list[IncidentEvent]:
        """Time rules fire on every tick; only the first firing opens, later ones add nothing."""
        if incident_key(kind, session.charger_id, session.connector_id, None) in self._open:
            return []
        return self._upsert(
            kind,
            severity,
            session.charger_id,
            session.connector_id,
            None,
            now,
            evidence,
            first_seen=since,
            session_id=session.session_id,
        )

    def _alerts(self, now: datetime) -> list[IncidentEvent]:
        events: list[IncidentEvent] = []
        for key in sorted(self._open):
            incident = self._open[key]
            # Info never pages; a member of a site incident is paged through the site incident.
            if incident.status is not IncidentStatus.OPEN or incident.severity is Severity.INFO or incident.parent_id:
                continue
            delay = self.config.alert_delay_for(incident.severity)
            if incident.alerted_severity is None or incident.severity.rank > incident.alerted_severity.rank:
                if now - incident.opened_at >= delay:
                    incident = replace(incident, alerted_severity=incident.severity)
                    self._open[key] = incident
                    events.append(AlertDue(incident, now))
                continue
            level = incident.escalation_level + 1
            if level <= self.config.max_escalations and (
                now - incident.opened_at >= delay + self.config.escalate_after * level
            ):
                incident = replace(incident, escalation_level=level)
                self._open[key] = incident
                events.append(Escalated(incident, now, level))
        return events

    # --- incident bookkeeping -----------------------------------------------------------------

    def _matching(
        self, kind: IncidentKind, charger_id: str, connector_id: int | None, charger_wide: bool = False
    ) -> list[str]:
        """Keys of open incidents of ``kind`` on the connector (plus charger-level ones if asked)."""
        return [
            key
            for key, incident in self._open.items()
            if incident.kind is kind
            and incident.charger_id == charger_id
            and (incident.connector_id == connector_id or (charger_wide and incident.connector_id is None))
        ]

    def _upsert(
        self,
        kind: IncidentKind,
        severity: Severity,
        charger_id: str,
        connector_id: int | None,
        code: str | None,
        now: datetime,
        evidence: Evidence,
        *,
        first_seen: datetime | None = None,
        outage: bool = False,
        session_id: str | None = None,
    ) -> list[IncidentEvent]:
        key = incident_key(kind, charger_id, connector_id, code)
        existing = self._open.get(key)
        if existing is None:
            incident = open_incident(
                kind=kind,
                severity=severity,
                charger_id=charger_id,
                connector_id=connector_id,
                code=code,
                first_seen=first_seen or now,
                opened_at=now,
                evidence=evidence,
                session_id=session_id,
                outage=outage,
            )
            self._open[key] = incident
            return [Opened(incident, now)]
        events = self._update(key, evidence, now)
        if severity.rank > existing.severity.rank:
            self._open[key] = replace(self._open[key], severity=severity)
            events = [Updated(self._open[key], now)]
        return events

    def _update(self, key: str, evidence: Evidence, now: datetime) -> list[IncidentEvent]:
        self._open[key] = record_occurrence(self._open[key], evidence, self.config.max_evidence)
        return [Updated(self._open[key], now)]

    def _resolve_keys(
        self, keys: list[str], resolved_at: datetime, evidence: Evidence, now: datetime
    ) -> list[IncidentEvent]:
        events: list[IncidentEvent] = []
        for key in sorted(set(keys)):
            incident = self._open.pop(key, None)
            if incident is not None:
                resolved = resolve(incident, max(resolved_at, incident.first_seen), evidence)
                events.append(Resolved(resolved, now, evidence))
                if (
                    resolved.kind is IncidentKind.CONNECTOR_ERROR
                    and resolved.code in SAFETY_ERROR_CODES
                    and resolved.outage
                ):
                    self._connector(resolved.charger_id, resolved.connector_id).tripped = resolved
                if resolved.parent_id is not None and not any(
                    i.parent_id == resolved.parent_id for i in self._open.values()
                ):
                    parents = [k for k, i in self._open.items() if i.id == resolved.parent_id]
                    events += self._resolve_keys(parents, resolved_at, evidence, now)
        return events

    # --- persistence --------------------------------------------------------------------------

    def to_dict(self, with_incidents: bool = True) -> dict[str, Any]:
        """JSON-ready state; together with the config it rebuilds an identical detector. Without incidents the
        open ones are named by id only: from_dict then needs them (their stored rows) passed in."""
        state: dict[str, Any] = {
            "version": self.STATE_VERSION,
            "now": _iso(self._now),
            "chargers": {key: state.to_dict() for key, state in sorted(self._chargers.items())},
            "connectors": {key: state.to_dict() for key, state in sorted(self._connectors.items())},
            "sessions": {key: state.to_dict() for key, state in sorted(self._sessions.items())},
        }
        if with_incidents:
            state["open_incidents"] = [self._open[key].to_dict() for key in sorted(self._open)]
        else:
            state["open_incident_ids"] = [self._open[key].id for key in sorted(self._open)]
        return state

    @staticmethod
    def saved_incident_ids(raw: Mapping[str, Any]) -> list[str]:
        """The open incidents a state saved without them names (what from_dict needs passed in)."""
        return [str(item) for item in raw.get("open_incident_ids") or ()]

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], config: FaultConfig | None = None,
                  incidents: Mapping[str, Incident] | None = None) -> FaultDetector:
        """``incidents`` (by id) supplies the open incidents a state saved without them names; one missing there
        (resolved or never stored since) is not open any more."""
        if raw.get("version") not in cls.READABLE_VERSIONS:
            raise ValueError(f"unsupported fault detector state version {raw.get('version')!r}")
        detector = cls(config)
        detector._now = _when(raw["now"])
        decoders: list[tuple[dict[str, Any], Callable[[Mapping[str, Any]], Any], str]] = [
            (detector._chargers, _ChargerState.from_dict, "chargers"),
            (detector._connectors, _ConnectorState.from_dict, "connectors"),
            (detector._sessions, _SessionState.from_dict, "sessions"),
        ]
        for target, decode, name in decoders:
            target.update({key: decode(value) for key, value in raw[name].items()})
        for key in sorted(detector._sessions, key=lambda k: detector._sessions[k].last_flow_at):
            detector._index_session(detector._sessions[key])
        opened = [Incident.from_dict(item) for item in raw.get("open_incidents") or ()]
        opened += [incidents[i] for i in cls.saved_incident_ids(raw) if incidents is not None and i in incidents]
        for incident in opened:
            detector._open[incident.key] = incident
        return detector


def _trips(incident: Incident) -> int:
    """Trips counted so far: the last evidence that carries a count, else the first trip."""
    for item in reversed(incident.evidence):
        if "trips" in item.data:
            return int(item.data["trips"])
    return 1


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{value.total_seconds():g} s"


def _scan_slot(at: datetime) -> int:
    """The whole second of signal time ``at`` falls in; time rules run once per slot when fed signals."""
    return int(at.timestamp())
