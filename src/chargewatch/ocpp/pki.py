"""Certificate management in both OCPP versions: the charger's signing request in, the CSMS's certificate
commands out (the 1.6 security whitepaper's messages and their OCPP 2.0.1 equivalents).

Inbound, a SignCertificate becomes a neutral :class:`~chargewatch.domain.model.CertificateSigningRequested`:
Accepted when its CSR may be signed for this charger and the operator's CA is ready, else Rejected with the
reason recorded. The PKI worker signs an accepted one and sends CertificateSigned.

Outbound, every adapter takes the certificate commands in either version's words; certificate types are neutral
in the 2.0.1 names (``CSMSRootCertificate`` is 1.6's ``CentralSystemRootCertificate``, ``ChargingStationCertificate``
1.6's one charge point certificate) and each version renders them in its own.
"""

from __future__ import annotations

from ..domain.model import CertificateSigningRequested, ChargerState
from ..pki.answers import NEUTRAL_TYPES, TYPES_16
from ..pki.certificates import check_csr
from .adapter import Environment

# The messages a charger is asked for to start the signing flow.
TRIGGER_16 = "SignChargePointCertificate"  # ExtendedTriggerMessage
TRIGGERS_201 = {"ChargingStationCertificate": "SignChargingStationCertificate", "V2GCertificate": "SignV2GCertificate"}
__all__ = ["NEUTRAL_TYPES", "TYPES_16", "TRIGGER_16", "TRIGGERS_201", "CERTIFICATE_ACTIONS", "signing_request"]
CERTIFICATE_ACTIONS = frozenset({"CertificateSigned", "InstallCertificate", "DeleteCertificate",
                                 "GetInstalledCertificateIds"})


def signing_request(csr: str, certificate_type: str, state: ChargerState,
                    env: Environment) -> tuple[bool, CertificateSigningRequested]:
    """Whether to accept a charger's CSR (answer Accepted) and the neutral change that records it."""
    verdict = check_csr(csr, state.charger_id)
    accepted, reason = verdict.accepted, verdict.reason
    if accepted and not env.can_sign_certificates:
        accepted, reason = False, "no operator CA is configured (chargewatch ca init)"
    return accepted, CertificateSigningRequested(certificate_type, csr, accepted, reason, verdict.subject, env.now)
