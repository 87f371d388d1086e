"""Signed meter values (OCMF, German calibration law) verified with pyocmf.

A charger's meter signs `OCMF|{payload}|{signature}`; the driver must be able to check that what we
bill is what the calibrated meter signed. The signature covers the exact payload bytes as sent, so we
never re-serialise the payload: pyocmf keeps the original text and verifies over it. Public keys come
out of band, as chargers publish them (hex or base64 DER, or PEM).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from cryptography.hazmat.primitives import serialization
from pyocmf import OCMF, PyOCMFError, Reading

_WH_PER_UNIT = {"Wh": Decimal(1), "kWh": Decimal(1000)}


class VerificationStatus(StrEnum):
    """What an invoice shows about the signed meter values."""

    VALID = "VALID"
    INVALID = "INVALID"
    NOT_SIGNED = "NOT_SIGNED"
    # Signed values arrived but no public key is registered for the meter: neither proven nor disproven.
    UNVERIFIED = "UNVERIFIED"


@dataclass(frozen=True, slots=True)
class SignedReading:
    """One reading from the payload: transaction phase (B begin, E end, …), time, register in Wh."""

    transaction: str | None
    time: datetime
    time_status: str
    register_wh: Decimal | None
    obis: str | None


@dataclass(frozen=True, slots=True)
class OcmfVerification:
    valid: bool
    reason: str
    readings: tuple[SignedReading, ...] = ()
    meter_serial: str | None = None

    @property
    def status(self) -> VerificationStatus:
        return VerificationStatus.VALID if self.valid else VerificationStatus.INVALID

    def reading(self, transaction: str) -> SignedReading | None:
        """The first reading with this TX code ("B" begin, "E" end)."""
        return next((r for r in self.readings if r.transaction == transaction), None)


def verify_ocmf(ocmf_text: str, public_key: str) -> OcmfVerification:
    """Parse `ocmf_text` and verify its signature with `public_key`; never raises for bad input."""
    try:
        key_der_hex = public_key_der_hex(public_key)
    except ValueError as exc:
        return OcmfVerification(False, f"public key unusable: {exc}")
    try:
        document = OCMF.from_string(ocmf_text)
    except PyOCMFError as exc:
        return OcmfVerification(False, f"not a readable OCMF document: {exc}")
    readings = tuple(_reading(r) for r in document.payload.RD)
    try:
        ok = document.verify_signature(key_der_hex)
    except PyOCMFError as exc:
        return OcmfVerification(False, f"signature could not be checked: {exc}", readings, document.payload.MS)
    reason = "signature matches the payload and key" if ok else "signature does not match the payload and key"
    return OcmfVerification(ok, reason, readings, document.payload.MS)


def verify_documents(ocmf_texts: Sequence[str], public_key: str) -> OcmfVerification:
    """Verify every OCMF document of one session (chargers sign begin and end separately) as one result.

    Valid only when each document is; the readings of all documents are kept in order so the begin (B)
    and end (E) readings can be compared with the meter start and stop.
    """
    if not ocmf_texts:
        return OcmfVerification(False, "no signed meter values")
    results = [verify_ocmf(text, public_key) for text in ocmf_texts]
    failed = next((r for r in results if not r.valid), None)
    readings = tuple(reading for r in results for reading in r.readings)
    serial = next((r.meter_serial for r in results if r.meter_serial), None)
    if failed is not None:
        return OcmfVerification(False, failed.reason, readings, serial)
    return OcmfVerification(True, f"{len(results)} signed document(s) match the payload and key", readings, serial)


def public_key_der_hex(public_key: str) -> str:
    """A public key as hex DER (SubjectPublicKeyInfo), from hex DER, base64 DER or PEM."""
    text = public_key.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise ValueError(f"invalid PEM public key ({exc})") from exc
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return der.hex()
    compact = "".join(text.split())
    if not compact:
        raise ValueError("empty public key")
    return compact


@dataclass(frozen=True, slots=True)
class MeterAgreement:
    """Whether the signed begin/end readings match the meter values the session was billed with."""

    agrees: bool
    reason: str
    signed_begin_wh: Decimal | None
    signed_end_wh: Decimal | None


def compare_with_meter(
    verification: OcmfVerification, meter_start_wh: int, meter_stop_wh: int, tolerance_wh: int = 0
) -> MeterAgreement:
    """Flag disagreement between signed B/E readings and the unsigned OCPP meterStart/meterStop."""
    begin, end = verification.reading("B"), verification.reading("E")
    begin_wh = begin.register_wh if begin else None
    end_wh = end.register_wh if end else None
    if not verification.valid:
        return MeterAgreement(False, f"signed values are not trustworthy: {verification.reason}", begin_wh, end_wh)
    if begin_wh is None or end_wh is None:
        return MeterAgreement(False, "signed data lacks a begin (B) or end (E) energy reading", begin_wh, end_wh)
    problems = []
    if abs(begin_wh - meter_start_wh) > tolerance_wh:
        problems.append(f"begin: signed {begin_wh} Wh, meter start {meter_start_wh} Wh")
    if abs(end_wh - meter_stop_wh) > tolerance_wh:
        problems.append(f"end: signed {end_wh} Wh, meter stop {meter_stop_wh} Wh")
    if problems:
        return MeterAgreement(False, "; ".join(problems), begin_wh, end_wh)
    return MeterAgreement(True, "signed begin and end readings match the billed meter values", begin_wh, end_wh)


def _reading(raw: Reading) -> SignedReading:
    unit = None if raw.RU is None else str(getattr(raw.RU, "value", raw.RU))
    factor = _WH_PER_UNIT.get(unit or "")
    register = Decimal(str(raw.RV)) * factor if raw.RV is not None and factor is not None else None
    moment = raw.TM.timestamp if raw.TM.timestamp.tzinfo else raw.TM.timestamp.replace(tzinfo=UTC)
    return SignedReading(
        transaction=None if raw.TX is None else str(getattr(raw.TX, "value", raw.TX)),
        time=moment.astimezone(UTC),
        time_status=str(getattr(raw.TM.status, "value", raw.TM.status)),
        register_wh=register,
        obis=None if raw.RI is None else str(raw.RI),
    )
