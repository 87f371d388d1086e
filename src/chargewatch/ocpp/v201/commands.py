"""Operator commands rendered for an OCPP 2.0.1 station.

The command API speaks the 1.6 action names operators and scripts already use; where 2.0.1 has a
message with the same intent, it is rendered as that message (the reply says which). The driver-screen
guidance that 1.6 chargers get by vendor DataTransfer becomes a standard SetDisplayMessage. Native 2.0.1
actions pass through unchanged. Every rendered payload is checked against the official 2.0.1 schema.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from ...domain.model import ChargerState, RemedyAction, RemedyIntent
from .. import schemas
from ..adapter import InvalidCommand, RenderedCommand
from . import local_list, pki

VERSION = "ocpp2.0.1"

# CSMS → station messages this CSMS may send to a 2.0.1 station.
CSMS_ACTIONS = frozenset({
    "CancelReservation", "ChangeAvailability", "ClearCache", "ClearChargingProfile", "ClearDisplayMessage",
    "ClearVariableMonitoring", "CostUpdated", "CustomerInformation", "DataTransfer", "GetBaseReport",
    "GetChargingProfiles", "GetCompositeSchedule", "GetDisplayMessages", "GetLocalListVersion", "GetLog",
    "GetMonitoringReport", "GetReport", "GetTransactionStatus", "GetVariables", "RequestStartTransaction",
    "RequestStopTransaction", "ReserveNow", "Reset", "SendLocalList", "SetChargingProfile", "SetDisplayMessage",
    "SetMonitoringBase", "SetMonitoringLevel", "SetNetworkProfile", "SetVariableMonitoring", "SetVariables",
    "TriggerMessage", "UnlockConnector", "UpdateFirmware",
    "CertificateSigned", "InstallCertificate", "DeleteCertificate", "GetInstalledCertificateIds",
})

# 1.6 configuration keys → 2.0.1 (component, variable) with the same meaning (OCPP 2.0.1 part 4 migration).
CONFIGURATION_KEYS: dict[str, tuple[str, str]] = {
    "HeartbeatInterval": ("OCPPCommCtrlr", "HeartbeatInterval"),
    "WebSocketPingInterval": ("OCPPCommCtrlr", "WebSocketPingInterval"),
    "MeterValueSampleInterval": ("SampledDataCtrlr", "TxUpdatedInterval"),
    "MeterValuesSampledData": ("SampledDataCtrlr", "TxUpdatedMeasurands"),
    "StopTxnSampledData": ("SampledDataCtrlr", "TxEndedMeasurands"),
    "ClockAlignedDataInterval": ("AlignedDataCtrlr", "Interval"),
    "ConnectionTimeOut": ("TxCtrlr", "EVConnectionTimeOut"),
    "StopTransactionOnEVSideDisconnect": ("TxCtrlr", "StopTxOnEVSideDisconnect"),
    "AuthorizeRemoteTxRequests": ("AuthCtrlr", "AuthorizeRemoteStart"),
    "LocalPreAuthorize": ("AuthCtrlr", "LocalPreAuthorize"),
    "LocalAuthorizeOffline": ("AuthCtrlr", "OfflineTxForUnknownIdEnabled"),
    "TransactionMessageAttempts": ("OCPPCommCtrlr", "MessageAttempts"),
    "TransactionMessageRetryInterval": ("OCPPCommCtrlr", "MessageAttemptInterval"),
}
_TRIGGERS = {"DiagnosticsStatusNotification": "LogStatusNotification"}


def _variable(key: str) -> dict[str, Any]:
    """A 1.6 key, or ``Component.Variable`` in 2.0.1 words, as ComponentVariable."""
    if key in CONFIGURATION_KEYS:
        component, variable = CONFIGURATION_KEYS[key]
    elif "." in key:
        component, variable = key.split(".", 1)
    else:
        raise ValueError(f"key {key!r}: no 2.0.1 equivalent; name it as Component.Variable")
    return {"component": {"name": component}, "variable": {"name": variable}}


def _evse(connector_id: Any, with_connector: bool = False) -> dict[str, Any]:
    if not isinstance(connector_id, int) or connector_id <= 0:
        return {}
    return {"evse": {"id": connector_id, **({"connectorId": 1} if with_connector else {})}}


def _screen_text(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The driver-screen guidance the fault worker (and the display-message API) sends a 1.6 charger by DataTransfer
    ({text, language, connectorId?} as data; an empty text clears it), or None for any other DataTransfer."""
    try:
        data = json.loads(payload.get("data") or "")
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("text"), str) or set(data) - {"text", "language",
                                                                                          "connectorId"}:
        return None
    return data


