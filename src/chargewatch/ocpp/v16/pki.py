"""The 1.6 security whitepaper's certificate messages: SignCertificate in, certificate commands rendered."""

from __future__ import annotations

from typing import Any

from ...domain.model import ChargerState, Outcome
from ..adapter import Environment
from ..pki import NEUTRAL_TYPES, TRIGGER_16, TRIGGERS_201, TYPES_16, signing_request


def sign_certificate(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    """SignCertificate.req (after ExtendedTriggerMessage SignChargePointCertificate, or when the charger's own
    certificate nears its end): 1.6 has one charger certificate, the ChargePointCertificate."""
    accepted, change = signing_request(payload["csr"], "ChargingStationCertificate", state, env)
    return Outcome({"status": "Accepted" if accepted else "Rejected"}, [change])


def _type(value: Any) -> Any:
    if isinstance(value, list):
        if len(value) != 1:
            raise ValueError("OCPP 1.6 GetInstalledCertificateIds asks for one certificateType at a time")
        value = value[0]
    if value in NEUTRAL_TYPES:
        return value
    if value not in TYPES_16:
        raise ValueError(f"certificateType {value!r}: OCPP 1.6 knows only CentralSystemRootCertificate and "
                         "ManufacturerRootCertificate")
    return TYPES_16[value]


def translate(action: str, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A certificate command in neutral or 2.0.1 words as the 1.6 security extension says it."""
    if action == "TriggerMessage" and payload.get("requestedMessage") in TRIGGERS_201.values():
        if payload["requestedMessage"] != TRIGGERS_201["ChargingStationCertificate"]:
            raise ValueError(f"{payload['requestedMessage']}: OCPP 1.6 signs only the charge point certificate")
        return "ExtendedTriggerMessage", {"requestedMessage": TRIGGER_16}
    if action == "CertificateSigned" and "certificateType" in payload:
        if payload["certificateType"] != "ChargingStationCertificate":
            raise ValueError(f"certificateType {payload['certificateType']!r}: OCPP 1.6 has only the charge point "
                             "certificate")
        return action, {k: v for k, v in payload.items() if k != "certificateType"}
    if action in ("InstallCertificate", "GetInstalledCertificateIds") and "certificateType" in payload:
        return action, {**payload, "certificateType": _type(payload["certificateType"])}
    return action, payload
