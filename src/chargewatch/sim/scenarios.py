"""Scripted fault scenarios: one charger failing in one well-known way, then recovering.

Unlike the random fleet (``fleet.py``), each script sends an exact sequence of OCPP 1.6 messages,
so a test (or a demo) knows which incidents must follow: a ground failure mid-session, a charger
that goes silent, a session that stops drawing energy, a boot loop, a flapping connection. All
waits come from :class:`ScenarioTiming`, so the same script runs in seconds under test and at a
realistic pace in a demo.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .charger import now_iso
from .client import ChargePointConnection


@dataclass(frozen=True)
class ScenarioTiming:
    heartbeat: float = 60.0  # used until the server's BootNotification.conf says otherwise
    meter_interval: float = 10.0
    fault_hold: float = 120.0  # how long a fault lasts before the charger recovers
    silence: float = 900.0  # how long the silent charger says nothing
    stall: float = 900.0  # how long a session draws no energy
    flaps: int = 10  # reconnects of the flapping connection
    flap_gap: float = 1.0  # seconds offline between two reconnects
    boots: int = 4  # reboots of the boot loop
    boot_gap: float = 2.0
    settle: float = 30.0  # normal operation after the recovery
    speedup: float = 1.0  # simulated seconds of energy per real second (a fast demo charges more per sample)


@dataclass
class ScriptedCharger:
    """A charge point driven step by step; it accepts every command the server sends and keeps them."""

    url: str
    charger_id: str
    password: str | None = None
    timing: ScenarioTiming = field(default_factory=ScenarioTiming)
    register_wh: int = 1_000_000
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    connection: ChargePointConnection | None = None

    async def connect(self) -> None:
        self.connection = await ChargePointConnection.open(self.url, self.charger_id, password=self.password,
                                                           handler=self._answer)

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
            self.connection = None

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        assert self.connection is not None, "connect() first"
        return await self.connection.call(action, payload)

    async def boot(self, connectors: int = 1) -> None:
        reply = await self.call("BootNotification", {"chargePointVendor": "chargewatch-sim",
                                                     "chargePointModel": "SIM-SCRIPTED"})
        interval = reply.get("interval")
        if isinstance(interval, int) and interval > 0:
            self.timing = replace(self.timing, heartbeat=float(interval))
        for connector in range(connectors + 1):
            await self.status(connector, "Available")

    async def status(self, connector: int, status: str, error_code: str = "NoError", **extra: Any) -> None:
        await self.call("StatusNotification", {"connectorId": connector, "status": status, "errorCode": error_code,
                                               "timestamp": now_iso(), **extra})

    async def heartbeat(self) -> None:
        await self.call("Heartbeat", {})

    async def alive_for(self, seconds: float) -> None:
        """Run normally (heartbeats only) for ``seconds``."""
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        while (left := until - loop.time()) > 0:
            await asyncio.sleep(min(self.timing.heartbeat, left))
            await self.heartbeat()

    async def start(self, connector: int = 1, id_tag: str = "DEMO-TAG-1") -> int:
        await self.status(connector, "Preparing")
        await self.call("Authorize", {"idTag": id_tag})
        reply = await self.call("StartTransaction", {"connectorId": connector, "idTag": id_tag,
                                                     "meterStart": self.register_wh, "timestamp": now_iso()})
        await self.status(connector, "Charging")
        return int(reply["transactionId"])

    async def meter(self, connector: int, transaction_id: int, power_w: int) -> None:
        """One periodic sample; the register grows by what ``power_w`` delivers in a meter interval."""
        self.register_wh += int(power_w * self.timing.meter_interval * self.timing.speedup / 3600)
        await self.call("MeterValues", {"connectorId": connector, "transactionId": transaction_id, "meterValue": [{
            "timestamp": now_iso(), "sampledValue": [
                {"value": str(self.register_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh",
                 "context": "Sample.Periodic"},
                {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W",
                 "context": "Sample.Periodic"},
            ]}]})

    async def stop(self, transaction_id: int, reason: str = "Local", id_tag: str = "DEMO-TAG-1") -> None:
        await self.call("StopTransaction", {"transactionId": transaction_id, "idTag": id_tag, "timestamp": now_iso(),
                                            "meterStop": self.register_wh, "reason": reason})

    async def _answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.received.append((action, payload))
        if action == "UnlockConnector":
            return {"status": "Unlocked"}
        if action == "GetConfiguration":
            return {"configurationKey": []}
        return {"status": "Accepted"}


async def ground_failure_mid_session(cp: ScriptedCharger) -> int:
    """The RCD trips while charging: Faulted/GroundFailure, the session ends, the charger is
    reset on site and reports Available/NoError. Returns the transaction id."""
    t = cp.timing
    await cp.connect()
    await cp.boot()
    transaction_id = await cp.start(1)
    for _ in range(2):
        await cp.meter(1, transaction_id, 11_000)
    await cp.status(1, "Faulted", "GroundFailure", info="RCD tripped", vendorId="chargewatch-sim",
                    vendorErrorCode="E-RCD-30")
    await cp.stop(transaction_id, "Other")
    await cp.alive_for(t.fault_hold)
    await cp.status(1, "Available")
    await cp.alive_for(t.settle)
    await cp.close()
    return transaction_id


async def charger_goes_silent(cp: ScriptedCharger) -> None:
    """The connection stays open but nothing arrives (a hung controller), then it comes back."""
    t = cp.timing
    await cp.connect()
    await cp.boot()
    await cp.heartbeat()
    await asyncio.sleep(t.silence)
    await cp.heartbeat()
    await cp.status(1, "Available")
    await cp.alive_for(t.settle)
    await cp.close()


async def stalled_session(cp: ScriptedCharger) -> int:
    """A session stays in Charging while no energy flows, then power returns and it ends normally."""
    t = cp.timing
    await cp.connect()
    await cp.boot()
    transaction_id = await cp.start(1)
    await cp.meter(1, transaction_id, 7_000)
    loop = asyncio.get_running_loop()
    until = loop.time() + t.stall
    while loop.time() < until:
        await asyncio.sleep(t.meter_interval)
        await cp.meter(1, transaction_id, 0)
    for _ in range(2):
        await asyncio.sleep(t.meter_interval)
        await cp.meter(1, transaction_id, 7_000)
    await cp.status(1, "SuspendedEV")
    await cp.stop(transaction_id, "Local")
    await cp.status(1, "Finishing")
    await cp.status(1, "Available")
    await cp.alive_for(t.settle)
    await cp.close()
    return transaction_id


async def boot_loop(cp: ScriptedCharger) -> None:
    """The charger reboots again and again (BootNotification after every reconnect), then stays up."""
    t = cp.timing
    for _ in range(t.boots):
        await cp.connect()
        await cp.boot()
        await asyncio.sleep(t.boot_gap / 2)
        await cp.close()
        await asyncio.sleep(t.boot_gap / 2)
    await cp.connect()
    await cp.boot()
    await cp.alive_for(t.settle)
    await cp.close()


async def flapping_connection(cp: ScriptedCharger) -> None:
    """The network drops the link every few seconds; the charger reconnects without rebooting."""
    t = cp.timing
    await cp.connect()
    await cp.boot()
    for _ in range(t.flaps):
        await cp.close()
        await asyncio.sleep(t.flap_gap)
        await cp.connect()
        await cp.heartbeat()
    await cp.alive_for(t.settle)
    await cp.close()


SCRIPTED_SCENARIOS: dict[str, Callable[[ScriptedCharger], Awaitable[Any]]] = {
    "ground-failure": ground_failure_mid_session,
    "silent-charger": charger_goes_silent,
    "stalled-session": stalled_session,
    "boot-loop": boot_loop,
    "flapping-connection": flapping_connection,
}


# The scripts `chargewatch simulate --scenario NAME` can run, one per simulated charger.
SCRIPTED: dict[str, Callable[[ScriptedCharger], Awaitable[Any]]] = {
    "ground-failure": ground_failure_mid_session,
    "silent": charger_goes_silent,
    "stalled": stalled_session,
    "boot-loop": boot_loop,
    "flapping": flapping_connection,
}


async def run_scripted(name: str, url: str, chargers: int, *, prefix: str = "SIM",
                       password: str | None = None, timing: ScenarioTiming | None = None) -> None:
    """Run script ``name`` on ``chargers`` chargers at once (ids PREFIX-NAME-00001 …)."""
    script = SCRIPTED[name]
    await asyncio.gather(*(
        script(ScriptedCharger(url, f"{prefix}-{name}-{i:05d}", password=password, timing=timing or ScenarioTiming()))
        for i in range(1, chargers + 1)
    ))
