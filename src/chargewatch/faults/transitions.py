"""The OCPP 1.6 connector status transition table (OCPP 1.6 edition 2, section 4.9).

Kept apart from detection because the table is spec data, not a rule: a transition missing here
is flagged as a firmware deviation, never refused (the central system always answers
StatusNotification.conf).
"""

from __future__ import annotations

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


def is_allowed_transition(previous: str, current: str) -> bool:
    """Re-reporting the same status (after a TriggerMessage or reconnect) is always allowed."""
    if previous == current:
        return True
    return current in ALLOWED_TRANSITIONS.get(previous, frozenset())
