"""Driver guidance: complete for OCPP 1.6, bilingual, extensible by the operator."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chargewatch.faults.catalog import (
    SCREEN_TEXT_MAX,
    SITUATION_BY_KIND,
    CatalogError,
    ErrorCatalog,
    guidance_for,
)
from chargewatch.faults.incidents import Evidence, IncidentKind, Severity, open_incident

OCPP16_ERROR_CODES = [
    "ConnectorLockFailure",
    "EVCommunicationError",
    "GroundFailure",
    "HighTemperature",
    "InternalError",
    "LocalListConflict",
    "NoError",
    "OtherError",
    "OverCurrentFailure",
    "OverVoltage",
    "PowerMeterFailure",
    "PowerSwitchFailure",
    "ReaderFailure",
    "ResetFailure",
    "UnderVoltage",
    "WeakSignal",
]


@pytest.mark.parametrize("code", OCPP16_ERROR_CODES)
@pytest.mark.parametrize("lang", ["en", "de"])
def test_every_ocpp16_error_code_has_guidance_in_english_and_german(code: str, lang: str) -> None:
    guidance = guidance_for(code, lang=lang)
    assert (guidance.key, guidance.language) == (code, lang)
    assert guidance.driver_message and guidance.technical and guidance.screen_text


def test_every_detected_situation_has_guidance() -> None:
    assert set(SITUATION_BY_KIND.values()) <= ErrorCatalog.builtin().keys


def test_screen_texts_fit_a_charger_display() -> None:
    for code in OCPP16_ERROR_CODES:
        for lang in ("en", "de"):
            assert len(guidance_for(code, lang=lang).screen_text) <= SCREEN_TEXT_MAX


def test_regional_language_falls_back_to_its_base_language() -> None:
    assert guidance_for("GroundFailure", lang="de-AT").language == "de"


def test_unknown_language_falls_back_to_english() -> None:
    assert guidance_for("GroundFailure", lang="fr").language == "en"


def test_vendor_code_is_more_specific_than_the_ocpp_code() -> None:
    guidance = guidance_for("OtherError", vendor_id="com.evgo.mrec", vendor_error_code="A001")
    assert guidance.key == "com.evgo.mrec:A001"
    assert "Partial Insertion" in guidance.technical


def test_first_known_code_of_a_compound_vendor_code_is_used() -> None:
    guidance = guidance_for("OtherError", vendor_id="com.evgo.mrec", vendor_error_code="F999,F000")
    assert guidance.vendor_error_code == "F000"


def test_unknown_vendor_code_falls_back_to_the_ocpp_code() -> None:
    guidance = guidance_for("GroundFailure", vendor_id="ACME", vendor_error_code="E42")
    assert (guidance.key, guidance.severity) == ("GroundFailure", Severity.CRITICAL)


def test_unknown_error_code_falls_back_to_other_error() -> None:
    assert guidance_for("FluxCapacitorFailure").key == "OtherError"


def test_operator_file_rewords_one_language_and_keeps_the_rest(tmp_path: Path) -> None:
    text = {
        "title": "Erdschluss",
        "driver_message": "Bitte rufen Sie 0800 123 an.",
        "driver_steps": [],
        "technical": "RCD ausgelöst.",
        "operator_checklist": ["Techniker rufen"],
        "screen_text": "Störung – 0800 123",
    }
    path = tmp_path / "operator.json"
    path.write_text(json.dumps({"version": 1, "entries": {"GroundFailure": {"texts": {"de": text}}}}))
    catalog = ErrorCatalog.builtin().with_operator_file(path)
    assert catalog.guidance_for("GroundFailure", lang="de").screen_text == "Störung – 0800 123"
    assert catalog.guidance_for("GroundFailure", lang="en").title == "Ground fault"
    assert catalog.guidance_for("GroundFailure").severity is Severity.CRITICAL


def test_operator_file_adds_vendor_codes(tmp_path: Path) -> None:
    text = {
        "title": "Lid open",
        "driver_message": "Close the service lid.",
        "driver_steps": ["Close the lid"],
        "technical": "Door switch open.",
        "operator_checklist": ["Check the door switch"],
        "screen_text": "Close the lid.",
    }
    path = tmp_path / "operator.json"
    path.write_text(
        json.dumps({"version": 1, "vendors": {"ACME": {"E7": {"severity": "fault", "texts": {"en": text}}}}})
    )
    catalog = ErrorCatalog.builtin().with_operator_file(path)
    guidance = catalog.guidance_for("OtherError", vendor_id="acme", vendor_error_code="E7", lang="de")
    assert (guidance.title, guidance.language, guidance.severity) == ("Lid open", "en", Severity.FAULT)


def test_malformed_operator_file_names_the_place_of_the_mistake(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"version": 1, "entries": {"GroundFailure": {"texts": {"de": {"title": "x"}}}}}))
    with pytest.raises(CatalogError, match=r"bad\.json: entries\.GroundFailure\.texts\.de is missing"):
        ErrorCatalog.from_file(path)


def test_operator_file_that_is_not_json_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"version": 1,\n "entries": }')
    with pytest.raises(CatalogError, match="line 2"):
        ErrorCatalog.from_file(path)


def test_operator_file_with_a_bad_severity_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"version": 1, "entries": {"X": {"severity": "meh", "texts": {}}}}))
    with pytest.raises(CatalogError, match="severity must be one of"):
        ErrorCatalog.from_file(path)


def test_incident_guidance_uses_the_vendor_code_of_its_first_evidence() -> None:
    now = datetime(2026, 11, 2, tzinfo=UTC)
    incident = open_incident(
        kind=IncidentKind.CONNECTOR_ERROR,
        severity=Severity.FAULT,
        charger_id="CP1",
        connector_id=1,
        code="OtherError",
        first_seen=now,
        opened_at=now,
        evidence=Evidence(now, "StatusNotification", {"vendorId": "com.evgo.mrec", "vendorErrorCode": "A003"}),
    )
    assert ErrorCatalog.builtin().guidance_for_incident(incident).key == "com.evgo.mrec:A003"
