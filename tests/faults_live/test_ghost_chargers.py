"""Handshakes that never became a charger leave no charger row and no offline incident (issue 17, item 11);
with --accept-unknown a charger is created on its first valid BootNotification."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from faults_live.live import api, fast_config, incidents
from helpers import ocpp_url

BOOT = [2, "boot-1", "BootNotification", {"chargePointVendor": "Alfen BV", "chargePointModel": "NG920-61"}]


async def chargers(app) -> list[str]:
    response = await api(app).get("/api/v1/chargers")
    response.raise_for_status()
    return sorted(item["charger_id"] for item in response.json()["items"])


async def test_handshakes_that_never_boot_create_no_charger_and_no_incident(db_url, start_server):
    app = await start_server(db_url, fast_config())
    url = ocpp_url(app)
    with pytest.raises(InvalidStatus):  # not a version we speak: the upgrade is refused (400), nothing is created
        await connect(f"{url}/GHOST-PROTO", subprotocols=["ocpp2.1"])  # type: ignore[list-item]
    async with connect(f"{url}/GHOST-SILENT", subprotocols=["ocpp1.6"]):  # type: ignore[list-item]
        pass  # closed before any frame
    async with connect(f"{url}/GHOST-GARBAGE", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        await ws.send("this is not OCPP")
        assert json.loads(await ws.recv())[0] == 4  # a CALLERROR, the socket stays open
    await asyncio.sleep(2.5)  # past the reconnect grace (1.5 s) and several detector ticks
    assert await chargers(app) == []
    assert await incidents(app) == []


async def test_first_valid_boot_notification_creates_the_charger(db_url, start_server):
    app = await start_server(db_url, fast_config())
    async with connect(f"{ocpp_url(app)}/NEW-CP-1", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps([2, "bad-boot", "BootNotification", {"chargePointVendor": "Alfen BV"}]))
        assert json.loads(await ws.recv())[0] == 4  # chargePointModel missing: not a valid boot
        assert await chargers(app) == []
        await ws.send(json.dumps(BOOT))
        answer = json.loads(await ws.recv())
        assert answer[0] == 3 and answer[2]["status"] == "Accepted"
        assert await chargers(app) == ["NEW-CP-1"]
        charger = (await api(app).get("/api/v1/chargers/NEW-CP-1")).json()
        assert (charger["vendor"], charger["registered"], charger["connected"]) == ("Alfen BV", False, True)
