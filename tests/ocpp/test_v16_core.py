"""The sans-IO OCPP 1.6 core: plain values in, reply + changes out."""

from datetime import UTC, datetime
from itertools import count

import pytest

from chargewatch.ocpp import v16
from chargewatch.ocpp.framing import ErrorCode
from helpers import boot, meter, ts

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def env(**overrides):
    ids = count(1000)
    values = dict(now=NOW, id_tag_info=lambda tag: {"status": "Accepted" if tag == "GOOD" else "Invalid"},
                  allocate_transaction_id=lambda: next(ids), heartbeat_interval=120)
    values.update(overrides)
    return v16.Environment(**values)


def run(action, payload, state=None, environment=None):
    state = state or v16.ChargerState("CP-1")
    outcome = v16.handle(action, payload, state, environment or env())
    return outcome


def start_payload(**kw):
    return {"connectorId": 1, "idTag": "GOOD", "meterStart": 10_000, "timestamp": ts(0), **kw}


def test_boot_is_accepted_with_server_time_and_heartbeat_interval():
    outcome = run("BootNotification", boot())
    assert outcome.reply == {"status": "Accepted", "currentTime": "2026-11-02T09:30:00.000Z", "interval": 120}
    assert isinstance(outcome.changes[0], v16.ChargerBooted)


def test_authorize_answers_from_the_id_tag_directory():
    assert run("Authorize", {"idTag": "GOOD"}).reply == {"idTagInfo": {"status": "Accepted"}}
    assert run("Authorize", {"idTag": "BAD"}).reply == {"idTagInfo": {"status": "Invalid"}}


def test_start_transaction_allocates_an_id_and_opens_a_session():
    outcome = run("StartTransaction", start_payload())
    assert outcome.reply["transactionId"] == 1000
    assert outcome.state.active[1].meter_start_wh == 10_000


def test_resent_start_transaction_returns_the_same_transaction():
    first = run("StartTransaction", start_payload())
    again = v16.handle("StartTransaction", start_payload(), first.state, env())
    assert again.reply["transactionId"] == first.reply["transactionId"]
    assert again.changes == []


def test_new_start_on_a_busy_connector_closes_the_old_session_as_missing_stop():
    first = run("StartTransaction", start_payload())
    second = v16.handle("StartTransaction", start_payload(timestamp=ts(60)), first.state, env())
    closed = [c.session for c in second.changes if isinstance(c, v16.SessionChanged) and not c.session.active]
    assert closed[0].flags == ("missing_stop",)


def test_meter_values_update_the_session_energy():
    started = run("StartTransaction", start_payload())
    tx = started.reply["transactionId"]
    outcome = v16.handle("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": meter(12_500, 10, 15000)},
                         started.state, env())
    assert outcome.state.active[1].energy_wh == 2_500
    assert outcome.state.active[1].power_w == 15_000


def test_stop_transaction_completes_the_session_and_a_replay_changes_nothing():
    started = run("StartTransaction", start_payload())
    tx = started.reply["transactionId"]
    stop = {"transactionId": tx, "meterStop": 15_000, "timestamp": ts(30), "reason": "EVDisconnected"}
    stopped = v16.handle("StopTransaction", stop, started.state, env())
    session = stopped.changes[-1].session
    assert (session.status, session.energy_wh, session.stop_reason) == ("completed", 5_000, "EVDisconnected")
    replayed = v16.handle("StopTransaction", stop, stopped.state, env(fetched_session=session))
    assert replayed.changes == []


def test_stop_transaction_for_an_unknown_transaction_is_still_accepted():
    outcome = run("StopTransaction", {"transactionId": 999, "meterStop": 1, "timestamp": ts(1), "idTag": "GOOD"})
    assert outcome.reply == {"idTagInfo": {"status": "Accepted"}}


def test_data_transfer_without_a_registered_vendor_is_unknown_vendor():
    assert run("DataTransfer", {"vendorId": "acme"}).reply == {"status": "UnknownVendorId"}


@pytest.mark.parametrize(
    "action, payload, code",
    [
        ("FlyToTheMoon", {}, ErrorCode.NOT_IMPLEMENTED),
        ("RemoteStartTransaction", {"idTag": "x"}, ErrorCode.NOT_SUPPORTED),
        ("BootNotification", {"chargePointVendor": "x"}, ErrorCode.PROTOCOL_ERROR),
        ("StatusNotification", {"connectorId": "one", "errorCode": "NoError", "status": "Available"},
         ErrorCode.TYPE_CONSTRAINT_VIOLATION),
        ("StatusNotification", {"connectorId": 1, "errorCode": "Melted", "status": "Available"},
         ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
        ("MeterValues", {"connectorId": 1, "meterValue": []}, ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION),
        ("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": ts(0), "sampledValue": [{"value": "abc"}]}]},
         ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
    ],
)
def test_bad_calls_get_the_ocpp16_callerror(action, payload, code):
    with pytest.raises(v16.CallRejected) as caught:
        run(action, payload)
    assert caught.value.error_code == code


def test_extra_vendor_fields_are_tolerated():
    assert run("Heartbeat", {"vendorExtra": 1}).reply["currentTime"]


def test_state_is_not_mutated_in_place():
    state = v16.ChargerState("CP-1")
    run("StartTransaction", start_payload(), state)
    assert state.active == {}


@pytest.mark.parametrize("connector_id", [1.0, 1e308])
def test_a_float_is_not_an_integer_in_the_draft_04_schemas(connector_id):
    with pytest.raises(v16.CallRejected) as caught:
        v16.validate("StatusNotification", {"connectorId": connector_id, "errorCode": "NoError",
                                            "status": "Available"})
    assert caught.value.error_code == "TypeConstraintViolation"


def test_a_sampled_value_too_large_for_the_store_is_refused_before_it_is_converted():
    payload = {"connectorId": 1, "meterValue": [{"timestamp": "2026-11-02T09:00:00Z", "sampledValue": [
        {"value": "9e999999", "measurand": "Power.Active.Import"}]}]}
    with pytest.raises(v16.CallRejected) as caught:
        v16.validate("MeterValues", payload)
    assert caught.value.details == {"field": "meterValue[0].sampledValue[0].value"}
