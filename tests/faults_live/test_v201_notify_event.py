"""A 2.0.1 station's NotifyEvent fault opens one incident with guidance; the cleared event resolves it."""

from __future__ import annotations

import asyncio

from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result

from faults_live.live import api, eventually, fast_config, incident, incidents
from gateway.v201_peer import boot, energy, station, transaction_event
from helpers import ocpp_url, ts


def rcd_event(event_id: int, minutes: float, *, cleared: bool) -> dict:
    event = {"event_id": event_id, "timestamp": ts(minutes), "trigger": "Delta",
             "actual_value": "false" if cleared else "true", "event_notification_type": "HardWiredNotification",
             "component": {"name": "RCD", "evse": {"id": 1, "connector_id": 1}}, "variable": {"name": "Tripped"}}
    if not cleared:
        event.update(tech_code="E-RCD-30", tech_info="RCD tripped")
    else:
        event["cleared"] = True
    return event


async def test_a_notify_event_ground_fault_opens_one_incident_and_its_clearing_resolves_it(db_url, start_server):
    app = await start_server(db_url, fast_config())
    async with station(ocpp_url(app), "V201-RCD") as cp:
        await boot(cp)
        await cp.call(call.StatusNotification(timestamp=ts(0), connector_status="Available", evse_id=1,
                                              connector_id=1))
        await cp.call(call.NotifyEvent(generated_at=ts(1), seq_no=0, event_data=[rcd_event(1, 1, cleared=False)]))
        opened = await eventually(lambda: incidents(app, status="open"))
        assert [(i["kind"], i["code"], i["severity"], i["connector_id"]) for i in opened] == [
            ("connector_error", "GroundFailure", "critical", 1)]
        charger = (await api(app).get("/api/v1/chargers/V201-RCD")).json()
        assert [(c["status"], c["error_code"]) for c in charger["connectors"]] == [("Faulted", "GroundFailure")]

        await cp.call(call.NotifyEvent(generated_at=ts(5), seq_no=1, event_data=[rcd_event(2, 5, cleared=True)]))
        resolved = (await eventually(lambda: incidents(app, status="resolved")))[0]
    assert resolved["number"] == opened[0]["number"]
    detail = await incident(app, resolved["number"])
    # The detector labels status evidence "StatusNotification"; the evidence itself is the clearing NotifyEvent.
    assert detail["resolution"]["data"]["action"] == "NotifyEvent"
    assert detail["resolution"]["data"]["payload"]["eventData"][0]["cleared"] is True
    assert detail["guidance"]["en"]["operator_checklist"]
    assert await incidents(app) == [resolved], "exactly one incident for the fault"


class ScreenStation(ChargePoint):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.shown: asyncio.Queue = asyncio.Queue()

    @on("SetDisplayMessage")
    def on_display(self, message, **kwargs):
        self.shown.put_nowait(message)
        return call_result.SetDisplayMessage(status="Accepted")


async def test_a_fault_during_a_201_session_puts_the_guidance_on_the_station_screen(db_url, start_server):
    app = await start_server(db_url, fast_config(driver_screen={"enabled": True, "vendor_id": "com.vendor",
                                                                "language": "de"}))
    async with station(ocpp_url(app), "V201-SCREEN", cls=ScreenStation) as cp:
        await boot(cp)
        await cp.call(transaction_event("Started", 0, 0, "TX-SCREEN", trigger="Authorized", charging_state="Charging",
                                        meter=[energy(100.0, 0, "Transaction.Begin")]))
        await cp.call(call.NotifyEvent(generated_at=ts(1), seq_no=0, event_data=[rcd_event(1, 1, cleared=False)]))
        shown = await asyncio.wait_for(cp.shown.get(), 10)
    assert shown["priority"] == "InFront" and shown["transaction_id"] == "TX-SCREEN"
    assert shown["message"]["language"] == "de" and shown["message"]["content"]
    assert shown["display"]["evse"] == {"id": 1}
