"""An independent OCPP 2.0.1 charging station for the tests: the `ocpp` PyPI library's v201 ChargePoint."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ocpp.routing import on
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
