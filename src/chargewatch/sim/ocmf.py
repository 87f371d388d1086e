"""OCMF signed meter values for simulated chargers, as a calibrated meter (German Eichrecht) makes them.

Each simulated meter gets its own ECDSA secp256r1 key; its public key is what an operator registers
for the charger (PUT /api/v1/chargers/{id}/ocmf-key) so billing can verify the signed begin and end
readings. The payload text is signed exactly as sent, as the OCMF specification requires.

A charger sends the document in one of the two OCPP 1.6 shapes (`shape`): the raw `OCMF|…` text as
the sampledValue's value, or the OCA application note's JSON object (signedMeterData base64,
signingMethod, encodingMethod, publicKey), optionally with the meter's public key along.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

_SECP256R1_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def demo_key(meter_serial: str, seed: str = "chargewatch-demo") -> ec.EllipticCurvePrivateKey:
    """A key derived from the meter serial, so the demo can register the key of a meter it simulates elsewhere.

    Only for the demo and tests: anyone who knows the serial knows the key.
    """
    digest = hashlib.sha256(f"{seed}:{meter_serial}".encode()).digest()
    return ec.derive_private_key(int.from_bytes(digest, "big") % (_SECP256R1_ORDER - 1) + 1, ec.SECP256R1())


@dataclass
class OcmfSigner:
    """A simulated meter that signs its register readings; `pagination` counts documents (OCMF PG)."""

    meter_serial: str = "SIM-METER-0001"
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    pagination: int = 0
    shape: str = "OCMF"  # "OCMF": raw text as the value; "OCA": the application note's JSON object
    send_public_key: bool = False  # OCA shape only: put the meter's key in publicKey
    time_status: str = "S"  # OCMF time status of the meter clock: S synchronised, I informative, U unknown

    @classmethod
    def for_demo(cls, meter_serial: str, **options: object) -> OcmfSigner:
        return cls(meter_serial=meter_serial, key=demo_key(meter_serial), **options)  # type: ignore[arg-type]

    @property
    def public_key_hex(self) -> str:
        """The public key as hex DER (SubjectPublicKeyInfo), the form chargers publish."""
        return self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo).hex()

    def payload(self, *, register_wh: int, at: datetime, transaction: str, id_tag: str) -> str:
        """The OCMF payload JSON for one reading; `transaction` is B (begin) or E (end)."""
        self.pagination += 1
        moment = at.astimezone(UTC)
        return json.dumps({
            "FV": "1.0", "GI": "chargewatch-sim", "GS": self.meter_serial, "GV": "1.0", "PG": f"T{self.pagination}",
            "MV": "chargewatch", "MM": "SIM-METER", "MS": self.meter_serial, "MF": "1.0",
            "IS": True, "IL": "VERIFIED", "IF": ["OCPP_RS"], "IT": "CENTRAL", "ID": id_tag,
            "RD": [{"TM": f"{moment:%Y-%m-%dT%H:%M:%S},{moment.microsecond // 1000:03d}+0000 {self.time_status}",
                    "TX": transaction, "RV": float(Decimal(register_wh) / 1000), "RI": "1-b:1.8.0", "RU": "kWh",
                    "RT": "AC", "EF": "", "ST": "G"}],
        }, separators=(",", ":"))

    def sign_payload(self, payload: str) -> str:
        signature = self.key.sign(payload.encode("utf-8"), ec.ECDSA(hashes.SHA256()))
        return f'OCMF|{payload}|{{"SA":"ECDSA-secp256r1-SHA256","SD":"{signature.hex()}"}}'

    def sign(self, *, register_wh: int, at: datetime, transaction: str, id_tag: str) -> str:
        """A complete `OCMF|payload|signature` document for one register reading."""
        return self.sign_payload(self.payload(register_wh=register_wh, at=at, transaction=transaction,
                                              id_tag=id_tag))

    def oca_value(self, document: str) -> str:
        """The OCA application note's JSON object (as a string) carrying `document`."""
        value = {"signedMeterData": base64.b64encode(document.encode("utf-8")).decode("ascii"),
                 "signingMethod": "ECDSA-secp256r1-SHA256", "encodingMethod": "OCMF"}
        if self.send_public_key:
            # OCA note 3.2.2: base64 of oca:<encoding>:<content type>:<printed key>
            printed = f"oca:base16:asn1:{self.public_key_hex.upper()}"
            value["publicKey"] = base64.b64encode(printed.encode("ascii")).decode("ascii")
        return json.dumps(value, separators=(",", ":"))

    def signed_value(self, *, register_wh: int, at: datetime, transaction: str, id_tag: str) -> dict[str, str]:
        """The OCPP 1.6 sampledValue carrying the document (format SignedData)."""
        context = "Transaction.Begin" if transaction == "B" else "Transaction.End"
        document = self.sign(register_wh=register_wh, at=at, transaction=transaction, id_tag=id_tag)
        return {"value": self.oca_value(document) if self.shape == "OCA" else document,
                "format": "SignedData", "context": context, "measurand": "Energy.Active.Import.Register",
                "unit": "Wh"}

    def signed_meter_value(self, *, register_wh: int, at: datetime, transaction: str, id_tag: str) -> dict[str, str]:
        """The OCPP 2.0.1 SignedMeterValueType carrying the document (publicKey: base64 of the DER key, or empty)."""
        document = self.sign(register_wh=register_wh, at=at, transaction=transaction, id_tag=id_tag)
        key = base64.b64encode(bytes.fromhex(self.public_key_hex)).decode("ascii") if self.send_public_key else ""
        return {"signedMeterData": base64.b64encode(document.encode("utf-8")).decode("ascii"),
                "signingMethod": "ECDSA-secp256r1-SHA256", "encodingMethod": "OCMF", "publicKey": key}
