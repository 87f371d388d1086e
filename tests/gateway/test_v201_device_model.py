"""A 2.0.1 station's device model (NotifyReport) and its per-EVSE connectors, with the `ocpp` library's v201
ChargePoint over a real WebSocket on SQLite and PostgreSQL: the report is parsed and stored part by part, the API
shows its variables, EVSEs and connectors, and an EVSE with two connectors is shown and billed as one charging point
whose unused connector is Unavailable. 1.6 chargers keep their connector numbers (connector n = EVSE n connector 1),
and existing databases are upgraded without losing rows."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
from alembic import command
from ocpp.v201 import call
from sqlalchemy import select, text

from billing_live.live_billing import ensure_tariff, wait_for_bill
from chargewatch.store import schema
from chargewatch.store.database import alembic_config, create_single_use_engine, migrate
from chargewatch.store.registry import put_id_tag
from gateway.v201_peer import DEVICE_MODEL_PARTS, boot, energy, send_device_model, station, transaction_event
from helpers import connect, http_url, ocpp_url, ts


def _tag(server, tag: str = "RFID-201") -> None:
    with server.engine.begin() as connection:
        put_id_tag(connection, {"id_tag": tag, "status": "Accepted", "expiry_date": None, "parent_id_tag": None,
                                "description": None})
    server.gateway.id_tags.refresh()


async def _get(server, path: str, **params) -> dict | list:
    async with httpx.AsyncClient(base_url=http_url(server), timeout=10) as api:
        response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_two_part_notify_report_is_stored_as_the_stations_variables_evses_and_connectors(server):
    async with station(ocpp_url(server), "V201-DM") as cp:
        await boot(cp)
        await send_device_model(cp, request_id=5)
        await cp.call(call.NotifyReport(request_id=5, generated_at=ts(1), seq_no=1, tbc=False,  # re-delivered
                                        report_data=DEVICE_MODEL_PARTS[1]))
    page = await _get(server, "/api/v1/chargers/V201-DM/variables")
    assert len(page["items"]) == 9 and page["next_offset"] is None
    assert [(r["request_id"], r["parts"], r["sequence_gap"], r["complete"]) for r in page["reports"]] == [
        (5, 2, False, True)]
    by_key = {(v["component"], v["evse_id"], v["connector_id"], v["variable"], v["attribute_type"]): v
              for v in page["items"]}
    heartbeat = by_key[("OCPPCommCtrlr", 0, 0, "HeartbeatInterval", "Actual")]
    assert (heartbeat["value"], heartbeat["mutability"], heartbeat["data_type"], heartbeat["unit"]) == (
        "300", "ReadWrite", "integer", "s")
    password = by_key[("SecurityCtrlr", 0, 0, "BasicAuthPassword", "Actual")]
    assert (password["value"], password["mutability"]) == (None, "WriteOnly")
    assert by_key[("EVSE", 1, 0, "Power", "MaxSet")]["value"] == "22000"
    assert by_key[("Connector", 1, 1, "ConnectorType", "Actual")]["constant"] is True
    assert by_key[("Connector", 2, 2, "AvailabilityState", "Actual")]["values_list"].startswith("Available,")
    connectors_only = await _get(server, "/api/v1/chargers/V201-DM/variables", component="connector", evse_id=2)
    assert [(v["connector_id"], v["variable"], v["value"]) for v in connectors_only["items"]] == [
        (1, "ConnectorType", "cCCS2"), (2, "AvailabilityState", "Available"), (2, "ConnectorType", "cCHAdeMO")]
    first = await _get(server, "/api/v1/chargers/V201-DM/variables", limit=4)
    rest = await _get(server, "/api/v1/chargers/V201-DM/variables", limit=5, offset=first["next_offset"])
    assert first["next_offset"] == 4 and rest["next_offset"] is None
    assert first["items"] + rest["items"] == page["items"]
    evses = await _get(server, "/api/v1/chargers/V201-DM/evses")
    assert [(e["evse_id"], e["max_power_w"], [(c["connector_id"], c["connector_type"]) for c in e["connectors"]])
            for e in evses] == [(1, 22_000, [(1, "sType2")]), (2, 50_000, [(1, "cCCS2"), (2, "cCHAdeMO")])]


async def test_a_lost_report_part_is_flagged_and_the_parts_that_arrived_are_kept(server):
    parts = [DEVICE_MODEL_PARTS[0][:1], DEVICE_MODEL_PARTS[0][1:2], DEVICE_MODEL_PARTS[1][:1]]
    async with station(ocpp_url(server), "V201-DM-GAP") as cp:
        await boot(cp)
        await send_device_model(cp, request_id=9, parts=parts, skip=1)
    page = await _get(server, "/api/v1/chargers/V201-DM-GAP/variables")
    assert [(r["parts"], r["last_seq_no"], r["sequence_gap"], r["complete"]) for r in page["reports"]] == [
        (2, 2, True, True)]
    assert sorted(v["variable"] for v in page["items"]) == ["HeartbeatInterval", "Power"]


async def test_unknown_chargers_and_out_of_range_parameters_are_problems_not_errors(server):
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        missing = await api.get("/api/v1/chargers/NOBODY/variables")
        missing_evses = await api.get("/api/v1/chargers/NOBODY/evses")
        huge = await api.get("/api/v1/chargers/NOBODY/variables", params={"evse_id": str(10**20)})
        long_name = await api.get("/api/v1/chargers/NOBODY/variables", params={"component": "C" * 51})
    assert missing.status_code == missing_evses.status_code == 404 and "NOBODY" in missing.json()["detail"]
    assert [(r.status_code, r.json()["errors"][0]["field"]) for r in (huge, long_name)] == [
        (422, "evse_id"), (422, "component")]


async def test_an_evse_with_two_connectors_is_one_charging_point_shown_and_billed_by_the_connector_used(server):
    _tag(server)
    async with httpx.AsyncClient(base_url=http_url(server), timeout=10) as api:
        await ensure_tariff(api)
        await api.put("/api/v1/tariff-assignments", json={"tariff_id": "TOU-IDLE"})
        async with station(ocpp_url(server), "V201-2PLUG") as cp:
            await boot(cp)
            await send_device_model(cp, request_id=1)
            for plug in (1, 2):
                await cp.call(call.StatusNotification(timestamp=ts(0), connector_status="Available", evse_id=2,
                                                      connector_id=plug))
            await cp.call(call.StatusNotification(timestamp=ts(1), connector_status="Occupied", evse_id=2,
                                                  connector_id=2))
            await cp.call(call.StatusNotification(timestamp=ts(1), connector_status="Unavailable", evse_id=2,
                                                  connector_id=1))  # the other cable of the EVSE in use
            started = transaction_event("Started", 0, 2, "TX-PLUG-2", trigger="Authorized", id_token="RFID-201",
                                        charging_state="Charging", evse=2,
                                        meter=[energy(100.0, 2, "Transaction.Begin")])
            started.evse = {"id": 2, "connector_id": 2}
            await cp.call(started)
            await cp.call(transaction_event("Updated", 1, 32, "TX-PLUG-2", charging_state="Charging",
                                            meter=[energy(125.0, 32, power_w=50_000)]))
            during = {c["connector_id"]: c for c in (await api.get("/api/v1/chargers/V201-2PLUG")).json()[
                "connectors"]}
            await cp.call(transaction_event("Ended", 2, 32, "TX-PLUG-2", stopped_reason="EVDisconnected",
                                            charging_state="Idle", meter=[energy(125.0, 32, "Transaction.End")]))
            for plug in (2, 1):
                await cp.call(call.StatusNotification(timestamp=ts(33), connector_status="Available", evse_id=2,
                                                      connector_id=plug))
        session = (await api.get("/api/v1/chargers/V201-2PLUG/transactions/TX-PLUG-2")).json()
        bill = await wait_for_bill(api, session["transaction_id"])
        after = {c["connector_id"]: c for c in (await api.get("/api/v1/connectors",
                                                              params={"charger_id": "V201-2PLUG"})).json()["items"]}
    assert (during[2]["evse_id"], during[2]["status"], during[2]["max_power_w"]) == (2, "Charging", 50_000)
    assert [(c["connector_id"], c["status"], c["connector_type"]) for c in during[2]["evse_connectors"]] == [
        (1, "Unavailable", "cCCS2"), (2, "Occupied", "cCHAdeMO")]
    assert (session["connector_id"], session["evse_connector_id"], session["energy_wh"]) == (2, 2, 25_000)
    assert session["max_power_w"] == 50_000 and session["flags"] == []
    assert bill["status"] == "issued", bill["reason"]
    assert Decimal(bill["invoice"]["session"]["energy_kwh"]) == 25
    assert after[2]["status"] == "Available"
    assert [(c["connector_id"], c["status"]) for c in after[2]["evse_connectors"]] == [
        (1, "Available"), (2, "Available")]
    with server.engine.connect() as connection:
        e = schema.status_events
        evse_statuses = connection.execute(select(e.c.status, e.c.evse_connector_id, e.c.reported_status).where(
            e.c.charger_id == "V201-2PLUG", e.c.connector_id == 2).order_by(e.c.id)).all()
    evse_statuses = [tuple(row) for row in evse_statuses]
    assert ("Unavailable", 1, "Unavailable") not in evse_statuses  # the charging point was never Unavailable
    assert ("Preparing", 1, "Unavailable") in evse_statuses  # the other cable, while the one in use is Occupied


async def test_a_16_charger_keeps_its_connector_numbers_each_evse_n_with_connector_1(server):
    _tag(server, "TAG-16")
    cp = await connect(server, "V16-PLUGS")
    try:
        await cp.call("BootNotification", {"chargePointVendor": "ACME", "chargePointModel": "AC-22"})
        for connector in (0, 1, 2):
            await cp.call("StatusNotification", {"connectorId": connector, "errorCode": "NoError",
                                                 "status": "Available", "timestamp": ts(0)})
        started = await cp.call("StartTransaction", {"connectorId": 2, "idTag": "TAG-16", "meterStart": 0,
                                                     "timestamp": ts(1)})
    finally:
        await cp.close()
    connectors = (await _get(server, "/api/v1/connectors", charger_id="V16-PLUGS"))["items"]
    assert [(c["connector_id"], c["evse_id"], [(p["connector_id"], p["status"]) for p in c["evse_connectors"]])
            for c in connectors] == [(0, 0, []), (1, 1, [(1, "Available")]), (2, 2, [(1, "Available")])]
    session = await _get(server, f"/api/v1/sessions/{started['transactionId']}")
    assert (session["connector_id"], session["evse_connector_id"]) == (2, 1)


def test_migration_0004_upgrades_a_database_with_rows_without_losing_any(db_url):
    command.upgrade(alembic_config(db_url), "0003")
    engine = create_single_use_engine(db_url)
    at = datetime(2026, 11, 2, 9, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO chargers (id, registered, timezone, heartbeat_interval, connected, "
                                "created_at) VALUES ('OLD-1', true, 'UTC', 300, false, :at)"), {"at": at})
        for connector in (0, 1, 2):
            connection.execute(text("INSERT INTO connectors (charger_id, connector_id, status, error_code, "
                                    "status_at) VALUES ('OLD-1', :c, 'Available', 'NoError', :at)"),
                               {"c": connector, "at": at})
            connection.execute(text("INSERT INTO status_events (charger_id, connector_id, status, error_code, "
                                    "timestamp, received_at) VALUES ('OLD-1', :c, 'Available', 'NoError', :at, :at)"),
                               {"c": connector, "at": at})
        connection.execute(text(
            "INSERT INTO sessions (transaction_id, charger_id, connector_id, id_tag, status, started_at, "
            "meter_start_wh, energy_wh, max_power_w, charging_seconds, idle_seconds, offset_wh, flags, start_key, "
            "transaction_ref, updated_at) VALUES (7, 'OLD-1', 2, 'T', 'completed', :at, 0, 1500, 0, 0, 0, 0, '[]', "
            "'k', '7', :at)"), {"at": at})
    engine.dispose()
    migrate(db_url)
    engine = create_single_use_engine(db_url)
    with engine.connect() as connection:
        plugs = connection.execute(select(schema.evse_connectors.c.evse_id, schema.evse_connectors.c.connector_id,
                                          schema.evse_connectors.c.status).order_by(
            schema.evse_connectors.c.evse_id)).all()
        sessions = connection.execute(select(schema.sessions.c.transaction_id, schema.sessions.c.energy_wh,
                                             schema.sessions.c.evse_connector_id)).all()
        events = connection.execute(select(schema.status_events.c.connector_id,
                                           schema.status_events.c.evse_connector_id)).all()
        connectors = connection.execute(select(schema.connectors.c.connector_id)).scalars().all()
    engine.dispose()
    assert [tuple(r) for r in plugs] == [(1, 1, "Available"), (2, 1, "Available")]
    assert [tuple(r) for r in sessions] == [(7, 1500, 1)]
    assert sorted(tuple(r) for r in events) == [(0, 1), (1, 1), (2, 1)] and sorted(connectors) == [0, 1, 2]
