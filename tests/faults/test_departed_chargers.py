"""What the detector keeps of chargers that left is bounded (issue 10 item 8): an info-only failed start expires
with its reason, warnings and worse never do, a departed charger keeps only what its offline incident needs, and
one that comes back is detected as before."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chargewatch.domain.signals import (
    AuthorizeRejected,
    Connected,
    Disconnected,
    HeartbeatIntervalSet,
    MessageSeen,
    SiteAssigned,
    StatusReported,
)
from chargewatch.faults.detection import FaultConfig, FaultDetector, IncidentEvent, Opened, Resolved
from chargewatch.faults.incidents import IncidentKind, Severity

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def invalid(minutes: float, charger_id: str = "CP1", tag: str = "DEAD") -> AuthorizeRejected:
    return AuthorizeRejected(charger_id=charger_id, id_tag=tag, status="Invalid", at=at(minutes))


def status(minutes: float, value: str, charger_id: str = "CP1") -> StatusReported:
    return StatusReported(charger_id=charger_id, connector_id=1, status=value, error_code="NoError", at=at(minutes),
                          evidence={"connectorId": 1, "status": value, "errorCode": "NoError"})


def open_of(detector: FaultDetector, kind: IncidentKind) -> list:
    return [incident for incident in detector.open_incidents if incident.kind is kind]


def test_an_info_failed_start_of_a_charger_that_left_expires_with_the_reason() -> None:
    detector = FaultDetector()
    detector.feed(Connected(charger_id="CP1", at=at(0)))
    [opened] = [e for e in detector.feed(invalid(1)) if isinstance(e, Opened)]
    assert opened.incident.severity is Severity.INFO
    detector.feed(Disconnected(charger_id="CP1", at=at(2)))
    assert open_of(detector, IncidentKind.FAILED_START)
    assert not [e for e in detector.tick(at(60.5)) if isinstance(e, Resolved)
                and e.incident.kind is IncidentKind.FAILED_START]  # 59.5 min since the last failed start
    events: list[IncidentEvent] = detector.tick(at(61))
    [expired] = [e for e in events if isinstance(e, Resolved) and e.incident.kind is IncidentKind.FAILED_START]
    assert expired.evidence.source == "Expired"
    assert expired.incident.resolution is not None
    assert expired.incident.resolution.data["reason"] == (
        "expired: no failed start for 1 h since the last one and the charger has disconnected")
    assert not open_of(detector, IncidentKind.FAILED_START)
    assert [i.kind for i in detector.open_incidents] == [IncidentKind.CHARGER_OFFLINE]  # that one stays


def test_repeated_failed_starts_are_a_fault_and_never_expire() -> None:
    detector = FaultDetector()
    detector.feed(Connected(charger_id="CP1", at=at(0)))
    for minute in (1, 2, 3):
        detector.feed(invalid(minute, tag=f"T{minute}"))
    detector.feed(Disconnected(charger_id="CP1", at=at(4)))
    detector.tick(at(24 * 60))
    [fault] = open_of(detector, IncidentKind.FAILED_START)
    assert fault.severity is Severity.FAULT


def test_a_departed_charger_keeps_only_what_its_offline_incident_needs_and_comes_back_detected() -> None:
    detector = FaultDetector()
    detector.feed(HeartbeatIntervalSet(charger_id="CP1", seconds=60))
    detector.feed(SiteAssigned(charger_id="CP1", site_id="S1"))
    detector.feed(Connected(charger_id="CP1", at=at(0)))
    detector.feed(status(0.5, "Preparing"))
    for second in range(300):  # an RFID reader garbling every read: 300 failed starts in five minutes
        detector.feed(invalid(1 + second / 60, tag=f"T{second}"))
    detector.feed(Disconnected(charger_id="CP1", at=at(6)))
    before = detector.to_dict(with_incidents=False)
    assert len(before["connectors"]["CP1|1"]["failures"]) >= 300
    detector.tick(at(66.5))  # gone for more than forget_after (1 h)
    after = detector.to_dict(with_incidents=False)
    assert after["connectors"] == {}
    assert after["chargers"]["CP1"]["heartbeat_s"] == 60 and after["chargers"]["CP1"]["site_id"] == "S1"
    assert len(json.dumps(after)) < len(json.dumps(before)) / 5
    assert {i.kind for i in detector.open_incidents} == {IncidentKind.CHARGER_OFFLINE, IncidentKind.FAILED_START}

    # Back: the offline incident resolves after the recovery hold, a silence is judged by its own 60 s heartbeat.
    detector.feed(Connected(charger_id="CP1", at=at(70)))
    for minute in (70.5, 71, 71.5, 72, 72.5, 73):
        detector.feed(MessageSeen(charger_id="CP1", at=at(minute)))
    assert not open_of(detector, IncidentKind.CHARGER_OFFLINE)  # resolved after the 2 min recovery hold
    assert not [e for e in detector.tick(at(74.9)) if isinstance(e, Opened)]
    opened = [e for e in detector.tick(at(75.1)) if isinstance(e, Opened)]  # > 2 x 60 s after the last message
    assert [e.incident.kind for e in opened] == [IncidentKind.CHARGER_OFFLINE]
    # and a new failed start counts afresh (the old window's 300 are gone with the connector state)
    detector.feed(status(76, "Preparing"))
    detector.feed(invalid(76.1, tag="NEW"))
    [start] = [i for i in open_of(detector, IncidentKind.FAILED_START) if i.code == "Authorize.Invalid"]
    assert start.evidence[-1].data["failures_in_window"] == 1


def test_the_state_saved_without_incidents_names_them_and_rebuilds_the_same_detector() -> None:
    detector = FaultDetector(FaultConfig())
    detector.feed(Connected(charger_id="CP1", at=at(0)))
    detector.feed(invalid(1))
    saved = json.loads(json.dumps(detector.to_dict(with_incidents=False)))
    assert "open_incidents" not in saved
    [incident] = detector.open_incidents
    assert FaultDetector.saved_incident_ids(saved) == [incident.id]
    rebuilt = FaultDetector.from_dict(saved, FaultConfig(), {incident.id: incident})
    assert rebuilt.to_dict() == detector.to_dict()
    assert FaultDetector.from_dict(saved, FaultConfig(), {}).open_incidents == []  # resolved since: not open
