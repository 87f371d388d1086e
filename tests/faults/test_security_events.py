"""Security events: their own incident kind, severity per type from the catalog, informational types no incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chargewatch.domain.signals import SecurityReported
from chargewatch.faults.catalog import ErrorCatalog
from chargewatch.faults.detection import AlertDue, FaultConfig, FaultDetector, Opened, Updated
from chargewatch.faults.incidents import IncidentKind, Severity

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
CATALOG = ErrorCatalog.builtin()


def reported(event_type: str, seconds: float = 0) -> SecurityReported:
    return SecurityReported(charger_id="CP1", type=event_type, tech_info="detail", at=T0 + timedelta(seconds=seconds),
                            severity=CATALOG.security_severity(event_type).value)


# The security-relevant types of the 1.6 security whitepaper and OCPP 2.0.1 part 2's security events appendix
# (in their 2.0.1 names), each with its severity; the informational ones open no incident.
@pytest.mark.parametrize(("event_type", "severity"), [
    ("TamperDetectionActivated", Severity.CRITICAL),
    ("InvalidFirmwareSignature", Severity.FAULT),
    ("InvalidFirmwareSigningCertificate", Severity.FAULT),
    ("InvalidCsmsCertificate", Severity.FAULT),
    ("InvalidChargingStationCertificate", Severity.FAULT),
    ("AttemptedReplayAttacks", Severity.FAULT),
    ("MemoryExhaustion", Severity.FAULT),
    ("InvalidTLSVersion", Severity.WARNING),
    ("InvalidTLSCipherSuite", Severity.WARNING),
    ("FailedToAuthenticateAtCsms", Severity.WARNING),
    ("CsmsFailedToAuthenticate", Severity.WARNING),
    ("InvalidMessages", Severity.WARNING),
    ("SecurityLogWasCleared", Severity.WARNING),
    ("MaintenanceLoginFailed", Severity.WARNING),
    ("AVendorsOwnSecurityEvent", Severity.WARNING),  # unknown: the charger chose to push it, a human looks
])
def test_a_security_relevant_event_opens_a_security_incident_with_guidance(event_type: str,
                                                                           severity: Severity) -> None:
    [opened] = [e for e in FaultDetector(FaultConfig()).feed(reported(event_type)) if isinstance(e, Opened)]
    incident = opened.incident
    assert (incident.kind, incident.code, incident.severity, incident.connector_id, incident.outage) == (
        IncidentKind.SECURITY_EVENT, event_type, severity, None, False)
    guidance = CATALOG.guidance_for_incident(incident, "de")
    assert guidance.key == (event_type if event_type != "AVendorsOwnSecurityEvent" else "SecurityEvent")
    assert guidance.language == "de" and guidance.operator_checklist


@pytest.mark.parametrize("event_type", ["StartupOfTheDevice", "ResetOrReboot", "FirmwareUpdated",
                                        "SettingSystemTime", "MaintenanceLoginAccepted",
                                        "ReconfigurationOfSecurityParameters"])
def test_an_informational_event_opens_no_incident(event_type: str) -> None:
    assert CATALOG.security_severity(event_type) is Severity.INFO
    assert FaultDetector(FaultConfig()).feed(reported(event_type)) == []


def test_a_repeated_event_is_one_incident_counting_occurrences_and_a_critical_one_alerts_fast() -> None:
    detector = FaultDetector(FaultConfig(critical_alert_delay=timedelta(seconds=30)))
    events = detector.feed(reported("TamperDetectionActivated")) + detector.feed(
        reported("TamperDetectionActivated", 10))
    assert [type(e) for e in events] == [Opened, Updated]
    assert events[-1].incident.occurrences == 2
    assert [e for e in detector.tick(T0 + timedelta(seconds=31)) if isinstance(e, AlertDue)]


def test_an_operator_overlay_can_make_a_type_informational() -> None:
    overlay = ErrorCatalog.from_dict({"version": 1, "entries": {"InvalidMessages": {"severity": "info", "texts": {
        "en": {"title": "t", "driver_message": "d", "driver_steps": [], "technical": "x", "operator_checklist": [],
               "screen_text": "s"}}}}})
    assert CATALOG.merged_with(overlay).security_severity("InvalidMessages") is Severity.INFO
