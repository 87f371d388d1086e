"""A simulated charge point: boots, heartbeats, and runs realistic sessions on each connector.

Charging curve: ramp up to the connector's power, taper above 80 % state of charge, then the car sits
idle for a while before it is unplugged (so idle/parking time is real). Scenarios inject faults.

Physics is real: the register grows by the reported power times the time that really passed between two
samples, so energy ≈ power × time on every screen. What a demo speeds up is the scenario's clock (sessions,
plug-in gaps and idle times of seconds to minutes), never the energy per second.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .client import ChargePointConnection
from .ocmf import OcmfSigner


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


DEMO_ID_TAGS = ("DEMO-TAG-1", "DEMO-TAG-2", "DEMO-TAG-3")


@dataclass
class Behaviour:
    meter_interval: float = 5.0
    plug_in_delay: tuple[float, float] = (1.0, 8.0)
    charge_time: tuple[float, float] = (20.0, 90.0)  # seconds of real time
    idle_time: tuple[float, float] = (3.0, 15.0)
    power_w: int = 22_000
    fault_probability: float = 0.0
    id_tags: tuple[str, ...] = DEMO_ID_TAGS
    signer: OcmfSigner | None = None  # a meter that signs begin/end readings as OCMF (Eichrecht chargers)


@dataclass
class Stats:
    calls: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)

    def record(self, action: str, seconds: float) -> None:
        self.calls += 1
        if len(self.latencies) < 2_000_000:
            self.latencies.append(seconds)


class SimulatedCharger:
    subprotocol = "ocpp1.6"

    def __init__(self, url: str, charger_id: str, *, connectors: int = 2, behaviour: Behaviour | None = None,
                 password: str | None = None, stats: Stats | None = None, rng: random.Random | None = None):
        self.url = url
        self.charger_id = charger_id
        self.connectors = connectors
        self.behaviour = behaviour or Behaviour()
        self.password = password
        self.stats = stats or Stats()
        self.rng = rng or random.Random(charger_id)
        self.register_wh = {c: self.rng.randint(1_000_000, 5_000_000) for c in range(1, connectors + 1)}
        self._meter_wh = {c: float(wh) for c, wh in self.register_wh.items()}  # the exact count behind the register
        self.transactions: dict[int, int] = {}
        self.heartbeat_interval = 60
        self.connection: ChargePointConnection | None = None
        self._stop_requested: set[int] = set()

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        assert self.connection is not None
        try:
            return await self.connection.call(action, payload)
        except Exception:
            self.stats.errors += 1
            raise

    async def connect(self) -> None:
        self.connection = await ChargePointConnection.open(
            self.url, self.charger_id, password=self.password, handler=self._on_server_call,
            on_latency=self.stats.record, subprotocol=self.subprotocol)

    async def boot(self) -> None:
        reply = await self.call("BootNotification", {
            "chargePointVendor": "chargewatch-sim", "chargePointModel": "SIM-22",
            "chargePointSerialNumber": self.charger_id, "firmwareVersion": "1.0.0"})
        self.heartbeat_interval = int(reply.get("interval") or 60)
        for connector in range(0, self.connectors + 1):
            await self.status(connector, "Available")

    async def status(self, connector: int, status: str, error_code: str = "NoError", **extra: Any) -> None:
        await self.call("StatusNotification", {"connectorId": connector, "status": status, "errorCode": error_code,
                                               "timestamp": now_iso(), **extra})

    async def run(self, stop: asyncio.Event) -> None:
        await self.connect()
        await self.boot()
        tasks = [asyncio.create_task(self._heartbeats(stop))]
        tasks += [asyncio.create_task(self._connector_loop(c, stop)) for c in range(1, self.connectors + 1)]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.connection is not None:
                await self.connection.close()

    async def _heartbeats(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(self.heartbeat_interval * self.rng.uniform(0.9, 1.0))
            await self.call("Heartbeat", {})

    async def _connector_loop(self, connector: int, stop: asyncio.Event) -> None:
        b = self.behaviour
        while not stop.is_set():
            await asyncio.sleep(self.rng.uniform(*b.plug_in_delay))
            await self.charge_once(connector)

    async def charge_once(self, connector: int) -> int | None:
        """One full session: plug in, authorize, start, meter values, idle, stop, unplug."""
        b = self.behaviour
        tag = self.rng.choice(b.id_tags)
        await self.status(connector, "Preparing")
        auth = await self.call("Authorize", {"idTag": tag})
        if auth["idTagInfo"]["status"] != "Accepted":
            await self.status(connector, "Available")
            return None
        start = await self.call("StartTransaction", {"connectorId": connector, "idTag": tag,
                                                     "meterStart": self.register_wh[connector], "timestamp": now_iso()})
        transaction_id = start["transactionId"]
        self.transactions[connector] = transaction_id
        if b.signer is not None:
            await self.call("MeterValues", {"connectorId": connector, "transactionId": transaction_id, "meterValue": [
                self._signed(connector, "B", tag)]})
        await self.status(connector, "Charging")
        soc = self.rng.randint(10, 60)
        charge_until = asyncio.get_running_loop().time() + self.rng.uniform(*b.charge_time)
        reason = "EVDisconnected"
        faulted = False
        loop = asyncio.get_running_loop()
        sampled_at = loop.time()
        while loop.time() < charge_until and connector not in self._stop_requested:
            await asyncio.sleep(b.meter_interval)
            power, soc, sampled_at = self._charge_step(connector, soc, sampled_at)
            await self._meter_values(connector, transaction_id, power, soc)
            if b.fault_probability and self.rng.random() < b.fault_probability:
                await self.status(connector, "Faulted", "GroundFailure", info="RCD tripped",
                                  vendorId="chargewatch-sim", vendorErrorCode="E-RCD-30")
                reason, faulted = "Other", True
                break
        if not faulted and connector not in self._stop_requested:
            await self.status(connector, "SuspendedEV")
            idle_until = asyncio.get_running_loop().time() + self.rng.uniform(*b.idle_time)
            while asyncio.get_running_loop().time() < idle_until:
                await asyncio.sleep(min(b.meter_interval, max(0.0, idle_until - asyncio.get_running_loop().time())))
                await self._meter_values(connector, transaction_id, 0, soc)
        if connector in self._stop_requested:
            reason = "Remote"
        stop: dict[str, Any] = {"transactionId": transaction_id, "idTag": tag, "timestamp": now_iso(),
                                "meterStop": self.register_wh[connector], "reason": reason}
        if b.signer is not None:
            stop["transactionData"] = [self._signed(connector, "E", tag)]
        await self.call("StopTransaction", stop)
        self.transactions.pop(connector, None)
        self._stop_requested.discard(connector)
        if faulted:
            await asyncio.sleep(self.rng.uniform(2, 6))
            await self.status(connector, "Available")
        else:
            await self.status(connector, "Finishing")
            await self.status(connector, "Available")
        return transaction_id

    def _charge_step(self, connector: int, soc: int, sampled_at: float) -> tuple[int, int, float]:
        """One meter interval of charging → (power W, new SoC, when it was sampled).

        Power tapers above 80 % SoC; energy is that power × the time that really passed. The SoC is the
        scenario's clock (a battery fills in a demo's minutes), the physics is not sped up.
        """
        taper = 1.0 if soc < 80 else max(0.1, (100 - soc) / 20)
        power = int(self.behaviour.power_w * taper * self.rng.uniform(0.93, 1.0))
        now = asyncio.get_running_loop().time()
        self._meter_wh[connector] += power * (now - sampled_at) / 3600
        self.register_wh[connector] = int(self._meter_wh[connector])
        return power, min(100, soc + 1), now

    async def _meter_values(self, connector: int, transaction_id: int, power_w: int, soc: int) -> None:
        await self.call("MeterValues", {"connectorId": connector, "transactionId": transaction_id, "meterValue": [{
            "timestamp": now_iso(), "sampledValue": [
                {"value": str(self.register_wh[connector]), "measurand": "Energy.Active.Import.Register",
                 "unit": "Wh", "context": "Sample.Periodic"},
                {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W",
                 "context": "Sample.Periodic"},
                {"value": str(soc), "measurand": "SoC", "unit": "Percent", "context": "Sample.Periodic"},
            ]}]})

    def _signed(self, connector: int, transaction: str, id_tag: str) -> dict[str, Any]:
        """A meterValue holding only the meter's signed reading (the raw one travels as meterStart/meterStop)."""
        assert self.behaviour.signer is not None
        at = datetime.now(UTC)
        value = self.behaviour.signer.signed_value(register_wh=self.register_wh[connector], at=at,
                                                   transaction=transaction, id_tag=id_tag)
        return {"timestamp": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"), "sampledValue": [value]}

    async def _on_server_call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        if action == "RemoteStopTransaction":
            for connector, tx in self.transactions.items():
                if tx == payload.get("transactionId"):
                    self._stop_requested.add(connector)
                    return {"status": "Accepted"}
            return {"status": "Rejected"}
        if action in ("Reset", "ChangeAvailability", "RemoteStartTransaction", "ClearCache"):
            return {"status": "Accepted"}
        if action == "UnlockConnector":
            return {"status": "Unlocked"}
        if action == "TriggerMessage":
            if payload.get("requestedMessage") == "Heartbeat":
                asyncio.get_running_loop().call_later(0.05, lambda: asyncio.create_task(self.call("Heartbeat", {})))
            return {"status": "Accepted"}
        if action == "GetConfiguration":
            return {"configurationKey": [
                {"key": "HeartbeatInterval", "readonly": False, "value": str(self.heartbeat_interval)},
                {"key": "MeterValueSampleInterval", "readonly": False,
                 "value": str(int(self.behaviour.meter_interval))},
            ]}
        if action == "ChangeConfiguration":
            return {"status": "Accepted"}
        if action == "DataTransfer":
            return {"status": "Accepted"}
        return {"status": "Rejected"}
