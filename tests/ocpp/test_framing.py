import json

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


@pytest.mark.parametrize("text", [
    '[2,"1","DataTransfer",{"vendorId":"v","data":"\\u00e9"}]',  # an escape: the full check, accepted
    '[2,"1","DataTransfer",{"vendorId":"v","data":"é"}]',  # not ASCII: the full check, accepted
    '[2,"1","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"t","sampledValue":[{"value":"1"}]}]}]',
    '[2,"1","DataTransfer",{"vendorId":"v","data":[1,-2,2.5,1e10,-9223372036854775808,9223372036854775807]}]',
    '[2,"1","DataTransfer",{"vendorId":"v","data":1e308}]',
    '[2,"1","DataTransfer",{"vendorId":"v","data":1e309}]',
    '[2,"1","DataTransfer",{"vendorId":"v","data":-9223372036854775809}]',
    '[2,"1","DataTransfer",{"vendorId":"v","data":NaN}]',
    '[2,"1","DataTransfer",{"vendorId":"v","data":-Infinity}]',
    '[2,"1","DataTransfer",{"vendorId":"v","data":1' + "0" * 400 + '.5}]',
    '[2,"1","DataTransfer",{"vendorId":"v","data":"a\x00"}]',  # a raw NUL: not JSON at all
    '[2,"1","DataTransfer",{"vendorId":"v","d":' + "[" * 31 + "]" * 31 + "}]",
    '[3,"1",{"status":"Accepted","n":100000000000000000000}]',
    '[2,"1","DataTransfer",{"vendorId":"v"',
])
def test_the_quick_decode_agrees_with_decoding_and_checking_every_value(text):
    """parse() skips the walk over every value when the text cannot hold what it refuses; it must decide
    exactly as the walk does."""
    def full(text):
        frame = json.loads(text)
        payload = frame[3] if frame[0] == 2 else frame[2]
        framing.check_values(frame[1], payload)
        return frame

    try:
        expected = ("ok", full(text))
    except FrameError as exc:
        expected = ("refused", exc.error_code, exc.details)
    except ValueError:
        expected = ("refused", ErrorCode.FORMATION_VIOLATION, {})
    try:
        message = framing.parse(text)
        got = ("ok", [2 if isinstance(message, Call) else 3, message.message_id,
                      *([message.action] if isinstance(message, Call) else []), message.payload])
    except FrameError as exc:
        got = ("refused", exc.error_code, exc.details)
    assert got == expected
    if got[0] == "ok":  # same values, same types (an int stays an int)
        assert repr(got[1]) == repr(expected[1])
