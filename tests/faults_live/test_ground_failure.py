"""Ground failure mid-session, end to end on SQLite and PostgreSQL, from a 1.6 charger and a 2.0.1 station (the
`ocpp` library's charge points playing the simulator's script): one critical incident, a signed webhook and an
e-mail once the alert delay passed, driver guidance in German while it lasts, and the charger's return to service
resolving it with that message as evidence (1.6: StatusNotification Available/NoError; 2.0.1: the cleared
NotifyEvent)."""

from __future__ import annotations

import asyncio

from chargewatch.sim.scenarios import ScenarioTiming, ground_failure_mid_session
from faults_live.live import Recorder, api, eventually, fast_config, incident, incidents
from helpers import ocpp_url
from peers.chargers import LibraryCharger


async def test_ground_failure_mid_session_alerts_and_recovery_resolves(db_url, ocpp_version, start_server, webhook,
                                                                       mailbox):
    app = await start_server(db_url, fast_config(webhook, mailbox))
    recorder = Recorder(app)
    cp = LibraryCharger(ocpp_url(app), "GF-1", ocpp_version,
                        timing=ScenarioTiming(heartbeat=0.5, fault_hold=1.5, settle=0.3))
    scenario = asyncio.create_task(ground_failure_mid_session(cp))
    http = api(app)

    opened = await eventually(lambda: incidents(app, status="open"))
    assert [(i["kind"], i["code"], i["severity"], i["connector_id"]) for i in opened] == [
        ("connector_error", "GroundFailure", "critical", 1)]
    number = opened[0]["number"]

    # While the fault lasts, the driver's session page explains it in plain German.
    sessions = (await http.get("/api/v1/sessions", params={"charger_id": "GF-1"})).json()["items"]
    token = (await http.get(f"/api/v1/sessions/{sessions[0]['transaction_id']}")).json()["driver_path"].split("/")[-1]
    guidance = (await http.get(f"/api/v1/driver/{token}/guidance", params={"lang": "de"})).json()
    assert guidance["language"] == "de" and guidance["ok"] is False
    assert [item["key"] for item in guidance["items"]] == ["GroundFailure"]
    assert guidance["items"][0]["ongoing"] is True and guidance["items"][0]["steps"]

    transaction_id = await scenario
    resolved = (await eventually(lambda: incidents(app, status="resolved")))[0]
    assert resolved["number"] == number
    detail = await incident(app, number)
    resolution = detail["resolution"]
    assert resolution["source"] == "StatusNotification"
    if cp.v201:
        assert resolution["data"]["action"] == "NotifyEvent"
        assert resolution["data"]["payload"]["eventData"][0]["cleared"] is True
        [event] = detail["evidence"][0]["data"]["payload"]["eventData"]
        assert (event["component"]["name"], event["techCode"], event["techInfo"]) == ("RCD", "E-RCD-30",
                                                                                     "RCD tripped")
    else:
        assert resolution["data"]["payload"]["status"] == "Available"
        assert resolution["data"]["payload"]["errorCode"] == "NoError"
        first = detail["evidence"][0]["data"]
        assert (first["vendorId"], first["vendorErrorCode"], first["info"]) == ("chargewatch-sim", "E-RCD-30",
                                                                                 "RCD tripped")
    assert (resolved["vendor_error_code"], resolved["info"]) == ("E-RCD-30", "RCD tripped")
    assert detail["guidance"]["de"]["language"] == "de" and detail["guidance"]["en"]["operator_checklist"]
    assert await incidents(app) == [resolved], "exactly one incident for the whole scenario"

    # Alerts: one signed alert and one signed resolution per channel, nothing for opening/updates.
    async def both_delivered() -> bool:
        return len(webhook.received) >= 2 and len(mailbox.messages) >= 2

    await eventually(both_delivered)
    await asyncio.sleep(0.3)
    assert [hook.payload["type"] for hook in webhook.received] == ["incident.alert", "incident.resolved"]
    for hook in webhook.received:
        hook.verify()
        assert hook.payload["incident"]["id"] == detail["id"]
        assert hook.headers["Chargewatch-Event"] == hook.payload["type"]
    assert webhook.received[0].payload["guidance"]["key"] == "GroundFailure"
    assert webhook.received[1].payload["resolution"]["source"] == "StatusNotification"
    subjects = [message["Subject"] for message in mailbox.messages]
    assert len(subjects) == 2 and all("GF-1/1" in s and "CRITICAL" in s for s in subjects)
    assert "alert" in subjects[0] and "resolved" in subjects[1]
    assert mailbox.messages[0]["To"] == "oncall@example.org"

    deliveries = (await http.get("/api/v1/alerts/deliveries", params={"incident": number})).json()["items"]
    assert sorted((d["channel"], d["event_type"], d["status"]) for d in deliveries) == [
        ("email", "incident.alert", "delivered"), ("email", "incident.resolved", "delivered"),
        ("webhook", "incident.alert", "delivered"), ("webhook", "incident.resolved", "delivered")]
    assert all(d["attempts"] == 1 for d in deliveries)

    # The dashboard saw the lifecycle on the bus.
    kinds = recorder.kinds("connector_error")
    assert kinds[0] == "incident.opened" and "incident.alert" in kinds and kinds[-1] == "incident.resolved"
    assert transaction_id == sessions[0]["transaction_id"]
