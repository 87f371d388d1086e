"""An independent OCPP 2.0.1 station (the `ocpp` library's v201 ChargePoint) against chargewatch, on
SQLite and PostgreSQL: handshake, boot, status, authorize, a TransactionEvent session, seqNo gaps,
bad frames, a 1.6 charger beside it on the same endpoint, and operator commands rendered for 2.0.1."""

from __future__ import annotations

import asyncio
import json

import httpx
from ocpp.v201 import call
from sqlalchemy import select
from websockets.asyncio.client import connect as ws_connect

from chargewatch.store import schema
from chargewatch.store.registry import put_id_tag, register_charger
from gateway.v201_peer import CommandedStation, boot, charge, station, transaction_event
from helpers import boot as boot_16
from helpers import connect, http_url, meter, ocpp_url, ts


def _tag(server, tag: str = "RFID-201") -> None:
    with server.engine.begin() as connection:
        put_id_tag(connection, {"id_tag": tag, "status": "Accepted", "expiry_date": None, "parent_id_tag": None,
                                "description": None})
    server.gateway.id_tags.refresh()


async def _session_by_ref(server, charger_id: str, reference: str) -> dict:
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        response = await api.get(f"/api/v1/chargers/{charger_id}/transactions/{reference}")
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_201_station_with_basic_auth_boots_reports_status_and_is_authorized(server):
    with server.engine.begin() as connection:
        register_charger(connection, "V201-AUTH", password="station-secret-1", timezone="Europe/Berlin",
                         tariff_id=None, now=server.gateway.now())
    _tag(server)
    async with station(ocpp_url(server), "V201-AUTH", password="station-secret-1") as cp:
        booted = await boot(cp)
        assert booted.status == "Accepted" and booted.interval == 300
        await cp.call(call.StatusNotification(timestamp=ts(0), connector_status="Available", evse_id=1,
                                              connector_id=1))
        accepted = await cp.call(call.Authorize(id_token={"id_token": "RFID-201", "type": "ISO14443"}))
        unknown = await cp.call(call.Authorize(id_token={"id_token": "NOBODY", "type": "ISO14443"}))
        beat = await cp.call(call.Heartbeat())
    assert accepted.id_token_info["status"] == "Accepted"
    assert unknown.id_token_info["status"] == "Invalid"
    assert beat.current_time
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        charger = (await api.get("/api/v1/chargers/V201-AUTH")).json()
    assert (charger["vendor"], charger["model"], charger["serial_number"]) == ("mobilityhouse", "LIB-201", "SN-201")
    assert [(c["connector_id"], c["status"], c["error_code"]) for c in charger["connectors"]] == [
        (1, "Available", "NoError")]
    with server.engine.connect() as connection:
        version = connection.execute(select(schema.chargers.c.ocpp_version).where(
            schema.chargers.c.id == "V201-AUTH")).scalar_one()
    assert version == "ocpp2.0.1"


async def test_a_transaction_event_session_counts_energy_from_the_begin_and_end_readings_with_the_multiplier(server):
    _tag(server)
    async with station(ocpp_url(server), "V201-TX") as cp:
        await boot(cp)
        answers = await charge(cp, "TX-7f3a-0001")
    assert answers[0].id_token_info["status"] == "Accepted"
    session = await _session_by_ref(server, "V201-TX", "TX-7f3a-0001")
    assert session["energy_wh"] == 11_000  # 2000.000 → 2011.000 kWh sent as Wh × 10^3
    assert session["meter_start_wh"] == 2_000_000 and session["meter_stop_wh"] == 2_011_000
    assert (session["started_at"], session["stopped_at"]) == ("2026-11-02T09:00:00Z", "2026-11-02T10:00:00Z")
    assert session["status"] == "completed" and session["stop_reason"] == "EVDisconnected"
    assert session["id_tag"] == "RFID-201" and session["connector_id"] == 1
    assert session["max_power_w"] == 11_000 and session["charging_seconds"] == 3600
    assert session["flags"] == []
    assert [r["context"] for r in session["meter_readings"]][::len(session["meter_readings"]) - 1] == [
        "Transaction.Begin", "Transaction.End"]


async def test_an_unknown_transaction_reference_is_a_404_in_the_one_error_shape(server):
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        response = await api.get("/api/v1/chargers/NOBODY/transactions/TX-NONE")
    problem = response.json()
    assert response.status_code == 404 and problem["status"] == 404 and "TX-NONE" in problem["detail"]


