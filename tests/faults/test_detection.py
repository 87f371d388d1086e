"""Detection rules, each driven by the OCPP 1.6 messages a real charger sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chargewatch.domain.signals import (
    AuthorizeRejected,
    BootReported,
    Connected,
    Disconnected,
    DriverReport,
    HeartbeatIntervalSet,
    IncidentAcknowledged,
    MessageSeen,
    SessionProgress,
    SessionStarted,
    SessionStopped,
    StartRejected,
    StatusReported,
)
from chargewatch.faults.detection import (
    AlertDue,
    Escalated,
    FaultConfig,
    FaultDetector,
    IncidentEvent,
    Opened,
    Resolved,
    Updated,
)
from chargewatch.faults.incidents import IncidentKind, IncidentStatus, InvalidTransition, Severity
from chargewatch.ocpp import v16

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def status(
    minutes: float,
    status: str,
    error_code: str = "NoError",
    connector_id: int = 1,
    charger_id: str = "CP1",
    **extra: str,
) -> StatusReported:
    payload = {"connectorId": connector_id, "status": status, "errorCode": error_code, **extra}
    return StatusReported(
        charger_id=charger_id,
        connector_id=connector_id,
        status=status,
        error_code=error_code,
        info=extra.get("info"),
        vendor_id=extra.get("vendorId"),
        vendor_error_code=extra.get("vendorErrorCode"),
        at=at(minutes),
        message_id=f"m{minutes}",
        evidence=payload,
        allowed_after=v16.ADAPTER.allowed_after(connector_id, status),  # as the worker asks a 1.6 charger's adapter
    )


def quiet(**overrides: object) -> FaultDetector:
    """A detector whose silence rule stays out of the way of the rule under test."""
    settings: dict[str, object] = {"default_heartbeat": timedelta(days=1), **overrides}
    return FaultDetector(FaultConfig(**settings))  # type: ignore[arg-type]


def of(events: list[IncidentEvent], kind: type) -> list:
    return [event for event in events if isinstance(event, kind)]


def run(detector: FaultDetector, *steps: object) -> list[IncidentEvent]:
    """Feed signals; a bare number is a tick at that minute."""
    events: list[IncidentEvent] = []
    for step in steps:
        if isinstance(step, int | float):
            events += detector.tick(at(step))
        else:
            events += detector.feed(step)  # type: ignore[arg-type]
    return events


def test_ground_failure_mid_session_opens_a_critical_outage_with_vendor_details() -> None:
    detector = quiet()
    events = run(
        detector,
        SessionStarted(charger_id="CP1", connector_id=1, session_id="42", at=at(0)),
        status(1, "Charging"),
        status(20, "Faulted", "GroundFailure", info="RCD tripped 30mA", vendorId="ABB", vendorErrorCode="0x1F"),
    )
    [opened] = of(events, Opened)
    incident = opened.incident
    assert (incident.kind, incident.code, incident.severity) == (
        IncidentKind.CONNECTOR_ERROR,
        "GroundFailure",
        Severity.CRITICAL,
    )
    assert incident.outage is True
    assert incident.evidence[0].data["vendorErrorCode"] == "0x1F"
    assert incident.evidence[0].data["info"] == "RCD tripped 30mA"


def test_ground_failure_alerts_after_the_critical_delay() -> None:
    detector = quiet()
    run(detector, status(0, "Faulted", "GroundFailure"))
    assert of(detector.tick(at(0.5)), AlertDue) == []
    [alert] = of(detector.tick(at(1)), AlertDue)
    assert alert.incident.code == "GroundFailure"


def test_error_code_with_a_non_faulted_status_is_a_warning_not_an_outage() -> None:
    events = run(quiet(), status(0, "Charging", "HighTemperature"))
    [opened] = of(events, Opened)
    assert opened.incident.severity is Severity.WARNING
    assert opened.incident.outage is False


def test_ev_communication_error_is_not_a_charger_fault() -> None:
    events = run(quiet(), status(0, "SuspendedEVSE", "EVCommunicationError"))
    [opened] = of(events, Opened)
    assert opened.incident.severity is Severity.INFO
    assert opened.incident.outage is False


def test_faulted_without_error_code_is_still_a_fault() -> None:
    [opened] = of(run(quiet(), status(0, "Faulted")), Opened)
    assert (opened.incident.code, opened.incident.severity) == ("Faulted", Severity.FAULT)


def test_repeated_error_reports_update_the_one_open_incident() -> None:
    detector = quiet()
    events = run(detector, *(status(m, "Faulted", "InternalError") for m in range(5)))
    assert len(of(events, Opened)) == 1
    assert len(of(events, Updated)) == 4
    [incident] = detector.open_incidents
    assert incident.occurrences == 5
    assert incident.last_seen == at(4)


def test_recovery_auto_resolves_with_the_resolving_evidence() -> None:
    detector = quiet()
    run(detector, status(0, "Faulted", "OverCurrentFailure"))
    events = run(detector, status(12, "Available"))
    [resolved] = of(events, Resolved)
    assert resolved.incident.status is IncidentStatus.RESOLVED
    assert resolved.incident.resolved_at == at(12)
    assert resolved.evidence.source == "StatusNotification"
    assert resolved.evidence.data["status"] == "Available"
    assert resolved.incident.resolution == resolved.evidence
    assert detector.open_incidents == []


def test_faulted_with_no_error_does_not_resolve_the_open_fault() -> None:
    detector = quiet()
    run(detector, status(0, "Faulted", "PowerSwitchFailure"), status(1, "Faulted"))
    assert [i.code for i in detector.open_incidents] == ["PowerSwitchFailure"]


def test_boot_time_faulted_blip_opens_and_resolves_without_alerting() -> None:
    detector = quiet()
    events = run(
        detector,
        BootReported(charger_id="CP1", at=at(0)),
        status(0.1, "Faulted", "InternalError"),
        status(0.3, "Available"),
        *range(1, 30),
    )
    assert len(of(events, Opened)) == 1
    assert len(of(events, Resolved)) == 1
    assert of(events, AlertDue) == []


def test_charger_going_silent_opens_offline_from_its_last_message() -> None:
    detector = quiet()
    events = run(
        detector,
        HeartbeatIntervalSet(charger_id="CP1", seconds=60),
        MessageSeen(charger_id="CP1", at=at(0)),
        1.9,
    )
    assert of(events, Opened) == []
    [opened] = of(detector.tick(at(2.1)), Opened)
    assert opened.incident.kind is IncidentKind.CHARGER_OFFLINE
    assert opened.incident.first_seen == at(0)
    assert opened.incident.outage is True


def test_silent_charger_returning_resolves_offline_after_the_recovery_hold() -> None:
    detector = FaultDetector(FaultConfig(offline_recovery_hold=timedelta(minutes=2)))
    run(detector, HeartbeatIntervalSet(charger_id="CP1", seconds=60), MessageSeen(charger_id="CP1", at=at(0)), 5)
    assert of(run(detector, MessageSeen(charger_id="CP1", at=at(30)), 31), Resolved) == []
    [resolved] = of(detector.tick(at(32)), Resolved)
    assert resolved.incident.resolved_at == at(30)
    assert resolved.evidence.at == at(30)


def test_closed_socket_within_the_reconnect_grace_opens_nothing() -> None:
    detector = quiet()
    events = run(
        detector,
        Connected(charger_id="CP1", at=at(0)),
        Disconnected(charger_id="CP1", at=at(10)),
        Connected(charger_id="CP1", at=at(11)),
        *range(12, 60),
    )
    assert of(events, Opened) == []


def test_closed_socket_not_back_within_the_grace_opens_offline_from_the_disconnect() -> None:
    detector = quiet()
    events = run(detector, Connected(charger_id="CP1", at=at(0)), Disconnected(charger_id="CP1", at=at(10)), 12.5)
    [opened] = of(events, Opened)
    assert opened.incident.kind is IncidentKind.CHARGER_OFFLINE
    assert opened.incident.first_seen == at(10)


def test_ten_brief_flaps_make_one_flapping_incident() -> None:
    detector = quiet()
    steps: list[object] = [Connected(charger_id="CP1", at=at(0))]
    for flap in range(10):
        steps += [
            Disconnected(charger_id="CP1", at=at(1 + flap)),
            Connected(charger_id="CP1", at=at(1.3 + flap)),
        ]
    events = run(detector, *steps, *range(11, 40))
    opened = of(events, Opened)
    assert [event.incident.kind for event in opened] == [IncidentKind.CONNECTION_FLAPPING]
    assert len(of(events, AlertDue)) == 1
    [resolved] = of(events, Resolved)
    assert resolved.incident.occurrences == 8
    assert resolved.evidence.source == "StableConnection"


def test_ten_long_flaps_keep_one_offline_incident() -> None:
    detector = quiet()
    steps: list[object] = [Connected(charger_id="CP1", at=at(0))]
    for flap in range(10):
        start = 1 + flap * 5
        steps += [
            Disconnected(charger_id="CP1", at=at(start)),
            start + 3,
            Connected(charger_id="CP1", at=at(start + 4)),
        ]
    events = run(detector, *steps, *range(55, 70))
    assert [event.incident.kind for event in of(events, Opened)] == [IncidentKind.CHARGER_OFFLINE]
    [resolved] = of(events, Resolved)
    assert resolved.incident.first_seen == at(1)
    assert resolved.incident.resolved_at == at(50)


def progress(minutes: float, power_w: float, energy_wh: int, connector_status: str = "Charging") -> SessionProgress:
    return SessionProgress(
        charger_id="CP1",
        connector_id=1,
        session_id="7",
        at=at(minutes),
        power_w=power_w,
        energy_wh=energy_wh,
        connector_status=connector_status,
    )


def test_stalled_session_opens_when_no_energy_flows_while_charging() -> None:
    detector = quiet(stall_after=timedelta(minutes=10))
    events = run(
        detector,
        SessionStarted(charger_id="CP1", connector_id=1, session_id="7", at=at(0)),
        progress(1, 7000, 100),
        progress(2, 0, 100),
        progress(6, 0, 100),
        10,
    )
    assert of(events, Opened) == []
    [opened] = of(detector.tick(at(11)), Opened)
    assert opened.incident.kind is IncidentKind.STALLED_SESSION
    assert opened.incident.session_id == "7"
    assert opened.incident.first_seen == at(1)


def test_suspended_ev_is_not_a_stall() -> None:
    detector = quiet()
    events = run(
        detector,
        SessionStarted(charger_id="CP1", connector_id=1, session_id="7", at=at(0)),
        progress(1, 0, 100, "SuspendedEV"),
        progress(30, 0, 100, "SuspendedEV"),
        45,
    )
    assert of(events, Opened) == []


def test_stalled_session_resolves_when_energy_flows_again() -> None:
    detector = quiet()
    run(
        detector,
        SessionStarted(charger_id="CP1", connector_id=1, session_id="7", at=at(0)),
        progress(1, 0, 100),
        20,
    )
    [resolved] = of(run(detector, progress(21, 6500, 150)), Resolved)
    assert resolved.incident.kind is IncidentKind.STALLED_SESSION


def test_power_far_below_the_rating_for_long_opens_low_power() -> None:
    detector = quiet(connector_ratings_w={"CP1/1": 22000}, low_power_after=timedelta(minutes=30))
    events = run(
        detector,
        SessionStarted(charger_id="CP1", connector_id=1, session_id="7", at=at(0)),
        *(progress(m, 2000, 100 + 33 * m) for m in range(1, 32)),
    )
    [opened] = of(events, Opened)
    assert opened.incident.kind is IncidentKind.LOW_POWER_SESSION
    assert opened.incident.first_seen == at(1)


def stop(minutes: float, reason: str, energy_wh: int = 8000, was_charging: bool = True) -> SessionStopped:
    return SessionStopped(
        charger_id="CP1",
        connector_id=1,
        session_id="7",
        at=at(minutes),
        reason=reason,
        energy_wh=energy_wh,
        was_charging=was_charging,
    )


@pytest.mark.parametrize("reason", ["EmergencyStop", "PowerLoss", "Reboot"])
def test_abnormal_stop_reason_aborts_the_session(reason: str) -> None:
    [opened] = of(run(quiet(), stop(10, reason, was_charging=False)), Opened)
    assert (opened.incident.kind, opened.incident.code) == (IncidentKind.ABORTED_SESSION, reason)


@pytest.mark.parametrize("reason", ["EVDisconnected", "HardReset", "SoftReset"])
def test_mid_charge_stop_reason_aborts_only_while_charging(reason: str) -> None:
    assert of(run(quiet(), stop(10, reason, was_charging=False)), Opened) == []
    [opened] = of(run(quiet(), stop(10, reason, was_charging=True)), Opened)
    assert opened.incident.code == reason


def test_session_delivering_about_zero_wh_is_aborted() -> None:
    [opened] = of(run(quiet(), stop(3, "EVDisconnected", energy_wh=0, was_charging=False)), Opened)
    assert opened.incident.code == "ZeroEnergy"


def test_successful_session_resolves_the_aborted_incident() -> None:
    detector = quiet()
    run(detector, stop(3, "PowerLoss"))
    [resolved] = of(run(detector, stop(90, "Local", energy_wh=12000)), Resolved)
    assert resolved.evidence.data["reason"] == "Local"


def test_rejected_authorize_is_an_info_failed_start() -> None:
    events = run(quiet(), AuthorizeRejected(charger_id="CP1", id_tag="DEAD", status="Invalid", at=at(0)))
    [opened] = of(events, Opened)
    assert (opened.incident.kind, opened.incident.code) == (IncidentKind.FAILED_START, "Authorize.Invalid")
    assert opened.incident.severity is Severity.INFO


def test_repeated_failed_starts_on_one_connector_raise_severity_to_fault() -> None:
    detector = quiet()
    run(
        detector,
        *(
            StartRejected(charger_id="CP1", connector_id=2, id_tag=f"T{n}", status="Blocked", at=at(n))
            for n in range(3)
        ),
    )
    [incident] = detector.open_incidents
    assert incident.severity is Severity.FAULT
    assert incident.occurrences == 3


def test_plug_in_without_a_session_is_a_failed_start() -> None:
    detector = quiet(preparing_timeout=timedelta(minutes=5))
    events = run(detector, status(0, "Available"), status(1, "Preparing"), 5, 6, 7)
    [opened] = of(events, Opened)
    assert opened.incident.code == "NoSessionAfterPlugIn"


def test_session_start_resolves_failed_starts_on_the_connector() -> None:
    detector = quiet()
    run(detector, AuthorizeRejected(charger_id="CP1", id_tag="X", status="Expired", at=at(0)))
    events = run(detector, SessionStarted(charger_id="CP1", connector_id=1, session_id="8", at=at(2)))
    assert len(of(events, Resolved)) == 1


def test_three_boots_within_the_window_is_a_boot_loop() -> None:
    detector = quiet(boot_loop_count=3, boot_loop_window=timedelta(minutes=15))
    events = run(detector, *(BootReported(charger_id="CP1", at=at(m)) for m in (0, 4, 8)))
    [opened] = of(events, Opened)
    assert opened.incident.kind is IncidentKind.BOOT_LOOP
    assert opened.incident.first_seen == at(0)
    [resolved] = of(detector.tick(at(23)), Resolved)
    assert resolved.evidence.source == "StableUptime"


def test_boots_spread_beyond_the_window_are_not_a_loop() -> None:
    events = run(quiet(), *(BootReported(charger_id="CP1", at=at(m)) for m in (0, 20, 40)))
    assert of(events, Opened) == []


def test_transition_outside_the_ocpp_table_is_flagged() -> None:
    events = run(quiet(), status(0, "Finishing"), status(1, "Charging"))
    [opened] = of(events, Opened)
    assert (opened.incident.kind, opened.incident.code) == (IncidentKind.INVALID_TRANSITION, "Finishing->Charging")
    assert opened.incident.severity is Severity.WARNING


def test_first_status_after_reconnect_is_not_a_transition() -> None:
    events = run(
        quiet(),
        status(0, "Finishing"),
        Connected(charger_id="CP1", at=at(1)),
        status(1, "Charging"),
    )
    assert of(events, Opened) == []


def test_connector_zero_reporting_a_connector_status_is_flagged() -> None:
    [opened] = of(run(quiet(), status(0, "Charging", connector_id=0)), Opened)
    assert opened.incident.kind is IncidentKind.INVALID_TRANSITION


def test_unacknowledged_incident_escalates_then_stops_at_the_maximum() -> None:
    detector = quiet(escalate_after=timedelta(minutes=30), max_escalations=2)
    events = run(detector, status(0, "Faulted", "InternalError"), *range(1, 200))
    assert [event.level for event in of(events, Escalated)] == [1, 2]
    assert of(events, Escalated)[0].at == at(33)


def test_acknowledged_incident_does_not_escalate() -> None:
    detector = quiet()
    run(detector, status(0, "Faulted", "InternalError"), 5)
    [incident] = detector.open_incidents
    events = run(detector, IncidentAcknowledged(incident_id=incident.id, by="ops", at=at(6)), *range(7, 200))
    assert of(events, Escalated) == []
    assert detector.open_incidents[0].status is IncidentStatus.ACKNOWLEDGED


def test_acknowledging_an_unknown_incident_is_refused() -> None:
    with pytest.raises(InvalidTransition, match="not open"):
        quiet().feed(IncidentAcknowledged(incident_id="nope", by="ops", at=at(0)))


def test_driver_report_opens_and_a_good_session_resolves_it() -> None:
    detector = quiet()
    run(
        detector,
        DriverReport(
            charger_id="CP1", connector_id=None, session_id=None, category="cable", text="Cable cut", at=at(0)
        ),
    )
    [resolved] = of(run(detector, stop(60, "EVDisconnected", energy_wh=20000, was_charging=False)), Resolved)
    assert resolved.incident.kind is IncidentKind.DRIVER_REPORT


def test_severity_rise_alerts_again() -> None:
    detector = quiet()
    run(detector, status(0, "Preparing"), status(0.5, "Preparing", "HighTemperature"), 4)
    events = run(detector, status(5, "Faulted", "HighTemperature"), 7)
    assert [event.incident.severity for event in of(events, AlertDue)] == [Severity.CRITICAL]


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="UTC"):
        MessageSeen(charger_id="CP1", at=datetime(2026, 11, 2, 8, 0))
