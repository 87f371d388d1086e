"""OCMF signed meter values: real payloads signed with a key made in the test."""

import json
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chargewatch.billing.ocmf import VerificationStatus, compare_with_meter, verify_ocmf

PAYLOAD = {
    "FV": "1.0", "GI": "ABL SBC-301", "GS": "808829900001", "GV": "1.4p3", "PG": "T12345",
    "MV": "Phoenix Contact", "MM": "EEM-350-D-MCB", "MS": "BQ27400330016", "MF": "1.0",
    "IS": True, "IL": "VERIFIED", "IF": ["RFID_PLAIN", "OCPP_RS_TLS"], "IT": "ISO14443", "ID": "1F2D3A4F5506C7",
    "CT": "EVSEID", "CI": "DE*CWT*E0001",
    "RD": [
        {"TM": "2026-11-24T13:22:04,000+0100 S", "TX": "B", "RV": 2935.6, "RI": "1-b:1.8.0", "RU": "kWh",
         "RT": "AC", "EF": "", "ST": "G"},
        {"TM": "2026-11-24T14:31:10,000+0100 S", "TX": "E", "RV": 2954.8, "RI": "1-b:1.8.0", "RU": "kWh",
         "RT": "AC", "EF": "", "ST": "G"},
    ],
}


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def sign(key: ec.EllipticCurvePrivateKey, payload_text: str) -> str:
    signature = key.sign(payload_text.encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    return f'OCMF|{payload_text}|{{"SA":"ECDSA-secp256r1-SHA256","SD":"{signature.hex()}"}}'


def public_hex(key: ec.EllipticCurvePrivateKey) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ).hex()


def test_signed_payload_verifies_with_the_hex_der_key(key):
    result = verify_ocmf(sign(key, json.dumps(PAYLOAD)), public_hex(key))
    assert result.valid and result.status is VerificationStatus.VALID
    assert result.meter_serial == "BQ27400330016"


def test_signed_payload_verifies_with_a_pem_key(key):
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    assert verify_ocmf(sign(key, json.dumps(PAYLOAD)), pem).valid


def test_verification_uses_the_exact_payload_bytes_not_a_reserialisation(key):
    spaced = json.dumps(PAYLOAD, indent=1)  # unusual but signed formatting must still verify
    assert verify_ocmf(sign(key, spaced), public_hex(key)).valid


def test_tampered_reading_fails_verification(key):
    text = sign(key, json.dumps(PAYLOAD)).replace("2954.8", "2994.8")
    result = verify_ocmf(text, public_hex(key))
    assert not result.valid
    assert "does not match" in result.reason


def test_signature_from_another_key_fails(key):
    other = ec.generate_private_key(ec.SECP256R1())
    assert not verify_ocmf(sign(other, json.dumps(PAYLOAD)), public_hex(key)).valid


def test_garbage_is_invalid_with_a_reason(key):
    result = verify_ocmf("OCMF|not json|{}", public_hex(key))
    assert not result.valid and result.reason


def test_readings_carry_transaction_time_and_register_in_wh(key):
    result = verify_ocmf(sign(key, json.dumps(PAYLOAD)), public_hex(key))
    begin, end = result.reading("B"), result.reading("E")
    assert begin.register_wh == Decimal("2935600.0")
    assert end.register_wh == Decimal("2954800.0")
    assert end.time.isoformat() == "2026-11-24T13:31:10+00:00"
    assert begin.time_status == "S"


def test_signed_readings_matching_the_meter_agree(key):
    result = verify_ocmf(sign(key, json.dumps(PAYLOAD)), public_hex(key))
    assert compare_with_meter(result, 2_935_600, 2_954_800).agrees


def test_signed_end_reading_disagreeing_with_meter_stop_is_flagged(key):
    result = verify_ocmf(sign(key, json.dumps(PAYLOAD)), public_hex(key))
    agreement = compare_with_meter(result, 2_935_600, 2_960_000)
    assert not agreement.agrees
    assert "meter stop 2960000 Wh" in agreement.reason
