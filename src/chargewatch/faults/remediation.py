"""Automatic remediation: which OCPP commands to send for which open incidents.

Pure: the caller passes the open incidents, the actions already taken (which it persists) and
``now``; it gets back the commands to send. Each rule fires at most once per incident, and a
per-charger budget (K actions per window) stops a broken charger from being reset in a loop —
a reset that does not help must reach a human, not be repeated.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from chargewatch.faults.incidents import Incident, IncidentKind, IncidentStatus
from chargewatch.faults.signals import require_utc


class RemedyAction(StrEnum):
    SOFT_RESET = "SoftReset"
    HARD_RESET = "HardReset"
    UNLOCK_CONNECTOR = "UnlockConnector"
    SET_INOPERATIVE = "SetInoperative"
    SET_OPERATIVE = "SetOperative"
    REMOTE_STOP = "RemoteStopTransaction"


# Resets and availability changes interrupt every session on the charger.
_DISRUPTIVE = frozenset({RemedyAction.SOFT_RESET, RemedyAction.HARD_RESET})


@dataclass(frozen=True)
class RemediationRule:
    """Send ``action`` once an incident of ``kind`` (and ``code``, if given) has been open ``after``."""

    name: str
    kind: IncidentKind
    action: RemedyAction
    after: timedelta
    code: str | None = None
    include_acknowledged: bool = False
    min_occurrences: int = 1  # e.g. take a connector out of service only once a safety trip repeated


@dataclass(frozen=True)
class RemediationPolicy:
    rules: tuple[RemediationRule, ...] = (
        RemediationRule(
            "soft-reset-internal-error",
            IncidentKind.CONNECTOR_ERROR,
            RemedyAction.SOFT_RESET,
            timedelta(minutes=10),
            code="InternalError",
        ),
        RemediationRule(
            "stop-stalled-session", IncidentKind.STALLED_SESSION, RemedyAction.REMOTE_STOP, timedelta(minutes=20)
        ),
    )
    max_actions_per_charger: int = 2
    window: timedelta = timedelta(hours=6)


@dataclass(frozen=True)
class RemedyCommand:
    """An OCPP 1.6 CALL to send: ``action`` name and its request payload."""

    charger_id: str
    ocpp_action: str
    payload: dict[str, Any]
    incident_id: str
    rule: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "charger_id": self.charger_id,
            "ocpp_action": self.ocpp_action,
            "payload": dict(self.payload),
            "incident_id": self.incident_id,
            "rule": self.rule,
            "at": self.at.isoformat(),
        }


def ocpp_request(action: RemedyAction, incident: Incident) -> tuple[str, dict[str, Any]]:
    """The OCPP 1.6 action name and payload carrying out ``action`` for ``incident``."""
    connector_id = incident.connector_id or 0
    if action is RemedyAction.SOFT_RESET:
        return "Reset", {"type": "Soft"}
    if action is RemedyAction.HARD_RESET:
        return "Reset", {"type": "Hard"}
    if action is RemedyAction.UNLOCK_CONNECTOR:
        if connector_id == 0:
            raise ValueError(f"UnlockConnector needs a connector; incident {incident.id} has none")
        return "UnlockConnector", {"connectorId": connector_id}
    if action is RemedyAction.SET_INOPERATIVE:
        return "ChangeAvailability", {"connectorId": connector_id, "type": "Inoperative"}
    if action is RemedyAction.SET_OPERATIVE:
        return "ChangeAvailability", {"connectorId": connector_id, "type": "Operative"}
    if incident.session_id is None or not incident.session_id.isdigit():
        raise ValueError(f"RemoteStopTransaction needs an integer transactionId; incident {incident.id} has none")
    return "RemoteStopTransaction", {"transactionId": int(incident.session_id)}


@dataclass(frozen=True)
class RemediationPlan:
    commands: tuple[RemedyCommand, ...]
    skipped: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    """(incident id, why) for due rules that were held back, so the operator sees why nothing happened."""


def plan_remediation(
    incidents: Iterable[Incident],
    history: Sequence[RemedyCommand],
    now: datetime,
    policy: RemediationPolicy | None = None,
    busy_chargers: Collection[str] = (),
) -> RemediationPlan:
    """Commands due at ``now``. ``history`` is every command sent before (any age); ``busy_chargers``
    are chargers with a session delivering energy, which resets would abort."""
    require_utc(now, "now")
    policy = policy or RemediationPolicy()
    done = {(command.incident_id, command.rule) for command in history}
    budget: dict[str, int] = {}
    for command in history:
        if now - command.at < policy.window:
            budget[command.charger_id] = budget.get(command.charger_id, 0) + 1
    commands: list[RemedyCommand] = []
    skipped: list[tuple[str, str]] = []
    for incident in sorted(incidents, key=lambda i: (i.first_seen, i.id)):
        for rule in policy.rules:
            if not _rule_applies(rule, incident, now) or (incident.id, rule.name) in done:
                continue
            if rule.action in _DISRUPTIVE and incident.charger_id in busy_chargers:
                skipped.append((incident.id, f"{rule.name}: charger has a session in progress"))
                continue
            if budget.get(incident.charger_id, 0) >= policy.max_actions_per_charger:
                skipped.append((incident.id, f"{rule.name}: action budget for {incident.charger_id} used up"))
                continue
            try:
                action, payload = ocpp_request(rule.action, incident)
            except ValueError as error:
                skipped.append((incident.id, f"{rule.name}: {error}"))
                continue
            commands.append(RemedyCommand(incident.charger_id, action, payload, incident.id, rule.name, now))
            budget[incident.charger_id] = budget.get(incident.charger_id, 0) + 1
    return RemediationPlan(tuple(commands), tuple(skipped))


def _rule_applies(rule: RemediationRule, incident: Incident, now: datetime) -> bool:
    allowed = {IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED} if rule.include_acknowledged else {IncidentStatus.OPEN}
    return (
        incident.status in allowed
        and incident.kind is rule.kind
        and (rule.code is None or incident.code == rule.code)
        and now - incident.first_seen >= rule.after
        and incident.occurrences >= rule.min_occurrences
    )
