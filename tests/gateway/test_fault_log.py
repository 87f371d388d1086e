"""Signals read off the raw log: only an accepted Reset / TriggerMessage BootNotification is a requested reboot;
statuses carry the transition rule of the subprotocol the frame came on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from chargewatch.domain.signals import BootReported, MessageSeen, RebootRequested, StatusReported
from chargewatch.gateway.fault_log import signals_from_log
from chargewatch.ocpp import v16, v201
from chargewatch.store.faults import LoggedFrame

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def frames(*rows: tuple[str, list[Any]], protocol: str | None = None) -> list[LoggedFrame]:
    return [LoggedFrame("CP1", T0 + timedelta(seconds=i), d, json.dumps(f), protocol)
            for i, (d, f) in enumerate(rows)]


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


def test_replayed_statuses_carry_the_transition_rule_of_their_subprotocol() -> None:
    status16 = [2, "m1", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Reserved"}]
    [judged16] = signals_from_log(frames(("in", status16)))  # no protocol: a row from before 2.0.1, i.e. 1.6
    assert isinstance(judged16, StatusReported) and judged16.allowed_after == v16.ADAPTER.allowed_after(1, "Reserved")
    status201 = {"timestamp": "2026-11-02T07:59:00Z", "evseId": 2, "connectorId": 1}
    reserved, occupied = signals_from_log(frames(
        ("in", [2, "m2", "StatusNotification", {**status201, "connectorStatus": "Reserved"}]),
        ("in", [2, "m3", "StatusNotification", {**status201, "connectorStatus": "Occupied"}]), protocol="ocpp2.0.1"))
    assert isinstance(reserved, StatusReported)
    assert (reserved.connector_id, reserved.status, reserved.error_code) == (2, "Reserved", "NoError")
    assert reserved.allowed_after == v201.ADAPTER.allowed_after(2, "Reserved") != judged16.allowed_after
    assert isinstance(occupied, MessageSeen)  # refined into a neutral status only live, with the transaction


def test_a_scheduled_201_reset_is_a_requested_reboot() -> None:
    log = frames(("out", [2, "c1", "Reset", {"type": "OnIdle"}]), ("in", [3, "c1", {"status": "Scheduled"}]),
                 protocol="ocpp2.0.1")
    assert [type(s) for s in signals_from_log(log)] == [RebootRequested]
