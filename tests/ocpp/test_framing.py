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
