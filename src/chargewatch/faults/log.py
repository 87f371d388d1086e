"""Detector signals derived from the raw OCPP log, so a replay of ``ocpp_messages`` feeds the detector what the
live bus did for the charger-health rules.

Live, the worker learns of a reboot chargewatch asked for only from the gateway's ``command.answered`` event;
the log holds the same fact as an outbound CALL (Reset, or TriggerMessage with requestedMessage
BootNotification) and the charger's CALLRESULT with the same message id. Paired here, an accepted one is a
:class:`RebootRequested` at the time the answer was logged, exactly when the live event was published, so a
replayed TriggerMessage boot and a Hard Reset are no boot loop, as they were live.

Also derived, one per inbound CALL: :class:`BootReported` (BootNotification), :class:`StatusReported` (a 1.6
StatusNotification, with the charger's own timestamp) and :class:`MessageSeen` (any other). Connections and
sessions are not in the raw log as signals (the session rules are rebuilt from the replayed sessions).

Pure: frames in, signals out; the times are the log's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..timeutil import parse_timestamp
from .detection import FaultDetector, IncidentEvent
from .signals import BootReported, MessageSeen, RebootRequested, StatusReported

Stamped = BootReported | MessageSeen | RebootRequested | StatusReported
# The status transition rule of a charger's protocol: (connector, status) → the statuses it may follow.
TransitionRule = Callable[[int, str], frozenset[str] | None]

CALL, CALLRESULT = 2, 3


@dataclass(frozen=True)
class LoggedFrame:
    """One ``ocpp_messages`` row: who, when it was logged, ``in`` or ``out``, the frame text as sent."""

    charger_id: str
    at: datetime
    direction: str
    frame: str


def requested_reboot(action: str, payload: dict[str, Any], response: dict[str, Any]) -> bool:
    """Whether a command answered ``response`` means the charger reboots because we asked it to."""
    if response.get("status") != "Accepted":
        return False
    return action == "Reset" or (action == "TriggerMessage" and payload.get("requestedMessage") == "BootNotification")


def signals_from_log(frames: Iterable[LoggedFrame], rule: TransitionRule | None = None) -> Iterator[Stamped]:
    """The detector signals of a raw log, in log order; ``rule`` (the charger protocol's transition rule, as the
    live worker asks the charger's adapter) lets detection judge status transitions."""
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
            if kind == 4:
                asked.pop((row.charger_id, message_id), None)  # a CALLERROR answer: nothing was accepted
            continue
        yield _inbound(row, message_id, str(message[2]), message[3], rule)


def _inbound(row: LoggedFrame, message_id: str, action: str, payload: dict[str, Any],
             rule: TransitionRule | None) -> Stamped:
    evidence = {"action": action, "message_id": message_id, "payload": payload}
    if action == "BootNotification":
        return BootReported(charger_id=row.charger_id, at=row.at, evidence=evidence)
    if action == "StatusNotification" and isinstance(payload.get("connectorId"), int):
        try:
            reported = parse_timestamp(payload["timestamp"]) if payload.get("timestamp") else None
        except (TypeError, ValueError):
            reported = None
        return StatusReported(
            charger_id=row.charger_id, connector_id=payload["connectorId"], status=str(payload.get("status")),
            error_code=str(payload.get("errorCode")), info=payload.get("info"), vendor_id=payload.get("vendorId"),
            vendor_error_code=payload.get("vendorErrorCode"), at=row.at, message_id=message_id,
            reported_at=reported, evidence=evidence,
            allowed_after=None if rule is None else rule(payload["connectorId"], str(payload.get("status"))))
    return MessageSeen(charger_id=row.charger_id, at=row.at)


def replay_log(frames: Iterable[LoggedFrame], detector: FaultDetector, until: datetime | None = None,
               rule: TransitionRule | None = None) -> list[IncidentEvent]:
    """Feed a raw log to ``detector`` in order, ticking it at each frame's time (and at ``until``, last)."""
    events: list[IncidentEvent] = []
    for signal in signals_from_log(frames, rule):
        events += detector.tick(signal.at)
        events += detector.feed(signal)
    if until is not None:
        events += detector.tick(until)
    return events
