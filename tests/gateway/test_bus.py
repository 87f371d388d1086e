"""The bus: typed events with one kind each and JSON data; slow subscribers are told they lagged."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from chargewatch.domain import events
from chargewatch.gateway.events import EventBus

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
EVIDENCE = events.Evidence("StatusNotification", "m1", {"connectorId": 1})


def concrete() -> list[type[events.BusEvent]]:
    found, todo = [], list(events.BusEvent.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if "kind" in vars(cls):
            found.append(cls)
    return found


def test_every_event_type_has_its_own_kind() -> None:
    kinds = [cls.kind for cls in concrete()]
    assert len(kinds) == len(set(kinds)) and len(kinds) >= 20
    assert {"session.started", "session.updated", "session.stopped", "connector.status", "incident.opened",
            "support.message", "lagged"} <= set(kinds)


def test_events_are_frozen_and_their_data_is_plain_json() -> None:
    status = events.ConnectorStatus("CP-1", 1, "Faulted", "GroundFailure", None, None, None, AT, AT, EVIDENCE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.status = "Available"  # type: ignore[misc]
    assert json.loads(json.dumps(status.to_json())) == {
        "charger_id": "CP-1", "connector_id": 1, "status": "Faulted", "error_code": "GroundFailure", "info": None,
        "vendor_id": None, "vendor_error_code": None, "timestamp": "2026-11-02T09:00:00+00:00",
        "at": "2026-11-02T09:00:00+00:00",
        "evidence": {"action": "StatusNotification", "message_id": "m1", "payload": {"connectorId": 1}},
        "errors_reported": True}
    summary = events.IncidentSummary(7, "i-1", "connector_error", "fault", "open", "CP-1", 1, "GroundFailure", None,
                                     AT, AT, 1, 0)
    opened = events.IncidentOpened(summary, AT).to_json()
    assert (opened["number"], opened["kind"], opened["first_seen"], opened["at"]) == (
        7, "connector_error", "2026-11-02T09:00:00+00:00", "2026-11-02T09:00:00+00:00")
    reported = events.FaultReported("CP-1", 1, 5, "cable", ("cable",), (), "broken", AT).to_json()
    assert (reported["categories"], reported["corroborated_by"]) == (["cable"], [])


def test_a_listener_hears_everything_a_stream_skips_quiet_events_and_learns_it_lagged() -> None:
    bus = EventBus(queue_size=2)
    heard: list[events.BusEvent] = []
    bus.listen(heard.append)
    queue = bus.subscribe()
    seen = events.ChargerSeen("CP-1", AT)
    bus.publish(seen)
    assert heard == [seen] and queue.empty()
    for _ in range(3):
        bus.publish(events.ChargerConnected("CP-1", AT))
    streamed = [queue.get_nowait() for _ in range(queue.qsize())]
    assert [type(e) for e in streamed] == [events.Lagged, events.ChargerConnected]
    assert streamed[0].to_json() == {}
