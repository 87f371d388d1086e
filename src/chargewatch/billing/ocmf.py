"""Signed meter values (OCMF, German calibration law) decoded and verified with pyocmf.

A charger's meter signs `OCMF|{payload}|{signature}`; the driver must be able to check that what we
bill is what the calibrated meter signed. The signature covers the exact payload bytes as sent, so we
never re-serialise the payload: pyocmf keeps the original text and verifies over it.

OCPP 1.6 carries the document in a sampledValue of format SignedData, in one of two shapes:
- raw: the value is the `OCMF|…` text itself;
- the OCA application note "Signed Meter Values in OCPP 1.6": the value is a JSON object (as a string)
  with `signedMeterData` (base64 of the document), `encodingMethod` ("OCMF"), `signingMethod` and an
  optional `publicKey`, the same shape as OCPP 2.0.1's SignedMeterValueType.

Public keys come out of band (registered per charger). A key the charger sends along is a claim, not
a trust anchor: it is compared with the registered one, and a mismatch or a key nobody registered is a
verdict of its own (KEY_MISMATCH, KEY_UNREGISTERED), never silently trusted. Curves the crypto
libraries cannot check give UNVERIFIED with that reason, never INVALID; secp192k1 (which OpenSSL lacks)
is checked by pyocmf through the pure-Python `ecdsa` package.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from pyocmf import OCMF, PyOCMFError, Reading
from pyocmf.models.public_key import PublicKey

_WH_PER_UNIT = {"Wh": Decimal(1), "kWh": Decimal(1000)}
_HEX = re.compile(r"^[0-9a-fA-F]+$")


class VerificationStatus(StrEnum):
    """What an invoice shows about the signed meter values."""

    VALID = "VALID"
    INVALID = "INVALID"
    NOT_SIGNED = "NOT_SIGNED"
    # Neither proven nor disproven: no key registered, or a curve no installed library can check.
    UNVERIFIED = "UNVERIFIED"
    # The charger sent a public key that differs from the one registered for its meter.
    KEY_MISMATCH = "KEY_MISMATCH"
    # The charger sent a public key, but none is registered: the signature proves nothing on its own.
    KEY_UNREGISTERED = "KEY_UNREGISTERED"


# Which verdict wins when one session has several documents (worst first).
_SEVERITY = (VerificationStatus.INVALID, VerificationStatus.KEY_MISMATCH, VerificationStatus.KEY_UNREGISTERED,
             VerificationStatus.UNVERIFIED, VerificationStatus.VALID)
# Verdicts that hold a session for an operator's review instead of billing it.
HOLDS_FOR_REVIEW = frozenset({VerificationStatus.INVALID, VerificationStatus.KEY_MISMATCH})


@dataclass(frozen=True, slots=True)
class SignedReading:
    """One reading from the payload: transaction phase (B begin, E end, …), time, register in Wh."""

    transaction: str | None
    time: datetime
    time_status: str  # OCMF: U unknown/unsynchronised, I informative, S synchronised, R relative
    register_wh: Decimal | None
    obis: str | None


@dataclass(frozen=True, slots=True)
class SignedValue:
    """One SignedData sampledValue as the charger sent it, and the OCMF document inside it."""

    as_sent: str
    shape: str  # "OCMF" (the raw text) or "OCA" (the application note's JSON object)
    ocmf: str | None  # None when the value holds no readable OCMF document
    encoding_method: str = "OCMF"
    signing_method: str | None = None
    public_key: str | None = None  # hex DER of the key the charger sent along, if any
    problem: str | None = None

    @property
    def signed_meter_data(self) -> str:
        """The document base64-encoded, as OCPP 2.0.1 and the OCPI CDR carry it (verbatim when sent so)."""
        if self.shape == "OCA":
            return str(json.loads(self.as_sent)["signedMeterData"])
        return base64.b64encode((self.ocmf or self.as_sent).encode("utf-8")).decode("ascii")


def decode_signed_value(value: str) -> SignedValue:
    """Recognise the raw `OCMF|…` form or the OCA JSON object; never raises for bad input."""
    text = value.strip()
    if text.startswith("OCMF|"):
        return SignedValue(value, "OCMF", text)
    try:
        data = json.loads(text)
    except ValueError:
        return SignedValue(value, "OCMF", None, problem="neither an OCMF document ('OCMF|…') nor a JSON object")
    if not isinstance(data, dict) or "signedMeterData" not in data:
        return SignedValue(value, "OCA", None, problem="JSON signed value without signedMeterData")
    encoding = str(data.get("encodingMethod") or "OCMF")
    signing = data.get("signingMethod") or None
    try:
        sent_key = _sent_public_key(data.get("publicKey"))
    except ValueError as exc:
        return SignedValue(value, "OCA", None, encoding, signing, problem=f"publicKey unreadable: {exc}")
    try:
        document = base64.b64decode(str(data["signedMeterData"]), validate=True).decode("utf-8").strip()
    except (binascii.Error, ValueError):
        return SignedValue(value, "OCA", None, encoding, signing, sent_key,
                           problem="signedMeterData is not base64 of a text document")
    if encoding.upper() != "OCMF" or not document.startswith("OCMF|"):
        return SignedValue(value, "OCA", None, encoding, signing, sent_key,
                           problem=f"encodingMethod {encoding!r} is not OCMF, the only format checked here")
    return SignedValue(value, "OCA", document, encoding, signing, sent_key)


def _sent_public_key(raw: object) -> str | None:
    """A charger's publicKey as hex DER. OCA note: base64 of `oca:<encoding>:<content type>:<printed key>`
    (base16: non-hex characters and a leading 0x are ignored); its own example sends base64 of plain hex."""
    if raw is None or raw == "":
        return None
    try:
        decoded = base64.b64decode(str(raw), validate=True)
    except binascii.Error as exc:
        raise ValueError("not base64") from exc
    try:
        text = decoded.decode("ascii").strip()
    except UnicodeDecodeError:
        return decoded.hex()  # base64 of the DER bytes themselves
    if text.lower().startswith("oca:"):
        parts = text.split(":", 3)
        if len(parts) != 4:
            raise ValueError("expected oca:<encoding>:<content type>:<key>")
        encoding, printed = parts[1].lower(), parts[3]
        if encoding == "base64":
            return base64.b64decode("".join(printed.split())).hex()
        printed = printed[2:] if printed.lower().startswith("0x") else printed
        return public_key_der_hex(re.sub(r"[^0-9a-fA-F]", "", printed))
    return public_key_der_hex(text)


@dataclass(frozen=True, slots=True)
class OcmfVerification:
    status: VerificationStatus
    reason: str
    readings: tuple[SignedReading, ...] = ()
    meter_serial: str | None = None
    signature_algorithm: str | None = None

    @property
    def valid(self) -> bool:
        return self.status is VerificationStatus.VALID

    def reading(self, transaction: str) -> SignedReading | None:
        """The first reading with this TX code ("B" begin, "E" end)."""
        return next((r for r in self.readings if r.transaction == transaction), None)


def verify_ocmf(ocmf_text: str, public_key: str) -> OcmfVerification:
    """Parse `ocmf_text` and verify its signature with `public_key`; never raises for bad input."""
    try:
        document = OCMF.from_string(ocmf_text.strip())
    except PyOCMFError as exc:
        return OcmfVerification(VerificationStatus.INVALID, f"not a readable OCMF document: {exc}")
    readings = tuple(_reading(r) for r in document.payload.RD)
    serial, algorithm = document.payload.MS, _algorithm(document)
    try:
        key_der_hex = public_key_der_hex(public_key)
    except ValueError as exc:
        return OcmfVerification(VerificationStatus.INVALID, f"public key unusable: {exc}", readings, serial,
                                algorithm)
    try:
        ok = document.verify_signature(key_der_hex)
    except PyOCMFError as exc:
        if _unsupported_curve(exc):
            return OcmfVerification(VerificationStatus.UNVERIFIED,
                                    f"no installed library can check this curve: {exc}", readings, serial, algorithm)
        return OcmfVerification(VerificationStatus.INVALID, f"signature could not be checked: {exc}", readings,
                                serial, algorithm)
    if ok:
        return OcmfVerification(VerificationStatus.VALID, "signature matches the payload and key", readings, serial,
                                algorithm)
    return OcmfVerification(VerificationStatus.INVALID, "signature does not match the payload and key", readings,
                            serial, algorithm)


def _unchecked(ocmf_text: str, status: VerificationStatus, reason: str) -> OcmfVerification:
    """The readings of a document whose signature is not checked (INVALID if it cannot even be read)."""
    try:
        document = OCMF.from_string(ocmf_text.strip())
    except PyOCMFError as exc:
        return OcmfVerification(VerificationStatus.INVALID, f"not a readable OCMF document: {exc}")
    return OcmfVerification(status, reason, tuple(_reading(r) for r in document.payload.RD), document.payload.MS,
                            _algorithm(document))


def verify_signed_value(value: SignedValue, registered_key: str | None) -> OcmfVerification:
    """Verify one decoded signed value against the registered key, judging a key the charger sent along."""
    if value.ocmf is None:
        return OcmfVerification(VerificationStatus.INVALID, f"signed value unreadable: {value.problem}")
    sent = value.public_key
    registered = _normalised(registered_key) if registered_key else None
    if registered_key and registered is None:
        return verify_ocmf(value.ocmf, registered_key)  # reports the unusable registered key
    if registered is None:
        if sent is None:
            return _unchecked(value.ocmf, VerificationStatus.UNVERIFIED, "no public key is registered for this meter")
        own = verify_ocmf(value.ocmf, sent)
        if own.status is VerificationStatus.INVALID:
            return own
        return OcmfVerification(VerificationStatus.KEY_UNREGISTERED,
                                f"the charger sent public key {_short(sent)}, but no key is registered for this "
                                f"meter ({own.reason} with the sent key; not trusted until registered)",
                                own.readings, own.meter_serial, own.signature_algorithm)
    result = verify_ocmf(value.ocmf, registered)
    if sent is not None and sent != registered:
        return OcmfVerification(VerificationStatus.KEY_MISMATCH,
                                f"the charger sent public key {_short(sent)}, the registered key is "
                                f"{_short(registered)} (with the registered key: {result.reason})",
                                result.readings, result.meter_serial, result.signature_algorithm)
    return result


def verify_documents(signed_values: Sequence[str], registered_key: str | None) -> OcmfVerification:
    """Verify every signed value of one session (chargers sign begin and end separately) as one result.

    The worst verdict of the documents wins; the readings of all documents are kept in order so the
    begin (B) and end (E) readings can be compared with the meter start and stop.
    """
    if not signed_values:
        return OcmfVerification(VerificationStatus.NOT_SIGNED, "no signed meter values")
    results = [verify_signed_value(decode_signed_value(text), registered_key) for text in signed_values]
    readings = tuple(reading for r in results for reading in r.readings)
    serial = next((r.meter_serial for r in results if r.meter_serial), None)
    algorithm = next((r.signature_algorithm for r in results if r.signature_algorithm), None)
    worst = min(results, key=lambda r: _SEVERITY.index(r.status))
    if worst.status is VerificationStatus.VALID:
        return OcmfVerification(VerificationStatus.VALID, f"{len(results)} signed document(s) match the payload "
                                "and key", readings, serial, algorithm)
    return OcmfVerification(worst.status, worst.reason, readings, serial, algorithm)


def public_key_der_hex(public_key: str) -> str:
    """A public key as hex DER (SubjectPublicKeyInfo), from hex DER (spaces allowed), base64 DER or PEM."""
    text = public_key.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except (ValueError, UnicodeEncodeError, UnsupportedAlgorithm) as exc:
            raise ValueError(f"invalid PEM public key ({exc})") from exc
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return der.hex()
    compact = "".join(text.split())
    if not compact:
        raise ValueError("empty public key")
    if compact.lower().startswith("0x"):
        compact = compact[2:]
    if _HEX.match(compact) and len(compact) % 2 == 0:
        return compact.lower()
    try:
        return base64.b64decode(compact, validate=True).hex()
    except binascii.Error as exc:
        raise ValueError("neither hex nor base64 nor PEM") from exc


def key_curve(public_key: str) -> str:
    """The curve of an EC public key (hex DER, base64 DER or PEM); ValueError when it is not one."""
    try:
        return str(PublicKey.from_string(public_key_der_hex(public_key)).curve.value)
    except (PyOCMFError, ImportError) as exc:
        raise ValueError(str(exc)) from exc


def _normalised(public_key: str) -> str | None:
    try:
        return public_key_der_hex(public_key)
    except ValueError:
        return None


def public_key_base64(public_key: str) -> str:
    """The key as base64 DER, the form OCPI's SignedData.public_key takes."""
    return base64.b64encode(bytes.fromhex(public_key_der_hex(public_key))).decode("ascii")