def _display_message(screen: dict[str, Any], state: ChargerState) -> dict[str, Any]:
    """SetDisplayMessage: one message per EVSE (its id), in front while that EVSE's transaction runs."""
    connector = screen.get("connectorId")
    evse_id = connector if isinstance(connector, int) and connector > 0 else 0
    content: dict[str, Any] = {"format": "UTF8", "content": screen["text"][:512]}
    if screen.get("language"):
        content["language"] = str(screen["language"])[:8]
    message: dict[str, Any] = {"id": evse_id, "priority": "InFront", "message": content}
    session = state.active.get(evse_id) if evse_id else None
    if session is not None and session.transaction_ref:
        message["transactionId"] = session.transaction_ref
    if evse_id:
        message["display"] = {"name": "Display", "evse": {"id": evse_id}}
    return {"message": message}


def _reference(internal: Any, state: ChargerState) -> str:
    """The station's transactionId of one of its running sessions, given by our session id."""
    reference = next((key for key, tx in state.start_keys.items() if tx == internal), None)
    if reference is None:
        raise ValueError(f"transactionId {internal!r}: no transaction of this station by that id is running")
    return reference


def _reserve_now(payload: dict[str, Any]) -> dict[str, Any]:
    """1.6 ReserveNow → 2.0.1 (H01): connector 0 (any) is a reservation without ``evseId``; the tag and its parent
    become idToken and groupIdToken of type Central (the tag was issued by this CSMS, as for remote starts)."""
    rendered: dict[str, Any] = {"id": payload["reservationId"], "expiryDateTime": payload.get("expiryDate"),
                                "idToken": {"idToken": payload.get("idTag", ""), "type": "Central"}}
    if isinstance(payload.get("connectorId"), int) and payload["connectorId"] > 0:
        rendered["evseId"] = payload["connectorId"]
    if payload.get("parentIdTag"):
        rendered["groupIdToken"] = {"idToken": payload["parentIdTag"], "type": "Central"}
    return rendered


