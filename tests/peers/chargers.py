"""One charger for the live suites that speaks OCPP 1.6 or 2.0.1 through an independent implementation: the `ocpp`
PyPI library's v16 or v201 ``ChargePoint`` (which validates what we send and what the server answers against the
official schemas).

A test is written once in charger words — boot, status, start, meter, stop — and runs for both versions (the
``ocpp_version`` fixture). In 2.0.1 those words become the 2.0.1 messages a station sends for the same thing:
``status(1, "Faulted", "GroundFailure")`` is a NotifyEvent (RCD Tripped, techCode/techInfo) and a Faulted
StatusNotification; the return to Available after a fault is the cleared NotifyEvent; a session is
TransactionEvent Started/Updated/Ended with seqNo per transaction and the Transaction.Begin/End registers. ``start``
returns the id the API knows the session by (1.6: the transactionId; 2.0.1: the Started answer's customData). The
interface mirrors the simulator's ``ScriptedCharger`` so the scripted fault scenarios can drive a library charger.
``call_raw`` sends a frame the library cannot express.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from ocpp.messages import Call
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from chargewatch.sim.scenarios import ScenarioTiming

VERSIONS = ("ocpp1.6", "ocpp2.0.1")

# A 1.6 ChargePointErrorCode as the (component, variable) a 2.0.1 station reports it with in NotifyEvent (OCPP 2.0.1
# part 2 appendix, standardized components and variables).
FAULT_COMPONENTS: dict[str, tuple[str, str]] = {
    "GroundFailure": ("RCD", "Tripped"),
    "ConnectorLockFailure": ("ConnectorPlugRetentionLock", "Problem"),
    "OverCurrentFailure": ("OverCurrentProtection", "Operated"),
    "PowerSwitchFailure": ("PowerContactor", "Problem"),
    "PowerMeterFailure": ("PowerMeter", "Problem"),
    "ReaderFailure": ("TokenReader", "Problem"),
    "HighTemperature": ("TemperatureSensor", "Problem"),
    "OverVoltage": ("ElectricalFeed", "OverVoltage"),
    "UnderVoltage": ("ElectricalFeed", "UnderVoltage"),
    "EVCommunicationError": ("ConnectedEV", "Problem"),
}
# Faults of the car, not the charger: a 2.0.1 station reports them by NotifyEvent and its connector stays Occupied
# (1.6 has only the Faulted status to carry an errorCode).
EV_SIDE_FAULTS = frozenset({"EVCommunicationError"})
# A 1.6 error code on a status that is not Faulted is a warning (the connector still works): a 2.0.1 station reports
# it as an Alerting NotifyEvent on a variable that is no "problem" variable, so the EVSE keeps its status.
WARNING_COMPONENTS: dict[str, tuple[str, str]] = {
    "OtherError": ("ChargingStation", "Temperature"),
    "HighTemperature": ("TemperatureSensor", "Temperature"),
    **{code: FAULT_COMPONENTS[code] for code in EV_SIDE_FAULTS},
}
# 1.6 stop reasons with another name in 2.0.1's ReasonEnumType.
STOP_REASONS_201 = {"HardReset": "ImmediateReset", "SoftReset": "Reboot", "UnlockCommand": "Remote"}


def fault_event(event_id: int, connector: int, error_code: str, extra: dict[str, Any], timestamp: str, *,
                cleared: bool, component_variable: tuple[str, str] | None = None) -> dict[str, Any]:
    """The NotifyEvent eventData (snake_case, as the library takes it) a 2.0.1 station reports a 1.6 error code of
    ``connector`` with (``extra``: 1.6's vendorErrorCode and info → techCode and techInfo), or its clearing."""
    component, variable = component_variable or FAULT_COMPONENTS.get(error_code, ("ChargingStation", "Problem"))
    event: dict[str, Any] = {
        "event_id": event_id, "timestamp": timestamp, "trigger": "Alerting",
        "actual_value": "false" if cleared else "true", "event_notification_type": "HardWiredNotification",
        "component": {"name": component, "evse": {"id": connector, "connector_id": 1}},
        "variable": {"name": variable}}
    if cleared:
        event["cleared"] = True
    else:
        if extra.get("vendorErrorCode"):
            event["tech_code"] = str(extra["vendorErrorCode"])
        if extra.get("info"):
            event["tech_info"] = str(extra["info"])
    return event


def versions(*, xfail_201: str | None = None) -> pytest.MarkDecorator:
    """Both versions, the 2.0.1 run marked as a known bug (strict: it fails the suite once the bug is fixed)."""
    if xfail_201 is None:
        return pytest.mark.parametrize("ocpp_version", VERSIONS)
    return pytest.mark.parametrize("ocpp_version", ["ocpp1.6", pytest.param(
        "ocpp2.0.1", marks=pytest.mark.xfail(strict=True, reason=xfail_201))])


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Socket:
    """The send/recv pair the library expects, over a websockets client connection."""

    def __init__(self, websocket: ClientConnection) -> None:
        self._ws = websocket

    async def recv(self) -> str:
        return str(await self._ws.recv())

    async def send(self, message: str) -> None:
        await self._ws.send(message)


@dataclass
class LibraryCharger:
    """A charge point of either version; it accepts every command the server sends and keeps them as sent."""

    url: str
    charger_id: str
    version: str = "ocpp1.6"
    password: str | None = None
    ssl: Any = None  # an ssl.SSLContext for wss:// (security profiles 2 and 3)
    timing: ScenarioTiming = field(default_factory=ScenarioTiming)
    register_wh: int = 1_000_000
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # CSMS calls, camelCase as on the wire
    references: dict[int, str] = field(default_factory=dict)  # session id → 2.0.1 transactionId
    answered: dict[int, str] = field(default_factory=dict)  # session id → the start's idTagInfo/idTokenInfo status
    _cp: Any = None
    _websocket: ClientConnection | None = None
    _listener: asyncio.Task[None] | None = None
    _seq: dict[int, int] = field(default_factory=dict)
    _faulted: set[int] = field(default_factory=set)
    _reported: dict[int, str] = field(default_factory=dict)  # the last connectorStatus sent per EVSE
    _silent: set[int] = field(default_factory=set)  # sessions started with statuses=False: no chargingState either
    _events: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        assert self.version in VERSIONS, self.version

    @property
    def v201(self) -> bool:
        return self.version == "ocpp2.0.1"

    # --- connection -------------------------------------------------------------------------------------------

    async def connect(self) -> None:
        headers = {}
        if self.password is not None:
            token = base64.b64encode(f"{self.charger_id}:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        self._websocket = await ws_connect(f"{self.url.rstrip('/')}/{self.charger_id}",
                                           subprotocols=[self.version],  # type: ignore[list-item]
                                           additional_headers=headers, **({"ssl": self.ssl} if self.ssl else {}))
        assert self._websocket.subprotocol == self.version, self._websocket.subprotocol
        cls = ChargePoint201 if self.v201 else ChargePoint16
        self._cp = cls(self.charger_id, _Socket(self._websocket), response_timeout=15)
        for action in (_ANSWERS_201 if self.v201 else _ANSWERS_16):
            self._cp.route_map[action] = {"_on_action": self._handler(action), "_skip_schema_validation": False,
                                          "_after_action": self._after(action)}
        route = self._cp.route_message

        async def recording(raw: str) -> None:
            frame = json.loads(raw)
            if isinstance(frame, list) and frame and frame[0] == 2:
                self.received.append((frame[2], frame[3]))
            await route(raw)

        self._cp.route_message = recording
        self._listener = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        try:
            await self._cp.start()
        except Exception:  # noqa: BLE001 - the socket closed under the listener
            pass

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            self._listener = None
        if self._websocket is not None:
            await self._websocket.close()
            self._websocket = None

    async def send(self, payload: Any) -> Any:
        """One library CALL; a CALLERROR raises (the library's OCPPError)."""
        assert self._cp is not None, "connect() first"
        return await self._cp.call(payload, suppress=False)

    async def call_raw(self, action: str, payload: dict[str, Any]) -> list[Any]:
        """A CALL as a raw frame (no schema check either way): the answer frame, CALLRESULT or CALLERROR."""
        assert self._cp is not None, "connect() first"
        message = Call(unique_id=str(self._cp._unique_id_generator()), action=action, payload=payload)
        async with self._cp._call_lock:
            await self._cp._send(message.to_json())
            answer = await self._cp._get_specific_response(message.unique_id, 15)
        return list(json.loads(answer.to_json()))

    # --- what the charger answers -----------------------------------------------------------------------------

    def _handler(self, action: str) -> Callable[..., Any]:
        answers = _ANSWERS_201 if self.v201 else _ANSWERS_16
        return lambda **payload: answers[action](payload)

    def _after(self, action: str) -> Callable[..., Any]:
        def after(**payload: Any) -> Any:
            if action == "TriggerMessage" and payload.get("requested_message") == "Heartbeat":
                return self.heartbeat()  # the library schedules it after the answer went out
            return None

        return after

    def screens(self) -> list[dict[str, Any]]:
        """What the server put on this charger's screen: {text, language, connector} per message, from 1.6's
        DataTransfer or 2.0.1's SetDisplayMessage."""
        shown = []
        for action, payload in self.received:
            if action == "DataTransfer" and not self.v201:
                data = json.loads(payload["data"])
                shown.append({"text": data["text"], "language": data.get("language"),
                              "connector": data.get("connectorId"), "vendor_id": payload["vendorId"]})
            elif action == "SetDisplayMessage" and self.v201:
                message = payload["message"]
                shown.append({"text": message["message"]["content"], "language": message["message"].get("language"),
                              "connector": message["id"] or None, "transaction": message.get("transactionId")})
        return shown

    # --- the messages ---------------------------------------------------------------------------------------

    def _now(self, at: datetime | None) -> str:
        return iso(at if at is not None else self.clock())

    async def boot(self, connectors: int = 1) -> Any:
        if self.v201:
            reply = await self.send(call201.BootNotification(
                charging_station={"model": "LIB-201", "vendor_name": "mobilityhouse"}, reason="PowerUp"))
        else:
            reply = await self.send(call16.BootNotification(charge_point_vendor="mobilityhouse",
                                                            charge_point_model="LIB-16"))
        if isinstance(reply.interval, int) and reply.interval > 0:
            self.timing = replace(self.timing, heartbeat=float(reply.interval))
        for connector in range(1 if self.v201 else 0, connectors + 1) if connectors else ():
            await self.status(connector, "Available")
        return reply

    async def heartbeat(self) -> None:
        await self.send(call201.Heartbeat() if self.v201 else call16.Heartbeat())

    async def alive_for(self, seconds: float) -> None:
        """Run normally (heartbeats only) for ``seconds``."""
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        while (left := until - loop.time()) > 0:
            await asyncio.sleep(min(self.timing.heartbeat, left))
            await self.heartbeat()

    async def status(self, connector: int, status: str, error_code: str = "NoError", *, at: datetime | None = None,
                     **extra: Any) -> None:
        """A 1.6 StatusNotification (``extra``: vendorId, vendorErrorCode, info), or what a 2.0.1 station sends."""
        if not self.v201:
            await self.send(call16.StatusNotification(
                connector_id=connector, error_code=error_code, status=status, timestamp=self._now(at),
                info=extra.get("info"), vendor_id=extra.get("vendorId"),
                vendor_error_code=extra.get("vendorErrorCode")))
            return
        if connector == 0:
            return  # 2.0.1 reports per EVSE only
        if status == "Faulted":
            await self._notify(connector, error_code, extra, at, cleared=False)
            self._faulted.add(connector)
            if error_code in EV_SIDE_FAULTS:
                return
        elif connector in self._faulted:  # back from the fault (Available, or Charging again)
            self._faulted.discard(connector)
            await self._notify(connector, error_code, extra, at, cleared=True)
        elif error_code != "NoError":  # a warning (KeyError: a code without a 2.0.1 warning form here)
            await self._notify(connector, error_code, extra, at, cleared=False,
                               component_variable=WARNING_COMPONENTS[error_code])
        connector_status = status if status in ("Available", "Faulted", "Unavailable", "Reserved") else "Occupied"
        if error_code != "NoError" and status != "Faulted" and self._reported.get(connector) == connector_status:
            return  # the warning changed no status: a station reports a connectorStatus when it changes
        self._reported[connector] = connector_status
        await self.send(call201.StatusNotification(timestamp=self._now(at), connector_status=connector_status,
                                                   evse_id=connector, connector_id=1))

    async def _notify(self, connector: int, error_code: str, extra: dict[str, Any], at: datetime | None, *,
                      cleared: bool, component_variable: tuple[str, str] | None = None) -> None:
        event_id = next(self._events)
        event = fault_event(event_id, connector, error_code, extra, self._now(at), cleared=cleared,
                            component_variable=component_variable)
        await self.send(call201.NotifyEvent(generated_at=self._now(at), seq_no=event_id - 1, event_data=[event]))

    async def authorize(self, id_tag: str) -> str:
        if self.v201:
            reply = await self.send(call201.Authorize(id_token={"id_token": id_tag, "type": "ISO14443"}))
            return str(reply.id_token_info["status"])
        return str((await self.send(call16.Authorize(id_tag=id_tag))).id_tag_info["status"])

    async def start(self, connector: int = 1, id_tag: str = "DEMO-TAG-1", *, at: datetime | None = None,
                    statuses: bool = True, authorize: bool = True) -> int:
        """Plug in (Preparing), present the card, start, Charging; the API's session id. ``statuses=False``: a
        charger that reports no connector status (so in 2.0.1 no chargingState on the session's events)."""
        if statuses:
            await self.status(connector, "Preparing", at=at)
        if authorize:
            await self.authorize(id_tag)
        if self.v201:
            reference = f"{self.charger_id}-{len(self.references) + 1:04d}"
            reply = await self._event("Started", None, reference, "Authorized", at,
                                      charging_state="Charging" if statuses else None,
                                      id_token={"id_token": id_tag, "type": "ISO14443"},
                                      evse={"id": connector, "connector_id": 1},
                                      meter_value=[self._register(at, "Transaction.Begin")])
            session_id = int(reply.custom_data["session_id"])
            self.references[session_id] = reference
            self.answered[session_id] = str(reply.id_token_info["status"])
            self._seq[session_id] = 0
            if not statuses:
                self._silent.add(session_id)
        else:
            reply = await self.send(call16.StartTransaction(connector_id=connector, id_tag=id_tag,
                                                            meter_start=self.register_wh, timestamp=self._now(at)))
            session_id = int(reply.transaction_id)
            self.answered[session_id] = str(reply.id_tag_info["status"])
        if statuses:
            await self.status(connector, "Charging", at=at)
        return session_id

    async def meter(self, connector: int, transaction_id: int, power_w: int, *, register_wh: int | None = None,
                    at: datetime | None = None) -> None:
        """One periodic sample; without ``register_wh`` the register grows by what ``power_w`` gives in an
        interval."""
        if register_wh is None:
            register_wh = self.register_wh + int(power_w * self.timing.meter_interval * self.timing.speedup / 3600)
        self.register_wh = register_wh
        if self.v201:
            sampled = [{"value": register_wh, "context": "Sample.Periodic",
                        "measurand": "Energy.Active.Import.Register", "unit_of_measure": {"unit": "Wh"}},
                       {"value": power_w, "context": "Sample.Periodic", "measurand": "Power.Active.Import",
                        "unit_of_measure": {"unit": "W"}}]
            await self._event("Updated", transaction_id, self.references[transaction_id], "MeterValuePeriodic", at,
                              charging_state=self._state(transaction_id, "Charging"),
                              meter_value=[{"timestamp": self._now(at),
                                                                       "sampled_value": sampled}])
            return
        sampled = [{"value": str(register_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh",
                    "context": "Sample.Periodic"},
                   {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W",
                    "context": "Sample.Periodic"}]
        await self.send(call16.MeterValues(connector_id=connector, transaction_id=transaction_id,
                                           meter_value=[{"timestamp": self._now(at), "sampled_value": sampled}]))

    async def stop(self, transaction_id: int, reason: str = "Local", id_tag: str | None = "DEMO-TAG-1", *,
                   at: datetime | None = None) -> None:
        if self.v201:
            stopped = STOP_REASONS_201.get(reason, reason)
            trigger = {"Local": "StopAuthorized", "Remote": "RemoteStop", "EVDisconnected": "EVCommunicationLost",
                       "EmergencyStop": "AbnormalCondition"}.get(stopped, "AbnormalCondition")
            await self._event("Ended", transaction_id, self.references[transaction_id], trigger, at,
                              charging_state=self._state(transaction_id, "Idle"), stopped_reason=stopped,
                              meter_value=[self._register(at, "Transaction.End")])
            return
        await self.send(call16.StopTransaction(transaction_id=transaction_id, id_tag=id_tag, reason=reason,
                                               meter_stop=self.register_wh, timestamp=self._now(at)))

    def _state(self, session_id: int, charging_state: str) -> str | None:
        return None if session_id in self._silent else charging_state

    def reference(self, transaction_id: int) -> str:
        """The charger's own name for the session (2.0.1 transactionId; 1.6 the integer as text)."""
        return self.references[transaction_id] if self.v201 else str(transaction_id)

    async def _event(self, event_type: str, session_id: int | None, reference: str, trigger: str,
                     at: datetime | None, **fields: Any) -> Any:
        seq = 0 if session_id is None else self._seq[session_id] + 1
        info: dict[str, Any] = {"transaction_id": reference}
        for name in ("charging_state", "stopped_reason"):
            if fields.get(name) is not None:
                info[name] = fields[name]
            fields.pop(name, None)
        reply = await self.send(call201.TransactionEvent(event_type=event_type, timestamp=self._now(at),
                                                         trigger_reason=trigger, seq_no=seq, transaction_info=info,
                                                         **fields))
        if session_id is not None:
            self._seq[session_id] = seq
        return reply

    def _register(self, at: datetime | None, context: str) -> dict[str, Any]:
        return {"timestamp": self._now(at), "sampled_value": [{
            "value": self.register_wh, "context": context, "measurand": "Energy.Active.Import.Register",
            "unit_of_measure": {"unit": "Wh"}}]}


def _accepted(result: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda payload: result(status="Accepted")


_ANSWERS_16: dict[str, Callable[[dict[str, Any]], Any]] = {
    **{action: _accepted(getattr(result16, action)) for action in (
        "ChangeAvailability", "ChangeConfiguration", "ClearCache", "DataTransfer", "RemoteStartTransaction",
        "RemoteStopTransaction", "Reset", "TriggerMessage")},
    "UnlockConnector": lambda payload: result16.UnlockConnector(status="Unlocked"),
    "GetConfiguration": lambda payload: result16.GetConfiguration(configuration_key=[]),
}
_ANSWERS_201: dict[str, Callable[[dict[str, Any]], Any]] = {
    **{action: _accepted(getattr(result201, action)) for action in (
        "ChangeAvailability", "ClearCache", "ClearDisplayMessage", "DataTransfer", "RequestStartTransaction",
        "RequestStopTransaction", "Reset", "SetDisplayMessage", "TriggerMessage")},
    "UnlockConnector": lambda payload: result201.UnlockConnector(status="Unlocked"),
    "CostUpdated": lambda payload: result201.CostUpdated(),
    "GetVariables": lambda payload: result201.GetVariables(get_variable_result=[
        {"attribute_status": "UnknownVariable", "component": item["component"], "variable": item["variable"]}
        for item in payload["get_variable_data"]]),
    "SetVariables": lambda payload: result201.SetVariables(set_variable_result=[
        {"attribute_status": "Accepted", "component": item["component"], "variable": item["variable"]}
        for item in payload["set_variable_data"]]),
}

