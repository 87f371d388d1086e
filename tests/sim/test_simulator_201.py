"""`chargewatch simulate --ocpp 2.0.1`: the simulated 2.0.1 station's sessions arrive as TransactionEvents and are
billed like a 1.6 charger's (same physics, signed Begin/End readings verified), and a mixed fleet mixes versions."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import pytest

from billing_live.live_billing import ensure_tariff, wait_for_bill
from chargewatch.sim.charger import DEMO_ID_TAGS, SimulatedCharger
from chargewatch.sim.charger201 import SimulatedStation201
from chargewatch.sim.fleet import SCENARIOS, run_fleet, speaks_201
from chargewatch.sim.ocmf import OcmfSigner
from chargewatch.store.registry import put_id_tag
from faults_live.live import eventually
from helpers import http_url, ocpp_url


def _accept_demo_tags(server) -> None:  # type: ignore[no-untyped-def]
    with server.engine.begin() as connection:
        for tag in DEMO_ID_TAGS:
            put_id_tag(connection, {"id_tag": tag, "status": "Accepted", "expiry_date": None,
                                    "parent_id_tag": None, "description": None})
    server.gateway.id_tags.refresh()


async def test_a_simulated_201_session_is_a_transaction_event_session_billed_with_its_signed_readings_valid(server):
    _accept_demo_tags(server)
    meter = OcmfSigner(send_public_key=True)
    behaviour = replace(SCENARIOS["demo"], meter_interval=0.5, charge_time=(3.0, 3.0), idle_time=(0.5, 0.5),
                        fault_probability=0.0, id_tags=DEMO_ID_TAGS[:1], signer=meter)
    station = SimulatedStation201(ocpp_url(server), "SIM201-1", connectors=1, behaviour=behaviour)
    async with httpx.AsyncClient(base_url=http_url(server), timeout=10) as api:
        await ensure_tariff(api)
        await api.put("/api/v1/tariff-assignments", json={"tariff_id": "TOU-IDLE"})
        await station.connect()
        await station.boot()
        assert (await api.put("/api/v1/chargers/SIM201-1/ocmf-key",
                              json={"public_key": meter.public_key_hex})).status_code == 200
        tx = await station.charge_once(1)
        assert station.connection is not None and station.connection.websocket.subprotocol == "ocpp2.0.1"
        await station.connection.close()
        assert tx is not None
        session = (await api.get(f"/api/v1/sessions/{tx}")).json()
        bill = await wait_for_bill(api, tx)
    assert session["transaction_ref"] in station.session_ids and station.session_ids[session["transaction_ref"]] == tx
    assert session["status"] == "completed" and session["stop_reason"] == "EVDisconnected"
    assert 20_000 <= session["max_power_w"] <= 22_000
    assert 0 < session["energy_wh"] <= session["max_power_w"] * session["duration_seconds"] / 3600 + 1
    assert "sequence_gap" not in session["flags"]
    assert (bill["status"], bill["meter_verification"]) == ("issued", "VALID"), bill.get("reason")


def test_a_mixed_fleet_has_every_fourth_charger_speak_201():
    assert [n for n in range(1, 13) if speaks_201(n, "mixed")] == [4, 8, 12]
    assert not any(speaks_201(n, "1.6") for n in range(1, 9)) and all(speaks_201(n, "2.0.1") for n in range(1, 9))
    with pytest.raises(ValueError, match="ocpp"):
        speaks_201(1, "2.1")


async def test_a_mixed_fleet_connects_16_and_201_chargers_on_one_endpoint(server):
    _accept_demo_tags(server)
    stop = asyncio.Event()
    fleet = asyncio.create_task(run_fleet(ocpp_url(server), 4, "demo", prefix="MIX", stop=stop, ocpp="mixed"))
    try:
        async with httpx.AsyncClient(base_url=http_url(server), timeout=10) as api:
            deadline = asyncio.get_running_loop().time() + 30
            while True:
                chargers = {c["charger_id"]: c for c in (await api.get("/api/v1/chargers")).json()["items"]}
                # connected shows the live link at once; the version is stored with the presence row right after it
                if len(chargers) == 4 and all(c.get("connected") and c.get("ocpp_version") for c in chargers.values()):
                    break
                assert asyncio.get_running_loop().time() < deadline, chargers
                await asyncio.sleep(0.2)
    finally:
        stop.set()
        await fleet
    assert {c: chargers[c]["ocpp_version"] for c in sorted(chargers)} == {
        "MIX-00001": "ocpp1.6", "MIX-00002": "ocpp1.6", "MIX-00003": "ocpp1.6", "MIX-00004": "ocpp2.0.1"}
    assert SimulatedStation201.subprotocol == "ocpp2.0.1" and SimulatedCharger.subprotocol == "ocpp1.6"


async def test_a_simulated_201_station_answers_get_base_report_with_its_two_evses_one_with_two_connectors(server):
    _accept_demo_tags(server)
    behaviour = replace(SCENARIOS["demo"], meter_interval=0.3, charge_time=(1.0, 1.0), idle_time=(0.3, 0.3),
                        fault_probability=0.0, id_tags=DEMO_ID_TAGS[:1])
    station = SimulatedStation201(ocpp_url(server), "SIM201-DM", connectors=2, behaviour=behaviour, plugs={2: 2})
    await station.connect()
    try:
        await station.boot()
        async with httpx.AsyncClient(base_url=http_url(server), timeout=10) as api:
            sent = (await api.post("/api/v1/chargers/SIM201-DM/commands", json={
                "action": "GetBaseReport", "payload": {"reportBase": "FullInventory"}})).json()

            async def reported() -> dict | None:
                page = (await api.get("/api/v1/chargers/SIM201-DM/variables")).json()
                return page if page["reports"] and page["reports"][0]["complete"] else None

            page = await eventually(reported, timeout=15)
            evses = (await api.get("/api/v1/chargers/SIM201-DM/evses")).json()
            tx = await station.charge_once(2)
            session = (await api.get(f"/api/v1/sessions/{tx}")).json()
            connectors = {c["connector_id"]: c for c in (await api.get(
                "/api/v1/connectors", params={"charger_id": "SIM201-DM"})).json()["items"]}
    finally:
        await station.connection.close()
    assert sent["response"] == {"status": "Accepted"}
    assert [(r["request_id"], r["parts"], r["sequence_gap"]) for r in page["reports"]] == [(sent["request_id"], 3,
                                                                                             False)]
    assert [(e["evse_id"], e["max_power_w"], [c["connector_type"] for c in e["connectors"]]) for e in evses] == [
        (1, 22_000, ["cType2"]), (2, 50_000, ["cCCS2", "cCHAdeMO"])]
    assert (session["connector_id"], session["evse_connector_id"], session["status"]) == (2, 1, "completed")
    assert [(c["connector_id"], c["status"]) for c in connectors[2]["evse_connectors"]] == [
        (1, "Available"), (2, "Available")]
