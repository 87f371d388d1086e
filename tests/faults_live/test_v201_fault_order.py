"""A 2.0.1 fault is one incident whichever comes first, the Faulted StatusNotification (which carries no code) or
the NotifyEvent naming it; the NotifyEvent's techCode and detail are on that incident, and a cleared NotifyEvent
or a status that is not Faulted resolves it. Raw 2.0.1 frames over a real WebSocket."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from websockets.asyncio.client import connect

from faults_live.live import api, eventually, fast_config, incident, incidents
from helpers import ocpp_url, ts
from peers.chargers import LibraryCharger


class Raw201:
    def __init__(self, websocket: Any) -> None:
        self.ws = websocket

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        message_id = str(uuid.uuid4())
        await self.ws.send(json.dumps([2, message_id, action, payload]))
        while True:  # the CSMS may call us meanwhile (a probe): answered, then back to waiting
            frame = json.loads(await self.ws.recv())
            if frame[0] == 2:
                await self.ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
            elif frame[1] == message_id:
                assert frame[0] == 3, frame
                return dict(frame[2])


def faulted(minutes: float) -> dict[str, Any]:
    return {"timestamp": ts(minutes), "connectorStatus": "Faulted", "evseId": 1, "connectorId": 1}


def rcd(event_id: int, minutes: float, cleared: bool = False) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventId": event_id, "timestamp": ts(minutes), "trigger": "Delta",
        "actualValue": "false" if cleared else "true",
        "eventNotificationType": "HardWiredNotification", "component": {"name": "RCD", "evse": {"id": 1}},
        "variable": {"name": "Tripped"}}
    if cleared:
        event["cleared"] = True
    else:
        event.update(techCode="E-RCD-30", techInfo="residual current 31 mA")
    return {"generatedAt": ts(minutes), "seqNo": event_id, "eventData": [event]}


@pytest.mark.parametrize("first", ["status", "event"])
@pytest.mark.parametrize("resolved_by", ["cleared_event", "available_status"])
async def test_a_faulted_status_and_its_notify_event_are_one_incident_in_either_order(
        db_url, start_server, first, resolved_by):
    app = await start_server(db_url, fast_config())
    charger = f"V201-ORDER-{first}-{resolved_by}"[:40]
    async with connect(f"{ocpp_url(app)}/{charger}", subprotocols=["ocpp2.0.1"]) as ws:  # type: ignore[list-item]
        cp = Raw201(ws)
        await cp.call("BootNotification", {"reason": "PowerUp", "chargingStation": {
            "model": "RAW-201", "vendorName": "raw"}})
        await cp.call("StatusNotification", {**faulted(0), "connectorStatus": "Available"})
        calls = [("StatusNotification", faulted(1)), ("NotifyEvent", rcd(1, 1))]
        for action, payload in calls if first == "status" else reversed(calls):
            assert await cp.call(action, payload) == {}

        async def named() -> list[dict[str, Any]]:
            found = await incidents(app, status="open")
            return found if found and found[0]["code"] == "GroundFailure" else []

        [opened] = await eventually(named)
        await app.app.state.faults.flush()
        assert len(await incidents(app)) == 1, await incidents(app)
        assert (opened["kind"], opened["severity"], opened["connector_id"]) == ("connector_error", "critical", 1)
        detail = await incident(app, opened["number"])
        assert (detail["vendor_error_code"], detail["vendor_id"]) == ("E-RCD-30", "RCD.Tripped")
        assert detail["guidance"]["en"]["operator_checklist"]
        stored = (await api(app).get(f"/api/v1/chargers/{charger}")).json()["connectors"]
        assert [(c["status"], c["error_code"]) for c in stored] == [("Faulted", "GroundFailure")]

        if resolved_by == "cleared_event":
            await cp.call("NotifyEvent", rcd(2, 5, cleared=True))
        else:
            await cp.call("StatusNotification", {**faulted(5), "connectorStatus": "Available"})
        [resolved] = await eventually(lambda: incidents(app, status="resolved"))
    assert resolved["number"] == opened["number"]
    assert await incidents(app) == [resolved], "one incident for the fault, from open to resolved"


async def test_a_2_0_1_warning_outlives_status_reports_and_ends_with_its_cleared_event(db_url, start_server):
    # A 2.0.1 StatusNotification (or a chargingState) says nothing of error conditions: before, every one was read
    # as errorCode NoError and closed a warning the station had raised by NotifyEvent and never cleared.
    app = await start_server(db_url, fast_config())
    cp = LibraryCharger(ocpp_url(app), "V201-WARN", "ocpp2.0.1")
    await cp.connect()
    await cp.boot()
    await cp.status(1, "Available")
    await cp.status(1, "Available", "HighTemperature")  # Alerting NotifyEvent only: the status did not change

    async def warning(status: str) -> list[dict[str, Any]]:
        return [i for i in await incidents(app, charger_id="V201-WARN", status=status)
                if i["code"] == "HighTemperature" and i["severity"] == "warning"]

    [opened] = await eventually(lambda: warning("open"))
    await cp.status(1, "Preparing")  # plugged in: StatusNotification Occupied
    await cp.heartbeat()  # the detector is fed before each answer: by now the status had its effect
    await app.app.state.faults.flush()
    assert [i["number"] for i in await warning("open")] == [opened["number"]]
    await cp._notify(1, "HighTemperature", {}, None, cleared=True, component_variable=("TemperatureSensor",
                                                                                         "Temperature"))
    [resolved] = await eventually(lambda: warning("resolved"))
    assert resolved["number"] == opened["number"]
    await cp.close()
