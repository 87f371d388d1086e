"""Automatic remediation: the right remedy intent, once, within a per-charger budget (each OCPP version's
words for the intents are tested with the adapters, in tests/ocpp/test_remedies.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chargewatch.domain.model import RemedyIntent
from chargewatch.faults.incidents import Evidence, Incident, IncidentKind, IncidentStatus, Severity, open_incident
from chargewatch.faults.remediation import (
    RemediationPolicy,
    RemediationRule,
    RemedyAction,
    plan_remediation,
    remedy_intent,
)

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def incident(
    charger_id: str = "CP1",
    code: str | None = "InternalError",
    kind: IncidentKind = IncidentKind.CONNECTOR_ERROR,
    session_id: str | None = None,
) -> Incident:
    return open_incident(
        kind=kind,
        severity=Severity.FAULT,
        charger_id=charger_id,
        connector_id=1,
        code=code,
        first_seen=T0,
        opened_at=T0,
        evidence=Evidence(T0, "StatusNotification"),
        session_id=session_id,
    )


def test_internal_error_gets_one_soft_reset_after_ten_minutes() -> None:
    assert plan_remediation([incident()], [], T0 + timedelta(minutes=9)).commands == ()
    [command] = plan_remediation([incident()], [], T0 + timedelta(minutes=10)).commands
    assert command.intent == RemedyIntent(RemedyAction.SOFT_RESET, evse_id=1, connector_id=1)


def test_a_rule_fires_only_once_per_incident() -> None:
    first = plan_remediation([incident()], [], T0 + timedelta(minutes=10)).commands
    again = plan_remediation([incident()], first, T0 + timedelta(hours=12)).commands
    assert again == ()


def test_actions_are_rate_limited_per_charger() -> None:
    policy = RemediationPolicy(max_actions_per_charger=2, window=timedelta(hours=6))
    incidents = [replace(incident(), id=f"i{n}") for n in range(3)]
    plan = plan_remediation(incidents, [], T0 + timedelta(minutes=10), policy)
    assert len(plan.commands) == 2
    assert plan.skipped == (("i2", "soft-reset-internal-error: action budget for CP1 used up"),)


def test_budget_frees_up_after_the_window() -> None:
    policy = RemediationPolicy(max_actions_per_charger=1, window=timedelta(hours=1))
    sent = plan_remediation([replace(incident(), id="a")], [], T0 + timedelta(minutes=10), policy).commands
    later = plan_remediation([replace(incident(), id="b")], sent, T0 + timedelta(minutes=80), policy)
    assert len(later.commands) == 1


def test_reset_is_held_back_while_the_charger_delivers_energy() -> None:
    plan = plan_remediation([incident()], [], T0 + timedelta(minutes=10), busy_chargers={"CP1"})
    assert plan.commands == ()
    assert "session in progress" in plan.skipped[0][1]


def test_acknowledged_incidents_are_left_to_the_human() -> None:
    acknowledged = replace(incident(), status=IncidentStatus.ACKNOWLEDGED)
    assert plan_remediation([acknowledged], [], T0 + timedelta(hours=1)).commands == ()


def test_stalled_session_is_stopped_with_the_chargers_own_transaction_reference() -> None:
    stalled = incident(kind=IncidentKind.STALLED_SESSION, code=None, session_id="4711")
    [command] = plan_remediation([stalled], [], T0 + timedelta(minutes=20),
                                 transaction_refs={"4711": "a1b2-station-tx"}).commands
    assert command.intent == RemedyIntent(RemedyAction.STOP_SESSION, 1, 1, transaction_ref="a1b2-station-tx")


@pytest.mark.parametrize("action", [RemedyAction.HARD_RESET, RemedyAction.UNLOCK_CONNECTOR,
                                    RemedyAction.SET_INOPERATIVE, RemedyAction.SET_OPERATIVE])
def test_each_action_is_an_intent_on_the_incidents_connector(action: RemedyAction) -> None:
    assert remedy_intent(action, incident()) == RemedyIntent(action, evse_id=1, connector_id=1)


def test_a_charger_wide_incident_cannot_be_unlocked_but_can_be_set_inoperative() -> None:
    charger_wide = replace(incident(), connector_id=None)
    with pytest.raises(ValueError, match="needs a connector"):
        remedy_intent(RemedyAction.UNLOCK_CONNECTOR, charger_wide)
    assert remedy_intent(RemedyAction.SET_INOPERATIVE, charger_wide) == RemedyIntent(RemedyAction.SET_INOPERATIVE)


def test_custom_rule_unlocks_a_stuck_connector() -> None:
    rule = RemediationRule(
        "unlock", IncidentKind.CONNECTOR_ERROR, RemedyAction.UNLOCK_CONNECTOR, timedelta(0), "ConnectorLockFailure"
    )
    plan = plan_remediation([incident(code="ConnectorLockFailure")], [], T0, RemediationPolicy(rules=(rule,)))
    assert plan.commands[0].intent == RemedyIntent(RemedyAction.UNLOCK_CONNECTOR, evse_id=1, connector_id=1)


@pytest.mark.parametrize(("session_id", "refs"), [(None, {}), ("4711", {})])
def test_stop_without_the_chargers_transaction_reference_is_skipped_with_a_reason(session_id, refs) -> None:
    stalled = incident(kind=IncidentKind.STALLED_SESSION, code=None, session_id=session_id)
    plan = plan_remediation([stalled], [], T0 + timedelta(minutes=20), transaction_refs=refs)
    assert plan.commands == ()
    assert "session's transaction" in plan.skipped[0][1]
