"""Automatic remediation: which remedies to ask for which open incidents.

Pure: the caller passes the open incidents, the remedies already taken (which it persists) and
``now``; it gets back the remedies due, as protocol-neutral :class:`RemedyIntent` (the charger's
adapter renders each into its own OCPP version's CALL). Each rule fires at most once per incident,
and a per-charger budget (K actions per window) stops a broken charger from being reset in a loop —
a reset that does not help must reach a human, not be repeated.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chargewatch.domain.model import RemedyAction, RemedyIntent
from chargewatch.domain.signals import require_utc
from chargewatch.faults.incidents import Incident, IncidentKind, IncidentStatus

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
            "stop-stalled-session", IncidentKind.STALLED_SESSION, RemedyAction.STOP_SESSION, timedelta(minutes=20)
        ),
    )
    max_actions_per_charger: int = 2
    window: timedelta = timedelta(hours=6)


@dataclass(frozen=True)
class RemedyTaken:
    """A remedy a rule already asked for: what the once-per-incident rule and the budget count."""

    charger_id: str
    incident_id: str
    rule: str
    at: datetime


@dataclass(frozen=True)
class RemedyCommand(RemedyTaken):
    """A remedy due now: ``intent`` for the charger of ``incident_id``, asked by ``rule``."""

    intent: RemedyIntent


def remedy_intent(action: RemedyAction, incident: Incident, transaction_ref: str | None = None) -> RemedyIntent:
    """The intent carrying out ``action`` for ``incident`` (on its connector; ``transaction_ref`` is the
    charger's reference of the incident's session). ValueError when the incident lacks what it needs."""
    evse_id = incident.connector_id or 0
    if action is RemedyAction.UNLOCK_CONNECTOR and evse_id == 0:
        raise ValueError(f"unlocking needs a connector; incident {incident.id} has none")
    if action is RemedyAction.STOP_SESSION and not transaction_ref:
        raise ValueError(f"stopping needs the session's transaction; incident {incident.id} has none")
    return RemedyIntent(action, evse_id, 1 if evse_id else None,
                        transaction_ref if action is RemedyAction.STOP_SESSION else None)


@dataclass(frozen=True)
class RemediationPlan:
    commands: tuple[RemedyCommand, ...]
    skipped: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    """(incident id, why) for due rules that were held back, so the operator sees why nothing happened."""


def plan_remediation(
    incidents: Iterable[Incident],
    history: Sequence[RemedyTaken],
    now: datetime,
    policy: RemediationPolicy | None = None,
    busy_chargers: Collection[str] = (),
    transaction_refs: Mapping[str, str] | None = None,
) -> RemediationPlan:
    """Remedies due at ``now``. ``history`` is every remedy taken before (any age); ``busy_chargers``
    are chargers with a session delivering energy, which resets would abort; ``transaction_refs`` maps an
    incident's ``session_id`` to the charger's reference of that session (needed to stop it)."""
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
            reference = (transaction_refs or {}).get(incident.session_id or "")
            try:
                intent = remedy_intent(rule.action, incident, reference)
            except ValueError as error:
                skipped.append((incident.id, f"{rule.name}: {error}"))
                continue
            commands.append(RemedyCommand(incident.charger_id, incident.id, rule.name, now, intent))
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
