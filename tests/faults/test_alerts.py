"""Alert routing, webhook payload and signature, retry schedule, e-mail text."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargewatch.faults.alerts import (
    AlertRouting,
    Channel,
    RetrySchedule,
    SignatureError,
    build_email,
    encode_body,
    sign,
    verify_signature,
    webhook_payload,
)
from chargewatch.faults.catalog import guidance_for
from chargewatch.faults.detection import AlertDue, Escalated, Opened, Resolved
from chargewatch.faults.incidents import Evidence, Incident, IncidentKind, Severity, open_incident

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
SECRET = "whsec_test"


def incident(severity: Severity = Severity.CRITICAL) -> Incident:
    return open_incident(
        kind=IncidentKind.CONNECTOR_ERROR,
        severity=severity,
        charger_id="CP1",
        connector_id=2,
        code="GroundFailure",
        first_seen=T0,
        opened_at=T0,
        evidence=Evidence(T0, "StatusNotification", {"status": "Faulted", "errorCode": "GroundFailure"}),
        outage=True,
    )


@pytest.mark.parametrize(
    ("severity", "channels"),
    [
        (Severity.INFO, {Channel.DASHBOARD}),
        (Severity.WARNING, {Channel.DASHBOARD, Channel.WEBHOOK}),
        (Severity.CRITICAL, {Channel.DASHBOARD, Channel.WEBHOOK, Channel.EMAIL}),
    ],
)
def test_due_alert_is_routed_by_severity(severity: Severity, channels: set[Channel]) -> None:
    assert AlertRouting().channels_for(AlertDue(incident(severity), T0)) == channels


def test_opening_reaches_only_the_dashboard() -> None:
    assert AlertRouting().channels_for(Opened(incident(), T0)) == {Channel.DASHBOARD}


def test_escalation_adds_the_escalation_channels() -> None:
    routing = AlertRouting.from_dict({"by_severity": {"warning": ["dashboard"]}})
    assert routing.channels_for(Escalated(incident(Severity.WARNING), T0, 1)) == {Channel.DASHBOARD, Channel.EMAIL}


def test_resolution_reaches_those_who_were_alerted() -> None:
    alerted = replace(incident(Severity.WARNING), alerted_severity=Severity.WARNING)
    event = Resolved(alerted, T0, Evidence(T0, "StatusNotification"))
    assert AlertRouting().channels_for(event) == {Channel.DASHBOARD, Channel.WEBHOOK}


def test_routing_config_with_an_unknown_channel_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid alert routing"):
        AlertRouting.from_dict({"by_severity": {"fault": ["pager"]}})


def test_webhook_payload_carries_type_incident_and_guidance() -> None:
    payload = webhook_payload(AlertDue(incident(), T0), "d-1", guidance_for("GroundFailure"))
    assert payload["type"] == "incident.alert"
    assert payload["incident"]["code"] == "GroundFailure"
    assert payload["guidance"]["title"] == "Ground fault"
    assert json.loads(encode_body(payload)) == payload


def test_signature_has_the_stripe_like_format() -> None:
    header = sign(b'{"a":1}', SECRET, 1_790_000_000)
    assert header.startswith("t=1790000000,v1=")
    assert len(header.split("v1=")[1]) == 64


def test_valid_signature_verifies() -> None:
    body = encode_body({"a": 1})
    verify_signature(body, sign(body, SECRET, 1000), SECRET, now=1100)


def test_tampered_body_is_rejected() -> None:
    header = sign(b'{"a":1}', SECRET, 1000)
    with pytest.raises(SignatureError, match="no v1 signature matches"):
        verify_signature(b'{"a":2}', header, SECRET, now=1000)


def test_old_signature_is_rejected_as_a_replay() -> None:
    header = sign(b"{}", SECRET, 1000)
    with pytest.raises(SignatureError, match="outside the tolerance"):
        verify_signature(b"{}", header, SECRET, now=1000 + 301)


def test_any_of_several_v1_signatures_may_match_during_secret_rotation() -> None:
    header = sign(b"{}", "new", 1000) + ",v1=" + sign(b"{}", SECRET, 1000).split("v1=")[1]
    verify_signature(b"{}", header, SECRET, now=1000)


@pytest.mark.parametrize("header", [None, "", "v1=abc", "t=x,v1=abc", "t=1000"])
def test_malformed_signature_header_is_rejected(header: str | None) -> None:
    with pytest.raises(SignatureError):
        verify_signature(b"{}", header, SECRET, now=1000)


@given(st.binary(max_size=200), st.text(min_size=1, max_size=20), st.integers(0, 2**40))
def test_sign_then_verify_roundtrips(body: bytes, secret: str, timestamp: int) -> None:
    verify_signature(body, sign(body, secret, timestamp), secret, now=timestamp)


def test_retry_schedule_backs_off_exponentially_up_to_the_cap() -> None:
    schedule = RetrySchedule(
        max_attempts=6, initial_delay=timedelta(seconds=5), factor=2, max_delay=timedelta(seconds=30)
    )
    assert [d.total_seconds() for d in schedule.delays()] == [0, 5, 10, 20, 30, 30]


def test_retry_schedule_rejects_attempts_past_the_maximum() -> None:
    with pytest.raises(ValueError, match="attempt must be within"):
        RetrySchedule(max_attempts=3).delay_before(4)


def test_email_has_subject_checklist_and_driver_text_in_plain_text() -> None:
    guidance = guidance_for("GroundFailure")
    message = build_email(AlertDue(incident(), T0), guidance, "alerts@cpo.example", ["ops@cpo.example"])
    assert message["Subject"] == "[chargewatch] CRITICAL alert: Ground fault at CP1/2"
    body = message.get_content()
    assert guidance.operator_checklist[0] in body
    assert guidance.driver_message in body
    assert message.get_content_type() == "text/plain"


def test_email_in_german_uses_the_german_guidance() -> None:
    message = build_email(
        AlertDue(incident(), T0), guidance_for("GroundFailure", lang="de"), "a@x.example", ["b@x.example"]
    )
    assert "Fehlerstrom" in message["Subject"]
