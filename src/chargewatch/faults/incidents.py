"""Incidents: one record per problem, from first sight to resolution.

An incident is immutable; every change returns a new value, so the detector, the store and the
API never share a half-updated object. The lifecycle is open → acknowledged → resolved (open →
resolved directly when the charger recovers before anyone looked). Anything else is refused with
an :class:`InvalidTransition` that says what was attempted, because a silently ignored
acknowledgement corrupts MTTA.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from chargewatch.domain.signals import require_utc


class Severity(StrEnum):
    """How bad it is; ordered so routing can say "warning and above"."""

    INFO = "info"
    WARNING = "warning"
    FAULT = "fault"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.FAULT: 2, Severity.CRITICAL: 3}


class IncidentKind(StrEnum):
    """What the detector recognised; each kind has a situation entry in the guidance catalog."""

    CONNECTOR_ERROR = "connector_error"
    CHARGER_OFFLINE = "charger_offline"
    CONNECTION_FLAPPING = "connection_flapping"
    STALLED_SESSION = "stalled_session"
    LOW_POWER_SESSION = "low_power_session"
    ABORTED_SESSION = "aborted_session"
    FAILED_START = "failed_start"
    BOOT_LOOP = "boot_loop"
    INVALID_TRANSITION = "invalid_transition"
    DRIVER_REPORT = "driver_report"
    FROZEN_METER = "frozen_meter"
    SITE_OFFLINE = "site_offline"
    SECURITY_EVENT = "security_event"
    FIRMWARE_FAILED = "firmware_failed"


class IncidentStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class ExclusionReason(StrEnum):
    """Causes outside the operator's control that 23 CFR 680.116 lets us exclude from outage time."""

    UTILITY_OUTAGE = "utility_outage"
    VEHICLE_CAUSED = "vehicle_caused"
    SCHEDULED_MAINTENANCE = "scheduled_maintenance"
    VANDALISM = "vandalism"
    NATURAL_DISASTER = "natural_disaster"


class InvalidTransition(ValueError):
    """An incident was asked to move along an edge its lifecycle does not have."""


@dataclass(frozen=True)
class Evidence:
    """One proof attached to an incident: when, from which signal, and the message it carried."""

    at: datetime
    source: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "source": self.source, "data": dict(self.data)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Evidence:
        return cls(at=datetime.fromisoformat(raw["at"]), source=raw["source"], data=dict(raw["data"]))


@dataclass(frozen=True)
class Note:
    at: datetime
    author: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "author": self.author, "text": self.text}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Note:
        return cls(at=datetime.fromisoformat(raw["at"]), author=raw["author"], text=raw["text"])


def incident_key(kind: IncidentKind, charger_id: str, connector_id: int | None, code: str | None) -> str:
    """The de-duplication key: at most one open incident exists per key."""
    return f"{kind.value}|{charger_id}|{'' if connector_id is None else connector_id}|{code or ''}"


