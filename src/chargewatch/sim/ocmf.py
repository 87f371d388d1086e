"""OCMF signed meter values for simulated chargers, as a calibrated meter (German Eichrecht) makes them.

Each simulated meter gets its own ECDSA secp256r1 key; its public key is what an operator registers
for the charger (PUT /api/v1/chargers/{id}/ocmf-key) so billing can verify the signed begin and end
readings. The payload text is signed exactly as sent, as the OCMF specification requires.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


@dataclass
class OcmfSigner:
    """A simulated meter that signs its register readings; `pagination` counts documents (OCMF PG)."""

    meter_serial: str = "SIM-METER-0001"
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    pagination: int = 0

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
            "RD": [{"TM": f"{moment:%Y-%m-%dT%H:%M:%S},{moment.microsecond // 1000:03d}+0000 S",
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

    def signed_value(self, *, register_wh: int, at: datetime, transaction: str, id_tag: str) -> dict[str, str]:
        """The OCPP 1.6 sampledValue carrying the document (format SignedData)."""
        context = "Transaction.Begin" if transaction == "B" else "Transaction.End"
        return {"value": self.sign(register_wh=register_wh, at=at, transaction=transaction, id_tag=id_tag),
                "format": "SignedData", "context": context, "measurand": "Energy.Active.Import.Register",
                "unit": "Wh"}
