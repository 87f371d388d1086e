"""Signed meter values in both OCPP 1.6 shapes, the key a charger sends along, and the meter clock's time status.

The OCA shape follows the OCA application note "Signed Meter Values in OCPP 1.6" (the value is a JSON
object, as a string, with signedMeterData base64, signingMethod, encodingMethod and publicKey).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chargewatch.billing import MeterSample, VerificationStatus, tariff_from_json
from chargewatch.billing.ocmf import (
    decode_signed_value,
    key_curve,
    public_key_der_hex,
    verify_documents,
    verify_ocmf,
    verify_signed_value,
)
from chargewatch.billing.settlement import Operator, SessionUsage, issue_documents, settle
from chargewatch.sim.ocmf import OcmfSigner, demo_key

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TARIFF = tariff_from_json({"id": "E30", "currency": "EUR", "elements": [
    {"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 19, "step_size": 1}]},
    {"price_components": [{"type": "TIME", "price": 1.20, "vat": 19, "step_size": 60}]},
    {"price_components": [{"type": "PARKING_TIME", "price": 2.40, "vat": 19, "step_size": 60}]}]})
OPERATOR = Operator("op", "Op GmbH", ("Street 1", "10115 Berlin"), "DE1", "DE", "CWA", "Street 1", "10115",
                    "Berlin", "DEU", "52.5", "13.4", "CW")


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def session(signer: OcmfSigner, *, end_wh: int = 14_000) -> SessionUsage:
    """A 45-minute session: charging 30 min from 10,000 to `end_wh` Wh, then 15 min parked, begin/end signed."""
    signed = tuple(signer.signed_value(register_wh=wh, at=moment, transaction=tx, id_tag="TAG")["value"]
                   for wh, moment, tx in ((10_000, T0, "B"), (end_wh, at(45), "E")))
    samples = (MeterSample(at(15), 12_000, 8_000), MeterSample(at(30), end_wh, 8_000),
               MeterSample(at(45), end_wh, 0))
    return SessionUsage(1, "CP", 1, "TAG", T0, at(45), 10_000, end_wh, (), samples, signed, "Europe/Berlin")


def oca(**options: object) -> OcmfSigner:
    return OcmfSigner(shape="OCA", **options)  # type: ignore[arg-type]


def test_an_oca_signed_value_is_decoded_to_the_ocmf_document_inside():
    signer = oca()
    value = signer.signed_value(register_wh=10_000, at=T0, transaction="B", id_tag="TAG")["value"]
    decoded = decode_signed_value(value)
    assert json.loads(value)["encodingMethod"] == "OCMF"
    assert (decoded.shape, decoded.encoding_method, decoded.signing_method) == ("OCA", "OCMF",
                                                                                "ECDSA-secp256r1-SHA256")
    assert decoded.ocmf is not None and decoded.ocmf.startswith("OCMF|{")
    assert decoded.signed_meter_data == json.loads(value)["signedMeterData"]


def test_an_oca_signed_value_verifies_like_the_raw_form():
    signer = oca()
    result = settle(session(signer), TARIFF, public_key=signer.public_key_hex)
    assert (result.needs_review, result.verification) == (False, VerificationStatus.VALID)


def test_the_public_key_in_the_oca_envelope_is_read_as_the_printed_key():
    signer = oca(send_public_key=True)
    value = signer.signed_value(register_wh=10_000, at=T0, transaction="B", id_tag="TAG")["value"]
    assert base64.b64decode(json.loads(value)["publicKey"]).startswith(b"oca:base16:asn1:")
    assert decode_signed_value(value).public_key == signer.public_key_hex


def test_a_public_key_sent_as_base64_of_plain_hex_is_read_too():
    signer = oca()
    value = json.loads(signer.signed_value(register_wh=10_000, at=T0, transaction="B", id_tag="TAG")["value"])
    value["publicKey"] = base64.b64encode(signer.public_key_hex.upper().encode()).decode()
    assert decode_signed_value(json.dumps(value)).public_key == signer.public_key_hex


def test_a_sent_key_equal_to_the_registered_one_is_valid():
    signer = oca(send_public_key=True)
    # Registered in another encoding (PEM): the keys are compared as key bytes, not as text.
    pem = signer.key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    result = settle(session(signer), TARIFF, public_key=pem)
    assert (result.needs_review, result.verification) == (False, VerificationStatus.VALID)


def test_a_sent_key_that_differs_from_the_registered_one_is_a_key_mismatch_held_for_review():
    signer, registered = oca(send_public_key=True), OcmfSigner()
    result = settle(session(signer), TARIFF, public_key=registered.public_key_hex)
    assert (result.needs_review, result.verification) == (True, VerificationStatus.KEY_MISMATCH)
    assert "registered key is" in result.reason


def test_a_sent_key_nobody_registered_is_its_own_verdict_and_not_trusted():
    signer = oca(send_public_key=True)
    result = settle(session(signer), TARIFF)
    assert (result.needs_review, result.verification) == (False, VerificationStatus.KEY_UNREGISTERED)
    assert result.signed is not None and "no key is registered" in result.signed.reason


def test_a_tampered_document_with_the_charger_own_key_is_invalid_not_unregistered():
    signer = oca(send_public_key=True)
    value = json.loads(signer.signed_value(register_wh=10_000, at=T0, transaction="B", id_tag="TAG")["value"])
    document = base64.b64decode(value["signedMeterData"]).decode().replace('"RV":10.0', '"RV":11.0')
    value["signedMeterData"] = base64.b64encode(document.encode()).decode()
    assert verify_signed_value(decode_signed_value(json.dumps(value)), None).status is VerificationStatus.INVALID


def test_a_json_signed_value_that_is_not_the_oca_shape_is_invalid_with_a_reason():
    result = verify_documents(['{"foo": 1}'], OcmfSigner().public_key_hex)
    assert result.status is VerificationStatus.INVALID and "signedMeterData" in result.reason


def test_signed_values_without_any_key_are_unverified():
    result = settle(session(oca()), TARIFF)
    assert (result.needs_review, result.verification) == (False, VerificationStatus.UNVERIFIED)


def test_a_synchronised_meter_clock_prices_time_and_parking():
    signer = OcmfSigner(time_status="S")
    result = settle(session(signer), TARIFF, public_key=signer.public_key_hex)
    assert result.time_priced and result.priced is not None
    assert result.priced.total_time_cost.excl_vat == Decimal("0.6000")  # 30 min charging at 1.20 EUR/h
    assert result.priced.total_parking_cost.excl_vat == Decimal("0.6000")  # 15 min parked at 2.40 EUR/h


def test_an_unsynchronised_meter_clock_prices_no_time_and_no_parking_but_keeps_the_energy():
    signer = OcmfSigner(time_status="I")
    result = settle(session(signer), TARIFF, public_key=signer.public_key_hex)
    assert not result.time_priced and "not synchronised" in result.time_note
    assert result.priced is not None
    assert result.priced.total_time_cost.excl_vat == result.priced.total_parking_cost.excl_vat == Decimal(0)
    assert result.priced.total_energy_cost.excl_vat == Decimal("1.2000")
    assert result.priced.total_time == Decimal("0.75")  # the time is still recorded, only not priced


def test_the_cdr_signed_data_is_ocpi_signed_data_with_base64_documents_and_key():
    signer = oca()
    usage = session(signer)
    result = settle(usage, TARIFF, public_key=signer.public_key_hex)
    _, cdr = issue_documents(usage, result, TARIFF, OPERATOR, number="CW-1", issued_at=at(50),
                             issue_date=at(50).date(), feedback_url="https://example.test/s/1-x",
                             public_key=signer.public_key_hex)
    data = cdr["signed_data"]
    assert data["encoding_method"] == "OCMF" and data["url"] == "https://example.test/s/1-x"
    assert public_key_der_hex(data["public_key"]) == signer.public_key_hex
    assert [v["nature"] for v in data["signed_values"]] == ["Start", "End"]
    documents = [base64.b64decode(v["signed_data"]).decode() for v in data["signed_values"]]
    assert documents == [decode_signed_value(text).ocmf for text in usage.signed_documents]
    assert "10000 Wh" in data["signed_values"][0]["plain_data"]


def test_the_invoice_carries_the_documents_key_encoding_and_how_to_check_them():
    signer = OcmfSigner()
    usage = session(signer)
    result = settle(usage, TARIFF, public_key=signer.public_key_hex)
    invoice, _ = issue_documents(usage, result, TARIFF, OPERATOR, number="CW-1", issued_at=at(50),
                                 issue_date=at(50).date(), feedback_url=None, public_key=signer.public_key_hex)
    section = invoice.to_json()["signed_data"]
    assert section["verdict"] == "VALID" and section["encoding_method"] == "OCMF"
    assert section["public_key"] == signer.public_key_hex and section["public_key_source"] == "registered"
    assert [d["ocmf"] for d in section["documents"]] == list(usage.signed_documents)
    assert [r["time_status"] for d in section["documents"] for r in d["readings"]] == ["S", "S"]
    assert any("Transparenzsoftware" in step for step in section["how_to_check"]["de"])


def test_the_transparency_software_file_holds_each_document_and_the_key():
    signer = OcmfSigner()
    usage = session(signer)
    result = settle(usage, TARIFF, public_key=signer.public_key_hex)
    invoice, _ = issue_documents(usage, result, TARIFF, OPERATOR, number="CW-1", issued_at=at(50),
                                 issue_date=at(50).date(), feedback_url=None, public_key=signer.public_key_hex)
    assert invoice.signed_data is not None
    root = ET.fromstring(invoice.signed_data.transparency_xml())
    values = root.findall("value")
    assert [v.findtext("signedData") for v in values] == list(usage.signed_documents)
    assert {v.findtext("publicKey") for v in values} == {signer.public_key_hex.upper()}


def test_demo_meter_keys_are_derived_from_the_serial():
    assert demo_key("DEMO-00001").private_numbers() == demo_key("DEMO-00001").private_numbers()
    assert demo_key("DEMO-00001").private_numbers() != demo_key("DEMO-00002").private_numbers()


def secp192k1_document() -> tuple[str, str]:
    """A document signed on secp192k1 (which OpenSSL lacks), made with the ecdsa package, and its hex DER key."""
    from ecdsa import SigningKey
    from ecdsa.util import sigencode_der
    from pyocmf.crypto.fallback import _secp192k1

    key = SigningKey.generate(curve=_secp192k1(), hashfunc=hashlib.sha256)
    payload = ('{"FV":"1.0","GI":"x","GS":"1","GV":"1","PG":"T1","IS":false,"IL":"NONE","IT":"NONE","ID":"",'
               '"RD":[{"TM":"2026-01-01T00:00:00,000+0000 S","TX":"B","RV":1.0,"RI":"1-b:1.8.0","RU":"kWh",'
               '"ST":"G"}]}')
    signature = key.sign(payload.encode(), sigencode=sigencode_der).hex()
    document = f'OCMF|{payload}|{{"SA":"ECDSA-secp192k1-SHA256","SD":"{signature}"}}'
    return document, key.get_verifying_key().to_der().hex()


def test_a_secp192k1_signature_verifies_through_the_ecdsa_package():
    document, key = secp192k1_document()
    assert verify_ocmf(document, key).status is VerificationStatus.VALID


def test_a_curve_no_installed_library_checks_is_unverified_not_invalid():
    """Without the ecdsa package (OpenSSL has no secp192k1) the verdict is UNVERIFIED, with that reason."""
    document, key = secp192k1_document()
    script = textwrap.dedent("""
        import sys
        sys.modules["ecdsa"] = None  # a machine without the optional pure-Python library
        from chargewatch.billing.ocmf import verify_ocmf
        result = verify_ocmf(sys.argv[1], sys.argv[2])
        print(result.status.value, "|", result.reason)
    """)
    run = subprocess.run([sys.executable, "-c", script, document, key], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    status, reason = run.stdout.strip().split(" | ", 1)
    assert status == "UNVERIFIED" and "curve" in reason


def test_the_german_invoice_pdf_carries_the_signed_data_section():
    from pypdf import PdfReader

    from chargewatch.billing.invoice_pdf import render_pdf

    signer = OcmfSigner()
    usage = session(signer)
    result = settle(usage, TARIFF, public_key=signer.public_key_hex)
    invoice, _ = issue_documents(usage, result, TARIFF, OPERATOR, number="CW-1", issued_at=at(50),
                                 issue_date=at(50).date(), feedback_url=None, public_key=signer.public_key_hex)
    reader = PdfReader(io.BytesIO(render_pdf(invoice, lang="de")))
    text = "".join(page.extract_text() for page in reader.pages)
    compact = "".join(text.split())
    assert "Signierte Messwerte (Eichrecht)" in text
    assert "VALID" in text and "synchronisiert" in text and "Transparenzsoftware" in text
    assert signer.public_key_hex.upper() in compact  # the key, wrapped over lines
    for document in usage.signed_documents:
        assert "".join(document.split()) in compact  # each OCMF document as sent
    images = sum(len(page.images) for page in reader.pages)
    assert images >= 2  # a QR code per document


def test_an_ocpp_201_signed_meter_value_with_a_base64_der_key_verifies_the_same_way():
    from chargewatch.ocpp.v201.meter import readings

    signer = OcmfSigner()
    document = signer.sign(register_wh=10_000, at=T0, transaction="B", id_tag="TAG")
    der = bytes.fromhex(signer.public_key_hex)
    meter_value = {"timestamp": "2026-11-02T09:00:00Z", "sampledValue": [{
        "value": 10_000, "context": "Transaction.Begin", "measurand": "Energy.Active.Import.Register",
        "signedMeterValue": {"signedMeterData": base64.b64encode(document.encode()).decode(),
                             "signingMethod": "ECDSA-secp256r1-SHA256", "encodingMethod": "OCMF",
                             "publicKey": base64.b64encode(der).decode()}}]}
    signed = [r.signed for r in readings([meter_value]) if r.signed]
    assert decode_signed_value(signed[0]).public_key == signer.public_key_hex
    assert verify_documents(signed, signer.public_key_hex).status is VerificationStatus.VALID


def test_a_meter_key_is_checked_to_be_an_ec_key_on_a_known_curve():
    _, secp192k1_key = secp192k1_document()
    assert key_curve(secp192k1_key) == "secp192k1"
    assert key_curve(OcmfSigner().public_key_hex) == "secp256r1"
    with pytest.raises(ValueError):
        key_curve("3059")  # hex, but no key


def test_the_oca_envelope_reads_a_printed_key_with_spaces_and_0x_and_a_base64_printed_key():
    signer = oca()
    value = json.loads(signer.signed_value(register_wh=10_000, at=T0, transaction="B", id_tag="TAG")["value"])
    key = signer.public_key_hex.upper()
    printed = "0x" + " ".join(key[i:i + 4] for i in range(0, len(key), 4))
    der_base64 = base64.b64encode(bytes.fromhex(key)).decode()
    for envelope in (f"oca:base16:asn1:{printed}", f"oca:base64:asn1:{der_base64}"):
        value["publicKey"] = base64.b64encode(envelope.encode()).decode()
        assert decode_signed_value(json.dumps(value)).public_key == signer.public_key_hex, envelope
