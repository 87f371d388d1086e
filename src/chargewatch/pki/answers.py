"""What a charger's answers to the certificate commands say, in neutral words (either OCPP version).

Certificate types are neutral in the OCPP 2.0.1 names; a 1.6 type given or answered is mapped onto them.
"""

from __future__ import annotations

from typing import Any

from .certificates import ROOT_TYPES, CertificateError, CertificateHash

# Neutral (2.0.1) certificate type ↔ 1.6 CertificateUseEnumType.
TYPES_16 = {"CSMSRootCertificate": "CentralSystemRootCertificate",
            "ManufacturerRootCertificate": "ManufacturerRootCertificate"}
NEUTRAL_TYPES = {v16: neutral for neutral, v16 in TYPES_16.items()}


def neutral_type(value: str) -> str:
    return NEUTRAL_TYPES.get(value, value)


def asked_types(payload: dict[str, Any]) -> list[str]:
    """The (neutral) types a GetInstalledCertificateIds asked for; none named: every root type (2.0.1)."""
    value = payload.get("certificateType")
    if value is None or value == []:
        return sorted(ROOT_TYPES)
    values = value if isinstance(value, list) else [value]
    return [neutral_type(str(v)) for v in values]


def listed(payload: dict[str, Any], response: dict[str, Any]) -> dict[str, list[CertificateHash]]:
    """The certificates a GetInstalledCertificateIds answer lists, per asked type (an empty list: none of that
    type is installed). 1.6 answers ``certificateHashData`` of the one type asked; 2.0.1 a
    ``certificateHashDataChain`` naming each entry's type (a chain's child certificates count under its type)."""
    types = asked_types(payload)
    found: dict[str, list[CertificateHash]] = {t: [] for t in types}
    if response.get("status") != "Accepted":
        return found  # NotFound: nothing of the asked types is installed
    for data in response.get("certificateHashData") or []:
        found.setdefault(types[0], []).append(CertificateHash.from_ocpp(data))
    for entry in response.get("certificateHashDataChain") or []:
        kind = neutral_type(str(entry.get("certificateType", types[0])))
        bucket = found.setdefault(kind, [])
        bucket.append(CertificateHash.from_ocpp(entry.get("certificateHashData") or {}))
        bucket.extend(CertificateHash.from_ocpp(child) for child in entry.get("childCertificateHashData") or [])
    return found


def deleted(payload: dict[str, Any], response: dict[str, Any]) -> CertificateHash | None:
    """The certificate a DeleteCertificate removed (Accepted) or found absent (NotFound); None: it failed."""
    if response.get("status") not in ("Accepted", "NotFound"):
        return None
    try:
        return CertificateHash.from_ocpp(payload.get("certificateHashData") or {})
    except CertificateError:
        return None
