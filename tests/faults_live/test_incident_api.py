"""The incident API against a running server: lifecycle with 409s, remote actions with the charger's
answer recorded, rate-limited automatic remediation, guidance on the charger screen, driver reports,
response times, and a restart that resumes the detector."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from faults_live.live import api, eventually, fast_config, incident, incidents
from helpers import ocpp_url
from peers.chargers import LibraryCharger

# What each version's charger receives for the same neutral remedy, and the CALL that carries the screen guidance.
REMEDIES: dict[str, dict[str, Any]] = {
    "ocpp1.6": {
        "auto_reset": ("Reset", {"type": "Soft"}),
        "unlock": ("UnlockConnector", {"connectorId": 1}),
        "make_inoperative": ("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}),
        "hard_reset": ("Reset", {"type": "Hard"}),
        "remote_stop": lambda reference: ("RemoteStopTransaction", {"transactionId": int(reference)}),
        "screen": ("DataTransfer", {"vendorId": "com.example.display", "messageId": "DisplayMessage"}),
    },
    "ocpp2.0.1": {
        "auto_reset": ("Reset", {"type": "OnIdle"}),
        "unlock": ("UnlockConnector", {"evseId": 1, "connectorId": 1}),
        "make_inoperative": ("ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 1}}),
        "hard_reset": ("Reset", {"type": "Immediate"}),
        "remote_stop": lambda reference: ("RequestStopTransaction", {"transactionId": reference}),
        "screen": ("SetDisplayMessage", {}),
    },
}


async def test_incident_lifecycle_and_recovery_actions(db_url, ocpp_version, start_server):
    expected = REMEDIES[ocpp_version]
    config = fast_config(
        remediation={"enabled": True, "max_actions_per_charger": 1, "window": 3600, "rules": [
            {"name": "soft-reset-stuck-contactor", "kind": "connector_error", "code": "PowerSwitchFailure",
             "action": "SoftReset", "after": 0.3}]},
        driver_screen={"enabled": True, "vendor_id": "com.example.display"},
        detection={"stall_after": 120},  # the session near the end draws nothing: no stall incident in the lists
    )
    app = await start_server(db_url, config)
    http = api(app)
    cp = LibraryCharger(ocpp_url(app), "API-1", ocpp_version)
    await cp.connect()
    await cp.boot(connectors=2)
    await cp.status(1, "Faulted", "PowerSwitchFailure", vendorId="com.example", vendorErrorCode="0x42")
    [stuck] = await eventually(lambda: incidents(app, status="open"))
    number = stuck["number"]
    assert (stuck["code"], stuck["connector_id"]) == ("PowerSwitchFailure", 1)

    # Remediation: exactly one soft reset (the budget is one per charger), in the charger's words, answer recorded.
    await eventually(lambda: _async([a for a, _ in cp.received if a == "Reset"]))
    await cp.status(2, "Faulted", "PowerSwitchFailure")
    await asyncio.sleep(0.8)
    assert [(a, p) for a, p in cp.received if a == "Reset"] == [expected["auto_reset"]]
    detail = await incident(app, number)
    auto = [a for a in detail["actions"] if a["requested_by"] == "remediation"]
    assert [(a["rule"], (a["ocpp_action"], a["payload"]), a["status"], a["response"]) for a in auto] == [
        ("soft-reset-stuck-contactor", expected["auto_reset"], "answered", {"status": "Accepted"})]
    second = next(i for i in await incidents(app, status="open") if i["connector_id"] == 2)
    assert "budget" in (await incident(app, second["number"]))["remediation_held"]

    # The driver at the charger saw the guidance on the screen (1.6 DataTransfer, 2.0.1 SetDisplayMessage), per
    # connector.
    screen_action, screen_fields = expected["screen"]
    await eventually(lambda: _async({s["connector"] for s in cp.screens()} == {1, 2}))
    screens = [p for a, p in cp.received if a == screen_action]
    assert len(screens) == len(cp.screens()) and all(p.items() >= screen_fields.items() for p in screens)

    # Remote actions from the incident: the reply and the action row say what the charger really received.
    for action in ("unlock", "make_inoperative"):
        response = await http.post(f"/api/v1/incidents/{number}/actions", json={"action": action, "by": "alice"})
        assert response.status_code == 200, response.text
        sent = (response.json()["ocpp_action"], response.json()["payload"])
        assert sent == expected[action] and sent in cp.received
    assert response.json()["response"] == {"status": "Accepted"}
    no_session = await http.post(f"/api/v1/incidents/{number}/actions", json={"action": "remote_stop"})
    assert no_session.status_code == 409 and "transaction" in no_session.json()["detail"]
    bad = await http.post(f"/api/v1/incidents/{number}/actions", json={"action": "explode"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "action"
    rows = [(a["ocpp_action"], a["payload"]) for a in (await incident(app, number))["actions"]]
    assert [row for row in rows if row not in cp.received] == [], cp.received  # the screen guidance included
    assert [row for row in rows if row[0] != screen_action] == [c for c in cp.received if c[0] != screen_action]

    # Lifecycle with validated transitions.
    assert (await http.post("/api/v1/incidents/999/acknowledge", json={"by": "bob"})).status_code == 404
    assert (await http.post(f"/api/v1/incidents/{number}/acknowledge", json={})).status_code == 422
    ack = await http.post(f"/api/v1/incidents/{number}/acknowledge", json={"by": "bob"})
    assert ack.status_code == 200 and (ack.json()["status"], ack.json()["acknowledged_by"]) == ("acknowledged", "bob")
    again = await http.post(f"/api/v1/incidents/{number}/acknowledge", json={"by": "carol"})
    assert again.status_code == 409 and "already acknowledged" in again.json()["detail"]
    assert (await http.put(f"/api/v1/incidents/{number}/assignee", json={"assignee": "tech-7"})).json()[
        "assignee"] == "tech-7"
    assert (await http.post(f"/api/v1/incidents/{number}/notes",
                            json={"author": "bob", "text": "replacing the contactor"})).status_code == 201
    await cp.status(1, "Faulted", "PowerSwitchFailure")  # new evidence must not erase the operator's fields

    async def seen_twice() -> dict[str, Any] | None:
        found = await incident(app, number)
        return found if found["occurrences"] == 2 else None

    detail = await eventually(seen_twice)
    assert detail["assignee"] == "tech-7" and [n["text"] for n in detail["notes"]] == ["replacing the contactor"]
    resolved = await http.post(f"/api/v1/incidents/{number}/resolve", json={"by": "bob", "note": "contactor swapped"})
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    resolution = (await incident(app, number))["resolution"]
    assert (resolution["source"], resolution["data"]) == ("Operator", {"by": "bob", "note": "contactor swapped"})
    for path, body in (("resolve", {"by": "bob"}), ("acknowledge", {"by": "bob"})):
        late = await http.post(f"/api/v1/incidents/{number}/{path}", json=body)
        assert late.status_code == 409 and "already resolved" in late.json()["detail"]
    assert (await http.put(f"/api/v1/incidents/{number}/assignee", json={"assignee": "x"})).status_code == 409
    outage = await http.put(f"/api/v1/incidents/{second['number']}/exclusion", json={"reason": "vandalism"})
    assert outage.status_code == 200 and outage.json()["exclusion_reason"] == "vandalism"
    unknown = await http.put(f"/api/v1/incidents/{number}/exclusion", json={"reason": "no_such_reason"})
    assert unknown.status_code == 422

    # A warning while charging (the connector still works): not an outage, and its session can be stopped.
    transaction_id = await cp.start(1)
    await cp.status(1, "Charging", "OtherError", info="fan noisy")

    async def other_error() -> list[dict]:
        return [i for i in await incidents(app, status="open") if i["code"] == "OtherError"]

    [warning] = await eventually(other_error)
    not_outage = await http.put(f"/api/v1/incidents/{warning['number']}/exclusion", json={"reason": "vandalism"})
    assert not_outage.status_code == 409 and "not an outage" in not_outage.json()["detail"]
    received = len(cp.received)
    for action in ("remote_stop", "hard_reset"):
        response = await http.post(f"/api/v1/incidents/{warning['number']}/actions", json={"action": action})
        assert response.status_code == 200, response.text
    stop, reset = expected["remote_stop"](cp.reference(transaction_id)), expected["hard_reset"]
    assert [c for c in cp.received[received:] if c[0] != screen_action] == [stop, reset]
    assert [(a["ocpp_action"], a["payload"], a["status"]) for a in (await incident(app, warning["number"]))[
        "actions"] if a["ocpp_action"] != screen_action] == [(*stop, "answered"), (*reset, "answered")]

    # Lists, filters, paging and response times.
    page = (await http.get("/api/v1/incidents", params={"limit": 1})).json()
    assert len(page["items"]) == 1 and page["next_cursor"] is not None
    rest = (await http.get("/api/v1/incidents", params={"limit": 1, "cursor": page["next_cursor"]})).json()
    assert rest["items"][0]["number"] < page["items"][0]["number"]
    assert [i["number"] for i in await incidents(app, severity="fault", charger_id="API-1", kind="connector_error",
                                                 status="resolved")] == [number]
    naive = await http.get("/api/v1/incidents", params={"since": "2026-01-01T00:00:00"})
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "since"
    [times] = (await http.get("/api/v1/incidents/response-times")).json()
    assert (times["station"], times["acknowledged"], times["resolved"]) == ("API-1", 1, 1)
    assert 0 < times["mtta_seconds"] <= times["mttr_seconds"]
    paths = (await http.get("/openapi.json")).json()["paths"]
    assert {"/api/v1/incidents/{number}/actions", "/api/v1/uptime", "/api/v1/uptime.csv", "/api/v1/alerts/deliveries",
            "/api/v1/driver/{token}/guidance", "/api/v1/driver/reports"} <= set(paths)
    await cp.close()


async def test_driver_report_opens_then_joins_an_incident_with_session_telemetry(sqlite_url, ocpp_version,
                                                                                 start_server):
    # The session sends one meter value and then sits still while the test talks to the API: keep the stall
    # rule out of the way, or on a slow machine a StalledSession incident comes first in the guidance.
    app = await start_server(sqlite_url, fast_config(detection={"stall_after": 120}))
    http = api(app)
    cp = LibraryCharger(ocpp_url(app), "DRV-1", ocpp_version)
    await cp.connect()
    await cp.boot()
    transaction_id = await cp.start(1)
    await cp.meter(1, transaction_id, 3_000)
    token = (await http.get(f"/api/v1/sessions/{transaction_id}")).json()["driver_path"].split("/")[-1]

    report = {"token": token, "category": "slow_charging", "text": "Only 3 kW", "contact": "d@example.org"}
    first = await http.post("/api/v1/driver/reports", json=report)
    assert first.status_code == 201 and first.json()["joined"] is False
    second = await http.post("/api/v1/driver/reports", json={**report, "text": "still slow", "contact": None})
    assert second.json() == {**first.json(), "joined": True}
    detail = await incident(app, first.json()["reference"])
    assert (detail["kind"], detail["code"], detail["connector_id"]) == ("driver_report", "slow_charging", 1)
    assert [(r["text"], r["contact"]) for r in detail["reports"]] == [("Only 3 kW", "d@example.org"),
                                                                      ("still slow", None)]
    assert detail["session"]["transaction_id"] == transaction_id and detail["session"]["meter_readings"]
    assert "d@example.org" not in json.dumps(detail["evidence"]), "contact details stay out of alert evidence"

    by_charger = await http.post("/api/v1/driver/reports", json={"charger_id": "DRV-1", "category": "other"})
    assert by_charger.status_code == 422 and by_charger.json()["errors"][0]["field"] == "token"
    nowhere = await http.post("/api/v1/driver/reports", json={"category": "other"})
    assert nowhere.status_code == 422
    assert (await http.post("/api/v1/driver/reports", json={"token": "1-forged", "category": "x"})).status_code == 422
    assert (await http.get("/api/v1/driver/1-forgedforgedforgedforge/guidance")).status_code == 404
    guidance = (await http.get(f"/api/v1/driver/{token}/guidance", params={"lang": "de"})).json()
    assert guidance["ok"] is False and guidance["items"][0]["key"] == "DriverReport"
    await cp.close()


async def test_restart_resumes_detection_and_recovery_resolves_the_same_incident(sqlite_url, ocpp_version,
                                                                                start_server):
    first = await start_server(sqlite_url, fast_config())
    cp = LibraryCharger(ocpp_url(first), "RST-1", ocpp_version)
    await cp.connect()
    await cp.boot()
    await cp.status(1, "Faulted", "PowerMeterFailure")
    [before] = await eventually(lambda: incidents(first, status="open"))
    await cp.close()
    await first.stop()

    second = await start_server(sqlite_url, fast_config())
    cp = LibraryCharger(ocpp_url(second), "RST-1", ocpp_version)
    await cp.connect()
    await cp.status(1, "Available")
    [after] = await eventually(lambda: incidents(second, status="resolved"))
    assert after["number"] == before["number"] and await incidents(second) == [after]
    await cp.close()


async def _async(value: object) -> object:
    return value
