"""Detector rules for what real fleets send (issue 17, items 8-17): pure, with plain signals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chargewatch.domain.signals import (
    AuthorizeRejected,
    BootReported,
    Connected,
    Disconnected,
    HeartbeatIntervalSet,
    MessageSeen,
    ProbeUnanswered,
    RebootRequested,
    SessionProgress,
    SessionStarted,
    SessionStopped,
    SiteAssigned,
    StatusReported,
)
from chargewatch.faults import AlertDue, FaultConfig, FaultDetector, IncidentKind, Opened, Resolved, Severity
from chargewatch.faults.detection import IncidentEvent
from chargewatch.ocpp import v16

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def status(seconds: float, value: str, error: str = "NoError", connector: int = 1, charger: str = "CP1",
           reported: float | None = None) -> StatusReported:
    return StatusReported(charger_id=charger, connector_id=connector, status=value, error_code=error, at=at(seconds),
                          reported_at=None if reported is None else at(reported),
                          allowed_after=v16.ADAPTER.allowed_after(connector, value))


def quiet(**overrides: object) -> FaultDetector:
    settings: dict[str, object] = {"default_heartbeat": timedelta(days=1), **overrides}
    return FaultDetector(FaultConfig(**settings))  # type: ignore[arg-type]


def feed(detector: FaultDetector, *steps: object) -> list[IncidentEvent]:
    """Feed signals; a bare number is a tick at that second."""
    events: list[IncidentEvent] = []
    for step in steps:
        if isinstance(step, int | float):
            events += detector.tick(at(step))
        else:
            events += detector.feed(step)  # type: ignore[arg-type]
    return events


def opened(events: list[IncidentEvent]) -> list[tuple[IncidentKind, str | None]]:
    return [(e.incident.kind, e.incident.code) for e in events if isinstance(e, Opened)]


def alerts(events: list[IncidentEvent]) -> list[AlertDue]:
    return [e for e in events if isinstance(e, AlertDue)]


def roundtrip(detector: FaultDetector) -> FaultDetector:
    return FaultDetector.from_dict(detector.to_dict(), detector.config)


# --- 8: reboots chargewatch asked for ------------------------------------------------------------


def test_requested_reset_and_trigger_boot_are_no_boot_loop_and_no_outage() -> None:
    detector = quiet()
    events = feed(detector, Connected(charger_id="CP1", at=at(0)), BootReported(charger_id="CP1", at=at(1)),
                  RebootRequested(charger_id="CP1", action="TriggerMessage", at=at(60)),
                  BootReported(charger_id="CP1", at=at(61)),
                  RebootRequested(charger_id="CP1", action="Reset", at=at(120)),
                  Disconnected(charger_id="CP1", at=at(121)), 200, 250)
    detector = roundtrip(detector)
    events += feed(detector, Connected(charger_id="CP1", at=at(290)), BootReported(charger_id="CP1", at=at(291)),
                   *range(300, 1200, 60))
    assert opened(events) == []


def test_unrequested_reboots_still_make_a_boot_loop() -> None:
    detector = quiet()
    events = feed(detector, *(BootReported(charger_id="CP1", at=at(10 * i)) for i in range(3)))
    assert opened(events) == [(IncidentKind.BOOT_LOOP, None)]


# --- 9: deliberate stops --------------------------------------------------------------------------


def stop(seconds: float, reason: str, energy_wh: int = 0, was_charging: bool = False) -> SessionStopped:
    return SessionStopped(charger_id="CP1", connector_id=1, session_id="7", at=at(seconds), reason=reason,
                          energy_wh=energy_wh, was_charging=was_charging)


def test_remote_and_local_stops_with_no_energy_are_not_aborted_sessions() -> None:
    assert opened(feed(quiet(), stop(30, "Remote"))) == []
    assert opened(feed(quiet(), stop(30, "Local"))) == []


# --- 10: a connector error during a session belongs to it -----------------------------------------


def test_connector_error_during_a_session_carries_its_session_id() -> None:
    detector = quiet()
    events = feed(detector, SessionStarted(charger_id="CP1", connector_id=1, session_id="41", at=at(0)),
                  status(60, "Faulted", "GroundFailure"))
    [incident] = [e.incident for e in events if isinstance(e, Opened)]
    assert (incident.code, incident.session_id) == ("GroundFailure", "41")


# --- 13: repeated safety trips --------------------------------------------------------------------


def test_six_overcurrent_trips_are_one_incident_alerted_on_the_second_trip() -> None:
    detector = quiet()
    events: list[IncidentEvent] = []
    for trip in range(6):
        events += feed(detector, status(20 * trip, "Faulted", "OverCurrentFailure"),
                       status(20 * trip + 8, "Available"))
        detector = roundtrip(detector)
    assert opened(events) == [(IncidentKind.CONNECTOR_ERROR, "OverCurrentFailure")]
    [alert] = alerts(events)
    assert alert.at == at(20) and alert.incident.severity is Severity.CRITICAL
    last = [e for e in events if isinstance(e, Resolved)][-1].incident
    assert last.evidence[-1].data["trips"] == 6 and last.id == alerts(events)[0].incident.id


def test_a_trip_after_the_window_is_a_new_incident() -> None:
    detector = quiet(trip_window=timedelta(minutes=5))
    events = feed(detector, status(0, "Faulted", "OverCurrentFailure"), status(8, "Available"),
                  status(400, "Faulted", "OverCurrentFailure"))
    assert len(opened(events)) == 2 and alerts(events) == []


# --- 14: healthy behaviour is quiet --------------------------------------------------------------


def test_reconnect_blips_of_8_to_24_s_every_few_minutes_never_flap() -> None:
    detector = quiet()
    events = feed(detector, Connected(charger_id="CP1", at=at(0)))
    t = 60.0
    for blip in range(12):
        down = (8, 24, 15)[blip % 3]
        events += feed(detector, Disconnected(charger_id="CP1", at=at(t)), Connected(charger_id="CP1", at=at(t + down)),
                       t + down + 1)
        t += 180
    assert opened(events) == []


def test_a_link_down_a_third_of_the_time_is_flapping() -> None:
    detector = quiet()
    events = feed(detector, Connected(charger_id="CP1", at=at(0)))
    for flap in range(4):
        events += feed(detector, Disconnected(charger_id="CP1", at=at(60 * flap + 10)),
                       Connected(charger_id="CP1", at=at(60 * flap + 30)))
    assert opened(events) == [(IncidentKind.CONNECTION_FLAPPING, None)]


def test_queued_older_status_after_a_newer_one_is_not_an_invalid_transition() -> None:
    detector = quiet()
    events = feed(detector, status(0, "Charging", reported=0), status(100, "Available", reported=95),
                  status(101, "Finishing", reported=90))
    assert opened(events) == []
    assert feed(detector, status(110, "Preparing", reported=108)) == []


def test_ev_communication_error_for_ten_seconds_is_info_and_never_alerts() -> None:
    detector = quiet(alert_delay=timedelta(seconds=5))
    events = feed(detector, status(0, "SuspendedEVSE", "EVCommunicationError"), 10,
                  status(10, "Charging"), 60, 600)
    assert [e.incident.severity for e in events if isinstance(e, Opened)] == [Severity.INFO]
    assert alerts(events) == []


# --- 15: frozen meter ----------------------------------------------------------------------------


def progress(seconds: float, power_w: float | None, energy_wh: int, soc: float | None = None) -> SessionProgress:
    return SessionProgress(charger_id="CP1", connector_id=1, session_id="9", at=at(seconds), power_w=power_w,
                           energy_wh=energy_wh, connector_status="Charging", soc=soc)


def test_register_flat_at_7_2_kw_opens_a_frozen_meter_incident_on_the_session() -> None:
    detector = quiet()
    steps: list[object] = [SessionStarted(charger_id="CP1", connector_id=1, session_id="9", at=at(0))]
    steps += [progress(60 * m, 7200, 120 * m if m <= 3 else 360, soc=40 + m) for m in range(1, 19)]
    events = feed(detector, *steps)
    [incident] = [e.incident for e in events if isinstance(e, Opened)]
    assert (incident.kind, incident.session_id, incident.severity) == (IncidentKind.FROZEN_METER, "9", Severity.FAULT)
    assert incident.first_seen == at(180)
    data = incident.evidence[0].data
    assert data["register_wh"] == 360 and data["expected_wh"] >= 600


def test_a_rising_register_is_not_frozen() -> None:
    steps = [progress(60 * m, 7200, 120 * m) for m in range(1, 20)]
    assert opened(feed(quiet(), *steps)) == []


def test_flat_register_with_soc_rising_and_no_power_reading_is_frozen() -> None:
    steps = [progress(60 * m, None, 500, soc=30 + m) for m in range(1, 10)]
    assert opened(feed(quiet(), *steps)) == [(IncidentKind.FROZEN_METER, None)]


# --- 16: probing a silent charger ----------------------------------------------------------------


def test_probe_is_due_after_one_and_a_half_heartbeats_once() -> None:
    detector = FaultDetector(FaultConfig())
    feed(detector, HeartbeatIntervalSet(charger_id="CP1", seconds=300), Connected(charger_id="CP1", at=at(0)))
    assert detector.probes_due(at(449)) == []
    assert detector.probes_due(at(450)) == ["CP1"]
    assert roundtrip(detector).probes_due(at(460)) == []


def test_unanswered_probe_opens_offline_from_the_last_message_and_alerts_at_once() -> None:
    detector = FaultDetector(FaultConfig())
    feed(detector, HeartbeatIntervalSet(charger_id="CP1", seconds=300), Connected(charger_id="CP1", at=at(0)))
    detector.probes_due(at(450))
    events = feed(detector, ProbeUnanswered(charger_id="CP1", at=at(460)))
    [incident] = [e.incident for e in events if isinstance(e, Opened)]
    assert (incident.kind, incident.first_seen, incident.outage) == (IncidentKind.CHARGER_OFFLINE, at(0), True)
    assert [a.at for a in alerts(events)] == [at(460)]


def test_an_answer_before_the_verdict_cancels_it() -> None:
    detector = FaultDetector(FaultConfig())
    feed(detector, HeartbeatIntervalSet(charger_id="CP1", seconds=300), Connected(charger_id="CP1", at=at(0)))
    detector.probes_due(at(450))
    events = feed(detector, MessageSeen(charger_id="CP1", at=at(451)), ProbeUnanswered(charger_id="CP1", at=at(460)))
    assert opened(events) == []


# --- 17: resolution and attribution --------------------------------------------------------------


def test_stuck_preparing_resolves_when_the_connector_goes_available() -> None:
    detector = quiet(preparing_timeout=timedelta(minutes=5))
    events = feed(detector, status(0, "Preparing"), 301)
    assert opened(events) == [(IncidentKind.FAILED_START, "NoSessionAfterPlugIn")]
    [resolved] = [e for e in feed(detector, status(400, "Available")) if isinstance(e, Resolved)]
    assert resolved.incident.kind is IncidentKind.FAILED_START


def test_rejected_card_reads_belong_to_the_connector_in_preparing() -> None:
    detector = quiet()
    events = feed(detector, status(0, "Available", connector=1), status(0, "Preparing", connector=2),
                  *(AuthorizeRejected(charger_id="CP1", id_tag="BAD", status="Invalid", at=at(10 + i))
                    for i in range(3)))
    incidents = [e.incident for e in events if isinstance(e, Opened)]
    assert [(i.kind, i.connector_id) for i in incidents] == [(IncidentKind.FAILED_START, 2)]


def test_chargers_of_one_site_offline_together_are_one_site_incident_with_members() -> None:
    detector = quiet(reconnect_grace=timedelta(seconds=60))
    steps: list[object] = []
    for cp in ("A1", "A2", "A3", "B1"):
        steps += [SiteAssigned(charger_id=cp, site_id=cp[0]), Connected(charger_id=cp, at=at(0))]
    steps += [Disconnected(charger_id=cp, at=at(100 + i)) for i, cp in enumerate(("A1", "A2", "A3"))]
    events = feed(detector, *steps, *range(150, 600, 10))
    site = [e.incident for e in events if isinstance(e, Opened) and e.incident.kind is IncidentKind.SITE_OFFLINE]
    assert [(i.charger_id) for i in site] == ["A"]
    [alert] = alerts(events)
    assert alert.incident.kind is IncidentKind.SITE_OFFLINE and alert.incident.members == ("A1", "A2", "A3")
    events = feed(detector, *(Connected(charger_id=cp, at=at(700)) for cp in ("A1", "A2", "A3")), 900)
    assert IncidentKind.SITE_OFFLINE in [e.incident.kind for e in events if isinstance(e, Resolved)]
