"""Every meter-data shape of issue 17 sent as raw OCPP-J frames over a real WebSocket (SQLite and PostgreSQL):
the session numbers in the API are the physically right ones."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import insert

from chargewatch.store import schema
from helpers import connect, http_url
from sessions_live.live import add_shape_tags, assert_shape, eventually, sessions_of
from sessions_live.shapes import SHAPES, TAG, drive, minutes, sv

BY_NAME = {s.name: s for s in SHAPES}


async def run(server, name):  # type: ignore[no-untyped-def]
    shape = BY_NAME[name]
    add_shape_tags(server)
    cp = await connect(server, shape.charger_id)
    try:
        transaction_ids = await drive(shape, cp.call)
    finally:
        await cp.close()
    return shape, transaction_ids


@pytest.mark.parametrize("name", [s.name for s in SHAPES])
async def test_session_numbers_are_right_for_the_meter_shape(server, name):
    shape, transaction_ids = await run(server, name)
    await assert_shape(server, shape, transaction_ids)


async def test_inlet_values_are_kept_as_readings_beside_the_outlet(server):
    shape, [tx] = await run(server, "outlet_inlet")
    [session] = await sessions_of(server, shape.charger_id)
    registers = {(r["location"], r["value"].split(".")[0])
                 for r in session["meter_readings"] if r["measurand"] == "Energy.Active.Import.Register"}
    assert registers == {("Outlet", "1000200"), ("Outlet", "1000400"), ("Inlet", "1240110"), ("Inlet", "1240300")}


async def test_late_samples_are_stored_once_and_read_in_time_order(server):
    shape, [tx] = await run(server, "out_of_order")
    [session] = await sessions_of(server, shape.charger_id)
    registers = [(r["timestamp"], r["value"].split(".")[0]) for r in session["meter_readings"]
                 if r["measurand"] == "Energy.Active.Import.Register"]
    assert registers == [("2026-11-02T09:10:00Z", "5001000"), ("2026-11-02T09:20:00Z", "5002000"),
                         ("2026-11-02T09:30:00Z", "5003000")]


async def test_a_refused_start_is_never_billed(server):
    shape, [refused, accepted] = await run(server, "refused_then_new_start")
    async with httpx.AsyncClient(base_url=http_url(server), timeout=10) as api:
        async def bill_of_accepted():  # type: ignore[no-untyped-def]
            response = await api.get(f"/api/v1/sessions/{accepted}/invoice")
            return response.json() if response.status_code == 200 else None

        assert await eventually(bill_of_accepted) is not None, "the completed session was never billed"
        assert server.app.state.billing.bill(refused) is None
        assert (await api.get(f"/api/v1/sessions/{refused}/invoice")).status_code == 404
        listed = (await api.get("/api/v1/sessions", params={"status": "rejected"})).json()["items"]
    assert [s["transaction_id"] for s in listed] == [refused]


async def test_a_late_interval_sent_twice_counts_once(server):
    cp = await connect(server, "SHAPE-LATE-INTERVAL")
    add_shape_tags(server)
    tx = (await cp.call("StartTransaction", {"connectorId": 1, "idTag": TAG, "meterStart": 0,
                                             "timestamp": minutes(0)}))["transactionId"]
    for m in (10, 30, 20, 20):  # the 20-minute interval is queued, then re-sent because its answer was lost
        await cp.call("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [{
            "timestamp": minutes(m), "sampledValue": [sv(1_000, "Energy.Active.Import.Interval")]}]})
    await cp.call("StopTransaction", {"transactionId": tx, "meterStop": 0, "timestamp": minutes(40)})
    await cp.close()
    [session] = await sessions_of(server, "SHAPE-LATE-INTERVAL")
    assert (session["energy_wh"], session["flags"]) == (3_000, ["power_estimated", "late_samples"])


async def test_a_refused_start_closing_is_not_an_aborted_session(server):
    shape, [refused] = await run(server, "refused_then_available")
    cp = await connect(server, shape.charger_id)  # then a real session that ends with nothing delivered
    tx = (await cp.call("StartTransaction", {"connectorId": 1, "idTag": TAG, "meterStart": 7_000_000,
                                             "timestamp": minutes(3)}))["transactionId"]
    await cp.call("StopTransaction", {"transactionId": tx, "meterStop": 7_000_000, "timestamp": minutes(4),
                                      "reason": "Other"})
    await cp.close()
    async with httpx.AsyncClient(base_url=http_url(server), timeout=10) as api:
        async def aborted():  # type: ignore[no-untyped-def]
            items = (await api.get("/api/v1/incidents", params={"charger_id": shape.charger_id,
                                                                "kind": "aborted_session"})).json()["items"]
            return items if any(i["session_id"] == str(tx) for i in items) else None

        found = await eventually(aborted)
        everything = (await api.get("/api/v1/incidents")).json()["items"]
    assert found is not None, f"the zero-energy session after it raised no incident: {everything}"
    assert [i["session_id"] for i in found] == [str(tx)]


async def test_estimated_power_is_bounded_by_the_connectors_configured_rating(server):
    shape = BY_NAME["interval_only"]
    with server.engine.begin() as connection:  # an 11 kW connector (connectors.max_power_w) sending 21.6 kW intervals
        connection.execute(insert(schema.chargers).values(id=shape.charger_id, registered=True, timezone="UTC",
                                                          heartbeat_interval=300, connected=False,
                                                          created_at=server.gateway.now()))
        connection.execute(insert(schema.connectors).values(charger_id=shape.charger_id, connector_id=1,
                                                            status="Available", error_code="NoError",
                                                            status_at=server.gateway.now(), max_power_w=11_000))
    _, [tx] = await run(server, "interval_only")
    [session] = await sessions_of(server, shape.charger_id)
    assert (session["energy_wh"], session["max_power_w"], session["flags"]) == (270, 11_000, ["power_estimated"])