@dataclass(frozen=True)
class Incident:
    """A problem on a charger or connector.

    ``first_seen`` is when the problem began (for an offline charger: its last sign of life), which
    is what uptime counts; ``opened_at`` is when it was recognised, which is what alert delays count.
    ``outage`` says whether the port could not deliver energy meanwhile (uptime counts only those).
    """

    id: str
    kind: IncidentKind
    severity: Severity
    charger_id: str
    connector_id: int | None
    code: str | None
    first_seen: datetime
    last_seen: datetime
    opened_at: datetime
    session_id: str | None = None
    outage: bool = False
    status: IncidentStatus = IncidentStatus.OPEN
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolution: Evidence | None = None
    assignee: str | None = None
    exclusion_reason: ExclusionReason | None = None
    notes: tuple[Note, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    occurrences: int = 1
    alerted_severity: Severity | None = None
    escalation_level: int = 0
    members: tuple[str, ...] = ()
    """A site incident: the chargers it covers."""
    parent_id: str | None = None
    """A charger's incident covered by a site incident: that one alerts, this one does not."""

    @property
    def key(self) -> str:
        return incident_key(self.kind, self.charger_id, self.connector_id, self.code)

    @property
    def is_active(self) -> bool:
        return self.status is not IncidentStatus.RESOLVED

    def to_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "id": self.id,
            "kind": self.kind.value,
            "severity": self.severity.value,
            "charger_id": self.charger_id,
            "connector_id": self.connector_id,
            "code": self.code,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "opened_at": self.opened_at.isoformat(),
            "session_id": self.session_id,
            "outage": self.outage,
            "status": self.status.value,
            "acknowledged_at": iso(self.acknowledged_at),
            "acknowledged_by": self.acknowledged_by,
            "resolved_at": iso(self.resolved_at),
            "resolution": None if self.resolution is None else self.resolution.to_dict(),
            "assignee": self.assignee,
            "exclusion_reason": None if self.exclusion_reason is None else self.exclusion_reason.value,
            "notes": [note.to_dict() for note in self.notes],
            "evidence": [item.to_dict() for item in self.evidence],
            "occurrences": self.occurrences,
            "alerted_severity": None if self.alerted_severity is None else self.alerted_severity.value,
            "escalation_level": self.escalation_level,
            "members": list(self.members),
            "parent_id": self.parent_id,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Incident:
        def when(value: str | None) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value)

        return cls(
            id=raw["id"],
            kind=IncidentKind(raw["kind"]),
            severity=Severity(raw["severity"]),
            charger_id=raw["charger_id"],
            connector_id=raw["connector_id"],
            code=raw["code"],
            first_seen=datetime.fromisoformat(raw["first_seen"]),
            last_seen=datetime.fromisoformat(raw["last_seen"]),
            opened_at=datetime.fromisoformat(raw["opened_at"]),
            session_id=raw["session_id"],
            outage=raw["outage"],
            status=IncidentStatus(raw["status"]),
            acknowledged_at=when(raw["acknowledged_at"]),
            acknowledged_by=raw["acknowledged_by"],
            resolved_at=when(raw["resolved_at"]),
            resolution=None if raw["resolution"] is None else Evidence.from_dict(raw["resolution"]),
            assignee=raw["assignee"],
            exclusion_reason=None if raw["exclusion_reason"] is None else ExclusionReason(raw["exclusion_reason"]),
            notes=tuple(Note.from_dict(note) for note in raw["notes"]),
            evidence=tuple(Evidence.from_dict(item) for item in raw["evidence"]),
            occurrences=raw["occurrences"],
            alerted_severity=None if raw["alerted_severity"] is None else Severity(raw["alerted_severity"]),
            escalation_level=raw["escalation_level"],
            members=tuple(raw.get("members") or ()),
            parent_id=raw.get("parent_id"),
        )


def open_incident(
    *,
    kind: IncidentKind,
    severity: Severity,
    charger_id: str,
    connector_id: int | None,
    code: str | None,
    first_seen: datetime,
    opened_at: datetime,
    evidence: Evidence,
    session_id: str | None = None,
    outage: bool = False,
    incident_id: str | None = None,
) -> Incident:
    """Create an open incident; without an id the id is derived from key and start, so a replay of
    the same signals yields the same ids."""
    require_utc(first_seen, "first_seen")
    require_utc(opened_at, "opened_at")
    key = incident_key(kind, charger_id, connector_id, code)
    return Incident(
        id=incident_id or f"{key}|{first_seen.isoformat()}",
        kind=kind,
        severity=severity,
        charger_id=charger_id,
        connector_id=connector_id,
        code=code,
        first_seen=first_seen,
        last_seen=max(first_seen, evidence.at),
        opened_at=opened_at,
        session_id=session_id,
        outage=outage,
        evidence=(evidence,),
    )


def _require_active(incident: Incident, action: str) -> None:
    if incident.status is IncidentStatus.RESOLVED:
        raise InvalidTransition(f"cannot {action} incident {incident.id}: it is already resolved")


def record_occurrence(incident: Incident, evidence: Evidence, max_evidence: int = 50) -> Incident:
    """Attach new evidence of the same problem; old evidence is dropped past ``max_evidence`` so a
    chattering charger cannot grow an incident without bound (the first proof is always kept)."""
    _require_active(incident, "update")
    kept = incident.evidence + (evidence,)
    if len(kept) > max_evidence:
        kept = (kept[0],) + kept[len(kept) - max_evidence + 1 :]
    return replace(
        incident,
        last_seen=max(incident.last_seen, evidence.at),
        evidence=kept,
        occurrences=incident.occurrences + 1,
    )