def _translate(action: str, payload: dict[str, Any], state: ChargerState) -> tuple[str, dict[str, Any]]:
    action, payload = pki.translate(action, payload)  # certificate commands in 1.6 or neutral words
    if action == "DataTransfer" and (screen := _screen_text(payload)) is not None:
        if not screen["text"]:  # an empty screen text clears that EVSE's message
            connector = screen.get("connectorId")
            return "ClearDisplayMessage", {"id": connector if isinstance(connector, int) and connector > 0 else 0}
        return "SetDisplayMessage", _display_message(screen, state)  # 2.0.1 has a standard screen message
    if action == "SendLocalList" and "listVersion" in payload:
        return action, local_list.from_v16(payload)
    if action == "Reset" and payload.get("type") in ("Hard", "Soft"):
        return "Reset", {"type": "Immediate" if payload["type"] == "Hard" else "OnIdle"}
    if action == "RemoteStartTransaction":
        rendered: dict[str, Any] = {"idToken": {"idToken": payload.get("idTag", ""), "type": "Central"},
                                    "remoteStartId": secrets.randbelow(2**31 - 1) + 1}
        if isinstance(payload.get("connectorId"), int) and payload["connectorId"] > 0:
            rendered["evseId"] = payload["connectorId"]
        return "RequestStartTransaction", rendered
    if action == "ReserveNow" and "reservationId" in payload:
        return "ReserveNow", _reserve_now(payload)
    if action == "RemoteStopTransaction":
        return "RequestStopTransaction", {"transactionId": _reference(payload.get("transactionId"), state)}
    if action == "GetTransactionStatus" and isinstance(payload.get("transactionId"), int):
        return action, {**payload, "transactionId": _reference(payload["transactionId"], state)}
    if action == "ChangeAvailability" and "type" in payload:
        return "ChangeAvailability", {"operationalStatus": payload["type"], **_evse(payload.get("connectorId"))}
    if action == "TriggerMessage" and "connectorId" in payload:
        requested = _TRIGGERS.get(payload["requestedMessage"], payload["requestedMessage"])
        return "TriggerMessage", {"requestedMessage": requested, **_evse(
            payload["connectorId"], with_connector=requested == "StatusNotification")}
    if action == "TriggerMessage" and payload.get("requestedMessage") in _TRIGGERS:
        return "TriggerMessage", {"requestedMessage": _TRIGGERS[payload["requestedMessage"]]}
    if action == "UnlockConnector" and "connectorId" in payload and "evseId" not in payload:
        return "UnlockConnector", {"evseId": payload["connectorId"], "connectorId": 1}
    if action == "GetConfiguration":
        keys = payload.get("key") or []
        if not keys:
            raise ValueError("GetConfiguration without keys: ask a 2.0.1 station with GetBaseReport")
        return "GetVariables", {"getVariableData": [_variable(key) for key in keys]}
    if action == "ChangeConfiguration":
        return "SetVariables", {"setVariableData": [
            {**_variable(payload.get("key", "")), "attributeValue": str(payload.get("value", ""))}]}
    return action, payload


def render_remedy(intent: RemedyIntent) -> tuple[str, dict[str, Any]]:
    """The OCPP 2.0.1 action and payload carrying out ``intent``: a reset of the station (OnIdle for soft,
    Immediate for hard), UnlockConnector(evseId, connectorId), ChangeAvailability(operationalStatus, evse) or
    RequestStopTransaction with the station's own transactionId."""
    action = intent.action
    evse = {"evse": {"id": intent.evse_id}} if intent.evse_id else {}
    if action is RemedyAction.SOFT_RESET:
        return "Reset", {"type": "OnIdle"}
    if action is RemedyAction.HARD_RESET:
        return "Reset", {"type": "Immediate"}
    if action is RemedyAction.UNLOCK_CONNECTOR:
        return "UnlockConnector", {"evseId": intent.evse_id, "connectorId": intent.connector_id or 1}
    if action is RemedyAction.SET_INOPERATIVE:
        return "ChangeAvailability", {"operationalStatus": "Inoperative", **evse}
    if action is RemedyAction.SET_OPERATIVE:
        return "ChangeAvailability", {"operationalStatus": "Operative", **evse}
    return "RequestStopTransaction", {"transactionId": intent.transaction_ref}


def render(action: str, payload: dict[str, Any], state: ChargerState) -> RenderedCommand:
    """The 2.0.1 CALL for ``action`` (1.6 or 2.0.1 name); ValueError when it has no 2.0.1 form or is invalid."""
    rendered_action, rendered = _translate(action, payload, state)
    if rendered_action not in CSMS_ACTIONS:
        raise ValueError(f"{action} is not a command an OCPP 2.0.1 CSMS sends")
    try:
        schemas.validate(VERSION, f"{rendered_action}Request", rendered, strict=True)
    except schemas.SchemaViolation as exc:
        raise InvalidCommand(f"{rendered_action} payload invalid: {exc.description}",
                             exc.field if rendered_action == action else "(payload)") from None
    mapped = action if (rendered_action, rendered) != (action, payload) else None
    return RenderedCommand(rendered_action, rendered, mapped_from=mapped)
