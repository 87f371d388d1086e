"""OCPP 2.0.1 NotifyEvent → the connector status signals the fault domain already understands.

In 2.0.1 a fault is a component's variable reported by NotifyEvent (OCPP 2.0.1 part 2, appendix
"Standardized components and variables"), not an errorCode on StatusNotification. Each problem event
becomes the status a 1.6 charger would have sent for the same fault (the 1.6 ChargePointErrorCode the
fault catalog carries guidance for); a cleared event, or a Problem variable back to false, is the
return to ``NoError`` that resolves the incident.
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
        ))
    return changes
