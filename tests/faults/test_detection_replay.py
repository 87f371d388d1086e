"""The detector's state survives persistence, and replaying a log gives the same events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from chargewatch.domain.signals import (
    AuthorizeRejected,
    BootReported,
    Connected,
    Disconnected,
    MessageSeen,
    SessionProgress,
    SessionStarted,
    SessionStopped,
    Signal,
    StartRejected,
    StatusReported,
)
from chargewatch.faults.detection import FaultConfig, FaultDetector, IncidentEvent, Opened, Resolved
from chargewatch.ocpp import v16

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
STATUSES = ["Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing", "Faulted"]
ERRORS = ["NoError", "NoError", "GroundFailure", "InternalError", "EVCommunicationError"]
CONFIG = FaultConfig(connector_ratings_w={"CP1": 11000})


def signal_at(minute: int, choice: int, a: int, b: int) -> Signal:
    when = T0 + timedelta(minutes=minute)
    charger = f"CP{1 + a % 2}"
    connector = 1 + b % 2
    options: list[Signal] = [
        StatusReported(
            charger_id=charger,
            connector_id=connector,
            status=STATUSES[a % len(STATUSES)],
            error_code=ERRORS[b % len(ERRORS)],
            at=when,
            allowed_after=v16.ADAPTER.allowed_after(connector, STATUSES[a % len(STATUSES)]),
        ),
        MessageSeen(charger_id=charger, at=when),
        Connected(charger_id=charger, at=when),
        Disconnected(charger_id=charger, at=when),
        BootReported(charger_id=charger, at=when),
        SessionStarted(charger_id=charger, connector_id=connector, session_id=str(b % 3), at=when),
        SessionProgress(
            charger_id=charger,
            connector_id=connector,
            session_id=str(b % 3),
            at=when,
            power_w=float(a * 500 % 11000),
            energy_wh=minute * 10 * (a % 3),
            connector_status=STATUSES[b % len(STATUSES)],
        ),
        SessionStopped(
            charger_id=charger,
            connector_id=connector,
            session_id=str(b % 3),
            at=when,
            reason=["Local", "PowerLoss", "EVDisconnected", "SoftReset"][a % 4],
            energy_wh=a * 100,
            was_charging=bool(b % 2),
        ),
        AuthorizeRejected(charger_id=charger, id_tag="T", status="Invalid", at=when),
        StartRejected(charger_id=charger, connector_id=connector, id_tag="T", status="Blocked", at=when),
    ]
    return options[choice % len(options)]


steps = st.lists(
    st.tuples(st.integers(0, 12), st.integers(0, 20), st.integers(0, 50), st.integers(0, 50)),
    max_size=40,
)


def replay(log: list[Signal | datetime], detector: FaultDetector, persist: bool) -> list[IncidentEvent]:
    events: list[IncidentEvent] = []
    for entry in log:
        events += detector.tick(entry) if isinstance(entry, datetime) else detector.feed(entry)
        if persist:
            detector = FaultDetector.from_dict(json.loads(json.dumps(detector.to_dict())), CONFIG)
    return events


def build_log(raw: list[tuple[int, int, int, int]]) -> list[Signal | datetime]:
    log: list[Signal | datetime] = []
    minute = 0
    for gap, choice, a, b in raw:
        minute += gap
        log.append(T0 + timedelta(minutes=minute, seconds=30))
        log.append(signal_at(minute, choice, a, b))
    log.append(T0 + timedelta(minutes=minute + 300))
    return log


@settings(max_examples=60, deadline=None)
@given(steps)
def test_replaying_the_same_signals_gives_the_same_events(raw: list[tuple[int, int, int, int]]) -> None:
    log = build_log(raw)
    assert replay(log, FaultDetector(CONFIG), False) == replay(log, FaultDetector(CONFIG), False)


@settings(max_examples=60, deadline=None)
@given(steps)
def test_state_rebuilt_from_json_after_every_step_behaves_identically(raw: list[tuple[int, int, int, int]]) -> None:
    log = build_log(raw)
    assert replay(log, FaultDetector(CONFIG), True) == replay(log, FaultDetector(CONFIG), False)


@settings(max_examples=60, deadline=None)
@given(steps)
def test_every_resolved_incident_was_opened_and_ends_after_it_began(raw: list[tuple[int, int, int, int]]) -> None:
    opened: set[str] = set()
    for event in replay(build_log(raw), FaultDetector(CONFIG), False):
        if isinstance(event, Opened):
            opened.add(event.incident.id)
        if isinstance(event, Resolved):
            assert event.incident.id in opened
            assert event.incident.resolved_at is not None
            assert event.incident.resolved_at >= event.incident.first_seen
