"""Fault detection signals derived from the raw OCPP log, so a replay of ``ocpp_messages`` feeds the detector what
the live bus did for the charger-health rules. Like ``replay``, it reads OCPP frames, so it lives in the shell: fault
detection itself (``chargewatch.faults``) knows no OCPP version.

Live, the worker learns of a reboot chargewatch asked for only from the gateway's ``command.answered`` event;
the log holds the same fact as an outbound CALL (Reset, or TriggerMessage with requestedMessage
BootNotification) and the charger's CALLRESULT with the same message id. Paired here, an accepted one is a
:class:`RebootRequested` at the time the answer was logged, exactly when the live event was published, so a
replayed TriggerMessage boot and a Hard Reset are no boot loop, as they were live.

Also derived, one per inbound CALL: :class:`BootReported` (BootNotification), :class:`StatusReported` (a
StatusNotification, with the charger's own timestamp and the status transition rule of the adapter of the
subprotocol it arrived on) and :class:`MessageSeen` (any other). A 2.0.1 ``Occupied`` status says nothing the
neutral model can use without the transaction's charging state (only live ingest refines it), so it is a
MessageSeen here. Connections and sessions are not in the raw log as signals (the session rules are rebuilt from
the replayed sessions).

Pure: frames in, signals out; the times are the log's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from ..domain.signals import BootReported, MessageSeen, RebootRequested, StatusReported
from ..faults.detection import FaultDetector, IncidentEvent
from ..ocpp import v201, versions
from ..ocpp.framing import CALL, CALLERROR, CALLRESULT
from ..store.faults import LoggedFrame
from ..timeutil import parse_timestamp

Stamped = BootReported | MessageSeen | RebootRequested | StatusReported


def requested_reboot(action: str, payload: dict[str, Any], response: dict[str, Any]) -> bool:
    """Whether a command answered ``response`` means the charger reboots because we asked it to (1.6 or 2.0.1
    words: Reset, TriggerMessage BootNotification; a 2.0.1 Reset may be Scheduled until the station is idle)."""
    if response.get("status") not in ("Accepted", "Scheduled"):
        return False
    return action == "Reset" or (action == "TriggerMessage" and payload.get("requestedMessage") == "BootNotification")


def signals_from_log(frames: Iterable[LoggedFrame]) -> Iterator[Stamped]:
    """The detector signals of a raw log, in log order."""
    asked: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}  # our CALLs awaiting the charger's answer
    for row in frames:
        try:
            message = json.loads(row.frame)
        except ValueError:
            continue  # a frame that was not JSON was answered with a CALLERROR and changed nothing
        if not isinstance(message, list) or len(message) < 3 or not isinstance(message[1], str):
            continue
        kind, message_id = message[0], message[1]
        if row.direction == "out":
            if kind == CALL and len(message) == 4 and isinstance(message[3], dict):
                asked[(row.charger_id, message_id)] = (str(message[2]), message[3])
            continue
        if kind == CALLRESULT:
            call = asked.pop((row.charger_id, message_id), None)
            if call is not None and isinstance(message[2], dict) and requested_reboot(*call, message[2]):
                yield RebootRequested(charger_id=row.charger_id, action=call[0], at=row.at)
            continue
        if kind != CALL or len(message) != 4 or not isinstance(message[3], dict):
            if kind == CALLERROR:
                asked.pop((row.charger_id, message_id), None)  # a CALLERROR answer: nothing was accepted
            continue
        yield _inbound(row, message_id, str(message[2]), message[3])


def _inbound(row: LoggedFrame, message_id: str, action: str, payload: dict[str, Any]) -> Stamped:
    evidence = {"action": action, "message_id": message_id, "payload": payload}
    if action == "BootNotification":
        return BootReported(charger_id=row.charger_id, at=row.at, evidence=evidence)
    adapter = versions.adapter_for(row.protocol)
    station = adapter is v201.ADAPTER
    connector = payload.get("evseId" if station else "connectorId")
    status = payload.get("connectorStatus" if station else "status")
    if action != "StatusNotification" or not isinstance(connector, int) or not isinstance(status, str) \
            or status == "Occupied":
        return MessageSeen(charger_id=row.charger_id, at=row.at)
    try:
        reported = parse_timestamp(payload["timestamp"]) if payload.get("timestamp") else None
    except (TypeError, ValueError):
        reported = None
    return StatusReported(
        charger_id=row.charger_id, connector_id=connector, status=status,
        error_code=str(payload.get("errorCode") or "NoError"), info=payload.get("info"),
        vendor_id=payload.get("vendorId"), vendor_error_code=payload.get("vendorErrorCode"), at=row.at,
        message_id=message_id, reported_at=reported, evidence=evidence,
        allowed_after=adapter.allowed_after(connector, status), errors_reported=not station)


def replay_log(frames: Iterable[LoggedFrame], detector: FaultDetector, until: datetime | None = None
               ) -> list[IncidentEvent]:
    """Feed a raw log to ``detector`` in order, ticking it at each frame's time (and at ``until``, last)."""
    events: list[IncidentEvent] = []
    for signal in signals_from_log(frames):
        events += detector.tick(signal.at)
        events += detector.feed(signal)
    if until is not None:
        events += detector.tick(until)
    return events
