"""Fault handling, pure: detection rules, incidents, guidance, remediation, uptime and alert content.

Nothing here does I/O or reads the clock; the gateway feeds signals in and the shell
(``chargewatch.notify``, the store, the API) acts on the events that come out.
"""

from chargewatch.faults.catalog import ErrorCatalog, Guidance, guidance_for
from chargewatch.faults.detection import (
    AlertDue,
    Escalated,
    FaultConfig,
    FaultDetector,
    IncidentEvent,
    Opened,
    Resolved,
    Updated,
)
from chargewatch.faults.incidents import Incident, IncidentKind, IncidentStatus, Severity

__all__ = [
    "AlertDue",
    "ErrorCatalog",
    "Escalated",
    "FaultConfig",
    "FaultDetector",
    "Guidance",
    "Incident",
    "IncidentEvent",
    "IncidentKind",
    "IncidentStatus",
    "Opened",
    "Resolved",
    "Severity",
    "Updated",
    "guidance_for",
]
