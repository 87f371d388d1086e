"""An independent OCPP 2.0.1 charging station for the tests: the `ocpp` PyPI library's v201 ChargePoint."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from websockets.asyncio.client import connect as ws_connect

from helpers import ts


class LibraryConnection:
    """Adapts a websockets client connection to the interface the ocpp library expects."""

    def __init__(self, websocket: Any):
        self._ws = websocket

    async def recv(self) -> Any:
        return await self._ws.recv()

    async def send(self, message: Any) -> None:
        await self._ws.send(message)


@asynccontextmanager
async def station(url: str, charger_id: str, password: str | None = None,
                  cls: type[ChargePoint] = ChargePoint) -> AsyncIterator[ChargePoint]:
    """A connected 2.0.1 station whose listener answers the CSMS's calls (with ``cls``'s @on handlers)."""
    headers = {}
    if password is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{charger_id}:{password}".encode()).decode()
    async with ws_connect(f"{url}/{charger_id}", subprotocols=["ocpp2.0.1"],  # type: ignore[list-item]
                          additional_headers=headers) as websocket:
        assert websocket.subprotocol == "ocpp2.0.1"
        cp = cls(charger_id, LibraryConnection(websocket))
        listener = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            listener.cancel()


def energy(value: float, minutes: float, context: str = "Sample.Periodic", multiplier: int = 3,
           power_w: float | None = None) -> dict[str, Any]:
    """One meterValue: the import register in Wh × 10^multiplier (so kWh with multiplier 3), and power."""
    sampled: list[dict[str, Any]] = [{"value": value, "context": context, "measurand": "Energy.Active.Import.Register",
                                      "unit_of_measure": {"unit": "Wh", "multiplier": multiplier}}]
    if power_w is not None:
        sampled.append({"value": power_w, "context": context, "measurand": "Power.Active.Import",
                        "unit_of_measure": {"unit": "W"}})
    return {"timestamp": ts(minutes), "sampled_value": sampled}


async def boot(cp: ChargePoint) -> Any:
    return await cp.call(call.BootNotification(
        charging_station={"model": "LIB-201", "vendor_name": "mobilityhouse", "serial_number": "SN-201"},
        reason="PowerUp"))


def transaction_event(event_type: str, seq_no: int, minutes: float, transaction_id: str, *,
                      trigger: str = "MeterValuePeriodic", meter: list[dict[str, Any]] | None = None,
                      id_token: str | None = None, charging_state: str | None = None,
                      stopped_reason: str | None = None, offline: bool | None = None, evse: int = 1) -> Any:
    info: dict[str, Any] = {"transaction_id": transaction_id}
    if charging_state:
        info["charging_state"] = charging_state
    if stopped_reason:
        info["stopped_reason"] = stopped_reason
    return call.TransactionEvent(
        event_type=event_type, timestamp=ts(minutes), trigger_reason=trigger, seq_no=seq_no,
        transaction_info=info, meter_value=meter, offline=offline,
        evse={"id": evse, "connector_id": 1} if event_type == "Started" else None,
        id_token={"id_token": id_token, "type": "ISO14443"} if id_token else None,
    )


async def charge(cp: ChargePoint, transaction_id: str, *, start_kwh: float = 2000.0,
                 steps_kwh: tuple[float, ...] = (2.75, 2.75, 2.75, 2.75), step_minutes: float = 15,
                 start_minutes: float = 0, id_token: str = "RFID-201", skip_seq: int | None = None) -> list[Any]:
    """Started (Transaction.Begin reading) → one Updated per step (Sample.Periodic) → Ended (Transaction.End)."""
    answers = []
    seq = 0
    register = start_kwh
    answers.append(await cp.call(transaction_event(
        "Started", seq, start_minutes, transaction_id, trigger="Authorized", id_token=id_token,
        charging_state="Charging", meter=[energy(register, start_minutes, "Transaction.Begin")])))
    minutes = start_minutes
    for step in steps_kwh:
        seq += 1
        if seq == skip_seq:
            seq += 1
        register = round(register + step, 3)
        minutes += step_minutes
        power = step * 1000 * 60 / step_minutes
        answers.append(await cp.call(transaction_event(
            "Updated", seq, minutes, transaction_id, charging_state="Charging",
            meter=[energy(register, minutes, power_w=power)])))
    seq += 1
    answers.append(await cp.call(transaction_event(
        "Ended", seq, minutes, transaction_id, trigger="EVCommunicationLost", stopped_reason="EVDisconnected",
        charging_state="Idle", meter=[energy(register, minutes, "Transaction.End")])))
    return answers


class CommandedStation(ChargePoint):
    """Accepts what the CSMS asks and remembers it."""

    received: list[tuple[str, dict]]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received = []

    @on("Reset")
    def on_reset(self, type, **kwargs):  # noqa: A002 - the OCPP field name
        self.received.append(("Reset", {"type": type, **kwargs}))
        return call_result.Reset(status="Accepted")

    @on("RequestStartTransaction")
    def on_start(self, id_token, remote_start_id, **kwargs):
        self.received.append(("RequestStartTransaction", {"id_token": id_token, "remote_start_id": remote_start_id,
                                                          **kwargs}))
        return call_result.RequestStartTransaction(status="Accepted")

    @on("UnlockConnector")
    def on_unlock(self, evse_id, connector_id, **kwargs):
        self.received.append(("UnlockConnector", {"evse_id": evse_id, "connector_id": connector_id}))
        return call_result.UnlockConnector(status="Unlocked")

    @on("GetVariables")
    def on_get_variables(self, get_variable_data, **kwargs):
        self.received.append(("GetVariables", {"get_variable_data": get_variable_data}))
        return call_result.GetVariables(get_variable_result=[{
            "attribute_status": "Accepted", "attribute_value": "300", "component": item["component"],
            "variable": item["variable"]} for item in get_variable_data])


def _variable(component: dict, variable: str, attributes: list[dict], data_type: str = "string",
              **characteristics: Any) -> dict:
    return {"component": component, "variable": {"name": variable}, "variable_attribute": attributes,
            "variable_characteristics": {"data_type": data_type, "supports_monitoring": True, **characteristics}}


# A station with two EVSEs: EVSE 1 a 22 kW AC socket, EVSE 2 a 50 kW DC post with a CCS and a CHAdeMO cable —
# its device model in two NotifyReport parts (what a GetBaseReport FullInventory answer looks like).
DEVICE_MODEL_PARTS: list[list[dict]] = [
    [
        _variable({"name": "OCPPCommCtrlr"}, "HeartbeatInterval", [{"type": "Actual", "value": "300"}],
                  "integer", unit="s"),
        _variable({"name": "SecurityCtrlr"}, "BasicAuthPassword", [{"type": "Actual", "mutability": "WriteOnly"}]),
        _variable({"name": "EVSE", "evse": {"id": 1}}, "Power",
                  [{"type": "Actual", "value": "0", "mutability": "ReadOnly"},
                   {"type": "MaxSet", "value": "22000", "mutability": "ReadOnly"}], "decimal", unit="W",
                  max_limit=22000),
        _variable({"name": "Connector", "evse": {"id": 1, "connector_id": 1}}, "ConnectorType",
                  [{"type": "Actual", "value": "sType2", "mutability": "ReadOnly", "constant": True}]),
    ],
    [
        _variable({"name": "EVSE", "evse": {"id": 2}}, "Power",
                  [{"type": "Actual", "value": "0", "mutability": "ReadOnly"}], "decimal", unit="kW", max_limit=50),
        _variable({"name": "Connector", "evse": {"id": 2, "connector_id": 1}}, "ConnectorType",
                  [{"type": "Actual", "value": "cCCS2", "mutability": "ReadOnly"}]),
        _variable({"name": "Connector", "evse": {"id": 2, "connector_id": 2}}, "ConnectorType",
                  [{"type": "Actual", "value": "cCHAdeMO", "mutability": "ReadOnly"}]),
        _variable({"name": "Connector", "evse": {"id": 2, "connector_id": 2}}, "AvailabilityState",
                  [{"type": "Actual", "value": "Available", "mutability": "ReadOnly"}], "OptionList",
                  values_list="Available,Occupied,Reserved,Unavailable,Faulted"),
    ],
]


async def send_device_model(cp: ChargePoint, request_id: int, parts: list[list[dict]] = DEVICE_MODEL_PARTS,
                            skip: int | None = None) -> None:
    """NotifyReport, part by part (tbc on all but the last); ``skip`` leaves one part out (a lost frame)."""
    for seq_no, report_data in enumerate(parts):
        if seq_no == skip:
            continue
        await cp.call(call.NotifyReport(request_id=request_id, generated_at=ts(seq_no), seq_no=seq_no,
                                        report_data=report_data, tbc=seq_no < len(parts) - 1))


class ReportingStation(CommandedStation):
    """Answers GetBaseReport and then reports its device model; answers the monitoring and status questions."""

    @on("GetBaseReport")
    def on_get_base_report(self, request_id, report_base, **kwargs):
        self.received.append(("GetBaseReport", {"request_id": request_id, "report_base": report_base}))
        return call_result.GetBaseReport(status="Accepted")

    @after("GetBaseReport")
    async def after_get_base_report(self, request_id, report_base, **kwargs):
        await send_device_model(self, request_id)

    @on("GetTransactionStatus")
    def on_get_transaction_status(self, transaction_id=None, **kwargs):
        self.received.append(("GetTransactionStatus", {"transaction_id": transaction_id}))
        return call_result.GetTransactionStatus(messages_in_queue=False, ongoing_indicator=transaction_id == "TX-ON")

    @on("SetVariableMonitoring")
    def on_set_variable_monitoring(self, set_monitoring_data, **kwargs):
        self.received.append(("SetVariableMonitoring", {"set_monitoring_data": set_monitoring_data}))
        return call_result.SetVariableMonitoring(set_monitoring_result=[{
            "id": 40 + i, "status": "Accepted", "type": item["type"], "severity": item["severity"],
            "component": item["component"], "variable": item["variable"]}
            for i, item in enumerate(set_monitoring_data)])

    @on("ClearVariableMonitoring")
    def on_clear_variable_monitoring(self, id, **kwargs):  # noqa: A002 - the OCPP field name
        self.received.append(("ClearVariableMonitoring", {"id": id}))
        return call_result.ClearVariableMonitoring(clear_monitoring_result=[
            {"id": i, "status": "Accepted" if i in (40, 41) else "NotFound"} for i in id])
