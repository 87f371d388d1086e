"""What German calibration law lets a driver check: the signed data section of an invoice, receipt and CDR.

A bill of a signed session carries the OCMF documents as the meter signed them (start and end), the
meter's public key, the encoding, the verdict, the OCMF time status of each reading, and how to check
it all with the S.A.F.E. e.V. Transparenzsoftware. The same section feeds the invoice JSON, the PDF,
the driver page and the OCPI 2.2.1 CDR's `signed_data`, so they cannot say different things.

`transparency_xml` writes the file the Transparenzsoftware opens (its `<values>` input format, the one
its own test data uses), so a driver does not have to copy a document by hand.

Pure: built from the stored signed values and the verification result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from chargewatch.billing.ocmf import (
    OcmfVerification,
    VerificationStatus,
    decode_signed_value,
    public_key_base64,
    public_key_der_hex,
    verify_signed_value,
)

TRANSPARENCY_SOFTWARE_URL = "https://www.safe-ev.de/de/transparenzsoftware.php"
# A QR code (version 40, error correction L) holds at most 2953 bytes; longer documents get text only.
QR_MAX_BYTES = 2900

TIME_STATUS_TEXT = {
    "en": {"S": "synchronised", "I": "informative (not synchronised)", "U": "unknown / not synchronised",
           "R": "relative (duration measured by the meter)"},
    "de": {"S": "synchronisiert", "I": "informativ (nicht synchronisiert)", "U": "unbekannt / nicht synchronisiert",
           "R": "relativ (Dauer vom Zähler gemessen)"},
}

VERDICT_TEXT = {
    "en": {
        "VALID": "Signature verified against the meter's registered public key.",
        "INVALID": "The signature could NOT be verified; this session was checked by an operator.",
        "UNVERIFIED": "Signed by the meter; the signature could not be checked here (see reason).",
        "KEY_MISMATCH": "The charger sent a public key that differs from the meter's registered key.",
        "KEY_UNREGISTERED": "Signed with a public key the charger sent, which is not registered for the meter.",
        "NOT_SIGNED": "The charger did not provide signed meter values for this session.",
    },
    "de": {
        "VALID": "Signatur mit dem registrierten öffentlichen Schlüssel des Zählers geprüft.",
        "INVALID": "Die Signatur konnte NICHT bestätigt werden; der Ladevorgang wurde manuell geprüft.",
        "UNVERIFIED": "Vom Zähler signiert; die Signatur konnte hier nicht geprüft werden (siehe Grund).",
        "KEY_MISMATCH": "Die Ladestation sandte einen anderen öffentlichen Schlüssel als den registrierten.",
        "KEY_UNREGISTERED": "Mit einem von der Ladestation gesandten, nicht registrierten Schlüssel signiert.",
        "NOT_SIGNED": "Die Ladestation hat für diesen Ladevorgang keine signierten Messwerte geliefert.",
    },
}

HEADINGS = {
    "en": {"title": "Signed meter values (Eichrecht)", "verdict": "Verification", "encoding": "Encoding",
           "key": "Meter public key", "key_registered": "registered for this meter",
           "key_sent": "sent by the charger", "time": "Meter clock", "document": "Signed data",
           "check": "How to check", "reason": "Reason",
           "time_not_priced": "Charging and parking time are not billed: the meter clock was not synchronised."},
    "de": {"title": "Signierte Messwerte (Eichrecht)", "verdict": "Prüfung", "encoding": "Format",
           "key": "Öffentlicher Schlüssel des Zählers", "key_registered": "für diesen Zähler registriert",
           "key_sent": "von der Ladestation gesandt", "time": "Zähleruhr", "document": "Signierte Daten",
           "check": "So prüfen Sie", "reason": "Grund",
           "time_not_priced": "Lade- und Parkzeit werden nicht berechnet: die Zähleruhr war nicht synchronisiert."},
}


def check_instructions(lang: str = "en") -> list[str]:
    """How a driver checks the signed data with the S.A.F.E. e.V. Transparenzsoftware."""
    if lang == "de":
        return [
            f"1. Laden Sie die Transparenzsoftware von S.A.F.E. e.V. herunter: {TRANSPARENCY_SOFTWARE_URL}",
            "2. Öffnen Sie die Datei zur Transparenzsoftware (XML) dieses Belegs, oder fügen Sie die signierten "
            "Daten (beginnend mit OCMF|) und den öffentlichen Schlüssel dieses Belegs ein.",
            "3. Die Software prüft die Signatur und zeigt Zählerstände und Zeiten an; vergleichen Sie sie mit "
            "diesem Beleg.",
        ]
    return [
        f"1. Download the S.A.F.E. e.V. Transparenzsoftware (transparency software): {TRANSPARENCY_SOFTWARE_URL}",
        "2. Open this receipt's transparency software file (XML), or paste the signed data (starting with OCMF|) "
        "and the public key shown on this receipt.",
        "3. The software checks the signature and shows the meter readings and times; compare them with this "
        "receipt.",
    ]


@dataclass(frozen=True, slots=True)
class SignedDocument:
    """One signed document of the session: its place (Start, End, Intermediate) and the readings it signs."""

    nature: str
    as_sent: str  # the sampledValue value exactly as the charger sent it
    ocmf: str | None  # the OCMF document inside (what the Transparenzsoftware reads)
    shape: str  # "OCMF" raw text or "OCA" JSON object
    signed_meter_data: str  # base64 of the document (OCPI SignedValue.signed_data)
    readings: tuple[dict[str, Any], ...]  # transaction, time (ISO), time_status, register_wh

    def to_json(self) -> dict[str, Any]:
        return {"nature": self.nature, "as_sent": self.as_sent, "ocmf": self.ocmf, "shape": self.shape,
                "signed_meter_data": self.signed_meter_data, "readings": list(self.readings)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SignedDocument:
        return cls(data["nature"], data["as_sent"], data.get("ocmf"), data.get("shape", "OCMF"),
                   data["signed_meter_data"], tuple(data.get("readings") or ()))

    @property
    def fits_qr(self) -> bool:
        return self.ocmf is not None and len(self.ocmf.encode("utf-8")) <= QR_MAX_BYTES


@dataclass(frozen=True, slots=True)
class SignedDataSection:
    verdict: VerificationStatus
    reason: str
    encoding_method: str
    signing_method: str | None
    public_key: str | None  # hex DER
    public_key_source: str | None  # "registered" | "sent"
    meter_serial: str | None
    documents: tuple[SignedDocument, ...]
    time_priced: bool
    time_note: str

    @property
    def time_statuses(self) -> tuple[str, ...]:
        return tuple(r["time_status"] for d in self.documents for r in d.readings if r.get("transaction") in ("B", "E"))

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value, "reason": self.reason, "encoding_method": self.encoding_method,
            "signing_method": self.signing_method, "public_key": self.public_key,
            "public_key_source": self.public_key_source, "meter_serial": self.meter_serial,
            "documents": [d.to_json() for d in self.documents], "time_priced": self.time_priced,
            "time_note": self.time_note, "how_to_check": {"en": check_instructions("en"),
                                                          "de": check_instructions("de")},
            "transparency_software": TRANSPARENCY_SOFTWARE_URL,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SignedDataSection:
        return cls(VerificationStatus(data["verdict"]), data["reason"], data["encoding_method"],
                   data.get("signing_method"), data.get("public_key"), data.get("public_key_source"),
                   data.get("meter_serial"), tuple(SignedDocument.from_json(d) for d in data["documents"]),
                   bool(data.get("time_priced", True)), data.get("time_note", ""))

    def transparency_xml(self) -> str:
        """The Transparenzsoftware's input file: one <value> per document, with the key where known."""
        lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<values>"]
        for document in self.documents:
            if document.ocmf is None:
                continue
            context = {"Start": "Transaction.Begin", "End": "Transaction.End"}.get(document.nature, "Sample.Periodic")
            lines.append(f"  <value context={quoteattr(context)}>")
            lines.append(f'    <signedData format="OCMF" encoding="plain">{escape(document.ocmf)}</signedData>')
            if self.public_key:
                lines.append(f'    <publicKey encoding="hex">{self.public_key.upper()}</publicKey>')
            lines.append("  </value>")
        lines.append("</values>")
        return "\n".join(lines) + "\n"

    def ocpi_signed_data(self, url: str | None) -> dict[str, Any]:
        """OCPI 2.2.1 CDR `signed_data` (SignedData): base64 key, base64 documents, plain values per nature."""
        out: dict[str, Any] = {
            "encoding_method": self.encoding_method,
            "signed_values": [
                {"nature": d.nature, "plain_data": _plain(d), "signed_data": d.signed_meter_data}
                for d in self.documents
            ],
        }
        if self.public_key:
            out["public_key"] = public_key_base64(self.public_key)
        if url:
            out["url"] = url
        return out


