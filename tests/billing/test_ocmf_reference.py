"""Every OCMF document of the German transparency software's and pyocmf's test data, and a tampered copy of each.

Read from `../shared/reference/ocmf-external/` beside the checkout (never copied). Its README states the
verdicts: an independent check with `cryptography` (DER key, ECDSA over the payload bytes with the SA's
hash, the SA's curve equal to the key's) decides each document, overridden by what the reference
projects' own tests assert. The expected verdicts below are that labelling, per file; a file not listed
must verify throughout.
"""

from __future__ import annotations

import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from chargewatch.billing.ocmf import VerificationStatus, verify_ocmf

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "ocmf-external"
V, NOT_VALID = VerificationStatus.VALID, "not VALID"

# file -> verdict per document, in document order, where not every document is VALID.
EXPECTED: dict[str, list[object]] = {
    # Transparenzsoftware's own test data carries one deliberately broken signature in each of these.
    "transparenzsoftware/src/test/resources/test.xml": [V, NOT_VALID],
    "transparenzsoftware/src/test/resources/xml/test_ocmf_ebee_02.xml": [NOT_VALID, V],
    # AppOCMFTest: *_fail does not verify.
    "transparenzsoftware/src/test/resources/xml/test_ocmf_keba_kcp30_fail.xml": [NOT_VALID],
    # AppOCMFTest: shows no data; its second document names secp256k1 but the key is secp256r1.
    "transparenzsoftware/src/test/resources/xml/second_key_fail_ocmf.xml": [V, NOT_VALID],
    # A bare 64-byte key and raw r||s signatures: OCMFVerifier rejects both, so they must not be VALID.
    "transparenzsoftware/src/test/resources/xml/isa-ocmf/OCMF-receipt-with_import_and_export.xml": [NOT_VALID],
    "transparenzsoftware/src/test/resources/xml/isa-ocmf/OCMF-receipt-with_publickey_and_data.xml": [NOT_VALID],
}
# OCMFVerifierTest: both secp192k1 documents verify (through pyocmf's ecdsa fallback; OpenSSL lacks the curve).
SECP192K1 = "transparenzsoftware/src/test/resources/xml/test_ocmf_transaction_two_values.xml"


@dataclass(frozen=True)
class Document:
    file: str
    index: int
    ocmf: str
    public_key: str

    @property
    def name(self) -> str:
        return f"{self.file}#{self.index}"


def _documents() -> list[Document]:
    """Each <value> with a signedData OCMF text and a publicKey element, as the transparency software reads them."""
    out = []
    for path in sorted(REFERENCE.rglob("*.xml")):
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError:
            continue  # ocmf-compleo-daten.xml: two bare documents and a key in prose, not a <values> file
        index = 0
        for value in root.iter("value"):
            signed, key = value.find("signedData"), value.find("publicKey")
            text = (signed.text or "").strip() if signed is not None else ""
            if key is None or not text.startswith("OCMF|"):
                continue
            out.append(Document(str(path.relative_to(REFERENCE)), index, text, (key.text or "").strip()))
            index += 1
    return out


DOCUMENTS = _documents() if REFERENCE.is_dir() else []
needs_reference = pytest.mark.skipif(not DOCUMENTS, reason=f"reference OCMF data not found at {REFERENCE}")


def expected(document: Document) -> object:
    return EXPECTED.get(document.file, [V] * (document.index + 1))[document.index]


def verify(document: Document, ocmf: str | None = None) -> VerificationStatus:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyocmf's SpecWarnings about odd but signed field values
        return verify_ocmf(ocmf or document.ocmf, document.public_key).status


def tampered(ocmf: str) -> str:
    """The document with its first register value changed by one digit (the signature no longer covers it)."""
    match = re.search(r'"RV"\s*:\s*"?\s*(-?[0-9]+)', ocmf)
    assert match is not None, "every reference document carries a register value"
    digit_at = match.end(1) - 1
    digit = ocmf[digit_at]
    return ocmf[:digit_at] + ("1" if digit != "1" else "2") + ocmf[digit_at + 1:]


@needs_reference
def test_the_reference_set_has_all_252_documents():
    assert len(DOCUMENTS) == 252


@needs_reference
@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d.name)
def test_reference_document_verdict(document: Document):
    status = verify(document)
    if expected(document) == NOT_VALID:
        assert status is not V
    else:
        assert status is V


@needs_reference
@pytest.mark.parametrize("document", [d for d in DOCUMENTS if expected(d) is V], ids=lambda d: d.name)
def test_tampered_copy_of_a_valid_reference_document_is_invalid(document: Document):
    assert verify(document, tampered(document.ocmf)) is VerificationStatus.INVALID


@needs_reference
def test_secp192k1_documents_verify_through_the_ecdsa_fallback():
    documents = [d for d in DOCUMENTS if d.file == SECP192K1]
    assert len(documents) == 2
    assert all(verify(d) is V for d in documents)
