"""An independent OCPP 1.6 implementation (the `ocpp` PyPI library as a charge point) against chargewatch."""

import asyncio
import base64

import httpx
from ocpp.v16 import ChargePoint, call
from websockets.asyncio.client import connect as ws_connect

from chargewatch.store.registry import put_id_tag, register_charger
from helpers import http_url, ocpp_url, ts


class LibraryConnection:
    """Adapts a websockets v17 client connection to the interface the ocpp library expects."""

    def __init__(self, websocket):
        self._ws = websocket

    async def recv(self):
        return await self._ws.recv()

    async def send(self, message):
        await self._ws.send(message)


async def test_library_charge_point_completes_a_session_against_a_registered_charger(server):
    with server.engine.begin() as connection:
        register_charger(connection, "LIB-CP-1", password="library-secret-1", timezone="Europe/Berlin",
                         tariff_id=None, now=server.gateway.now())
        put_id_tag(connection, {"id_tag": "RFID-0001", "status": "Accepted", "expiry_date": None,
                                "parent_id_tag": None, "description": None})
    server.gateway.id_tags.refresh()
    token = base64.b64encode(b"LIB-CP-1:library-secret-1").decode()
    async with ws_connect(f"{ocpp_url(server)}/LIB-CP-1", subprotocols=["ocpp1.6"],
                          additional_headers={"Authorization": f"Basic {token}"}) as ws:
        cp = ChargePoint("LIB-CP-1", LibraryConnection(ws))
        listener = asyncio.create_task(cp.start())
        boot = await cp.call(call.BootNotification(charge_point_model="LIB-22", charge_point_vendor="mobilityhouse"))
        assert boot.status == "Accepted"
        auth = await cp.call(call.Authorize(id_tag="RFID-0001"))
        assert auth.id_tag_info["status"] == "Accepted"
        start = await cp.call(call.StartTransaction(connector_id=1, id_tag="RFID-0001", meter_start=2_000_000,
                                                    timestamp=ts(0)))
        tx = start.transaction_id
        await cp.call(call.MeterValues(connector_id=1, transaction_id=tx, meter_value=[{
            "timestamp": ts(15), "sampledValue": [
                {"value": "2003.75", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
                {"value": "15.1", "measurand": "Power.Active.Import", "unit": "kW"}]}]))
        stop = await cp.call(call.StopTransaction(meter_stop=2_007_400, timestamp=ts(45), transaction_id=tx,
                                                  reason="EVDisconnected", id_tag="RFID-0001"))
        assert stop.id_tag_info["status"] == "Accepted"
        listener.cancel()
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        session = (await api.get(f"/api/v1/sessions/{tx}")).json()
        charger = (await api.get("/api/v1/chargers/LIB-CP-1")).json()
    assert session["energy_wh"] == 7_400
    assert (session["started_at"], session["stopped_at"]) == ("2026-11-02T09:00:00Z", "2026-11-02T09:45:00Z")
    assert session["charging_seconds"] == 45 * 60 and session["max_power_w"] == 15_100
    assert (charger["vendor"], charger["model"], charger["registered"]) == ("mobilityhouse", "LIB-22", True)