def _plain(document: SignedDocument) -> str:
    """The signed readings in plain text, e.g. "B 2026-11-24T12:22:04+00:00 S 2935600 Wh"."""
    return "; ".join(f"{r.get('transaction') or '-'} {r['time']} {r['time_status']} {r.get('register_wh')} Wh"
                     for r in document.readings)[:512]


def natures(count: int) -> list[str]:
    """OCPI SignedValue natures for a session's documents in order: Start, Intermediate…, End."""
    if count == 1:
        return ["End"]
    return ["Start"] + ["Intermediate"] * (count - 2) + ["End"]


def build_section(signed_values: Sequence[str], verification: OcmfVerification, registered_key: str | None,
                  time_priced: bool, time_note: str) -> SignedDataSection:
    """The section of a session's bill from its stored signed values and their verification."""
    decoded = [decode_signed_value(text) for text in signed_values]
    documents = []
    for nature, value in zip(natures(len(decoded)), decoded, strict=True):
        check = verify_signed_value(value, registered_key)
        documents.append(SignedDocument(
            nature=nature, as_sent=value.as_sent, ocmf=value.ocmf, shape=value.shape,
            signed_meter_data=value.signed_meter_data,
            readings=tuple({"transaction": r.transaction, "time": r.time.isoformat(), "time_status": r.time_status,
                            "register_wh": None if r.register_wh is None else f"{r.register_wh.normalize():f}"}
                           for r in check.readings)))
    sent = next((v.public_key for v in decoded if v.public_key), None)
    key, source = None, None
    if registered_key:
        try:
            key, source = public_key_der_hex(registered_key), "registered"
        except ValueError:
            key = None
    if key is None and sent:
        key, source = sent, "sent"
    signing = verification.signature_algorithm or next((v.signing_method for v in decoded if v.signing_method), None)
    return SignedDataSection(
        verdict=verification.status, reason=verification.reason, encoding_method="OCMF", signing_method=signing,
        public_key=key, public_key_source=source, meter_serial=verification.meter_serial,
        documents=tuple(documents), time_priced=time_priced, time_note=time_note)
