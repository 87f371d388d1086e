"""OCPP 2.0.1 NotifyEvent → the connector status signals the fault domain already understands.

In 2.0.1 a fault is a component's variable reported by NotifyEvent (OCPP 2.0.1 part 2, appendix
"Standardized components and variables"), not an errorCode on StatusNotification. Each problem event
becomes the status a 1.6 charger would have sent for the same fault (the 1.6 ChargePointErrorCode the
fault catalog carries guidance for); a cleared event, or a Problem variable back to false, is the
return to ``NoError`` that resolves the incident.

Also the 2.0.1 connector status transition table, which fault detection asks (:func:`allowed_after`) whether a
reported status may follow the one before it on that EVSE.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...domain.model import ConnectorStatusChanged
from ...timeutil import parse_timestamp

# (component, variable) → 1.6 error code; a component alone matches any of its variables.
_ERROR_CODES: dict[tuple[str, str | None], str] = {
    ("ConnectorPlugRetentionLock", None): "ConnectorLockFailure",
    ("RCD", None): "GroundFailure",
    ("ElectricalFeed", "GroundFault"): "GroundFailure",
    ("OverCurrentProtection", None): "OverCurrentFailure",
    ("PowerContactor", None): "PowerSwitchFailure",
    ("PowerMeter", None): "PowerMeterFailure",
    ("TokenReader", None): "ReaderFailure",
    ("ControllerTemperature", None): "HighTemperature",
    ("TemperatureSensor", None): "HighTemperature",
    ("ChargingStation", "Tilted"): "OtherError",
    ("ElectricalFeed", "OverVoltage"): "OverVoltage",
    ("ElectricalFeed", "UnderVoltage"): "UnderVoltage",
    ("ConnectedEV", None): "EVCommunicationError",
}
# Variables whose value says "this component has a problem" (true) or "no longer" (false).
_PROBLEM_VARIABLES = frozenset({"Problem", "Fault", "Tripped", "Operated", "Tilted"})
_TRUE = frozenset({"true", "1", "yes", "on"})


def error_code(component: str, variable: str) -> str:
    return _ERROR_CODES.get((component, variable)) or _ERROR_CODES.get((component, None)) or "OtherError"


def status_changes(event_data: list[dict[str, Any]], statuses: dict[int, str], received_at: datetime
                   ) -> list[ConnectorStatusChanged]:
    """The status changes a NotifyEvent's eventData amount to (informational events change nothing)."""
    changes = []
    for event in event_data:
        component = event["component"]
        variable = event["variable"]["name"]
        connector_id = int((component.get("evse") or {}).get("id") or 0)
        value = str(event.get("actualValue", "")).strip().lower()
        is_problem_variable = variable in _PROBLEM_VARIABLES
        cleared = bool(event.get("cleared")) or (is_problem_variable and value not in _TRUE)
        alerting = event.get("trigger") == "Alerting" or bool(event.get("techCode"))
        if not (cleared or is_problem_variable or alerting):
            continue  # a Delta/Periodic report of an ordinary variable
        current = statuses.get(connector_id, "Available")
        if cleared:
            status, code = ("Available" if current == "Faulted" else current), "NoError"
        else:
            code = error_code(component["name"], variable)
            status = "Faulted" if is_problem_variable and code != "EVCommunicationError" else current
        statuses[connector_id] = status
        info = event.get("techInfo") or event.get("actualValue") or None
        changes.append(ConnectorStatusChanged(
            connector_id=connector_id, status=status, error_code=code,
            info=None if info is None else str(info)[:50],
            vendor_id=f"{component['name']}.{variable}"[:255], vendor_error_code=event.get("techCode"),
            timestamp=parse_timestamp(event["timestamp"]), received_at=received_at,
            # the connector the component sits on (0: the EVSE as a whole, no one connector's own status)
            evse_connector_id=int((component.get("evse") or {}).get("connectorId") or 0),
        ))
    return changes


# ---------------------------------------------------------------- connector status transitions

# OCPP 2.0.1 connectorStatus (part 2, ConnectorStatusEnumType; use cases G01 and H01): which status may follow
# which. Faulted and Unavailable can come and go from any state; Reserved only follows a connector free to take
# the reservation (Available, or a reservation kept across Unavailable/Faulted): an Occupied connector cannot
# become Reserved without becoming Available first (H01: a reservation needs a free connector). Unlike 1.6,
# the five in-use states are one (Occupied), so 1.6's Finishing → Reserved or Reserved → Charging rules vanish.
TRANSITIONS: dict[str, frozenset[str]] = {
    "Available": frozenset({"Occupied", "Reserved", "Unavailable", "Faulted"}),
    "Occupied": frozenset({"Available", "Unavailable", "Faulted"}),
    "Reserved": frozenset({"Available", "Occupied", "Unavailable", "Faulted"}),
    "Unavailable": frozenset({"Available", "Occupied", "Reserved", "Faulted"}),
    "Faulted": frozenset({"Available", "Occupied", "Reserved", "Unavailable"}),
}
# The neutral statuses (1.6 words, what the store and detection see) that 2.0.1's Occupied is refined into
# by the transaction's chargingState; between them a 2.0.1 connector makes no transition at all.
OCCUPIED = frozenset({"Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing"})


def connector_status(neutral: str) -> str:
    """The 2.0.1 connectorStatus a neutral status stands for."""
    return "Occupied" if neutral in OCCUPIED else neutral


def _neutral(status: str) -> frozenset[str]:
    return OCCUPIED if status == "Occupied" else frozenset({status})


# For each neutral status: the neutral statuses it may follow on a 2.0.1 connector (the same 2.0.1 status included).
_ALLOWED_AFTER: dict[str, frozenset[str]] = {
    neutral: frozenset().union(*(_neutral(previous) for previous, nexts in TRANSITIONS.items()
                                 if connector_status(neutral) in nexts or previous == connector_status(neutral)))
    for neutral in (*(s for s in TRANSITIONS if s != "Occupied"), *OCCUPIED)
}


def allowed_after(connector_id: int, status: str) -> frozenset[str] | None:
    """The neutral statuses ``status`` may follow on a 2.0.1 EVSE (None: a status 2.0.1 does not know)."""
    return _ALLOWED_AFTER.get(status)
