"""Vendor error-code catalogs, guidance that quotes the charger's words, alert contents and the repeat-trip
remediation rule (issue 17, items 12, 13 and 17)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chargewatch.domain.model import RemedyIntent
from chargewatch.faults.alerts import build_email, webhook_payload
from chargewatch.faults.catalog import CatalogError, ErrorCatalog, vendor_file
from chargewatch.faults.detection import AlertDue
from chargewatch.faults.incidents import Evidence, IncidentKind, Severity, open_incident, record_occurrence
from chargewatch.faults.remediation import RemediationPolicy, RemediationRule, RemedyAction, plan_remediation

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def ground_fault(vendor_id: str | None = "Alfen BV", code: str | None = "E0803", info: str | None = "RCD 30mA"):
    data = {"connectorId": 1, "status": "Faulted", "errorCode": "GroundFailure"}
    data.update({k: v for k, v in (("vendorId", vendor_id), ("vendorErrorCode", code), ("info", info)) if v})
    return open_incident(kind=IncidentKind.CONNECTOR_ERROR, severity=Severity.CRITICAL, charger_id="CP1",
                         connector_id=1, code="GroundFailure", first_seen=T0, opened_at=T0,
                         evidence=Evidence(T0, "StatusNotification", data), outage=True)


def write_vendor(folder: Path, name: str, body: object) -> Path:
    path = folder / name
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def test_a_vendor_file_gives_the_vendor_codes_guidance(tmp_path: Path) -> None:
    write_vendor(tmp_path, "Alfen BV.json", {"codes": {"E0803": {
        "title": "DC leakage detected by the RDC-DD", "driver_text": "Unplug and use another connector.",
        "operator_checklist": ["Run the RDC-DD self test", "Check the EV side for insulation faults"]}}})
    catalog = ErrorCatalog.builtin().with_vendor_dir(tmp_path)
    guidance = catalog.guidance_for_incident(ground_fault())
    assert guidance.key == "Alfen BV:E0803" and guidance.title == "DC leakage detected by the RDC-DD"
    assert guidance.driver_message == "Unplug and use another connector."
    assert guidance.operator_checklist == ("Run the RDC-DD self test", "Check the EV side for insulation faults")


def test_without_a_vendor_entry_the_guidance_quotes_the_vendor_code_and_info() -> None:
    guidance = ErrorCatalog.builtin().guidance_for_incident(ground_fault())
    assert guidance.key == "GroundFailure"
    assert "Alfen BV E0803 — RCD 30mA" in guidance.title and "Alfen BV E0803 — RCD 30mA" in guidance.technical


def test_without_vendor_words_the_guidance_stays_as_catalogued() -> None:
    plain = ErrorCatalog.builtin().guidance_for("GroundFailure")
    assert ErrorCatalog.builtin().guidance_for_incident(ground_fault(None, None, None)).title == plain.title


def test_a_malformed_vendor_file_is_refused_with_its_place(tmp_path: Path) -> None:
    path = write_vendor(tmp_path, "ABB.json", {"codes": {"0x1F": {"title": "Trip"}}})
    with pytest.raises(CatalogError, match=r"ABB.json: codes.0x1F needs a title and a driver_text"):
        vendor_file(path)


def test_alerts_say_when_drivers_were_first_affected_and_the_next_action() -> None:
    incident = ground_fault()
    guidance = ErrorCatalog.builtin().guidance_for_incident(incident)
    event = AlertDue(incident, T0 + timedelta(minutes=1))
    payload = webhook_payload(event, "d-1", guidance)
    assert payload["drivers_affected_since"] == T0.isoformat()
    assert payload["next_action"] == guidance.operator_checklist[0]
    body = build_email(event, guidance, "cw@example.org", ["ops@example.org"]).get_content()
    assert f"Drivers affected since: {T0.isoformat()}" in body
    assert f"Next action: {guidance.operator_checklist[0]}" in body


def test_repeat_trip_rule_takes_the_connector_out_of_service_only_after_repeats() -> None:
    rule = RemediationRule("inoperative-after-trips", IncidentKind.CONNECTOR_ERROR, RemedyAction.SET_INOPERATIVE,
                           timedelta(seconds=1), code="GroundFailure", min_occurrences=3)
    policy = RemediationPolicy(rules=(rule,))
    once = ground_fault()
    assert plan_remediation([once], [], T0 + timedelta(minutes=1), policy).commands == ()
    thrice = record_occurrence(record_occurrence(once, Evidence(T0, "x")), Evidence(T0, "x"))
    [command] = plan_remediation([thrice], [], T0 + timedelta(minutes=1), policy).commands
    assert command.intent == RemedyIntent(RemedyAction.SET_INOPERATIVE, evse_id=1, connector_id=1)
    assert plan_remediation([thrice], [command], T0 + timedelta(minutes=2), policy).commands == ()
