"""Each adapter's fault specifics: remedy intents in its version's words (checked against that version's official
schema by ``render``) and its connector status transition rules, which fault detection asks per status report."""

from __future__ import annotations

import pytest

from chargewatch.domain.model import ChargerState, RemedyAction, RemedyIntent
from chargewatch.ocpp import v16, v201

STOP = RemedyIntent(RemedyAction.STOP_SESSION, 2, 1, transaction_ref="4711")


@pytest.mark.parametrize(("intent", "v16_call", "v201_call"), [
    (RemedyIntent(RemedyAction.SOFT_RESET), ("Reset", {"type": "Soft"}), ("Reset", {"type": "OnIdle"})),
    (RemedyIntent(RemedyAction.HARD_RESET), ("Reset", {"type": "Hard"}), ("Reset", {"type": "Immediate"})),
    (RemedyIntent(RemedyAction.UNLOCK_CONNECTOR, 2, 1), ("UnlockConnector", {"connectorId": 2}),
     ("UnlockConnector", {"evseId": 2, "connectorId": 1})),
    (RemedyIntent(RemedyAction.SET_INOPERATIVE, 2, 1),
     ("ChangeAvailability", {"connectorId": 2, "type": "Inoperative"}),
     ("ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 2}})),
    (RemedyIntent(RemedyAction.SET_OPERATIVE), ("ChangeAvailability", {"connectorId": 0, "type": "Operative"}),
     ("ChangeAvailability", {"operationalStatus": "Operative"})),
    (STOP, ("RemoteStopTransaction", {"transactionId": 4711}), ("RequestStopTransaction", {"transactionId": "4711"})),
])
def test_each_remedy_intent_in_each_versions_words(intent: RemedyIntent, v16_call: tuple, v201_call: tuple) -> None:
    for adapter, expected in ((v16.ADAPTER, v16_call), (v201.ADAPTER, v201_call)):
        rendered = adapter.render_remedy(intent)
        assert (rendered.action, rendered.payload) == expected
        assert rendered.mapped_from == intent.action.value


def test_a_201_station_is_stopped_by_its_own_transaction_id_which_16_cannot_say() -> None:
    station_tx = RemedyIntent(RemedyAction.STOP_SESSION, 1, 1, transaction_ref="f3c9-TX")
    assert v201.ADAPTER.render_remedy(station_tx).payload == {"transactionId": "f3c9-TX"}
    with pytest.raises(ValueError, match="integer transactionId"):
        v16.ADAPTER.render_remedy(station_tx)


def test_an_intent_missing_what_it_needs_is_refused_before_any_adapter() -> None:
    with pytest.raises(ValueError, match="transaction reference"):
        RemedyIntent(RemedyAction.STOP_SESSION, 1, 1)
    with pytest.raises(ValueError, match="needs a connector"):
        RemedyIntent(RemedyAction.UNLOCK_CONNECTOR)


def test_native_201_unlock_passes_through_the_command_api_unchanged() -> None:
    """A 2.0.1 UnlockConnector (evseId + connectorId) is not mistaken for the 1.6 one (connectorId alone)."""
    rendered = v201.ADAPTER.render("UnlockConnector", {"evseId": 2, "connectorId": 2}, ChargerState("S"))
    assert rendered.payload == {"evseId": 2, "connectorId": 2}


@pytest.mark.parametrize(("previous", "status", "v16_allowed", "v201_allowed"), [
    ("Finishing", "Charging", False, True),   # 2.0.1: Occupied stays Occupied, no transition at all
    ("Charging", "Preparing", False, True),
    ("Finishing", "Reserved", False, False),  # 2.0.1: Occupied -> Reserved
    ("Charging", "Reserved", False, False),
    ("Reserved", "Charging", False, True),    # 2.0.1: Reserved -> Occupied (the reserving driver plugs in)
    ("Available", "Reserved", True, True),
    ("Unavailable", "Reserved", False, True),  # 2.0.1: a reservation kept across Unavailable
    ("Faulted", "Available", True, True),
    ("Charging", "Charging", True, True),     # a re-report
])
def test_transition_rules_per_version(previous: str, status: str, v16_allowed: bool, v201_allowed: bool) -> None:
    for adapter, expected in ((v16.ADAPTER, v16_allowed), (v201.ADAPTER, v201_allowed)):
        allowed = adapter.allowed_after(1, status)
        assert allowed is not None and (previous in allowed) is expected, (adapter.version, previous, status)


def test_16_connector_zero_knows_three_states_and_201_has_no_such_rule() -> None:
    assert v16.ADAPTER.allowed_after(0, "Charging") == frozenset()
    assert v16.ADAPTER.allowed_after(0, "Faulted") is None
    assert v201.ADAPTER.allowed_after(0, "Reserved") == v201.ADAPTER.allowed_after(1, "Reserved")


def test_every_16_schema_compiles_the_security_extension_ones_with_their_id_too() -> None:
    """The security whitepaper's schemas carry "$id", which renamed fastjsonschema's generated function: a
    SecurityEventNotification (or LogStatusNotification, SignedFirmwareStatusNotification) then got no answer."""
    from chargewatch.ocpp import schemas

    names = sorted(schemas._names("ocpp1.6"))
    assert "SecurityEventNotification" in names
    for name in names:
        for strict in (False, True):
            assert schemas.validator("ocpp1.6", name, strict) is not None, name
    schemas.validate("ocpp1.6", "SecurityEventNotification", {"type": "TamperDetectionActivated",
                                                               "timestamp": "2026-11-02T09:00:00Z"})


def test_the_16_screen_message_is_a_vendor_datatransfer_that_201_renders_as_a_display_message() -> None:
    import json

    from chargewatch.faults.catalog import guidance_for
    from chargewatch.ocpp.v16.faults import screen_message

    guidance = guidance_for("ReaderFailure", lang="de")
    payload = screen_message(guidance.screen_text, guidance.language, vendor_id="com.example", connector_id=2)
    assert payload["vendorId"] == "com.example"
    assert json.loads(payload["data"]) == {"text": guidance.screen_text, "language": "de", "connectorId": 2}
    shown = v201.ADAPTER.render("DataTransfer", payload, ChargerState("S"))
    assert shown.action == "SetDisplayMessage"
    assert shown.payload["message"]["message"]["content"] == guidance.screen_text
