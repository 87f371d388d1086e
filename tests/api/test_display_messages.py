"""Display messages as a domain intent: the operator shows or clears a message on a station's screen
(POST/DELETE /api/v1/chargers/{id}/display-messages); a 2.0.1 station (the `ocpp` library's v201 ChargePoint) gets
SetDisplayMessage/ClearDisplayMessage, a 1.6 charger (the library's v16 ChargePoint) the vendor DataTransfer the fault
worker uses for driver guidance — and the answer says which."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from websockets.asyncio.client import connect as ws_connect

from gateway.v201_peer import LibraryConnection, boot, station
from helpers import http_url, ocpp_url


class Screen201(ChargePoint201):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.calls: asyncio.Queue[tuple[str, dict]] = asyncio.Queue()

    @on("SetDisplayMessage")
    def on_set(self, message, **kwargs):
        self.calls.put_nowait(("SetDisplayMessage", message))
        return result201.SetDisplayMessage(status="Accepted")

    @on("ClearDisplayMessage")
    def on_clear(self, id, **kwargs):  # noqa: A002 - the OCPP field name
        self.calls.put_nowait(("ClearDisplayMessage", {"id": id}))
        return result201.ClearDisplayMessage(status="Accepted")


class Screen16(ChargePoint16):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.calls: asyncio.Queue[dict] = asyncio.Queue()

    @on("DataTransfer")
    def on_data_transfer(self, vendor_id, message_id=None, data=None, **kwargs):
        self.calls.put_nowait({"vendor_id": vendor_id, "message_id": message_id, "data": json.loads(data)})
        return result16.DataTransfer(status="Accepted")


async def test_a_201_station_gets_set_and_clear_display_message(server):
    async with httpx.AsyncClient(base_url=http_url(server), timeout=10) as api, \
            station(ocpp_url(server), "SCREEN-201", cls=Screen201) as cp:
        await boot(cp)
        shown = await api.post("/api/v1/chargers/SCREEN-201/display-messages",
                               json={"text": "Bitte Kabel einstecken", "language": "de", "connector_id": 1})
        action, message = await asyncio.wait_for(cp.calls.get(), 10)
        assert shown.status_code == 200, shown.text
        assert (shown.json()["id"], shown.json()["status"], shown.json()["sent_action"]) == (
            1, "answered", "SetDisplayMessage")
        assert action == "SetDisplayMessage"
        assert (message["id"], message["message"]["content"], message["message"]["language"],
                message["display"]["evse"]["id"]) == (1, "Bitte Kabel einstecken", "de", 1)
        cleared = await api.delete("/api/v1/chargers/SCREEN-201/display-messages/1")
        assert await asyncio.wait_for(cp.calls.get(), 10) == ("ClearDisplayMessage", {"id": 1})
    assert (cleared.status_code, cleared.json()["sent_action"], cleared.json()["status"]) == (
        200, "ClearDisplayMessage", "answered")


async def test_a_16_charger_gets_the_vendor_data_transfer_and_the_answer_says_so(server):
    async with httpx.AsyncClient(base_url=http_url(server), timeout=10) as api, \
            ws_connect(f"{ocpp_url(server)}/SCREEN-16", subprotocols=["ocpp1.6"]) as websocket:  # type: ignore[list-item]
        cp = Screen16("SCREEN-16", LibraryConnection(websocket))
        listener = asyncio.create_task(cp.start())
        try:
            await cp.call(call16.BootNotification(charge_point_vendor="lib", charge_point_model="LIB-16"))
            shown = await api.post("/api/v1/chargers/SCREEN-16/display-messages",
                                   json={"text": "Out of order", "connector_id": 2})
            sent = await asyncio.wait_for(cp.calls.get(), 10)
            cleared = await api.delete("/api/v1/chargers/SCREEN-16/display-messages/2")
            sent_clear = await asyncio.wait_for(cp.calls.get(), 10)
        finally:
            listener.cancel()
    assert (shown.status_code, shown.json()["sent_action"], shown.json()["status"]) == (200, "DataTransfer", "answered")
    assert "OCPP 1.6 has no standard display message" in shown.json()["rendering"]
    assert sent == {"vendor_id": "org.chargewatch", "message_id": "DisplayMessage",
                    "data": {"text": "Out of order", "connectorId": 2}}
    assert cleared.json()["sent_action"] == "DataTransfer" and sent_clear["data"] == {"text": "", "connectorId": 2}


async def test_a_display_message_for_an_unknown_charger_is_404_and_an_overlong_text_a_422_naming_it(server):
    async with httpx.AsyncClient(base_url=http_url(server), timeout=10) as api:
        unknown = await api.post("/api/v1/chargers/NOBODY/display-messages", json={"text": "hi"})
        unknown_clear = await api.delete("/api/v1/chargers/NOBODY/display-messages/0")
        too_long = await api.post("/api/v1/chargers/NOBODY/display-messages", json={"text": "x" * 513})
        bad_id = await api.delete(f"/api/v1/chargers/NOBODY/display-messages/{10**20}")
    assert (unknown.status_code, unknown_clear.status_code) == (404, 404)
    assert unknown.json()["detail"] == "charger 'NOBODY' not found"
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "text"
    assert bad_id.status_code == 422 and bad_id.json()["errors"][0]["field"] == "message_id"
