"""Independent charge points for the fleet tests, on a virtual clock.

``RawCharger`` speaks OCPP-J 1.6 or 2.0.1 as scripted raw frames over a plain ``websockets`` client (payload
shapes copied from real chargers), not through chargewatch's simulator. A scenario is written once in 1.6 charger
words (status, start, meter, stop, authorize); in 2.0.1 they render the frames a station sends for the same thing:
BootNotification with a reason, connectorStatus per EVSE (the in-use statuses are Occupied), a fault as a NotifyEvent
beside the Faulted status and its clearing as the cleared NotifyEvent, TransactionEvent Started/Updated/Ended with
seqNo per transaction, an idToken Authorize. ``VirtualClock`` is the
server's clock (``gateway.now``) and the chargers' clock: the test moves it, so minutes of fleet
behaviour pass in seconds while the detector sees the real durations (heartbeat 300 s, alert delay
3 min) and the production rules stay as configured.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp.charge_point import snake_to_camel_case
from websockets.asyncio.client import ClientConnection, connect

from peers.chargers import EV_SIDE_FAULTS, STOP_REASONS_201, WARNING_COMPONENTS, fault_event

START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


@dataclass
class VirtualClock:
    now: datetime = START
    step: timedelta = timedelta(seconds=5)
    real_pause: float = 0.02  # real seconds per step: the fault worker ticks every 0.05 s, so every 2-3 steps

    def __call__(self) -> datetime:
        return self.now

    def iso(self, offset_s: float = 0) -> str:
        return (self.now + timedelta(seconds=offset_s)).isoformat().replace("+00:00", "Z")

    @property
    def t(self) -> float:
        return (self.now - START).total_seconds()

    async def run_to(self, seconds: float) -> None:
        """Advance to ``START + seconds`` step by step, letting the server tick in between."""
        target = START + timedelta(seconds=seconds)
        while self.now < target:
            self.now = min(target, self.now + self.step)
            await asyncio.sleep(self.real_pause)


@dataclass
class RawCharger:
    """One charge point: sends CALLs, answers the server's CALLs like a healthy charger would."""

    url: str
    charger_id: str
    clock: VirtualClock
    version: str = "ocpp1.6"
    hung: bool = False  # a hung controller: the socket stays open, nothing is answered or sent
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    ws: ClientConnection | None = None
    _pending: dict[str, asyncio.Future[list[Any]]] = field(default_factory=dict)
    _reader: asyncio.Task[None] | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    references: dict[int, str] = field(default_factory=dict)  # 2.0.1: session id → the station's transactionId
    _seq: dict[int, int] = field(default_factory=dict)  # 2.0.1: the last seqNo sent per session
    _faulted: set[int] = field(default_factory=set)  # 2.0.1: EVSEs with an uncleared fault event
    _events: int = 0  # 2.0.1: NotifyEvent eventIds sent
    _warned: dict[int, str] = field(default_factory=dict)  # 2.0.1: EVSE → the warning code of an uncleared event
    _reported: dict[int, str] = field(default_factory=dict)  # 2.0.1: the last connectorStatus sent per EVSE
    _running: dict[int, int] = field(default_factory=dict)  # 2.0.1: EVSE → its running session
    _charging: dict[int, str] = field(default_factory=dict)  # 2.0.1: session → its last chargingState

    @property
    def v201(self) -> bool:
        return self.version == "ocpp2.0.1"

    async def connect(self, boot: bool = True, reason: str = "PowerUp") -> None:
        """Open the socket and boot (2.0.1: with ``reason``; 1.6 has none)."""
        self._reported.clear()  # a station reports every EVSE's status again after it reconnects
        self.ws = await connect(f"{self.url}/{self.charger_id}", subprotocols=[self.version])  # type: ignore[list-item]
        assert self.ws.subprotocol == self.version, self.ws.subprotocol
        self._reader = asyncio.create_task(self._read())
        if boot:
            await self.boot(reason)

    async def boot(self, reason: str = "PowerUp") -> None:
        if self.v201:
            await self.call("BootNotification", {"reason": reason, "chargingStation": {
                "vendorName": "Alfen BV", "model": "NG920-61", "serialNumber": f"ACE{self.charger_id}",
                "firmwareVersion": "6.4.0-4209"}})
        else:
            await self.call("BootNotification", {"chargePointVendor": "Alfen BV", "chargePointModel": "NG920-61",
                                                 "chargePointSerialNumber": f"ACE{self.charger_id}",
                                                 "firmwareVersion": "6.4.0-4209"})

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        assert self.ws is not None, f"{self.charger_id} is not connected"
        message_id = str(uuid.uuid4())
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        await self.ws.send(json.dumps([2, message_id, action, payload]))
        answer = await asyncio.wait_for(future, 10)
        assert answer[0] == 3, f"{self.charger_id} {action} answered {answer}"
        return dict(answer[2])

    async def _read(self) -> None:
        assert self.ws is not None
        async for frame in self.ws:
            message = json.loads(frame)
            if message[0] == 2:
                if self.hung:
                    continue
                self.received.append((message[2], message[3]))
                await self.ws.send(json.dumps([3, message[1], self._answer(message[2], message[3])]))
            elif message[1] in self._pending:
                self._pending.pop(message[1]).set_result(message)

    def _answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        if action == "TriggerMessage" and payload.get("requestedMessage") == "Heartbeat":
            self._later(self.heartbeat())
        if action == "CostUpdated":
            return {}
        if action == "GetVariables":
            return {"getVariableResult": [{"attributeStatus": "UnknownVariable", "component": item["component"],
                                           "variable": item["variable"]} for item in payload["getVariableData"]]}
        if action == "UnlockConnector":
            return {"status": "Unlocked"}
        return {"status": "Accepted"}

    def _later(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- the messages, in the shapes chargers send ---------------------------------------------

    async def heartbeat(self) -> None:
        await self.call("Heartbeat", {})

    async def status(self, connector: int, status: str, error: str = "NoError", *, at: float | None = None,
                     **extra: Any) -> None:
        """``at``: the charger's timestamp as an offset from now (a queued report is in the past). ``extra``: 1.6's
        info, vendorId, vendorErrorCode (2.0.1: techInfo and techCode of the NotifyEvent; it has no vendorId)."""
        timestamp = self.clock.iso(at or 0)
        if not self.v201:
            await self.call("StatusNotification", {"connectorId": connector, "errorCode": error, "status": status,
                                                   "timestamp": timestamp, **extra})
            return
        if connector == 0:
            return  # 2.0.1 reports per EVSE only
        if status == "Faulted":
            await self._notify(connector, error, extra, timestamp, cleared=False)
            self._faulted.add(connector)
            if error in EV_SIDE_FAULTS:
                return
        elif connector in self._faulted:  # back from the fault
            self._faulted.discard(connector)
            await self._notify(connector, error, extra, timestamp, cleared=True)
        elif error != "NoError":  # a warning: an Alerting event on a variable that is no "problem" (EVSE works on)
            self._warned[connector] = error
            await self._notify(connector, error, extra, timestamp, cleared=False, warning=True)
        elif connector in self._warned:  # the warning is over
            await self._notify(connector, self._warned.pop(connector), {}, timestamp, cleared=True, warning=True)
        session = self._running.get(connector)
        if session is not None and status in ("Charging", "SuspendedEV", "SuspendedEVSE") \
                and self._charging.get(session) != status:  # 2.0.1 says how the session charges in the session
            await self._event("Updated", session, self.references[session], "ChargingStateChanged",
                              at=at or 0, chargingState=status)
        connector_status = status if status in ("Available", "Faulted", "Unavailable", "Reserved") else "Occupied"
        if self._reported.get(connector) == connector_status:
            return  # a station reports a connectorStatus when it changes
        self._reported[connector] = connector_status
        await self.call("StatusNotification", {"timestamp": timestamp, "connectorStatus": connector_status,
                                               "evseId": connector, "connectorId": 1})

    async def _notify(self, connector: int, error: str, extra: dict[str, Any], timestamp: str, *,
                      cleared: bool, warning: bool = False) -> None:
        self._events += 1
        event = snake_to_camel_case(fault_event(self._events, connector, error, extra, timestamp, cleared=cleared,
                                                component_variable=WARNING_COMPONENTS[error] if warning else None))
        await self.call("NotifyEvent", {"generatedAt": timestamp, "seqNo": self._events - 1, "eventData": [event]})

    async def authorize(self, id_tag: str) -> str:
        """Present a card; the status the server answered."""
        if self.v201:
            reply = await self.call("Authorize", {"idToken": {"idToken": id_tag, "type": "ISO14443"}})
            return str(reply["idTokenInfo"]["status"])
        return str((await self.call("Authorize", {"idTag": id_tag}))["idTagInfo"]["status"])

    async def start(self, connector: int, register_wh: int, id_tag: str = "DEMO-TAG-1") -> int:
        """Authorize and start; the id the API knows the session by (2.0.1: the Started answer's customData)."""
        await self.authorize(id_tag)
        if self.v201:
            reference = f"{self.charger_id}-{len(self.references) + 1}"
            reply = await self._event("Started", None, reference, "Authorized", chargingState="Charging",
                                      idToken={"idToken": id_tag, "type": "ISO14443"},
                                      evse={"id": connector, "connectorId": 1},
                                      meterValue=[self._register(register_wh, "Transaction.Begin")])
            session_id = int(reply["customData"]["sessionId"])
            self.references[session_id] = reference
            self._seq[session_id] = 0
            self._running[connector] = session_id
            self._charging[session_id] = "Charging"
            return session_id
        reply = await self.call("StartTransaction", {"connectorId": connector, "idTag": id_tag,
                                                     "meterStart": register_wh, "timestamp": self.clock.iso()})
        return int(reply["transactionId"])

    async def meter(self, connector: int, transaction_id: int, register_wh: int, power_w: float,
                    soc: int | None = None) -> None:
        if self.v201:
            sampled: list[dict[str, Any]] = [
                {"value": register_wh, "context": "Sample.Periodic", "measurand": "Energy.Active.Import.Register",
                 "location": "Outlet", "unitOfMeasure": {"unit": "Wh"}},
                {"value": power_w, "context": "Sample.Periodic", "measurand": "Power.Active.Import",
                 "location": "Outlet", "unitOfMeasure": {"unit": "W"}}]
            if soc is not None:
                sampled.append({"value": soc, "context": "Sample.Periodic", "measurand": "SoC", "location": "EV",
                                "unitOfMeasure": {"unit": "Percent"}})
            await self._event("Updated", transaction_id, self.references[transaction_id], "MeterValuePeriodic",
                              chargingState=self._charging[transaction_id],
                              meterValue=[{"timestamp": self.clock.iso(), "sampledValue": sampled}])
            return
        sampled = [
            {"value": str(register_wh), "context": "Sample.Periodic", "format": "Raw",
             "measurand": "Energy.Active.Import.Register", "location": "Outlet", "unit": "Wh"},
            {"value": f"{power_w:.1f}", "context": "Sample.Periodic", "format": "Raw",
             "measurand": "Power.Active.Import", "location": "Outlet", "unit": "W"},
        ]
        if soc is not None:
            sampled.append({"value": str(soc), "context": "Sample.Periodic", "measurand": "SoC", "location": "EV",
                            "unit": "Percent"})
        await self.call("MeterValues", {"connectorId": connector, "transactionId": transaction_id,
                                        "meterValue": [{"timestamp": self.clock.iso(), "sampledValue": sampled}]})

    async def stop(self, transaction_id: int, register_wh: int, reason: str, id_tag: str | None = None, *,
                   at: float = 0, offline: bool = False) -> None:
        """``at`` as for ``status``; ``offline``: sent from the offline queue (2.0.1 flags it, 1.6 cannot)."""
        if self.v201:
            stopped = STOP_REASONS_201.get(reason, reason)
            fields: dict[str, Any] = {"meterValue": [self._register(register_wh, "Transaction.End", at)]}
            if id_tag:
                fields["idToken"] = {"idToken": id_tag, "type": "ISO14443"}
            if offline:
                fields["offline"] = True
            trigger = {"Local": "StopAuthorized", "Remote": "RemoteStop", "EVDisconnected": "EVCommunicationLost"}
            self._running = {evse: tx for evse, tx in self._running.items() if tx != transaction_id}
            await self._event("Ended", transaction_id, self.references[transaction_id],
                              trigger.get(stopped, "AbnormalCondition"), at=at, chargingState="Idle",
                              stoppedReason=stopped, **fields)
            return
        payload: dict[str, Any] = {"transactionId": transaction_id, "meterStop": register_wh,
                                   "timestamp": self.clock.iso(at), "reason": reason}
        if id_tag:
            payload["idTag"] = id_tag
        await self.call("StopTransaction", payload)

    async def _event(self, event_type: str, session_id: int | None, reference: str, trigger: str, at: float = 0,
                     **fields: Any) -> dict[str, Any]:
        seq = 0 if session_id is None else self._seq[session_id] + 1
        info: dict[str, Any] = {"transactionId": reference}
        for name in ("chargingState", "stoppedReason"):
            if name in fields:
                info[name] = fields.pop(name)
        if session_id is not None and "chargingState" in info:
            self._charging[session_id] = info["chargingState"]
        reply = await self.call("TransactionEvent", {"eventType": event_type, "timestamp": self.clock.iso(at),
                                                     "triggerReason": trigger, "seqNo": seq,
                                                     "transactionInfo": info, **fields})
        if session_id is not None:
            self._seq[session_id] = seq
        return reply

    def _register(self, register_wh: int, context: str, at: float = 0) -> dict[str, Any]:
        return {"timestamp": self.clock.iso(at), "sampledValue": [{
            "value": register_wh, "context": context, "measurand": "Energy.Active.Import.Register",
            "location": "Outlet", "unitOfMeasure": {"unit": "Wh"}}]}

Step = Callable[[], Awaitable[Any]]


@dataclass
class Timeline:
    """Actions at virtual seconds; ``run`` moves the clock to each in turn and performs it."""

    clock: VirtualClock
    actions: list[tuple[float, int, Step]] = field(default_factory=list)

    def at(self, seconds: float, step: Step) -> None:
        self.actions.append((seconds, len(self.actions), step))

    def every(self, start: float, end: float, period: float, step: Callable[[float], Step]) -> None:
        t = start
        while t < end:
            self.at(t, step(t))
            t += period

    async def run(self, until: float) -> None:
        for seconds, _, step in sorted(self.actions, key=lambda item: (item[0], item[1])):
            await self.clock.run_to(seconds)
            await step()
        await self.clock.run_to(until)