async def test_a_skipped_seq_no_flags_the_session_and_a_redelivered_event_changes_nothing(server):
    _tag(server)  # an accepted card: a refused start is never a completed session
    async with station(ocpp_url(server), "V201-GAP") as cp:
        await boot(cp)
        await charge(cp, "TX-GAP", skip_seq=2)
        again = await cp.call(transaction_event("Ended", 6, 60, "TX-GAP", stopped_reason="EVDisconnected"))
    assert again.custom_data is None  # nothing new was created for the re-delivered Ended
    session = await _session_by_ref(server, "V201-GAP", "TX-GAP")
    assert session["flags"] == ["sequence_gap"]
    assert session["energy_wh"] == 11_000


async def test_a_16_and_a_201_charger_are_served_at_once_on_one_endpoint(server):
    _tag(server)
    _tag(server, "TAG-16")
    cp16 = await connect(server, "MIX-16")
    try:
        async with station(ocpp_url(server), "MIX-201") as cp201:
            await cp16.call("BootNotification", boot_16())
            await boot(cp201)
            started = await cp16.call("StartTransaction", {"connectorId": 1, "idTag": "TAG-16",
                                                           "meterStart": 1_000_000, "timestamp": ts(0)})
            both = await asyncio.gather(
                charge(cp201, "TX-MIX"),
                cp16.call("MeterValues", {"connectorId": 1, "transactionId": started["transactionId"],
                                          "meterValue": meter(1_005_000, 30, power_w=10_000)}))
            await cp16.call("StopTransaction", {"transactionId": started["transactionId"], "meterStop": 1_011_000,
                                                "timestamp": ts(60), "reason": "Local"})
            assert len(server.gateway.links) == 2
            assert {link.adapter.version for link in server.gateway.links.values()} == {"ocpp1.6", "ocpp2.0.1"}
    finally:
        await cp16.close()
    assert both[0][-1] is not None
    session_201 = await _session_by_ref(server, "MIX-201", "TX-MIX")
    session_16 = await _session_by_ref(server, "MIX-16", str(started["transactionId"]))
    assert session_201["energy_wh"] == session_16["energy_wh"] == 11_000
    assert session_201["transaction_id"] != session_16["transaction_id"]  # one id space for both versions


async def test_a_201_offer_gets_the_201_subprotocol_and_an_unknown_offer_is_refused(server):
    async with ws_connect(f"{ocpp_url(server)}/V201-HS", subprotocols=["ocpp2.0.1", "ocpp1.6"]) as ws:
        assert ws.subprotocol == "ocpp2.0.1"
    async with ws_connect(f"{ocpp_url(server)}/V201-HS", subprotocols=["ocpp1.6", "ocpp2.0.1"]) as ws:
        assert ws.subprotocol == "ocpp1.6"


async def test_bad_201_frames_get_callerrors_spelled_the_201_way_and_the_connection_stays_open(server):
    async with ws_connect(f"{ocpp_url(server)}/V201-BAD", subprotocols=["ocpp2.0.1"]) as ws:
        async def answer(frame: str) -> list:
            await ws.send(frame)
            return json.loads(await asyncio.wait_for(ws.recv(), 10))

        not_json = await answer('[2, "m1", "Heartbeat", {')
        missing = await answer(json.dumps([2, "m2", "BootNotification", {"reason": "PowerUp",
                                                                          "chargingStation": {"model": "X"}}]))
        wrong_type = await answer(json.dumps([2, "m3", "TransactionEvent", {
            "eventType": "Started", "timestamp": ts(0), "triggerReason": "Authorized", "seqNo": "zero",
            "transactionInfo": {"transactionId": "T"}}]))
        unknown = await answer(json.dumps([2, "m4", "FlyToTheMoon", {}]))
        csms_only = await answer(json.dumps([2, "m5", "RequestStartTransaction", {
            "idToken": {"idToken": "A", "type": "Central"}, "remoteStartId": 1}]))
        no_evse = await answer(json.dumps([2, "m6", "TransactionEvent", {
            "eventType": "Started", "timestamp": ts(0), "triggerReason": "Authorized", "seqNo": 0,
            "transactionInfo": {"transactionId": "T-NO-EVSE"}}]))
        alive = await answer(json.dumps([2, "m7", "Heartbeat", {}]))
    assert not_json[:3] == [4, "-1", "FormatViolation"]
    assert missing[:3] == [4, "m2", "OccurrenceConstraintViolation"] and "vendorName" in missing[3]
    assert wrong_type[:3] == [4, "m3", "TypeConstraintViolation"] and wrong_type[4] == {"field": "seqNo"}
    assert unknown[:3] == [4, "m4", "NotImplemented"]
    assert csms_only[:3] == [4, "m5", "NotSupported"]
    assert no_evse[:3] == [4, "m6", "OccurrenceConstraintViolation"] and no_evse[4] == {"field": "evse"}
    assert alive[0] == 3 and alive[1] == "m7" and "currentTime" in alive[2]


