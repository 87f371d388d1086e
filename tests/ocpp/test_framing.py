import pytest

from chargewatch.ocpp import framing
from chargewatch.ocpp.framing import Call, CallError, CallResult, ErrorCode, FrameError


def test_call_is_parsed_into_action_and_payload():
    assert framing.parse('[2,"42","Heartbeat",{}]') == Call("42", "Heartbeat", {})


def test_callresult_and_callerror_are_parsed():
    assert framing.parse('[3,"7",{"status":"Accepted"}]') == CallResult("7", {"status": "Accepted"})
    assert framing.parse('[4,"7","NotSupported","no",{}]') == CallError("7", "NotSupported", "no", {})


@pytest.mark.parametrize("peer_code, ours", [("FormatViolation", "FormationViolation"),
                                             ("OccurrenceConstraintViolation", "OccurenceConstraintViolation")])
def test_peer_error_code_spellings_are_normalised_to_ocpp16(peer_code, ours):
    assert framing.parse(f'[4,"1","{peer_code}","x",{{}}]').error_code == ours


@pytest.mark.parametrize(
    "text, message_id",
    [
        ("not json", "-1"),
        ('{"a": 1}', "-1"),
        ("[2]", "-1"),
        ('[2, 17, "Heartbeat", {}]', "-1"),
        ('[2, "1", "Heartbeat", []]', "1"),
        ('[2, "1", "Heartbeat"]', "1"),
        ('[9, "1", "Heartbeat", {}]', "1"),
        ('[3, "1", "oops"]', "1"),
    ],
)
def test_malformed_frames_are_formation_violations_with_the_readable_id(text, message_id):
    with pytest.raises(FrameError) as caught:
        framing.parse(text)
    assert caught.value.error_code == ErrorCode.FORMATION_VIOLATION
    assert caught.value.message_id == message_id


def test_serialize_is_compact_ocpp_j():
    assert framing.serialize(CallResult("1", {"currentTime": "x"})) == '[3,"1",{"currentTime":"x"}]'
    assert framing.serialize(CallError("1", "InternalError", "d", {})) == '[4,"1","InternalError","d",{}]'


@pytest.mark.parametrize("text", ["[" * 100_000, '[2,"1","DataTransfer",{"a":' + "[" * 40 + "]" * 40 + "}]"])
def test_nesting_past_the_limit_is_a_formation_violation_not_a_recursion_error(text):
    with pytest.raises(FrameError) as caught:
        framing.parse(text)
    assert caught.value.error_code == ErrorCode.FORMATION_VIOLATION


@pytest.mark.parametrize("text, field", [
    ('[2,"1","Authorize",{"idTag":"\\ud800"}]', "idTag"),
    ('[2,"1","Authorize",{"idTag":"A\\u0000"}]', "idTag"),
    ('[2,"1","StartTransaction",{"meterStart":100000000000000000000}]', "meterStart"),
    ('[2,"1","MeterValues",{"meterValue":[{"sampledValue":[{"value":"\\udfff"}]}]}]',
     "meterValue[0].sampledValue[0].value"),
])
def test_values_no_store_or_peer_can_hold_are_refused_naming_the_field(text, field):
    with pytest.raises(FrameError) as caught:
        framing.parse(text)
    assert caught.value.error_code == ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert caught.value.details == {"field": field} and caught.value.message_id == "1"


def test_a_message_id_that_cannot_be_echoed_gets_the_unknown_id():
    with pytest.raises(FrameError) as caught:
        framing.parse('[2,"\\ud800","Heartbeat",{}]')
    assert caught.value.message_id == framing.UNKNOWN_MESSAGE_ID
