"""OCPP 1.6J Central System behaviour, sans-IO: (call, charger state, environment) → reply + changes.

Nothing here touches a socket or a database. The gateway supplies what the handlers need to know
(the id-tag directory, a transaction-id allocator, a session it fetched) and persists the returned
changes before it sends the reply (ack after commit).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from ...domain.firmware import FirmwareUpdate, LogRequest
from ...domain.local_list import LocalListIntent, LocalListReply
from ...domain.model import (
    Change,
    ChargerFirmwareStatus,
    ChargerState,
    ConnectorStatusChanged,
    Outcome,
    ReadingsRecorded,
    RemedyIntent,
    SecurityEvent,
    SessionChanged,
)
from ...sessions import machine
from ...sessions.machine import ChargingSession
from ...sessions.meter import MeterValueError, Sample, normalise, summarise
from ...timeutil import parse_timestamp
from .. import schemas
from ..adapter import (
    CallRejected,
    Environment,
    InvalidCommand,
    Lookup,
    NeedSession,
    NeedStartKey,
    NeedStoredSampleTimes,
    RenderedCommand,
    accept_boot,
    heartbeat,
)
from ..framing import ErrorCode
from . import faults, firmware, local_list, pki

VERSION = "ocpp1.6"

# Actions a charge point sends to the central system (OCPP 1.6 Core + security/firmware extensions).
CHARGER_ACTIONS = frozenset(
    {
        "Authorize", "BootNotification", "DataTransfer", "DiagnosticsStatusNotification",
        "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StartTransaction", "StatusNotification",
        "StopTransaction", "SecurityEventNotification", "LogStatusNotification",
        "SignedFirmwareStatusNotification", "SignCertificate",
    }
)
# Actions the central system sends; a charger sending one of these gets NotSupported, not NotImplemented.
CENTRAL_ACTIONS = frozenset(
    {
        "CancelReservation", "ChangeAvailability", "ChangeConfiguration", "ClearCache", "ClearChargingProfile",
        "GetCompositeSchedule", "GetConfiguration", "GetDiagnostics", "GetLocalListVersion",
        "RemoteStartTransaction", "RemoteStopTransaction", "ReserveNow", "Reset", "SendLocalList",
        "SetChargingProfile", "TriggerMessage", "UnlockConnector", "UpdateFirmware", "CertificateSigned",
        "DeleteCertificate", "ExtendedTriggerMessage", "GetInstalledCertificateIds", "GetLog",
        "InstallCertificate", "SignedUpdateFirmware",
    }
)
# CALLs whose content must be durably stored before the charger gets its answer.
DATA_ACTIONS = frozenset(
    {"BootNotification", "StatusNotification", "StartTransaction", "MeterValues", "StopTransaction",
     "DataTransfer", "DiagnosticsStatusNotification", "FirmwareStatusNotification",
     "SecurityEventNotification", "LogStatusNotification", "SignedFirmwareStatusNotification",
     "SignCertificate"}  # its CSR is kept in the raw log, committed before the answer; the PKI worker signs it
)


# ---------------------------------------------------------------- handlers


def validate(call_action: str, payload: dict[str, Any]) -> None:
    """Raise :class:`CallRejected` unless a charger may send this call and its payload is one we can store.

    :meth:`V16Adapter.lookups` runs this before it names any lookup (a session by transactionId, a start key),
    so no database query ever sees an unvalidated value (``true`` or 10^20 as a transaction id).
    """
    if call_action not in CHARGER_ACTIONS:
        if call_action in CENTRAL_ACTIONS:
            raise CallRejected(ErrorCode.NOT_SUPPORTED, f"{call_action} is sent by a central system, not to it")
        raise CallRejected(ErrorCode.NOT_IMPLEMENTED, f"unknown action {call_action[:64]!r}")
    try:
        schemas.validate(VERSION, call_action, payload)
    except schemas.SchemaViolation as exc:
        raise CallRejected(exc.error_code, exc.description, {"field": exc.field}) from None
    _check_ranges(payload)


# Integer fields that land in 32-bit columns (the schemas say only "integer"; framing bounds the rest to 64 bits).
_INT32_FIELDS = ("connectorId", "reservationId")
_INT32_MAX = 2**31 - 1
# A sampled value must fit NUMERIC(20, 4) even after kWh → Wh; bounding the exponent first also keeps
# int(Decimal("9e999999")) — minutes of CPU — from ever being computed.
_MAX_SAMPLE_EXPONENT = 12


def _check_ranges(payload: dict[str, Any]) -> None:
    for name in _INT32_FIELDS:
        value = payload.get(name)
        if isinstance(value, int) and not -_INT32_MAX - 1 <= value <= _INT32_MAX:
            raise CallRejected(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, f"{name}: out of range",
                               {"field": name})
    for list_name in ("meterValue", "transactionData"):
        for i, meter_value in enumerate(payload.get(list_name) or ()):
            for j, sampled in enumerate(meter_value.get("sampledValue") or ()):
                if sampled.get("format") == "SignedData":
                    continue
                try:
                    value = Decimal(str(sampled.get("value", "")).strip())
                except InvalidOperation:
                    continue  # not a number: the meter normaliser names it
                if value.is_finite() and value and value.adjusted() > _MAX_SAMPLE_EXPONENT:
                    field = f"{list_name}[{i}].sampledValue[{j}].value"
                    raise CallRejected(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, f"{field}: out of range",
                                       {"field": field})


def handle(call_action: str, payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    """Validate and handle one inbound CALL. Raises :class:`CallRejected` for a CALLERROR reply."""
    validate(call_action, payload)
    new_state = state.copy()
    try:
        outcome = _HANDLERS[call_action](payload, new_state, env)
    except (MeterValueError, ValueError, ArithmeticError) as exc:  # ArithmeticError: year-0 timestamps, Decimal
        raise CallRejected(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, str(exc)) from None
    outcome.state = new_state
    return outcome


def _boot(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    return accept_boot(payload, state, env)


def _status(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    connector_id = payload["connectorId"]
    if connector_id < 0:
        raise ValueError("connectorId: must be 0 (the charger) or a connector number")
    timestamp = parse_timestamp(payload["timestamp"]) if payload.get("timestamp") else env.now
    # A queued report older than the status held is kept (raw log, status events) but changes nothing: the
    # connector's status follows the charger's clock, not the order the reports arrive in.
    current = state.status_is_current(connector_id, timestamp)
    if current:
        state.connector_status[connector_id] = payload["status"]
    changes: list[Change] = []
    refused = state.active.get(connector_id)
    if (current and payload["status"] == "Available" and refused is not None
            and machine.Flag.START_REFUSED in refused.flags):
        del state.active[connector_id]  # the refused start's connector is free again: it never charged
        changes.append(SessionChanged(machine.close_refused(refused, timestamp)))
    return Outcome(
        {},
        [
            *changes,
            ConnectorStatusChanged(
                connector_id=connector_id,
                status=payload["status"],
                error_code=payload["errorCode"],
                info=payload.get("info"),
                vendor_id=payload.get("vendorId"),
                vendor_error_code=payload.get("vendorErrorCode"),
                timestamp=timestamp,
                received_at=env.now,
            )
        ],
    )


def _authorize(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    return Outcome({"idTagInfo": env.id_tag_info(payload["idTag"])})


def start_key(payload: dict[str, Any]) -> str:
    """What makes a StartTransaction the same one when a charger sends it again (offline queue, lost answer)."""
    return f"{payload['connectorId']}|{payload['idTag']}|{payload['timestamp']}|{payload['meterStart']}"


def _start_transaction(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    id_tag_info = env.id_tag_info(payload["idTag"])
    key = start_key(payload)
    if key in state.start_keys:  # re-sent after a lost answer: same transaction, nothing new
        return Outcome({"transactionId": state.start_keys[key], "idTagInfo": id_tag_info})
    connector_id = payload["connectorId"]
    if connector_id < 1:
        raise ValueError("connectorId: a transaction needs a connector number ≥ 1")
    changes: list[Change] = []
    started_at = parse_timestamp(payload["timestamp"])
    previous = state.active.pop(connector_id, None)
    if previous is not None:  # the charger never stopped the previous session on this connector
        closed = (machine.close_refused(previous, started_at) if machine.Flag.START_REFUSED in previous.flags
                  else machine.close_missing_stop(previous))
        changes.append(SessionChanged(closed))
    transaction_id = env.allocate_transaction_id()
    session = machine.start(
        transaction_id=transaction_id,
        charger_id=state.charger_id,
        connector_id=connector_id,
        id_tag=payload["idTag"],
        started_at=started_at,
        meter_start_wh=payload["meterStart"],
        reservation_id=payload.get("reservationId"),
        refused=id_tag_info.get("status") != "Accepted",
        start_status=id_tag_info.get("status"),
    )
    state.active[connector_id] = session
    state.start_keys[key] = transaction_id
    changes.append(SessionChanged(session))
    return Outcome({"transactionId": transaction_id, "idTagInfo": id_tag_info}, changes)


def _find_session(transaction_id: int | None, state: ChargerState, env: Environment) -> ChargingSession | None:
    if transaction_id is None:
        return None
    session = state.session(transaction_id)
    if session is None and env.fetched_session is not None and env.fetched_session.transaction_id == transaction_id:
        session = env.fetched_session
    return session


def _late_sample_times(call_action: str, payload: dict[str, Any], state: ChargerState) -> NeedStoredSampleTimes | None:
    """Samples of an open session older than its last one may be late or a re-send: ask which are stored."""
    transaction_id = payload.get("transactionId")
    session = state.session(transaction_id) if isinstance(transaction_id, int) else None
    if session is None or session.last_sample_at is None:
        return None
    values = payload.get("meterValue" if call_action == "MeterValues" else "transactionData")
    times = []
    for value in values if isinstance(values, list) else []:
        try:
            timestamp = parse_timestamp(value["timestamp"])
        except (KeyError, TypeError, ValueError):
            continue  # the handler rejects it
        if timestamp < session.last_sample_at:
            times.append(timestamp)
    return NeedStoredSampleTimes(session.transaction_id, tuple(times)) if times else None


def _fresh(samples: list[Sample], env: Environment) -> list[Sample]:
    return [s for s in samples if s.timestamp not in env.stored_sample_times]


def _meter_values(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    readings = normalise(payload["meterValue"])
    transaction_id = payload.get("transactionId")
    changes: list[Change] = [ReadingsRecorded(payload["connectorId"], transaction_id, tuple(readings))]
    session = _find_session(transaction_id, state, env)
    if session is not None and session.active:
        updated = session
        rating = state.connector_ratings_w.get(session.connector_id)
        for sample in _fresh(summarise(readings), env):
            updated = machine.apply_sample(updated, sample, rating)
        if updated != session:
            state.active[updated.connector_id] = updated
            changes.append(SessionChanged(updated))
    return Outcome({}, changes)


def _stop_transaction(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    # Never refuse a StopTransaction (OCPP 1.6 §4.10): the charger would retry it forever.
    reply: dict[str, Any] = {}
    if payload.get("idTag"):
        reply["idTagInfo"] = env.id_tag_info(payload["idTag"])
    transaction_id = payload["transactionId"]
    readings = normalise(payload.get("transactionData") or [])
    session = _find_session(transaction_id, state, env)
    connector_id = session.connector_id if session else 0
    changes: list[Change] = []
    if readings:
        changes.append(ReadingsRecorded(connector_id, transaction_id, tuple(readings)))
    if session is None or not session.active:
        return Outcome(reply, changes)  # unknown or already stopped: a replay, nothing to change
    stopped = machine.stop(
        session,
        stopped_at=parse_timestamp(payload["timestamp"]),
        meter_stop_wh=payload["meterStop"],
        reason=payload.get("reason") or "Local",
        final_samples=_fresh(summarise(readings), env),
        rating_w=state.connector_ratings_w.get(session.connector_id),
    )
    state.active.pop(session.connector_id, None)
    changes.append(SessionChanged(stopped))
    return Outcome(reply, changes)


def _data_transfer(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    # No vendor extensions are registered; the spec's answer for that is UnknownVendorId.
    return Outcome({"status": "UnknownVendorId"})


def _firmware_like(kind: str) -> Callable[[dict[str, Any], ChargerState, Environment], Outcome]:
    def handler(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
        request_id = payload.get("requestId")
        return Outcome({}, [ChargerFirmwareStatus(kind, payload.get("status", ""), env.now,
                                                  request_id if isinstance(request_id, int) else None)])

    return handler


def _security_event(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    return Outcome({}, [SecurityEvent(payload["type"], parse_timestamp(payload["timestamp"]), payload.get("techInfo"),
                                      faults.SECURITY_EVENT_NAMES.get(payload["type"]))])


_HANDLERS: dict[str, Callable[[dict[str, Any], ChargerState, Environment], Outcome]] = {
    "Authorize": _authorize,
    "BootNotification": _boot,
    "DataTransfer": _data_transfer,
    "DiagnosticsStatusNotification": _firmware_like("diagnostics"),
    "FirmwareStatusNotification": _firmware_like("firmware"),
    "Heartbeat": heartbeat,
    "MeterValues": _meter_values,
    "StartTransaction": _start_transaction,
    "StatusNotification": _status,
    "StopTransaction": _stop_transaction,
    "SecurityEventNotification": _security_event,
    "LogStatusNotification": _firmware_like("log"),
    "SignedFirmwareStatusNotification": _firmware_like("signed_firmware"),
    "SignCertificate": pki.sign_certificate,
}


# ---------------------------------------------------------------- the adapter the gateway drives


class V16Adapter:
    """OCPP 1.6J behind :class:`~chargewatch.ocpp.adapter.Adapter`."""

    version = VERSION

    def lookups(self, action: str, payload: dict[str, Any], state: ChargerState) -> list[Lookup]:
        validate(action, payload)  # raises CallRejected: a refused call needs no lookup, a lookup no bad value
        if action == "StartTransaction":
            try:
                key = start_key(payload)
            except KeyError:
                return []
            return [] if key in state.start_keys else [NeedStartKey(key)]
        transaction_id = payload.get("transactionId")
        if action in ("MeterValues", "StopTransaction") and isinstance(transaction_id, int):
            if state.session(transaction_id) is None:
                return [NeedSession(transaction_id=transaction_id)]
            late = _late_sample_times(action, payload, state)
            return [late] if late is not None else []
        return []

    def handle(self, action: str, payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
        return handle(action, payload, state, env)

    def spell(self, error_code: str) -> str:
        return error_code

    def render(self, action: str, payload: dict[str, Any], state: ChargerState) -> RenderedCommand:
        if action not in CENTRAL_ACTIONS and action != "DataTransfer":
            raise ValueError(f"{action} is not a command an OCPP 1.6 central system sends")
        action, payload = pki.translate(action, payload)  # certificate commands in neutral or 2.0.1 words
        try:
            schemas.validate(VERSION, action, payload, strict=True)
        except schemas.SchemaViolation as exc:
            raise InvalidCommand(f"{action} payload invalid: {exc.description}", exc.field) from None
        return RenderedCommand(action, payload)

    def render_remedy(self, intent: RemedyIntent) -> RenderedCommand:
        action, payload = faults.render_remedy(intent)
        return RenderedCommand(action, self.render(action, payload, ChargerState("")).payload, intent.action.value)

    def render_local_list(self, intent: LocalListIntent) -> RenderedCommand:
        action, payload = local_list.render(intent)
        return RenderedCommand(action, self.render(action, payload, ChargerState("")).payload)

    def read_local_list(self, intent: LocalListIntent, response: dict[str, Any]) -> LocalListReply:
        return local_list.read(intent, response)

    def render_maintenance(self, intent: FirmwareUpdate | LogRequest) -> RenderedCommand:
        action, payload = (firmware.render_firmware(intent) if isinstance(intent, FirmwareUpdate)
                           else firmware.render_log(intent))
        return RenderedCommand(action, self.render(action, payload, ChargerState("")).payload, type(intent).__name__)

    def allowed_after(self, connector_id: int, status: str) -> frozenset[str] | None:
        return faults.allowed_after(connector_id, status)


ADAPTER = V16Adapter()
