"""A simulated OCPP 2.0.1 charging station: the behaviour and physics of the 1.6 `SimulatedCharger`, in 2.0.1 words.

Boot (reason PowerUp), StatusNotification per EVSE (connectorStatus), Authorize with an idToken, and one
transaction per session as TransactionEvent Started (Transaction.Begin reading) → Updated (periodic meter values,
chargingState) → Ended (Transaction.End reading, stoppedReason), with gap-free ``seqNo``. Energy goes with
``unitOfMeasure`` multiplier 3 (kWh), as many stations send it. A meter with a signer puts an OCMF document in the
Begin and End readings' ``signedMeterValue``. A fault is what a 2.0.1 station reports: a NotifyEvent (RCD tripped,
techCode) followed by the EVSE's Faulted status, and a cleared NotifyEvent once it is reset.

What the CSMS sends (CostUpdated, SetDisplayMessage, …) is answered and kept in ``received``. GetBaseReport is
answered Accepted and followed by the station's device model as NotifyReport parts: one per EVSE (its Power limit,
each connector's ConnectorType) and one for its controllers. ``plugs`` gives an EVSE more than one connector
(e.g. ``{2: 2}``: EVSE 2 is a DC post with a CCS and a CHAdeMO cable; the unused one is Unavailable while the
other charges).
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

from .charger import SimulatedCharger, now_iso

EVSE_CONNECTOR = 1  # the connector a simulated EVSE charges on
_PLUG_TYPES = {1: ("cType2",), 2: ("cCCS2", "cCHAdeMO")}  # connector types by how many an EVSE has


class SimulatedStation201(SimulatedCharger):
    subprotocol = "ocpp2.0.1"

    def __init__(self, *args: Any, plugs: dict[int, int] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.plugs = {evse: (plugs or {}).get(evse, 1) for evse in range(1, self.connectors + 1)}
        self.transaction_refs: dict[int, str] = {}  # EVSE → the station's transactionId of its running transaction
        self.session_ids: dict[str, int] = {}  # transactionId → the CSMS's session id (customData of Started)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._event_ids = itertools.count(1)
        self._notify_seq = itertools.count(0)

    async def boot(self) -> None:
        reply = await self.call("BootNotification", {"reason": "PowerUp", "chargingStation": {
            "vendorName": "chargewatch-sim", "model": "SIM-22-201", "serialNumber": self.charger_id,
            "firmwareVersion": "1.0.0"}})
        self.heartbeat_interval = int(reply.get("interval") or 60)
        for evse in range(1, self.connectors + 1):
            await self.status(evse, "Available")

    async def status(self, connector: int, status: str, error_code: str = "NoError", **extra: Any) -> None:
        """StatusNotification of EVSE ``connector`` (2.0.1 has no error code here: faults go by NotifyEvent); its
        other connectors are Unavailable while the charging one is Occupied, and follow it otherwise."""
        for plug in range(1, self.plugs[connector] + 1):
            plug_status = status if plug == EVSE_CONNECTOR or status != "Occupied" else "Unavailable"
            await self.call("StatusNotification", {"timestamp": now_iso(), "connectorStatus": plug_status,
                                                   "evseId": connector, "connectorId": plug})

    def device_model(self) -> list[list[dict[str, Any]]]:
        """The station's device model as NotifyReport parts (reportData lists): one per EVSE, then the controllers."""
        def item(component: dict[str, Any], variable: str, value: str | None, data_type: str = "string",
                 mutability: str = "ReadOnly", **characteristics: Any) -> dict[str, Any]:
            attribute: dict[str, Any] = {"type": "Actual", "mutability": mutability}
            if value is not None:
                attribute["value"] = value
            return {"component": component, "variable": {"name": variable}, "variableAttribute": [attribute],
                    "variableCharacteristics": {"dataType": data_type, "supportsMonitoring": True, **characteristics}}

        parts = []
        for evse, count in self.plugs.items():
            power = self.behaviour.power_w if count == 1 else max(self.behaviour.power_w, 50_000)
            part = [item({"name": "EVSE", "evse": {"id": evse}}, "Power", "0", "decimal", unit="W", maxLimit=power),
                    item({"name": "EVSE", "evse": {"id": evse}}, "SupplyPhases", "3" if count == 1 else "0",
                         "integer")]
            for plug, kind in enumerate(_PLUG_TYPES.get(count, ("cType2",) * count), start=1):
                part.append(item({"name": "Connector", "evse": {"id": evse, "connectorId": plug}}, "ConnectorType",
                                 kind))
            parts.append(part)
        parts.append([
            item({"name": "OCPPCommCtrlr"}, "HeartbeatInterval", str(self.heartbeat_interval), "integer",
                 "ReadWrite", unit="s"),
            item({"name": "SampledDataCtrlr"}, "TxUpdatedInterval", str(int(self.behaviour.meter_interval)),
                 "integer", "ReadWrite", unit="s"),
            item({"name": "SecurityCtrlr"}, "BasicAuthPassword", None, mutability="WriteOnly"),
        ])
        return parts

    async def report(self, request_id: int) -> None:
        """Send the device model for ``request_id``, part by part (tbc on every part but the last)."""
        parts = self.device_model()
        for seq_no, report_data in enumerate(parts):
            await self.call("NotifyReport", {"requestId": request_id, "generatedAt": now_iso(), "seqNo": seq_no,
                                             "tbc": seq_no < len(parts) - 1, "reportData": report_data})

    async def charge_once(self, connector: int) -> int | None:
        """One full session on EVSE ``connector``; returns the CSMS's session id (None when the token is refused)."""
        b = self.behaviour
        tag = self.rng.choice(b.id_tags)
        id_token = {"idToken": tag, "type": "ISO14443"}
        await self.status(connector, "Occupied")
        auth = await self.call("Authorize", {"idToken": id_token})
        if auth["idTokenInfo"]["status"] != "Accepted":
            await self.status(connector, "Available")
            return None
        reference = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        self.transaction_refs[connector] = reference
        seq = itertools.count(0)
        started = await self._event("Started", next(seq), reference, "Authorized", "Charging", id_token=id_token,
                                    evse={"id": connector, "connectorId": EVSE_CONNECTOR},
                                    meter=[self._reading(connector, "Transaction.Begin", "B", tag)])
        session_id = (started.get("customData") or {}).get("sessionId")
        if isinstance(session_id, int):
            self.session_ids[reference] = session_id
        soc = self.rng.randint(10, 60)
        loop = asyncio.get_running_loop()
        charge_until = loop.time() + self.rng.uniform(*b.charge_time)
        sampled_at = loop.time()
        stopped_reason, faulted = "EVDisconnected", False
        while loop.time() < charge_until and connector not in self._stop_requested:
            await asyncio.sleep(b.meter_interval)
            power, soc, sampled_at = self._charge_step(connector, soc, sampled_at)
            await self._event("Updated", next(seq), reference, "MeterValuePeriodic", "Charging",
                              meter=[self._periodic(connector, power, soc)])
            if b.fault_probability and self.rng.random() < b.fault_probability:
                await self.fault(connector, cleared=False)
                stopped_reason, faulted = "GroundFault", True
                break
        if not faulted and connector not in self._stop_requested:
            await self._event("Updated", next(seq), reference, "ChargingStateChanged", "SuspendedEV",
                              meter=[self._periodic(connector, 0, soc)])
            idle_until = loop.time() + self.rng.uniform(*b.idle_time)
            while loop.time() < idle_until:
                await asyncio.sleep(min(b.meter_interval, max(0.0, idle_until - loop.time())))
                await self._event("Updated", next(seq), reference, "MeterValuePeriodic", "SuspendedEV",
                                  meter=[self._periodic(connector, 0, soc)])
        trigger = "EVCommunicationLost"
        if connector in self._stop_requested:
            stopped_reason, trigger = "Remote", "RemoteStop"
        elif faulted:
            trigger = "AbnormalCondition"
        await self._event("Ended", next(seq), reference, trigger, "Idle", id_token=id_token,
                          stopped_reason=stopped_reason, meter=[self._reading(connector, "Transaction.End", "E", tag)])
        self.transaction_refs.pop(connector, None)
        self._stop_requested.discard(connector)
        if faulted:
            await asyncio.sleep(self.rng.uniform(2, 6))
            await self.fault(connector, cleared=True)
        await self.status(connector, "Available")
        return session_id if isinstance(session_id, int) else None

    async def fault(self, connector: int, *, cleared: bool) -> None:
        """The RCD of EVSE ``connector`` trips (Faulted) or, ``cleared``, is reset on site."""
        event: dict[str, Any] = {
            "eventId": next(self._event_ids), "timestamp": now_iso(), "trigger": "Alerting",
            "actualValue": "false" if cleared else "true", "eventNotificationType": "HardWiredNotification",
            "component": {"name": "RCD", "evse": {"id": connector, "connectorId": EVSE_CONNECTOR}},
            "variable": {"name": "Tripped"}}
        if cleared:
            event["cleared"] = True
        else:
            event.update(techCode="E-RCD-30", techInfo="RCD tripped")
        await self.call("NotifyEvent", {"generatedAt": now_iso(), "seqNo": next(self._notify_seq),
                                        "eventData": [event]})
        if not cleared:
            await self.status(connector, "Faulted")

    async def _event(self, event_type: str, seq_no: int, reference: str, trigger: str, charging_state: str, *,
                     meter: list[dict[str, Any]], id_token: dict[str, str] | None = None,
                     evse: dict[str, int] | None = None, stopped_reason: str | None = None) -> dict[str, Any]:
        info: dict[str, Any] = {"transactionId": reference, "chargingState": charging_state}
        if stopped_reason is not None:
            info["stoppedReason"] = stopped_reason
        payload: dict[str, Any] = {"eventType": event_type, "timestamp": now_iso(), "triggerReason": trigger,
                                   "seqNo": seq_no, "transactionInfo": info, "meterValue": meter}
        if id_token is not None:
            payload["idToken"] = id_token
        if evse is not None:
            payload["evse"] = evse
        return await self.call("TransactionEvent", payload)

    def _register(self, connector: int, context: str) -> dict[str, Any]:
        return {"value": self.register_wh[connector] / 1000, "context": context,
                "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh", "multiplier": 3}}

    def _reading(self, connector: int, context: str, transaction: str, id_tag: str) -> dict[str, Any]:
        """The Transaction.Begin/End register reading, signed by the meter when it has a signer."""
        at = datetime.now(UTC)
        sampled = self._register(connector, context)
        if self.behaviour.signer is not None:
            sampled["signedMeterValue"] = self.behaviour.signer.signed_meter_value(
                register_wh=self.register_wh[connector], at=at, transaction=transaction, id_tag=id_tag)
        return {"timestamp": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"), "sampledValue": [sampled]}

    def _periodic(self, connector: int, power_w: int, soc: int) -> dict[str, Any]:
        context = "Sample.Periodic"
        return {"timestamp": now_iso(), "sampledValue": [
            self._register(connector, context),
            {"value": power_w, "context": context, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}},
            {"value": soc, "context": context, "measurand": "SoC", "unitOfMeasure": {"unit": "Percent"}},
        ]}

    async def _on_server_call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.received.append((action, payload))
        if action == "RequestStopTransaction":
            for evse, reference in self.transaction_refs.items():
                if reference == payload.get("transactionId"):
                    self._stop_requested.add(evse)
                    return {"status": "Accepted"}
            return {"status": "Rejected"}
        if action == "UnlockConnector":
            return {"status": "Unlocked"}
        if action == "TriggerMessage":
            if payload.get("requestedMessage") == "Heartbeat":
                asyncio.get_running_loop().call_later(0.05, lambda: asyncio.create_task(self.call("Heartbeat", {})))
            return {"status": "Accepted"}
        if action == "CostUpdated":
            return {}
        if action == "GetTransactionStatus":
            return {"messagesInQueue": False,
                    "ongoingIndicator": payload.get("transactionId") in self.transaction_refs.values()}
        if action == "GetVariables":
            return {"getVariableResult": [{"attributeStatus": "UnknownVariable", "component": item["component"],
                                           "variable": item["variable"]} for item in payload["getVariableData"]]}
        if action == "SetVariables":
            return {"setVariableResult": [{"attributeStatus": "Accepted", "component": item["component"],
                                           "variable": item["variable"]} for item in payload["setVariableData"]]}
        if action == "GetBaseReport":
            request_id = payload["requestId"]
            asyncio.get_running_loop().call_later(0.05, lambda: asyncio.create_task(self.report(request_id)))
            return {"status": "Accepted"}
        if action == "SetVariableMonitoring":
            return {"setMonitoringResult": [
                {"id": next(self._event_ids), "status": "Accepted", "type": item["type"],
                 "severity": item["severity"], "component": item["component"], "variable": item["variable"]}
                for item in payload["setMonitoringData"]]}
        if action == "ClearVariableMonitoring":
            return {"clearMonitoringResult": [{"id": i, "status": "Accepted"} for i in payload["id"]]}
        if action in ("Reset", "ChangeAvailability", "RequestStartTransaction", "ClearCache", "SetDisplayMessage",
                      "ClearDisplayMessage", "DataTransfer"):
            return {"status": "Accepted"}
        return {"status": "Rejected"}
