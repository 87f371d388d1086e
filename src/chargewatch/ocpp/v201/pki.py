"""OCPP 2.0.1 certificate management (functional blocks A and M): SignCertificate in, the commands out, and a
clear refusal of the ISO 15118 certificate services this CSMS does not provide."""

from __future__ import annotations

from typing import Any

from ...domain.model import ChargerState, Outcome
from ..adapter import Environment
from ..pki import NEUTRAL_TYPES, TRIGGER_16, TRIGGERS_201, signing_request

_NOT_SUPPORTED = {"reasonCode": "NotSupported"}


def sign_certificate(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    """SignCertificateRequest: without certificateType the certificate is for both the CSMS connection and 15118;
    we sign it as the charging station certificate."""
    certificate_type = payload.get("certificateType") or "ChargingStationCertificate"
    accepted, change = signing_request(payload["csr"], certificate_type, state, env)
    reply: dict[str, Any] = {"status": "Accepted" if accepted else "Rejected"}
    if change.reason:
        no_ca = change.reason.startswith("no operator CA")
        reply["statusInfo"] = {"reasonCode": "NoCA" if no_ca else "InvalidCSR",
                               "additionalInfo": change.reason[:512]}
    return Outcome(reply, [change])


def get_15118_ev_certificate(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    """Plug & Charge contract certificates come from a mobility operator's PKI, which this CSMS does not reach."""
    return Outcome({"status": "Failed", "exiResponse": "", "statusInfo": {
        **_NOT_SUPPORTED, "additionalInfo": "this CSMS does not provide ISO 15118 contract certificates"}})


def get_certificate_status(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    """OCSP for 15118 certificates is not relayed by this CSMS."""
    return Outcome({"status": "Failed", "statusInfo": {
        **_NOT_SUPPORTED, "additionalInfo": "this CSMS does not relay OCSP requests"}})


HANDLERS = {"SignCertificate": sign_certificate, "Get15118EVCertificate": get_15118_ev_certificate,
            "GetCertificateStatus": get_certificate_status}


def _types(value: Any) -> Any:
    values = value if isinstance(value, list) else [value]
    return [NEUTRAL_TYPES.get(v, v) for v in values]


def translate(action: str, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A certificate command in 1.6 (or neutral) words as 2.0.1 says it."""
    if action == "ExtendedTriggerMessage" and payload.get("requestedMessage") == TRIGGER_16:
        return "TriggerMessage", {"requestedMessage": TRIGGERS_201["ChargingStationCertificate"]}
    if action == "InstallCertificate" and payload.get("certificateType") in NEUTRAL_TYPES:
        return action, {**payload, "certificateType": NEUTRAL_TYPES[payload["certificateType"]]}
    if action == "GetInstalledCertificateIds" and "certificateType" in payload:
        return action, {**payload, "certificateType": _types(payload["certificateType"])}
    return action, payload
