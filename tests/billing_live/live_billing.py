"""What the billing tests share: the time-of-day + idle-fee tariff and a session driven over OCPP.

"The evening session" is written once in charger words (``evening_charger``, ``charge_evening``,
``park_and_stop``) and spoken in 1.6 or 2.0.1 by the `ocpp` library's charge point (peers/chargers.py), so a billing
test parametrised over ``ocpp_version`` proves the same invoice and CDR for both; the raw 1.6 helpers below stay
for the tests that send frames the library cannot express."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx

from chargewatch.runtime import Chargewatch
from chargewatch.sim.client import ChargePointConnection
from chargewatch.store.registry import put_id_tag
from helpers import T0, boot, ocpp_url, ts
from peers.chargers import LibraryCharger

# 0.30 EUR/kWh 07:00-22:00, 0.20 EUR/kWh at night, parking 2.40 EUR/h in 1-minute steps, 19 % VAT.
TOU_IDLE_TARIFF: dict[str, Any] = {
    "country_code": "DE", "party_id": "CWA", "id": "TOU-IDLE", "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 19.0, "step_size": 1}],
         "restrictions": {"start_time": "07:00", "end_time": "22:00"}},
        {"price_components": [{"type": "ENERGY", "price": 0.20, "vat": 19.0, "step_size": 1}]},
        {"price_components": [{"type": "PARKING_TIME", "price": 2.40, "vat": 19.0, "step_size": 60}]},
    ],
}

METER_START_WH = 1_000_000
# The drivers' cards the billed sessions start with (Accepted): a refused start is held for review, never invoiced.
DRIVER_CARDS = ("TAG-BER", "TAG-NEVI", "TAG-R", "TAG-16", "TAG-1", "EICH-TAG", "OCA-TAG", "DEMO-TAG-1")


def accept_driver_cards(app: Chargewatch) -> None:
    with app.engine.begin() as connection:
        for tag in DRIVER_CARDS:
            put_id_tag(connection, {"id_tag": tag, "status": "Accepted", "expiry_date": None, "parent_id_tag": None,
                                    "description": "billing tests"})
    app.gateway.id_tags.refresh()


async def register_berlin_charger(api: httpx.AsyncClient, charger_id: str, tariff_id: str = "TOU-IDLE") -> None:
    """A charger in Europe/Berlin on the time-of-day tariff (or another one)."""
    response = await api.post("/api/v1/chargers", json={"id": charger_id, "timezone": "Europe/Berlin"})
    assert response.status_code in (200, 201), response.text
    response = await api.put("/api/v1/tariff-assignments", json={"tariff_id": tariff_id, "charger_id": charger_id})
    assert response.status_code == 200, response.text


async def ensure_tariff(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/tariffs", json=TOU_IDLE_TARIFF)
    assert response.status_code in (201, 409), response.text


def sample(register_wh: int, minutes: float, power_w: int) -> dict[str, Any]:
    return {"timestamp": ts(minutes), "sampledValue": [
        {"value": str(register_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"}]}


def at(minutes: float) -> datetime:
    """``helpers.ts`` as a datetime: ``minutes`` after 09:00 UTC on the test day."""
    return T0 + timedelta(minutes=minutes)


def named(charger_id: str, version: str) -> str:
    """A charger id of its own per version, for tests that share one server: BER-LIVE-16, BER-LIVE-201."""
    return f"{charger_id}-{version.removeprefix('ocpp').replace('.', '')}"


async def evening_charger(app: Chargewatch, charger_id: str, version: str,
                          register_wh: int = METER_START_WH) -> LibraryCharger:
    """A booted charger of ``version`` whose register reads ``register_wh``."""
    cp = LibraryCharger(ocpp_url(app), charger_id, version, register_wh=register_wh)
    await cp.connect()
    await cp.boot(connectors=0)
    return cp


async def charge_evening(cp: LibraryCharger, connector: int = 1, id_tag: str = "TAG-BER") -> int:
    """``start_evening_session`` in either version: start at 21:30 Berlin, 11 kW until 22:30; the session id."""
    tx = await cp.start(connector, id_tag, at=at(690), statuses=False, authorize=False)
    for minutes in (705, 720, 735, 750):  # 2.75 kWh every 15 minutes = 11 kW
        await cp.meter(connector, tx, 11_000, register_wh=cp.register_wh + 2_750, at=at(minutes))
    return tx


async def park_and_stop(cp: LibraryCharger, tx: int, connector: int = 1, id_tag: str = "TAG-BER") -> None:
    """``idle_and_stop`` in either version: parked at 0 W from 22:30 to 23:00 Berlin, then the stop."""
    for minutes in (765, 780):
        await cp.meter(connector, tx, 0, register_wh=cp.register_wh, at=at(minutes))
    await cp.stop(tx, "EVDisconnected", id_tag=id_tag, at=at(780))


async def start_evening_session(cp: ChargePointConnection, connector: int = 1) -> int:
    """Start at 21:30 Berlin (20:30 UTC) and charge 11 kW across the 22:00 tariff boundary until 22:30."""
    await cp.call("BootNotification", boot())
    started = await cp.call("StartTransaction", {"connectorId": connector, "idTag": "TAG-BER", "meterStart":
                                                 METER_START_WH, "timestamp": ts(690)})
    tx = started["transactionId"]
    register = METER_START_WH
    for minutes in (705, 720, 735, 750):  # 2.75 kWh every 15 minutes = 11 kW
        register += 2_750
        await cp.call("MeterValues", {"connectorId": connector, "transactionId": tx,
                                      "meterValue": [sample(register, minutes, 11_000)]})
    return tx


async def idle_and_stop(cp: ChargePointConnection, tx: int, connector: int = 1) -> dict[str, Any]:
    """Parked without drawing power from 22:30 to 23:00 Berlin, then StopTransaction."""
    register = METER_START_WH + 11_000
    for minutes in (765, 780):
        await cp.call("MeterValues", {"connectorId": connector, "transactionId": tx,
                                      "meterValue": [sample(register, minutes, 0)]})
    stop = {"transactionId": tx, "idTag": "TAG-BER", "meterStop": register, "timestamp": ts(780),
            "reason": "EVDisconnected"}
    await cp.call("StopTransaction", stop)
    return stop


async def wait_for_bill(api: httpx.AsyncClient, tx: int, timeout: float = 15.0) -> dict[str, Any]:
    """Poll the session's bill until the background worker has issued or held it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await api.get(f"/api/v1/sessions/{tx}/invoice")
        if response.status_code == 200:
            return response.json()
        assert asyncio.get_running_loop().time() < deadline, f"session {tx} was not billed: {response.text}"
        await asyncio.sleep(0.05)
