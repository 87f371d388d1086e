"""Operator commands a 2.0.1 station needs, through the API and the CLI, answered by the `ocpp` library's v201
ChargePoint: GetBaseReport (and the NotifyReport that answers it is stored), GetTransactionStatus, Set/Clear
VariableMonitoring and Reset Immediate/OnIdle per EVSE. The reply is the station's own answer. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import httpx

from chargewatch.cli import main
from chargewatch.store.registry import put_id_tag
from faults_live.live import eventually
from gateway.v201_peer import ReportingStation, boot, energy, station, transaction_event
from helpers import connect, http_url, ocpp_url


async def test_get_base_report_reaches_the_station_and_the_report_it_sends_back_is_stored(server):
    async with station(ocpp_url(server), "V201-REPORT", cls=ReportingStation) as cp:
        await boot(cp)
        async with httpx.AsyncClient(base_url=http_url(server), timeout=15) as api:
            sent = (await api.post("/api/v1/chargers/V201-REPORT/commands", json={
                "action": "GetBaseReport", "payload": {"reportBase": "FullInventory"}})).json()

            async def stored() -> dict | None:
                page = (await api.get("/api/v1/chargers/V201-REPORT/variables")).json()
                return page if page["reports"] and page["reports"][0]["complete"] else None

            page = await eventually(stored)
    assert (sent["status"], sent["sent_action"], sent["response"]) == ("answered", "GetBaseReport",
                                                                       {"status": "Accepted"})
    assert cp.received == [("GetBaseReport", {"request_id": sent["request_id"], "report_base": "FullInventory"})]
    assert [(r["request_id"], r["parts"], r["sequence_gap"]) for r in page["reports"]] == [(sent["request_id"], 2,
                                                                                             False)]
    assert len(page["items"]) == 9 and {v["request_id"] for v in page["items"]} == {sent["request_id"]}


async def test_transaction_status_monitoring_and_per_evse_resets_show_the_stations_own_answers(server):
    with server.engine.begin() as connection:
        put_id_tag(connection, {"id_tag": "RFID-201", "status": "Accepted", "expiry_date": None,
                                "parent_id_tag": None, "description": None})
    server.gateway.id_tags.refresh()
    async with station(ocpp_url(server), "V201-OPS", cls=ReportingStation) as cp:
        await boot(cp)
        started = await cp.call(transaction_event(
            "Started", 0, 0, "TX-ON", trigger="Authorized", id_token="RFID-201", charging_state="Charging",
            meter=[energy(1.0, 0, "Transaction.Begin")]))
        session_id = started.custom_data["session_id"]  # the library snake-cases what it receives
        async with httpx.AsyncClient(base_url=http_url(server), timeout=15) as api:
            async def command(action: str, payload: dict) -> dict:
                response = await api.post("/api/v1/chargers/V201-OPS/commands",
                                          json={"action": action, "payload": payload})
                assert response.status_code == 200, response.text
                return response.json()

            by_reference = await command("GetTransactionStatus", {"transactionId": "TX-ON"})
            by_session = await command("GetTransactionStatus", {"transactionId": session_id})
            other = await command("GetTransactionStatus", {"transactionId": "TX-OTHER"})
            monitor = await command("SetVariableMonitoring", {"setMonitoringData": [
                {"value": 21950, "type": "UpperThreshold", "severity": 4,
                 "component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"}},
                {"value": 60, "type": "Periodic", "severity": 8, "component": {"name": "EVSE", "evse": {"id": 2}},
                 "variable": {"name": "Power"}}]})
            cleared = await command("ClearVariableMonitoring", {"id": [40, 99]})
            on_idle = await command("Reset", {"type": "OnIdle", "evseId": 2})
            immediate = await command("Reset", {"type": "Immediate", "evseId": 1})
            unknown_session = await api.post("/api/v1/chargers/V201-OPS/commands", json={
                "action": "GetTransactionStatus", "payload": {"transactionId": session_id + 1000}})
            bad_reset = await api.post("/api/v1/chargers/V201-OPS/commands", json={
                "action": "Reset", "payload": {"type": "Later", "evseId": 1}})
    assert by_reference["response"] == by_session["response"] == {"messagesInQueue": False, "ongoingIndicator": True}
    assert other["response"] == {"messagesInQueue": False, "ongoingIndicator": False}
    assert [(r["id"], r["status"], r["type"]) for r in monitor["response"]["setMonitoringResult"]] == [
        (40, "Accepted", "UpperThreshold"), (41, "Accepted", "Periodic")]
    assert cleared["response"]["clearMonitoringResult"] == [{"id": 40, "status": "Accepted"},
                                                            {"id": 99, "status": "NotFound"}]
    assert (on_idle["sent_action"], on_idle["response"], immediate["response"]) == (
        "Reset", {"status": "Accepted"}, {"status": "Accepted"})
    resets = [payload for action, payload in cp.received if action == "Reset"]
    assert resets == [{"type": "OnIdle", "evse_id": 2}, {"type": "Immediate", "evse_id": 1}]
    asked = [payload["transaction_id"] for action, payload in cp.received if action == "GetTransactionStatus"]
    assert asked == ["TX-ON", "TX-ON", "TX-OTHER"]  # our session id went out as the station's transactionId
    assert unknown_session.status_code == 422 and "no transaction" in unknown_session.text
    assert bad_reset.status_code == 422 and "Reset payload invalid" in bad_reset.text


async def test_the_cli_sends_a_201_report_command_and_prints_the_stations_answer(server, capsys):
    async with station(ocpp_url(server), "V201-CLI", cls=ReportingStation) as cp:
        await boot(cp)
        code = await asyncio.to_thread(main, [
            "command", "V201-CLI", "GetBaseReport", '{"reportBase": "ConfigurationInventory", "requestId": 77}',
            "--api", http_url(server), "--timeout", "10"])
    printed = json.loads(capsys.readouterr().out)
    assert code == 0 and (printed["response"], printed["request_id"]) == ({"status": "Accepted"}, 77)
    assert cp.received == [("GetBaseReport", {"request_id": 77, "report_base": "ConfigurationInventory"})]


async def test_a_16_charger_asked_for_a_201_report_gets_a_422_saying_so(server):
    cp = await connect(server, "V16-NOREPORT")
    try:
        await cp.call("BootNotification", {"chargePointVendor": "ACME", "chargePointModel": "AC-22"})
        async with httpx.AsyncClient(base_url=http_url(server), timeout=15) as api:
            refused = await api.post("/api/v1/chargers/V16-NOREPORT/commands", json={
                "action": "GetBaseReport", "payload": {"reportBase": "FullInventory"}})
    finally:
        await cp.close()
    assert refused.status_code == 422 and "GetBaseReport" in refused.json()["detail"]