def _short(key_hex: str) -> str:
    return f"…{key_hex[-16:]}" if len(key_hex) > 16 else key_hex


def _unsupported_curve(exc: BaseException) -> bool:
    """Whether pyocmf failed because no installed library implements the key's curve."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (UnsupportedAlgorithm, ImportError)) or "Unsupported elliptic curve" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _algorithm(document: OCMF) -> str | None:
    sa = getattr(document.signature, "SA", None)
    return None if sa is None else str(getattr(sa, "value", sa))


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


# OCMF time status of the readings that may carry a price for time (TIME, PARKING_TIME).
_TRUSTED_CLOCK = {"S"}


def time_pricing_allowed(verification: OcmfVerification) -> tuple[bool, str]:
    """Whether the meter's clock may price time: Eichrecht does not let time be billed from an unsynchronised one.

    Allowed when the begin and end readings are synchronised (S), or the end reading is relative (R: the
    meter measured the duration itself). Unknown (U) or informative (I) clocks are not priced.
    """
    begin, end = verification.reading("B"), verification.reading("E")
    if begin is None or end is None:
        return False, "the signed data has no begin and end reading to measure time by"
    if begin.time_status in _TRUSTED_CLOCK and end.time_status in _TRUSTED_CLOCK:
        return True, f"meter clock synchronised (time status {begin.time_status}/{end.time_status})"
    if end.time_status == "R":
        return True, f"duration measured by the meter (time status {begin.time_status}/R, relative)"
    return False, (f"meter clock not synchronised (OCMF time status {begin.time_status}/{end.time_status}): "
                   "time and parking are not billed")


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
