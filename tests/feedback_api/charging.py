"""Real chargers over WebSocket, real HTTP: charge a session on a timeline, rate it as a driver would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from chargewatch.runtime import Chargewatch
from chargewatch.sim.client import ChargePointConnection
from chargewatch.store.feedback_tables import feedback, feedback_contacts
from helpers import boot, connect

# Sessions are placed just before the real clock: the server refuses feedback on sessions older than
# its collection window, and fix-first ranks the last 90 days.
BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


def iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


@dataclass
class Charger:
    """A connected charge point that charges sessions one after another on a timeline of its own."""

    cp: ChargePointConnection
    charger_id: str
    clock: datetime = BASE
    register_wh: int = 1_000_000

    async def charge(
        self,
        *,
        connector: int = 1,
        energy_wh: int = 10_000,
        power_w: int = 22_000,
        idle_minutes: int = 0,
        error_code: str | None = None,
        stop: bool = True,
        reason: str = "EVDisconnected",
    ) -> int:
        """Start, 30 minutes of charging (one MeterValues), optional idle time and fault, Stop."""
        start = self.clock
        begin = await self.cp.call("StartTransaction", {
            "connectorId": connector, "idTag": "TAG-1", "meterStart": self.register_wh, "timestamp": iso(start)})
        tx = begin["transactionId"]
        if error_code is not None:
            for minutes, code, status in ((5, error_code, "Faulted"), (6, "NoError", "Charging")):
                await self.cp.call("StatusNotification", {
                    "connectorId": connector, "errorCode": code, "status": status,
                    "timestamp": iso(start + timedelta(minutes=minutes))})
        self.register_wh += energy_wh
        charged = start + timedelta(minutes=30)
        await self.cp.call("MeterValues", {"connectorId": connector, "transactionId": tx, "meterValue": [{
            "timestamp": iso(charged), "sampledValue": [
                {"value": str(self.register_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"}]}]})
        end = charged + timedelta(minutes=idle_minutes)
        if stop:
            await self.cp.call("StopTransaction", {"transactionId": tx, "meterStop": self.register_wh,
                                                   "timestamp": iso(end), "reason": reason})
        self.clock = end + timedelta(minutes=10)
        return tx


async def plug(server: Chargewatch, charger_id: str) -> Charger:
    cp = await connect(server, charger_id)
    await cp.call("BootNotification", boot())
    return Charger(cp, charger_id)


async def token_of(api: httpx.AsyncClient, transaction_id: int) -> str:
    """The driver link token, as the session API hands it out for the receipt and QR code."""
    session = (await api.get(f"/api/v1/sessions/{transaction_id}")).json()
    return str(session["driver_path"]).removeprefix("/s/")


async def rate(api: httpx.AsyncClient, transaction_id: int, **body: Any) -> httpx.Response:
    return await api.put(f"/api/v1/feedback/{await token_of(api, transaction_id)}", json=body)


def stored_counts(server: Chargewatch) -> tuple[int, int]:
    with server.engine.connect() as connection:
        return (connection.execute(select(func.count()).select_from(feedback)).scalar_one(),
                connection.execute(select(func.count()).select_from(feedback_contacts)).scalar_one())
