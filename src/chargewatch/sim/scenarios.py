"""Scripted fault scenarios: one charger failing in one well-known way, then recovering.

Unlike the random fleet (``fleet.py``), each script sends an exact sequence of OCPP 1.6 messages (or their
2.0.1 equivalents, :class:`ScriptedStation201`),
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


@dataclass
class ScriptedStation201(ScriptedCharger):
    """The same scripts in OCPP 2.0.1 words: Boot with a reason, connectorStatus per EVSE, TransactionEvent
    Started/Updated/Ended (seqNo per transaction), and a fault as a NotifyEvent (the RCD tripped, techCode) beside
    the EVSE's Faulted status; the return to Available after a fault is the cleared NotifyEvent. ``start`` returns
    the CSMS's session id (the Started answer's customData), which ``meter`` and ``stop`` take like a 1.6 id."""

    references: dict[int, str] = field(default_factory=dict)  # session id → the station's transactionId
    _seq: dict[int, int] = field(default_factory=dict)
    _faulted: set[int] = field(default_factory=set)
    _events: int = 0

    async def connect(self) -> None:
        self.connection = await ChargePointConnection.open(self.url, self.charger_id, password=self.password,
                                                           handler=self._answer, subprotocol="ocpp2.0.1")

    async def boot(self, connectors: int = 1) -> None:
        reply = await self.call("BootNotification", {"reason": "PowerUp", "chargingStation": {
            "vendorName": "chargewatch-sim", "model": "SIM-SCRIPTED-201"}})
        interval = reply.get("interval")
        if isinstance(interval, int) and interval > 0:
            self.timing = replace(self.timing, heartbeat=float(interval))
        for evse in range(1, connectors + 1):
            await self.status(evse, "Available")

    async def status(self, connector: int, status: str, error_code: str = "NoError", **extra: Any) -> None:
        if connector == 0:
            return  # 2.0.1 reports per EVSE only
        if status == "Faulted":
            await self._notify(connector, error_code, extra, cleared=False)
            self._faulted.add(connector)
        elif connector in self._faulted and status == "Available":
            self._faulted.discard(connector)
            await self._notify(connector, error_code, extra, cleared=True)
        connector_status = status if status in ("Available", "Faulted", "Unavailable", "Reserved") else "Occupied"
        await self.call("StatusNotification", {"timestamp": now_iso(), "connectorStatus": connector_status,
                                               "evseId": connector, "connectorId": 1})

    async def _notify(self, connector: int, error_code: str, extra: dict[str, Any], *, cleared: bool) -> None:
        component = {"GroundFailure": "RCD", "ConnectorLockFailure": "ConnectorPlugRetentionLock",
                     "OverCurrentFailure": "OverCurrentProtection", "HighTemperature": "TemperatureSensor",
                     }.get(error_code, "ChargingStation")
        self._events += 1
        event: dict[str, Any] = {
            "eventId": self._events, "timestamp": now_iso(), "trigger": "Alerting",
            "actualValue": "false" if cleared else "true", "eventNotificationType": "HardWiredNotification",
            "component": {"name": component, "evse": {"id": connector, "connectorId": 1}},
            "variable": {"name": "Tripped" if component == "RCD" else "Problem"}}
        if cleared:
            event["cleared"] = True
        else:
            if extra.get("vendorErrorCode"):
                event["techCode"] = str(extra["vendorErrorCode"])[:50]
            if extra.get("info"):
                event["techInfo"] = str(extra["info"])[:500]
        await self.call("NotifyEvent", {"generatedAt": now_iso(), "seqNo": self._events - 1, "eventData": [event]})

    async def _event(self, event_type: str, session_id: int | None, reference: str, trigger: str,
                     **fields: Any) -> dict[str, Any]:
        seq = self._seq.get(session_id or 0, -1) + 1 if session_id is not None else 0
        info: dict[str, Any] = {"transactionId": reference}
        for name in ("chargingState", "stoppedReason"):
            if name in fields:
                info[name] = fields.pop(name)
        reply = await self.call("TransactionEvent", {"eventType": event_type, "timestamp": now_iso(),
                                                     "triggerReason": trigger, "seqNo": seq,
                                                     "transactionInfo": info, **fields})
        if session_id is not None:
            self._seq[session_id] = seq
        return reply

    def _register(self, context: str) -> list[dict[str, Any]]:
        return [{"timestamp": now_iso(), "sampledValue": [{"value": self.register_wh, "context": context,
                                                           "measurand": "Energy.Active.Import.Register"}]}]

    async def start(self, connector: int = 1, id_tag: str = "DEMO-TAG-1") -> int:
        await self.status(connector, "Preparing")
        token = {"idToken": id_tag, "type": "ISO14443"}
        await self.call("Authorize", {"idToken": token})
        reference = f"{self.charger_id}-{len(self.references) + 1}"
        reply = await self._event("Started", None, reference, "Authorized", chargingState="Charging",
                                  idToken=token, evse={"id": connector, "connectorId": 1},
                                  meterValue=self._register("Transaction.Begin"))
        session_id = int(reply["customData"]["sessionId"])
        self.references[session_id] = reference
        self._seq[session_id] = 0
        return session_id

    async def meter(self, connector: int, transaction_id: int, power_w: int) -> None:
        self.register_wh += int(power_w * self.timing.meter_interval * self.timing.speedup / 3600)
        meter_value = {"timestamp": now_iso(), "sampledValue": [
            {"value": self.register_wh, "context": "Sample.Periodic", "measurand": "Energy.Active.Import.Register"},
            {"value": power_w, "context": "Sample.Periodic", "measurand": "Power.Active.Import",
             "unitOfMeasure": {"unit": "W"}}]}
        await self._event("Updated", transaction_id, self.references[transaction_id], "MeterValuePeriodic",
                          chargingState="Charging", meterValue=[meter_value])

    async def stop(self, transaction_id: int, reason: str = "Local", id_tag: str = "DEMO-TAG-1") -> None:
        stopped = {"Other": "Other", "Local": "Local", "Remote": "Remote", "EVDisconnected": "EVDisconnected",
                   }.get(reason, "Other")
        await self._event("Ended", transaction_id, self.references[transaction_id],
                          "AbnormalCondition" if stopped == "Other" else "StopAuthorized", chargingState="Idle",
                          stoppedReason=stopped, meterValue=self._register("Transaction.End"))

    async def _answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.received.append((action, payload))
        if action == "UnlockConnector":
            return {"status": "Unlocked"}
        if action == "CostUpdated":
            return {}
        if action == "GetVariables":
            return {"getVariableResult": [{"attributeStatus": "UnknownVariable", "component": item["component"],
                                           "variable": item["variable"]} for item in payload["getVariableData"]]}
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
                       password: str | None = None, timing: ScenarioTiming | None = None, ocpp: str = "1.6") -> None:
    """Run script ``name`` on ``chargers`` chargers at once (ids PREFIX-NAME-00001 …), in OCPP ``ocpp``
    (1.6, 2.0.1, or mixed: every fourth charger 2.0.1)."""
    from .fleet import speaks_201

    script = SCRIPTED[name]
    await asyncio.gather(*(
        script((ScriptedStation201 if speaks_201(i, ocpp) else ScriptedCharger)(
            url, f"{prefix}-{name}-{i:05d}", password=password, timing=timing or ScenarioTiming()))
        for i in range(1, chargers + 1)
    ))
