"""The sans-IO OCPP 2.0.1 adapter: plain 2.0.1 payloads (shapes from the 2.0.1 spec's examples) in, reply and
neutral changes out; and operator commands rendered for a 2.0.1 station."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from itertools import count

import pytest

from chargewatch.domain.model import ChargerState, ConnectorStatusChanged, ReadingsRecorded, SessionChanged
from chargewatch.ocpp import v201
from chargewatch.ocpp.adapter import CallRejected, Environment, NeedSession, NeedStartKey
from helpers import ts

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
ADAPTER = v201.ADAPTER


def env(**overrides):
    ids = count(5000)
    values = dict(now=NOW, id_tag_info=lambda tag: {"status": "Accepted" if tag == "GOOD" else "Invalid"},
                  allocate_transaction_id=lambda: next(ids), heartbeat_interval=120)
    values.update(overrides)
    return Environment(**values)


def register(kwh: str, minutes: float, context: str = "Sample.Periodic", signed: dict | None = None) -> dict:
    sampled = {"value": float(kwh), "context": context, "measurand": "Energy.Active.Import.Register",
               "unitOfMeasure": {"unit": "kWh"}}
    if signed:
        sampled["signedMeterValue"] = signed
    return {"timestamp": ts(minutes), "sampledValue": [sampled]}


def event(event_type: str, seq: int, minutes: float, *, tx: str = "TX-1", meter=None, **extra) -> dict:
    payload = {"eventType": event_type, "timestamp": ts(minutes), "triggerReason": "MeterValuePeriodic",
               "seqNo": seq, "transactionInfo": {"transactionId": tx, **extra.pop("info", {})}, **extra}
    if event_type == "Started":
        payload.setdefault("evse", {"id": 1, "connectorId": 1})
    if meter:
        payload["meterValue"] = meter
    return payload


class Station:
    """Feeds events through the adapter, adopting the state as the gateway does after commit."""

    def __init__(self):
        self.state = ChargerState("CS-1")
        self.env = env()

    def send(self, action: str, payload: dict):
        outcome = ADAPTER.handle(action, payload, self.state, self.env)
        self.state = outcome.state
        return outcome

    def session(self, outcome):
        return [c.session for c in outcome.changes if isinstance(c, SessionChanged)][-1]


def test_boot_reports_the_station_in_neutral_words():
    outcome = Station().send("BootNotification", {"reason": "PowerUp", "chargingStation": {
        "model": "SingleSocketCharger", "vendorName": "VendorX", "firmwareVersion": "1.2"}})
    assert outcome.reply == {"status": "Accepted", "currentTime": "2026-11-02T09:30:00.000Z", "interval": 120}
    info = outcome.changes[0].info
    assert (info["chargePointVendor"], info["chargePointModel"], info["reason"]) == ("VendorX", "SingleSocketCharger",
                                                                                     "PowerUp")


def test_occupied_is_preparing_without_a_transaction_and_charging_with_one():
    cs = Station()
    occupied = {"timestamp": ts(0), "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1}
    assert cs.send("StatusNotification", occupied).changes[0].status == "Preparing"
    cs.send("TransactionEvent", event("Started", 0, 0, meter=[register("10.0", 0, "Transaction.Begin")]))
    assert cs.send("StatusNotification", occupied).changes[0].status == "Charging"


def test_occupied_after_the_transaction_ended_is_finishing_not_preparing():
    cs = Station()
    cs.send("TransactionEvent", event("Started", 0, 0, meter=[register("2000", 0, "Transaction.Begin")],
                                      info={"chargingState": "Charging"}, idToken={"idToken": "GOOD",
                                                                                   "type": "ISO14443"}))
    cs.send("TransactionEvent", event("Ended", 1, 10, meter=[register("2001", 10, "Transaction.End")],
                                      info={"stoppedReason": "Local"}))
    occupied = {"timestamp": ts(11), "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1}
    assert cs.send("StatusNotification", occupied).changes[0].status == "Finishing"


def test_group_id_token_and_expiry_come_from_the_directory_entry():
    cs = Station()
    cs.env = env(id_tag_info=lambda tag: {"status": "Accepted", "expiryDate": "2027-01-01T00:00:00Z",
                                          "parentIdTag": "FLEET-7"})
    reply = cs.send("Authorize", {"idToken": {"idToken": "GOOD", "type": "ISO14443"}}).reply
    assert reply == {"idTokenInfo": {"status": "Accepted", "cacheExpiryDateTime": "2027-01-01T00:00:00Z",
                                     "groupIdToken": {"idToken": "FLEET-7", "type": "Central"}}}


def test_the_started_event_names_the_internal_session_id_in_custom_data():
    outcome = Station().send("TransactionEvent", event("Started", 0, 0, meter=[register("10.0", 0,
                                                                                         "Transaction.Begin")]))
    assert outcome.reply["customData"] == {"vendorId": "org.chargewatch", "sessionId": 5000}
    assert Station().session(outcome).transaction_ref == "TX-1"


def test_a_redelivered_event_changes_nothing_and_creates_nothing():
    cs = Station()
    cs.send("TransactionEvent", event("Started", 0, 0, meter=[register("10.0", 0, "Transaction.Begin")]))
    updated = event("Updated", 1, 15, meter=[register("12.5", 15)])
    first = cs.send("TransactionEvent", updated)
    again = cs.send("TransactionEvent", updated)
    assert cs.session(first).energy_wh == 2_500
    assert not any(isinstance(c, SessionChanged) for c in again.changes)
    assert "customData" not in again.reply


def test_events_queued_offline_flag_the_session_as_delivered_late():
    cs = Station()
    cs.send("TransactionEvent", event("Started", 0, 0, meter=[register("10.0", 0, "Transaction.Begin")]))
    late = cs.send("TransactionEvent", event("Updated", 1, 15, offline=True, meter=[register("11.0", 15)]))
    assert "delivered_offline" in cs.session(late).flags


def test_an_updated_event_for_an_unknown_transaction_opens_it_and_flags_the_missing_started():
    cs = Station()
    outcome = cs.send("TransactionEvent", event("Updated", 4, 15, evse={"id": 2}, meter=[register("11.0", 15)]))
    session = cs.session(outcome)
    assert session.connector_id == 2 and set(session.flags) == {"sequence_gap", "start_from_first_sample"}
    later = cs.send("TransactionEvent", event("Updated", 5, 30, meter=[register("12.0", 30)]))
    assert cs.session(later).energy_wh == 1_000  # counted from the first register it sent


def test_the_id_token_may_arrive_on_a_later_event():
    cs = Station()
    cs.send("TransactionEvent", event("Started", 0, 0, meter=[register("10.0", 0, "Transaction.Begin")]))
    outcome = cs.send("TransactionEvent", event("Updated", 1, 1, idToken={"idToken": "GOOD", "type": "ISO14443"}))
    assert outcome.reply == {"idTokenInfo": {"status": "Accepted"}}
    assert cs.session(outcome).id_tag == "GOOD"


def test_a_signed_meter_value_is_kept_verbatim_beside_the_plain_reading():
    signed = {"signedMeterData": "T0NNRnx7IlRYIjoiQiJ9fHsiU0EiOiJFQ0RTQSJ9", "signingMethod": "ECDSA-secp256r1-SHA256",
              "encodingMethod": "OCMF", "publicKey": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"}
    outcome = Station().send("TransactionEvent", event("Started", 0, 0, meter=[
        register("10.0", 0, "Transaction.Begin", signed=signed)]))
    readings = [c for c in outcome.changes if isinstance(c, ReadingsRecorded)][0].readings
    plain, signed_reading = readings
    assert (plain.value, plain.unit, plain.signed) == (Decimal("10000.0"), "Wh", None)
    assert json.loads(signed_reading.signed) == signed and signed_reading.context == "Transaction.Begin"


def test_the_unit_multiplier_scales_by_powers_of_ten():
    outcome = Station().send("MeterValues", {"evseId": 1, "meterValue": [{"timestamp": ts(0), "sampledValue": [
        {"value": 7.5, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W", "multiplier": 3}}]}]})
    reading = outcome.changes[0].readings[0]
    assert (reading.value, reading.unit, outcome.changes[0].transaction_id) == (Decimal("7500.0"), "W", None)


def test_the_charging_state_becomes_the_connector_status_once_per_change():
    cs = Station()
    started = cs.send("TransactionEvent", event("Started", 0, 0, info={"chargingState": "EVConnected"}))
    charging = cs.send("TransactionEvent", event("Updated", 1, 1, info={"chargingState": "Charging"}))
    still = cs.send("TransactionEvent", event("Updated", 2, 2, info={"chargingState": "Charging"}))
    statuses = [[c.status for c in o.changes if isinstance(c, ConnectorStatusChanged)]
                for o in (started, charging, still)]
    assert statuses == [["Preparing"], ["Charging"], []]


def test_a_notify_event_problem_faults_the_connector_and_its_return_to_false_clears_it():
    cs = Station()
    problem = {"eventId": 7, "timestamp": ts(1), "trigger": "Delta", "actualValue": "true", "techCode": "LCK-02",
               "eventNotificationType": "HardWiredNotification", "component": {
                   "name": "ConnectorPlugRetentionLock", "evse": {"id": 1, "connectorId": 1}},
               "variable": {"name": "Problem"}}
    fault = cs.send("NotifyEvent", {"generatedAt": ts(1), "seqNo": 0, "eventData": [problem]}).changes[0]
    assert (fault.connector_id, fault.status, fault.error_code, fault.vendor_error_code) == (
        1, "Faulted", "ConnectorLockFailure", "LCK-02")
    cleared = cs.send("NotifyEvent", {"generatedAt": ts(2), "seqNo": 1, "eventData": [
        {**problem, "eventId": 8, "actualValue": "false", "timestamp": ts(2)}]}).changes[0]
    assert (cleared.status, cleared.error_code) == ("Available", "NoError")


def test_a_faulted_status_after_the_notify_event_keeps_its_detail_and_a_faulted_status_alone_has_no_code():
    cs = Station()
    rcd = {"eventId": 1, "timestamp": ts(1), "trigger": "Alerting", "actualValue": "true", "techCode": "E-RCD-30",
           "eventNotificationType": "HardWiredNotification", "component": {"name": "RCD", "evse": {"id": 1}},
           "variable": {"name": "Tripped"}}
    cs.send("NotifyEvent", {"generatedAt": ts(1), "seqNo": 0, "eventData": [rcd]})
    faulted = {"timestamp": ts(1), "connectorStatus": "Faulted", "evseId": 1, "connectorId": 1}
    assert cs.send("StatusNotification", faulted).changes == []  # not a second, vaguer fault
    alone = Station().send("StatusNotification", faulted).changes[0]
    assert (alone.status, alone.error_code) == ("Faulted", "NoError")  # 2.0.1 says no code: its NotifyEvent names it


def test_an_ordinary_variable_report_is_not_a_fault():
    report = {"eventId": 1, "timestamp": ts(1), "trigger": "Periodic", "actualValue": "230.1",
              "eventNotificationType": "PreconfiguredMonitor", "component": {"name": "ElectricalFeed"},
              "variable": {"name": "Voltage"}}
    assert Station().send("NotifyEvent", {"generatedAt": ts(1), "seqNo": 0, "eventData": [report]}).changes == []


def test_a_missing_required_field_is_an_occurrence_constraint_violation():
    with pytest.raises(CallRejected) as rejected:
        Station().send("StatusNotification", {"timestamp": ts(0), "evseId": 1, "connectorId": 1})
    assert rejected.value.error_code == "OccurenceConstraintViolation"  # framing's name; spelled on the wire:
    assert ADAPTER.spell(rejected.value.error_code) == "OccurrenceConstraintViolation"


def test_lookups_ask_for_the_stored_session_of_a_transaction_not_in_memory():
    state = ChargerState("CS-1")
    payload = event("Ended", 9, 60, tx="TX-OLD")
    assert ADAPTER.lookups("TransactionEvent", payload, state) == [NeedStartKey("TX-OLD"),
                                                                    NeedSession(start_key="TX-OLD")]
    state.start_keys["TX-OLD"] = 42
    assert ADAPTER.lookups("TransactionEvent", payload, state) == [NeedSession(transaction_id=42)]


@pytest.mark.parametrize(("action", "payload", "rendered"), [
    ("Reset", {"type": "Soft"}, ("Reset", {"type": "OnIdle"})),
    ("ChangeAvailability", {"connectorId": 2, "type": "Inoperative"},
     ("ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 2}})),
    ("ChangeAvailability", {"connectorId": 0, "type": "Operative"},
     ("ChangeAvailability", {"operationalStatus": "Operative"})),
    ("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1},
     ("TriggerMessage", {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}})),
    ("TriggerMessage", {"requestedMessage": "DiagnosticsStatusNotification"},
     ("TriggerMessage", {"requestedMessage": "LogStatusNotification"})),
    ("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "60"},
     ("SetVariables", {"setVariableData": [{"component": {"name": "SampledDataCtrlr"},
                                            "variable": {"name": "TxUpdatedInterval"}, "attributeValue": "60"}]})),
    ("RemoteStopTransaction", {"transactionId": 42}, ("RequestStopTransaction", {"transactionId": "TX-42"})),
])
def test_16_commands_are_rendered_as_their_201_equivalents(action, payload, rendered):
    state = ChargerState("CS-1", start_keys={"TX-42": 42})
    command = ADAPTER.render(action, payload, state)
    assert (command.action, command.payload) == rendered
    assert command.mapped_from == action


def test_a_native_201_command_passes_through_and_an_invalid_one_names_the_field():
    native = ADAPTER.render("GetVariables", {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"},
                                                                  "variable": {"name": "HeartbeatInterval"}}]},
                            ChargerState("CS-1"))
    assert native.action == "GetVariables" and native.mapped_from is None
    with pytest.raises(ValueError, match="operationalStatus"):
        ADAPTER.render("ChangeAvailability", {"operationalStatus": "Sideways"}, ChargerState("CS-1"))
    with pytest.raises(ValueError, match="no transaction"):
        ADAPTER.render("RemoteStopTransaction", {"transactionId": 7}, ChargerState("CS-1"))


def test_driver_screen_guidance_sent_by_datatransfer_to_16_is_a_display_message_in_201():
    cs = Station()
    cs.send("TransactionEvent", event("Started", 0, 0, tx="TX-SCREEN", meter=[register("1.0", 0, "Transaction.Begin")]))
    guidance = {"vendorId": "com.vendor", "messageId": "DisplayMessage",
                "data": json.dumps({"text": "Bitte Kabel neu einstecken", "language": "de", "connectorId": 1})}
    command = ADAPTER.render("DataTransfer", guidance, cs.state)
    assert (command.action, command.mapped_from) == ("SetDisplayMessage", "DataTransfer")
    assert command.payload == {"message": {
        "id": 1, "priority": "InFront", "transactionId": "TX-SCREEN",
        "message": {"format": "UTF8", "content": "Bitte Kabel neu einstecken", "language": "de"},
        "display": {"name": "Display", "evse": {"id": 1}}}}
    vendor = ADAPTER.render("DataTransfer", {"vendorId": "com.vendor", "data": "raw"}, cs.state)
    assert vendor.action == "DataTransfer" and vendor.mapped_from is None


def test_no_lookup_is_asked_for_a_transaction_event_the_schema_refuses():
    too_long = event("Updated", 1, 1, tx="T" * 37)
    with pytest.raises(CallRejected) as refused:  # as in 1.6: lookups validate first, a refused call has none
        ADAPTER.lookups("TransactionEvent", too_long, ChargerState("CS-1"))
    assert refused.value.error_code == "PropertyConstraintViolation"
    with pytest.raises(CallRejected):
        ADAPTER.handle("TransactionEvent", too_long, ChargerState("CS-1"), env())
    huge_seq = {**event("Updated", 1, 1), "seqNo": 2**40}
    with pytest.raises(CallRejected) as refused:
        ADAPTER.lookups("TransactionEvent", huge_seq, ChargerState("CS-1"))
    assert (refused.value.error_code, refused.value.details) == ("PropertyConstraintViolation", {"field": "seqNo"})


def _report_item(component: dict, variable: str, value: str | None, unit: str | None = None,
                 max_limit: float | None = None, attribute_type: str = "Actual") -> dict:
    characteristics: dict = {"dataType": "decimal", "supportsMonitoring": False}
    if unit:
        characteristics["unit"] = unit
    if max_limit is not None:
        characteristics["maxLimit"] = max_limit
    attribute = {"type": attribute_type, **({"value": value} if value is not None else {})}
    return {"component": component, "variable": {"name": variable}, "variableAttribute": [attribute],
            "variableCharacteristics": characteristics}


def test_a_notify_report_part_becomes_variables_topology_and_progress():
    state = ChargerState("CS-1")
    part = {"requestId": 3, "generatedAt": ts(0), "seqNo": 0, "tbc": True, "reportData": [
        _report_item({"name": "evse", "evse": {"id": 1}}, "power", None, unit="kW", max_limit=11),  # any case
        _report_item({"name": "EVSE", "evse": {"id": 2}}, "Power", "150000", attribute_type="MaxSet"),
        _report_item({"name": "Connector", "evse": {"id": 2, "connectorId": 2}}, "ConnectorType", "cCHAdeMO"),
        _report_item({"name": "Connector", "evse": {"id": 1}}, "ConnectorType", "sType2"),  # connector 1 implied
    ]}
    outcome = ADAPTER.handle("NotifyReport", part, state, env())
    report = outcome.changes[0]
    assert outcome.reply == {} and len(report.variables) == 4
    assert [(c.evse_id, c.connector_id, c.connector_type, c.max_power_w) for c in report.connectors] == [
        (1, 0, None, 11_000), (1, 1, "sType2", None), (2, 0, None, 150_000), (2, 2, "cCHAdeMO", None)]
    assert (report.progress.parts, report.progress.complete, report.progress.sequence_gap) == (1, False, False)
    state = outcome.state
    again = ADAPTER.handle("NotifyReport", part, state, env()).changes[0].progress  # re-delivered: not counted
    final_part = {**part, "seqNo": 2, "tbc": False, "reportData": part["reportData"][:1]}
    last = ADAPTER.handle("NotifyReport", final_part, state, env())
    assert again.parts == 1
    assert (last.changes[0].progress.parts, last.changes[0].progress.complete,
            last.changes[0].progress.sequence_gap) == (2, True, True)  # seqNo 1 never came


def test_an_evse_with_two_connectors_is_in_use_while_its_other_connector_is_unavailable():
    state = ChargerState("CS-1")

    def status(plug: int, reported: str, minutes: float):
        nonlocal state
        outcome = ADAPTER.handle("StatusNotification", {"timestamp": ts(minutes), "connectorStatus": reported,
                                                        "evseId": 1, "connectorId": plug}, state, env())
        state = outcome.state
        change = outcome.changes[0]
        return change.status, change.evse_connector_id, change.reported_status

    assert status(1, "Available", 0) == ("Available", 1, "Available")
    assert status(2, "Available", 0) == ("Available", 2, "Available")
    assert status(2, "Occupied", 1) == ("Preparing", 2, "Occupied")
    assert status(1, "Unavailable", 1) == ("Preparing", 1, "Unavailable")
    assert status(2, "Available", 2) == ("Available", 2, "Available")  # the unplugged cable frees the EVSE
    assert status(1, "Unavailable", 3) == ("Available", 1, "Unavailable")  # one cable out of use: the EVSE still is
    assert status(2, "Unavailable", 3) == ("Unavailable", 2, "Unavailable")  # the whole EVSE made inoperative
