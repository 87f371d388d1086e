"""Signals read off the raw log: only an accepted Reset / TriggerMessage BootNotification is a requested reboot."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from chargewatch.faults.log import LoggedFrame, signals_from_log
from chargewatch.faults.signals import BootReported, MessageSeen, RebootRequested, StatusReported
from chargewatch.ocpp import v16

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def frames(*rows: tuple[str, list[Any]]) -> list[LoggedFrame]:
    return [LoggedFrame("CP1", T0 + timedelta(seconds=i), d, json.dumps(f)) for i, (d, f) in enumerate(rows)]


def test_an_accepted_reset_answer_is_a_requested_reboot_at_the_answer_time() -> None:
    log = frames(("out", [2, "c1", "Reset", {"type": "Hard"}]), ("in", [3, "c1", {"status": "Accepted"}]))
    expected = RebootRequested(charger_id="CP1", action="Reset", at=T0 + timedelta(seconds=1))
    assert list(signals_from_log(log)) == [expected]


def test_refused_errored_and_other_triggers_are_no_requested_reboot() -> None:
    log = frames(
        ("out", [2, "c1", "Reset", {"type": "Soft"}]), ("in", [3, "c1", {"status": "Rejected"}]),
        ("out", [2, "c2", "Reset", {"type": "Hard"}]), ("in", [4, "c2", "NotSupported", "", {}]),
        ("out", [2, "c3", "TriggerMessage", {"requestedMessage": "Heartbeat"}]),
        ("in", [3, "c3", {"status": "Accepted"}]),
        ("in", [3, "never-asked", {"status": "Accepted"}]), ("in", "not json["),
    )
    assert [s for s in signals_from_log(log) if isinstance(s, RebootRequested)] == []


def test_inbound_calls_are_boots_statuses_with_the_charger_time_and_messages_seen() -> None:
    log = frames(("in", [2, "m1", "BootNotification", {"chargePointVendor": "A", "chargePointModel": "B"}]),
                 ("in", [2, "m2", "StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                                         "status": "Available", "timestamp": "2026-11-02T07:59:00Z"}]),
                 ("in", [2, "m3", "Heartbeat", {}]))
    signals = list(signals_from_log(log))
    assert [type(s) for s in signals] == [BootReported, StatusReported, MessageSeen]
    status = signals[1]
    assert isinstance(status, StatusReported) and status.reported_at == T0 - timedelta(minutes=1)


def test_replayed_statuses_carry_the_transition_rule_the_shell_passes() -> None:
    status = [2, "m1", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Reserved"}]
    [without] = signals_from_log(frames(("in", status)))
    [judged] = signals_from_log(frames(("in", status)), v16.ADAPTER.allowed_after)
    assert isinstance(without, StatusReported) and without.allowed_after is None
    assert isinstance(judged, StatusReported) and judged.allowed_after == v16.ADAPTER.allowed_after(1, "Reserved")