async def test_operator_commands_in_16_words_reach_a_201_station_as_their_201_equivalents(server):
    async with station(ocpp_url(server), "V201-CMD", cls=CommandedStation) as cp:
        await boot(cp)
        async with httpx.AsyncClient(base_url=http_url(server), timeout=15) as api:
            async def command(action: str, payload: dict) -> dict:
                response = await api.post("/api/v1/chargers/V201-CMD/commands",
                                          json={"action": action, "payload": payload})
                assert response.status_code == 200, response.text
                return response.json()

            reset = await command("Reset", {"type": "Hard"})
            start = await command("RemoteStartTransaction", {"connectorId": 1, "idTag": "RFID-201"})
            unlock = await command("UnlockConnector", {"connectorId": 1})
            heartbeat = await command("GetConfiguration", {"key": ["HeartbeatInterval"]})
            refused = await api.post("/api/v1/chargers/V201-CMD/commands",
                                     json={"action": "GetConfiguration", "payload": {}})
    assert (reset["status"], reset["sent_action"], reset["response"]) == ("answered", "Reset", {"status": "Accepted"})
    assert (start["sent_action"], unlock["sent_action"], heartbeat["sent_action"]) == (
        "RequestStartTransaction", "UnlockConnector", "GetVariables")
    assert heartbeat["response"]["getVariableResult"][0]["attributeValue"] == "300"
    assert refused.status_code == 422 and "GetBaseReport" in refused.text
    assert cp.received[0] == ("Reset", {"type": "Immediate"})
    assert cp.received[1][1]["id_token"] == {"id_token": "RFID-201", "type": "Central"}
    assert cp.received[1][1]["evse_id"] == 1
    assert cp.received[2] == ("UnlockConnector", {"evse_id": 1, "connector_id": 1})
    assert cp.received[3][1]["get_variable_data"] == [
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]


async def test_security_firmware_log_and_data_transfer_messages_are_answered_and_kept(server):
    async with station(ocpp_url(server), "V201-SEC") as cp:
        await boot(cp)
        await cp.call(call.SecurityEventNotification(type="TamperDetectionActivated", timestamp=ts(1),
                                                     tech_info="enclosure opened"))
        await cp.call(call.LogStatusNotification(status="Uploaded", request_id=4))
        await cp.call(call.FirmwareStatusNotification(status="InvalidSignature", request_id=3))
        transfer = await cp.call(call.DataTransfer(vendor_id="com.example", message_id="x", data="{}"))
    assert transfer.status == "UnknownVendorId"
    with server.engine.connect() as connection:
        events = connection.execute(select(schema.security_events.c.type, schema.security_events.c.tech_info).where(
            schema.security_events.c.charger_id == "V201-SEC")).all()
        firmware = connection.execute(select(schema.chargers.c.firmware_status).where(
            schema.chargers.c.id == "V201-SEC")).scalar_one()
    assert [tuple(e) for e in events] == [("TamperDetectionActivated", "enclosure opened")]
    assert firmware == "InvalidSignature"


async def test_an_ended_event_redelivered_on_a_new_connection_is_found_in_the_store_and_changes_nothing(server):
    _tag(server)  # an accepted card: a refused start is never a completed session
    async with station(ocpp_url(server), "V201-RECON") as cp:
        await boot(cp)
        answers = await charge(cp, "TX-RECON")
    ended_again = transaction_event("Ended", len(answers) - 1, 60, "TX-RECON", stopped_reason="EVDisconnected",
                                    offline=True)
    async with station(ocpp_url(server), "V201-RECON") as cp:  # state reloaded: the ended session is not in it
        again = await cp.call(ended_again)
    assert again.custom_data is None  # no new session was opened for it
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        items = (await api.get("/api/v1/sessions", params={"charger_id": "V201-RECON"})).json()["items"]
    assert [(s["transaction_ref"], s["energy_wh"], s["flags"]) for s in items] == [("TX-RECON", 11_000, [])]
