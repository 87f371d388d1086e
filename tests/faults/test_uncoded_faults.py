"""A fault reported without a code (a 2.0.1 Faulted StatusNotification: NoError) and the coded report of the same
fault (its NotifyEvent) are one incident, whichever arrives first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chargewatch.domain.signals import StatusReported
from chargewatch.faults.detection import FaultConfig, FaultDetector, IncidentEvent, Opened, Resolved
from chargewatch.faults.incidents import Incident, Severity

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def status(seconds: float, value: str, code: str = "NoError", tech_code: str | None = None) -> StatusReported:
    return StatusReported(charger_id="CP1", connector_id=1, status=value, error_code=code,
                          vendor_error_code=tech_code, at=T0 + timedelta(seconds=seconds))


def run(*signals: StatusReported) -> tuple[list[IncidentEvent], dict[str, Incident]]:
    detector = FaultDetector(FaultConfig(default_heartbeat=timedelta(days=1)))
    events = [event for signal in signals for event in detector.feed(signal)]
    latest = {event.incident.id: event.incident for event in events}
    return events, latest


def test_an_uncoded_fault_is_named_by_the_coded_report_that_follows() -> None:
    events, latest = run(status(0, "Available"), status(1, "Faulted"), status(2, "Faulted", "GroundFailure", "E-30"))
    [incident] = latest.values()
    assert len([e for e in events if isinstance(e, Opened)]) == 1
    assert (incident.code, incident.severity, incident.outage, incident.first_seen) == (
        "GroundFailure", Severity.CRITICAL, True, T0 + timedelta(seconds=1))
    assert incident.evidence[-1].data["vendorErrorCode"] == "E-30"
    events, latest = run(status(0, "Available"), status(1, "Faulted"), status(2, "Faulted", "GroundFailure"),
                         status(9, "Available"))
    assert [type(e) for e in events if isinstance(e, Opened | Resolved)] == [Opened, Resolved]


def test_a_coded_warning_then_an_uncoded_faulted_status_is_one_outage_from_the_faulted_status() -> None:
    """2.0.1 UnderVoltage: its NotifyEvent does not fault the EVSE; the Faulted status after it does."""
    events, latest = run(status(0, "Available"), status(60, "Available", "UnderVoltage"), status(120, "Faulted"))
    [incident] = latest.values()
    assert (incident.code, incident.outage, incident.severity, incident.first_seen) == (
        "UnderVoltage", True, Severity.FAULT, T0 + timedelta(seconds=120))
