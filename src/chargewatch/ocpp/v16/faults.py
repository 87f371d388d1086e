"""OCPP 1.6 fault specifics: the connector status transition table and the remedy payloads.

The transition table is spec data (OCPP 1.6 edition 2, section 4.9), not a rule: fault detection asks it,
per status report, which statuses the reported one may follow (:func:`allowed_after`); a transition missing
here is flagged as a firmware deviation, never refused (the central system always answers
StatusNotification.conf). :func:`render_remedy` says a neutral remedy intent as a 1.6 CALL, and
:func:`screen_message` a fault's driver guidance as the vendor DataTransfer a 1.6 charger shows on its screen
(the 2.0.1 adapter renders that one as SetDisplayMessage).
"""

from __future__ import annotations

import json
from typing import Any

from ...domain.model import RemedyAction, RemedyIntent

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    "Available": frozenset(
        {"Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Reserved", "Unavailable", "Faulted"}
    ),
    "Preparing": frozenset({"Available", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing", "Faulted"}),
    "Charging": frozenset({"Available", "SuspendedEV", "SuspendedEVSE", "Finishing", "Unavailable", "Faulted"}),
    "SuspendedEV": frozenset({"Available", "Charging", "SuspendedEVSE", "Finishing", "Unavailable", "Faulted"}),
    "SuspendedEVSE": frozenset({"Available", "Charging", "SuspendedEV", "Finishing", "Unavailable", "Faulted"}),
    "Finishing": frozenset({"Available", "Preparing", "Unavailable", "Faulted"}),
    "Reserved": frozenset({"Available", "Preparing", "Unavailable", "Faulted"}),
    "Unavailable": frozenset({"Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Faulted"}),
    "Faulted": frozenset(
        {
            "Available",
            "Preparing",
            "Charging",
            "SuspendedEV",
            "SuspendedEVSE",
            "Finishing",
            "Reserved",
            "Unavailable",
        }
    ),
}

# connectorId 0 addresses the whole charge point, which only knows these three states.
CHARGE_POINT_STATUSES = frozenset({"Available", "Unavailable", "Faulted"})

# The table read backwards: for each status, the statuses it may follow (itself included: a re-report after a
# TriggerMessage or a reconnect is always allowed).
_ALLOWED_AFTER: dict[str, frozenset[str]] = {
    status: frozenset({previous for previous, nexts in ALLOWED_TRANSITIONS.items() if status in nexts} | {status})
    for status in ALLOWED_TRANSITIONS
}


def is_allowed_transition(previous: str, current: str) -> bool:
    """Re-reporting the same status (after a TriggerMessage or reconnect) is always allowed."""
    return previous == current or current in ALLOWED_TRANSITIONS.get(previous, frozenset())


def allowed_after(connector_id: int, status: str) -> frozenset[str] | None:
    """The statuses ``status`` may follow on this connector; empty: it may not be reported there at all
    (connector 0 is only Available, Unavailable or Faulted); None: a status the table does not know."""
    if connector_id == 0:
        return None if status in CHARGE_POINT_STATUSES else frozenset()
    return _ALLOWED_AFTER.get(status)


# The security whitepaper's event names that OCPP 2.0.1 (the neutral names) spells differently.
SECURITY_EVENT_NAMES = {
    "FailedToAuthenticateAtCentralSystem": "FailedToAuthenticateAtCsms",
    "CentralSystemFailedToAuthenticate": "CsmsFailedToAuthenticate",
    "InvalidCentralSystemCertificate": "InvalidCsmsCertificate",
    "InvalidChargePointCertificate": "InvalidChargingStationCertificate",
}


def render_remedy(intent: RemedyIntent) -> tuple[str, dict[str, Any]]:
    """The OCPP 1.6 action and payload carrying out ``intent`` (ValueError if 1.6 cannot say it)."""
    action = intent.action
    if action is RemedyAction.SOFT_RESET:
        return "Reset", {"type": "Soft"}
    if action is RemedyAction.HARD_RESET:
        return "Reset", {"type": "Hard"}
    if action is RemedyAction.UNLOCK_CONNECTOR:
        return "UnlockConnector", {"connectorId": intent.evse_id}
    if action is RemedyAction.SET_INOPERATIVE:
        return "ChangeAvailability", {"connectorId": intent.evse_id, "type": "Inoperative"}
    if action is RemedyAction.SET_OPERATIVE:
        return "ChangeAvailability", {"connectorId": intent.evse_id, "type": "Operative"}
    reference = intent.transaction_ref or ""
    if not (reference.isascii() and reference.isdigit()):
        raise ValueError(f"RemoteStopTransaction needs an integer transactionId, the session's is {reference!r}")
    return "RemoteStopTransaction", {"transactionId": int(reference)}


def screen_message(text: str, language: str, vendor_id: str, message_id: str = "DisplayMessage",
                   connector_id: int | None = None) -> dict[str, Any]:
    """A DataTransfer.req payload that asks a charger to show ``text`` on its screen.

    OCPP 1.6 has no standard display message, so vendorId/messageId are the charger vendor's
    (vendorId ≤ 255, messageId ≤ 50 characters per the 1.6 schema)."""
    if not vendor_id or len(vendor_id) > 255:
        raise ValueError("vendorId must be 1..255 characters")
    if len(message_id) > 50:
        raise ValueError("messageId must be at most 50 characters")
    data: dict[str, Any] = {"text": text, "language": language}
    if connector_id is not None:
        data["connectorId"] = connector_id
    return {"vendorId": vendor_id, "messageId": message_id, "data": json.dumps(data, ensure_ascii=False)}
