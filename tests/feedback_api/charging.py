"""Real chargers over WebSocket, real HTTP: charge a session on a timeline, rate it as a driver would.

The chargers are the `ocpp` library's 1.6 or 2.0.1 charge point (``peers.chargers``): the ``plug`` fixture plugs in
one of the version the test runs for, so each feedback test proves the same behaviour for both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from chargewatch.runtime import Chargewatch
from chargewatch.store.feedback_tables import feedback, feedback_contacts
from helpers import ocpp_url
from peers.chargers import LibraryCharger

# Sessions are placed just before the real clock: the server refuses feedback on sessions older than
# its collection window, and fix-first ranks the last 90 days.
BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


@dataclass
class Charger:
    """A connected charge point that charges sessions one after another on a timeline of its own."""

    cp: LibraryCharger
    charger_id: str
    clock: datetime = BASE

    @property
    def register_wh(self) -> int:
        return self.cp.register_wh

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
        """Start, 30 minutes of charging (one meter sample), optional idle time and fault, stop; the session id."""
        start = self.clock
        tx = await self.cp.start(connector, "TAG-1", at=start, statuses=False, authorize=False)
        if error_code is not None:
            await self.cp.status(connector, "Faulted", error_code, at=start + timedelta(minutes=5))
            await self.cp.status(connector, "Charging", at=start + timedelta(minutes=6))
        charged = start + timedelta(minutes=30)
        await self.cp.meter(connector, tx, power_w, register_wh=self.cp.register_wh + energy_wh, at=charged)
        end = charged + timedelta(minutes=idle_minutes)
        if stop:
            await self.cp.stop(tx, reason, id_tag=None, at=end)
        self.clock = end + timedelta(minutes=10)
        return tx


async def plug_in(server: Chargewatch, charger_id: str, version: str) -> Charger:
    cp = LibraryCharger(ocpp_url(server), charger_id, version)
    await cp.connect()
    await cp.boot(connectors=0)
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
