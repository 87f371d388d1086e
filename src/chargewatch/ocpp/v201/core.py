"""OCPP 2.0.1 CSMS behaviour, sans-IO: (call, charger state, environment) → reply + neutral changes.

Sessions run through the same ``sessions.machine`` as 1.6, so billing, faults and feedback see no
difference. A 2.0.1 transaction is keyed by the station's ``transactionId`` (kept as the session's
``start_key`` and ``transaction_ref``); the session's internal id comes from the same allocator as 1.6
transaction ids. ``seqNo`` is tracked per transaction: a re-delivered event (seqNo already applied)
changes nothing, a skipped one flags the session (``sequence_gap``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ...domain.model import (
    Change,
    ChargerFirmwareStatus,
    ChargerState,
    ConnectorStatusChanged,
    Outcome,
    ReadingsRecorded,
    ReservationStatusReported,
    SecurityEvent,
    SessionChanged,
)
from ...domain.reservations import REPORTED_STATUS
from ...sessions import machine
from ...sessions.machine import ChargingSession, Flag
from ...sessions.meter import MeterValueError, Reading, summarise
from ...timeutil import parse_timestamp
from .. import schemas
from ..adapter import CallRejected, Environment, accept_boot, heartbeat
from ..framing import ErrorCode
from . import faults, meter, pki, report, smart

VERSION = "ocpp2.0.1"
CUSTOM_DATA_VENDOR = "org.chargewatch"  # CustomDataType.vendorId on what we add to replies

# Messages a charging station sends that we handle.
HANDLED = frozenset({
    "Authorize", "BootNotification", "DataTransfer", "FirmwareStatusNotification", "Heartbeat",
    "LogStatusNotification", "MeterValues", "NotifyEvent", "NotifyReport", "SecurityEventNotification",
    "StatusNotification", "TransactionEvent", "ReservationStatusUpdate",
    *smart.INBOUND,
}) | pki.HANDLERS.keys()
# (SignCertificate's CSR is kept in the raw log, committed before the answer; the PKI worker signs it.)
DATA_ACTIONS = HANDLED - {"Heartbeat", "Authorize", "Get15118EVCertificate", "GetCertificateStatus"}

# 2.0.1 chargingState → the neutral (1.6) connector status it means while a transaction runs.
_CHARGING_STATE_STATUS = {"Charging": "Charging", "SuspendedEV": "SuspendedEV", "SuspendedEVSE": "SuspendedEVSE",
                          "EVConnected": "Preparing"}
# Statuses after which an Occupied EVSE without a transaction is Finishing (plugged in after it), not Preparing.
_AFTER_TRANSACTION = frozenset({"Charging", "SuspendedEV", "SuspendedEVSE", "Finishing"})
# 1.6 IdTagInfo.status → 2.0.1 AuthorizationStatusEnumType (the same names, plus ones 1.6 lacks).
_TOKEN_STATUS = {"Accepted": "Accepted", "Blocked": "Blocked", "Expired": "Expired", "Invalid": "Invalid",
                 "ConcurrentTx": "ConcurrentTx"}


def validate(action: str, payload: dict[str, Any]) -> None:
    """Raise :class:`CallRejected` unless a station may send this call and its payload meets the 2.0.1 schema."""
    if action not in HANDLED:
        if schemas.validator(VERSION, f"{action}Request") is not None:  # a 2.0.1 message, not one we take
            raise CallRejected(ErrorCode.NOT_SUPPORTED, f"{action} is not supported by this CSMS")
        raise CallRejected(ErrorCode.NOT_IMPLEMENTED, f"unknown action {action!r}")
    try:
        schemas.validate(VERSION, f"{action}Request", payload)
    except schemas.SchemaViolation as exc:
        code = exc.error_code
        if code == ErrorCode.PROTOCOL_ERROR:  # a required field is missing: 2.0.1 calls that an occurrence
            code = ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION
        raise CallRejected(code, exc.description, {"field": exc.field}) from None
    _check_ranges(payload)


# OCPP 2.0.1 part 2 §2.1: an ``integer`` is 32 bits (framing already refuses anything beyond 64). Every one a
# station sends lands in a 32-bit column or is compared with one (evseId, seqNo, requestId, …); vendor customData
# is not looked at.
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
# A sampled value × 10^multiplier must fit NUMERIC(20, 4) as Wh; bounding the exponent before scaling also keeps
# Decimal from building 10^900000 (minutes of CPU) out of a valid float and multiplier.
_MAX_SAMPLE_EXPONENT = 12


def _check_ranges(payload: dict[str, Any]) -> None:
    """Raise :class:`CallRejected` (PropertyConstraintViolation, naming the field) for a schema-valid number that
    no column holds: runs before any lookup, so no query ever binds it."""
    stack: list[tuple[str, Any]] = [("", payload)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, dict):
            stack.extend((f"{path}.{k}" if path else k, v) for k, v in item.items() if k != "customData")
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(item))
        elif isinstance(item, int) and not isinstance(item, bool) and not _INT32_MIN <= item <= _INT32_MAX:
            raise CallRejected(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
                               f"{path}: out of the 32-bit integer range", {"field": path})
    for i, meter_value in enumerate(payload.get("meterValue") or ()):
        for j, sampled in enumerate(meter_value.get("sampledValue") or ()):
            try:
                value = Decimal(str(sampled.get("value")))
            except InvalidOperation:
                continue
            multiplier = (sampled.get("unitOfMeasure") or {}).get("multiplier", 0)
            if value.is_finite() and value and value.adjusted() + multiplier > _MAX_SAMPLE_EXPONENT:
                field = f"meterValue[{i}].sampledValue[{j}].value"
                raise CallRejected(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
                                   f"{field}: out of range (value × 10^multiplier)", {"field": field})


def handle(action: str, payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    """Validate and handle one inbound CALL. Raises :class:`CallRejected` for a CALLERROR reply."""
    validate(action, payload)
    new_state = state.copy()
    try:
        outcome = _HANDLERS[action](payload, new_state, env)
    except (MeterValueError, ValueError, ArithmeticError) as exc:  # ArithmeticError: year-0 timestamps, Decimal
        raise CallRejected(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, str(exc)) from None
    outcome.state = new_state
    return outcome


def _boot(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    station = payload["chargingStation"]
    info = {
        "chargePointVendor": station.get("vendorName"), "chargePointModel": station.get("model"),
        "chargePointSerialNumber": station.get("serialNumber"), "firmwareVersion": station.get("firmwareVersion"),
        "reason": payload.get("reason"),
    }
    return accept_boot(info, state, env)


# A charging point's status from its connectors' (an EVSE with a CCS and a CHAdeMO plug reports the unused one
# Unavailable while the other charges): the first of these any of its connectors reports.
_EVSE_STATUS_ORDER = ("Faulted", "Occupied", "Reserved", "Available", "Unavailable")


def _evse_status(state: ChargerState, evse_id: int, reported: str) -> str:
    statuses = {status for (evse, _), status in state.plug_status.items() if evse == evse_id} or {reported}
    return next((status for status in _EVSE_STATUS_ORDER if status in statuses), reported)


def _status(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    evse_id, plug = payload["evseId"], payload["connectorId"]
    if evse_id < 0 or plug < 0:
        raise ValueError("evseId, connectorId: must be 0 (the station) or a number")
    reported = payload["connectorStatus"]
    timestamp = parse_timestamp(payload["timestamp"])
    current = state.status_is_current(evse_id, timestamp)  # an older queued report does not replace a newer one
    if current and evse_id > 0:
        state.plug_status[(evse_id, plug)] = reported
    status = _evse_status(state, evse_id, reported) if evse_id > 0 else reported
    if status == "Occupied":  # 1.6 tells Preparing from Charging; 2.0.1 leaves that to TransactionEvent
        session = state.active.get(evse_id)
        if session is not None and session.active:
            status = "Charging"
        elif state.connector_status.get(evse_id) in _AFTER_TRANSACTION:
            status = "Finishing"  # still plugged in after the transaction ended
        else:
            status = "Preparing"
    if status == "Faulted" and state.connector_status.get(evse_id) == "Faulted" and reported == "Faulted":
        return Outcome({})  # a NotifyEvent already reported this fault with its detail
    if current:
        state.connector_status[evse_id] = status
    return Outcome({}, [_status_report(evse_id, status, timestamp, env.now, plug, reported)])


def _status_report(evse_id: int, status: str, timestamp: datetime, received_at: datetime, plug: int,
                   reported: str) -> ConnectorStatusChanged:
    """A status from a StatusNotification or a chargingState. 2.0.1 gives no error code there: a Faulted status is
    a fault without a code (NoError) that the NotifyEvent names (fault detection keeps one incident, whichever of
    the two arrives first), and no warning ends with it (errors are reported and cleared by NotifyEvent)."""
    return ConnectorStatusChanged(
        connector_id=evse_id, status=status, error_code="NoError", info=None, vendor_id=None, vendor_error_code=None,
        timestamp=timestamp, received_at=received_at, evse_connector_id=plug, reported_status=reported,
        errors_reported=False)


def id_token_info(decision: dict[str, Any]) -> dict[str, Any]:
    """The neutral authorization decision (1.6 IdTagInfo shape) as a 2.0.1 IdTokenInfoType."""
    info: dict[str, Any] = {"status": _TOKEN_STATUS.get(decision.get("status", ""), "Unknown")}
    if decision.get("expiryDate"):
        info["cacheExpiryDateTime"] = decision["expiryDate"]
    if decision.get("parentIdTag"):
        info["groupIdToken"] = {"idToken": decision["parentIdTag"], "type": "Central"}
    return info


def decision_of(info: dict[str, Any]) -> dict[str, Any]:
    """The neutral decision (1.6 IdTagInfo shape) a logged IdTokenInfoType answered: ``id_token_info``'s inverse,
    so a replay reaches the same refusals as the live run (a 2.0.1-only status stays as it was answered)."""
    decision: dict[str, Any] = {"status": info.get("status", "Invalid")}
    if info.get("cacheExpiryDateTime"):
        decision["expiryDate"] = info["cacheExpiryDateTime"]
    if (info.get("groupIdToken") or {}).get("idToken"):
        decision["parentIdTag"] = info["groupIdToken"]["idToken"]
    return decision


def _token_info(id_token: dict[str, Any], env: Environment) -> dict[str, Any]:
    if id_token.get("type") == "NoAuthorization":
        return {"status": "Accepted"}
    return id_token_info(env.id_tag_info(id_token["idToken"]))


def _authorize(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    return Outcome({"idTokenInfo": _token_info(payload["idToken"], env)})


def _register_at(readings: list[Reading], context: str | None = None) -> int | None:
    """The energy register (Wh) of the readings, preferring those of ``context`` (e.g. Transaction.Begin)."""
    chosen = [r for r in readings if r.context == context] if context else []
    samples = [s for s in summarise(chosen or readings) if s.register_wh is not None]
    return None if not samples else int(samples[0 if context == "Transaction.Begin" else -1].register_wh or 0)


def _known_session(key: str, state: ChargerState, env: Environment) -> ChargingSession | None:
    transaction_id = state.start_keys.get(key)
    if transaction_id is None:
        return None
    session = state.session(transaction_id)
    if session is None and env.fetched_session is not None and env.fetched_session.transaction_id == transaction_id:
        session = env.fetched_session
    return session


def _begin(payload: dict[str, Any], key: str, readings: list[Reading], state: ChargerState, env: Environment,
           changes: list[Change]) -> ChargingSession:
    evse = payload.get("evse")
    if not evse:
        raise CallRejected(ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
                           "evse: required in the first TransactionEvent of a transaction", {"field": "evse"})
    evse_id = evse["id"]
    if evse_id < 1:
        raise ValueError("evse.id: a transaction needs an EVSE number ≥ 1")
    previous = state.active.pop(evse_id, None)
    if previous is not None:  # the station never ended the previous transaction on this EVSE
        changes.append(SessionChanged(machine.close_missing_stop(previous)))
    begun = any(r.context == "Transaction.Begin" and r.is_energy_register for r in readings)
    start_wh = _register_at(readings, "Transaction.Begin")  # without a Begin reading: this event's first register
    id_token = payload.get("idToken") or {}
    session = machine.start(
        transaction_id=env.allocate_transaction_id(), charger_id=state.charger_id, connector_id=evse_id,
        id_tag=id_token.get("idToken", ""), started_at=parse_timestamp(payload["timestamp"]),
        meter_start_wh=start_wh or 0, reservation_id=payload.get("reservationId"),
    )
    session = replace(session, transaction_ref=key, evse_connector_id=_plug_in_use(evse, state))
    if not begun:
        session = replace(session, flags=(*session.flags, Flag.START_FROM_FIRST_SAMPLE))
    state.start_keys[key] = session.transaction_id
    return session


def _plug_in_use(evse: dict[str, Any], state: ChargerState) -> int:
    """The connector a transaction uses: the event's evse.connectorId, else the EVSE's one occupied connector."""
    if isinstance(evse.get("connectorId"), int) and evse["connectorId"] > 0:
        return int(evse["connectorId"])
    occupied = [plug for (evse_id, plug), status in state.plug_status.items()
                if evse_id == evse["id"] and status == "Occupied"]
    return occupied[0] if len(occupied) == 1 else 1


def _apply_samples(session: ChargingSession, readings: list[Reading]) -> ChargingSession:
    for sample in summarise(readings):
        if sample.register_wh is not None and Flag.START_FROM_FIRST_SAMPLE in session.flags \
                and session.last_sample_at is None and session.energy_wh == 0:
            register = int(sample.register_wh)  # the first register the station sent is the start value
            session = replace(session, meter_start_wh=register, last_register_wh=register, baseline_wh=register)
        session = machine.apply_sample(session, sample)
    return session


def _transaction_event(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    info = payload["transactionInfo"]
    key = info["transactionId"]
    seq_no = payload["seqNo"]
    readings = meter.readings(payload.get("meterValue") or [])
    reply: dict[str, Any] = {}
    id_token = payload.get("idToken")
    if id_token:
        reply["idTokenInfo"] = _token_info(id_token, env)
    changes: list[Change] = []
    session = _known_session(key, state, env)
    if session is None:
        if key in state.start_keys:  # known, but neither in memory nor fetched: the shell did not look it up
            raise CallRejected(ErrorCode.INTERNAL_ERROR, "transaction state unavailable, retry later")
        before = session = _begin(payload, key, readings, state, env, changes)
        fresh = True
    else:
        before, fresh = session, False
    connector_id = session.connector_id
    if readings:
        changes.append(ReadingsRecorded(connector_id, session.transaction_id, tuple(readings)))
    if not fresh and session.last_seq_no is not None and seq_no <= session.last_seq_no:
        return Outcome(reply, changes)  # re-delivered: already applied
    if not session.active:
        return Outcome(reply, changes)  # an event after Ended: the readings are kept, the session is final
    flags = session.flags
    if fresh:
        missed = payload["eventType"] != "Started"  # the Started event never reached us
    else:
        missed = session.last_seq_no is not None and seq_no > session.last_seq_no + 1
    if missed and Flag.SEQUENCE_GAP not in flags:
        flags = (*flags, Flag.SEQUENCE_GAP)
    if payload.get("offline") and Flag.DELIVERED_OFFLINE not in flags:
        flags = (*flags, Flag.DELIVERED_OFFLINE)
    session = replace(session, flags=flags, last_seq_no=seq_no)
    named = (payload.get("evse") or {}).get("connectorId")
    if not fresh and isinstance(named, int) and named > 0:  # the station names the connector once it knows it
        session = replace(session, evse_connector_id=named)
    token = id_token or {}
    authorizing = bool(token) and token.get("type") != "NoAuthorization" and (fresh or not before.id_tag)
    if authorizing and not session.id_tag:
        session = replace(session, id_tag=token["idToken"])
    answered = reply.get("idTokenInfo", {}).get("status")
    if authorizing and answered != "Accepted" and Flag.START_REFUSED not in session.flags:
        # The token the transaction is authorised with was refused (the station may start before our answer, as a
        # 1.6 charger answered Invalid does): the session is a refused start, never billed as if it had been accepted.
        session = replace(session, flags=(*session.flags, Flag.START_REFUSED), start_status=answered)
    charging_state = info.get("chargingState")
    status = _CHARGING_STATE_STATUS.get(charging_state or "")
    if payload["eventType"] == "Ended":
        end_wh = _register_at(readings, "Transaction.End")
        session = _apply_samples(session, [r for r in readings if r.context != "Transaction.End"])
        last = session.last_register_wh if session.last_register_wh is not None else session.meter_start_wh
        session = machine.stop(
            session, stopped_at=parse_timestamp(payload["timestamp"]),
            meter_stop_wh=end_wh if end_wh is not None else last,
            reason=info.get("stoppedReason") or "Local",
        )
        state.active.pop(connector_id, None)
    else:  # the Transaction.Begin reading is the start value, not a sample (the session has not moved yet)
        session = _apply_samples(session, [r for r in readings if r.context != "Transaction.Begin"])
        state.active[connector_id] = session
    if status is not None and session.active and state.connector_status.get(connector_id) != status:
        state.connector_status[connector_id] = status
        changes.append(_status_report(connector_id, status, parse_timestamp(payload["timestamp"]), env.now,
                                      session.evse_connector_id, "Occupied"))
    if session != before or fresh:
        changes.append(SessionChanged(session))
    if fresh:  # the raw log then names the internal id, so a replay gives the session the same one
        reply["customData"] = {"vendorId": CUSTOM_DATA_VENDOR, "sessionId": session.transaction_id}
    ended = payload["eventType"] == "Ended" and not session.active
    return Outcome(reply, changes, cost_for=session.transaction_id if ended else None)


def _meter_values(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    # Outside a transaction in 2.0.1 (transaction readings come in TransactionEvent): kept, not billed.
    readings = meter.readings(payload["meterValue"])
    return Outcome({}, [ReadingsRecorded(payload["evseId"], None, tuple(readings))])


def _notify_event(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    return Outcome({}, list(faults.status_changes(payload["eventData"], state.connector_status, env.now)))


def _security_event(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    return Outcome({}, [SecurityEvent(payload["type"], parse_timestamp(payload["timestamp"]), payload.get("techInfo"))])


def _status_of(kind: str) -> Callable[[dict[str, Any], ChargerState, Environment], Outcome]:
    def handler(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
        request_id = payload.get("requestId")
        return Outcome({}, [ChargerFirmwareStatus(kind, payload.get("status", ""), env.now,
                                                  request_id if isinstance(request_id, int) else None)])

    return handler


def _data_transfer(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    return Outcome({"status": "UnknownVendorId"})  # no vendor extensions are registered


def _notify_report(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    return Outcome({}, [report.parse(payload, state)])


def _reservation_status(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    reported = payload["reservationUpdateStatus"]  # Expired | Removed (the schema allows no other)
    return Outcome({}, [ReservationStatusReported(payload["reservationId"], REPORTED_STATUS[reported].value, reported,
                                                  env.now)])


_HANDLERS: dict[str, Callable[[dict[str, Any], ChargerState, Environment], Outcome]] = {
    "Authorize": _authorize,
    "BootNotification": _boot,
    "DataTransfer": _data_transfer,
    "FirmwareStatusNotification": _status_of("firmware"),
    "Heartbeat": heartbeat,
    "LogStatusNotification": _status_of("log"),
    "MeterValues": _meter_values,
    "NotifyEvent": _notify_event,
    "NotifyReport": _notify_report,
    "SecurityEventNotification": _security_event,
    "StatusNotification": _status,
    "TransactionEvent": _transaction_event,
    **pki.HANDLERS,
    **{action: smart.inbound(action) for action in smart.INBOUND},
    "ReservationStatusUpdate": _reservation_status,
}