def reopen(incident: Incident, evidence: Evidence, max_evidence: int = 50) -> Incident:
    """resolved → open: the same problem came back within its window (a repeated safety trip), so it
    continues as one incident with one history instead of a new one per recurrence."""
    if incident.status is not IncidentStatus.RESOLVED:
        raise InvalidTransition(f"cannot reopen incident {incident.id}: it is {incident.status.value}")
    active = replace(incident, status=IncidentStatus.OPEN, resolved_at=None, resolution=None)
    return record_occurrence(active, evidence, max_evidence)


def acknowledge(incident: Incident, at: datetime, by: str) -> Incident:
    """open → acknowledged: someone owns it, escalation stops."""
    require_utc(at)
    _require_active(incident, "acknowledge")
    if incident.status is IncidentStatus.ACKNOWLEDGED:
        raise InvalidTransition(f"incident {incident.id} was already acknowledged by {incident.acknowledged_by}")
    if at < incident.first_seen:
        raise InvalidTransition(f"cannot acknowledge incident {incident.id} before it began")
    return replace(incident, status=IncidentStatus.ACKNOWLEDGED, acknowledged_at=at, acknowledged_by=by)


def resolve(incident: Incident, at: datetime, evidence: Evidence) -> Incident:
    """open|acknowledged → resolved, keeping the evidence that proves the recovery."""
    require_utc(at)
    _require_active(incident, "resolve")
    if at < incident.first_seen:
        raise InvalidTransition(f"cannot resolve incident {incident.id} before it began")
    return replace(
        incident,
        status=IncidentStatus.RESOLVED,
        resolved_at=at,
        resolution=evidence,
        last_seen=max(incident.last_seen, at),
    )


def assign(incident: Incident, assignee: str | None) -> Incident:
    _require_active(incident, "assign")
    return replace(incident, assignee=assignee)


def add_note(incident: Incident, at: datetime, author: str, text: str) -> Incident:
    """Notes stay allowed after resolution: the post-mortem is written then."""
    require_utc(at)
    if not text.strip():
        raise ValueError("a note needs text")
    return replace(incident, notes=incident.notes + (Note(at=at, author=author, text=text),))


def set_exclusion(incident: Incident, reason: ExclusionReason | None) -> Incident:
    """Mark (or unmark) the outage as outside the operator's control for uptime reporting."""
    if reason is not None and not incident.outage:
        raise InvalidTransition(f"incident {incident.id} is not an outage; nothing to exclude")
    return replace(incident, exclusion_reason=reason)


@dataclass(frozen=True)
class ResponseTimes:
    """Mean time to acknowledge and to resolve for one station (None when nothing to average)."""

    station: str
    incidents: int
    acknowledged: int
    resolved: int
    mtta: timedelta | None
    mttr: timedelta | None


def response_times(
    incidents: Iterable[Incident], station_of: Mapping[str, str] | None = None
) -> dict[str, ResponseTimes]:
    """MTTA and MTTR per station, both measured from ``first_seen`` (when the driver was first
    affected), not from when we noticed. ``station_of`` maps charger id → station; by default
    each charger is its own station."""
    groups: dict[str, list[Incident]] = {}
    for incident in incidents:
        station = (station_of or {}).get(incident.charger_id, incident.charger_id)
        groups.setdefault(station, []).append(incident)

    def mean(spans: list[timedelta]) -> timedelta | None:
        return sum(spans, timedelta()) / len(spans) if spans else None

    result: dict[str, ResponseTimes] = {}
    for station, group in sorted(groups.items()):
        to_ack = [i.acknowledged_at - i.first_seen for i in group if i.acknowledged_at is not None]
        to_fix = [i.resolved_at - i.first_seen for i in group if i.resolved_at is not None]
        result[station] = ResponseTimes(
            station=station,
            incidents=len(group),
            acknowledged=len(to_ack),
            resolved=len(to_fix),
            mtta=mean(to_ack),
            mttr=mean(to_fix),
        )
    return result
