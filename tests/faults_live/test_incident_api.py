"""The incident API against a running server: lifecycle with 409s, remote actions with the charger's
answer recorded, rate-limited automatic remediation, guidance on the charger screen, driver reports,
response times, and a restart that resumes the detector."""

from __future__ import annotations

import asyncio
import json

from chargewatch.sim.scenarios import ScriptedCharger
from faults_live.live import api, eventually, fast_config, incident, incidents
from helpers import ocpp_url
from peers.chargers import LibraryCharger


async def test_incident_lifecycle_and_recovery_actions(sqlite_url, start_server):
    config = fast_config(
        remediation={"enabled": True, "max_actions_per_charger": 1, "window": 3600, "rules": [
            {"name": "soft-reset-internal-error", "kind": "connector_error", "code": "InternalError",
             "action": "SoftReset", "after": 0.3}]},
        driver_screen={"enabled": True, "vendor_id": "com.example.display"},
    )
    app = await start_server(sqlite_url, config)
    http = api(app)
    cp = ScriptedCharger(ocpp_url(app), "API-1")
    await cp.connect()
    await cp.boot(connectors=2)
    await cp.status(1, "Faulted", "InternalError", vendorId="com.example", vendorErrorCode="0x42")
    [internal] = await eventually(lambda: incidents(app, status="open"))
    number = internal["number"]

    # Remediation: exactly one soft reset (the budget is one per charger), answer recorded.
    await eventually(lambda: _async([a for a, _ in cp.received if a == "Reset"]))
    await cp.status(2, "Faulted", "InternalError")
    await asyncio.sleep(0.8)
    assert [p for a, p in cp.received if a == "Reset"] == [{"type": "Soft"}]
    detail = await incident(app, number)
    auto = [a for a in detail["actions"] if a["requested_by"] == "remediation"]
    assert [(a["rule"], a["ocpp_action"], a["status"], a["response"]) for a in auto] == [
        ("soft-reset-internal-error", "Reset", "answered", {"status": "Accepted"})]
    second = next(i for i in await incidents(app, status="open") if i["connector_id"] == 2)
    assert "budget" in (await incident(app, second["number"]))["remediation_held"]

    # The driver at the charger saw the guidance on the screen (DataTransfer), per connector.
    def screens_of() -> list[dict]:
        return [p for a, p in cp.received if a == "DataTransfer"]

    await eventually(lambda: _async({json.loads(p["data"])["connectorId"] for p in screens_of()} == {1, 2}))
    screens = screens_of()
    assert all(p["vendorId"] == "com.example.display" and p["messageId"] == "DisplayMessage" for p in screens)

    # Remote actions from the incident.
    unlock = await http.post(f"/api/v1/incidents/{number}/actions", json={"action": "unlock", "by": "alice"})
    assert unlock.status_code == 200
    assert (unlock.json()["ocpp_action"], unlock.json()["payload"], unlock.json()["response"]) == (
        "UnlockConnector", {"connectorId": 1}, {"status": "Unlocked"})
    assert ("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}) in [
        (a["ocpp_action"], a["payload"]) for a in [(await http.post(
            f"/api/v1/incidents/{number}/actions", json={"action": "make_inoperative"})).json()]]
    no_session = await http.post(f"/api/v1/incidents/{number}/actions", json={"action": "remote_stop"})
    assert no_session.status_code == 409 and "transaction" in no_session.json()["detail"]
    bad = await http.post(f"/api/v1/incidents/{number}/actions", json={"action": "explode"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "action"

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
                            json={"author": "bob", "text": "replacing the control board"})).status_code == 201
    await cp.status(1, "Faulted", "InternalError")  # new evidence must not erase the operator's fields
    await asyncio.sleep(0.3)
    detail = await incident(app, number)
    assert detail["assignee"] == "tech-7" and [n["text"] for n in detail["notes"]] == ["replacing the control board"]
    assert detail["occurrences"] == 2
    resolved = await http.post(f"/api/v1/incidents/{number}/resolve", json={"by": "bob", "note": "board swapped"})
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    resolution = (await incident(app, number))["resolution"]
    assert (resolution["source"], resolution["data"]) == ("Operator", {"by": "bob", "note": "board swapped"})
    for path, body in (("resolve", {"by": "bob"}), ("acknowledge", {"by": "bob"})):
        late = await http.post(f"/api/v1/incidents/{number}/{path}", json=body)
        assert late.status_code == 409 and "already resolved" in late.json()["detail"]
    assert (await http.put(f"/api/v1/incidents/{number}/assignee", json={"assignee": "x"})).status_code == 409
    outage = await http.put(f"/api/v1/incidents/{second['number']}/exclusion", json={"reason": "vandalism"})
    assert outage.status_code == 200 and outage.json()["exclusion_reason"] == "vandalism"
    unknown = await http.put(f"/api/v1/incidents/{number}/exclusion", json={"reason": "no_such_reason"})
    assert unknown.status_code == 422
    await cp.status(1, "Available", "OtherError", info="fan noisy")  # a warning: the connector still works
    async def other_error() -> list[dict]:
        return [i for i in await incidents(app, status="open") if i["code"] == "OtherError"]

    [warning] = await eventually(other_error)
    not_outage = await http.put(f"/api/v1/incidents/{warning['number']}/exclusion", json={"reason": "vandalism"})
    assert not_outage.status_code == 409 and "not an outage" in not_outage.json()["detail"]

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
