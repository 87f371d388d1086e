"""A charger that manages certificates the way the security whitepaper (1.6) and OCPP 2.0.1 say, through the `ocpp`
library's ChargePoint (which checks our CALLs and its answers against the official schemas).

It keeps installed root certificates by type and names them with its own CertificateHashData code (independent of
chargewatch's: the issuer key hash is cut out of the SubjectPublicKeyInfo DER of the P-256 keys the tests use); on
ExtendedTriggerMessage SignChargePointCertificate / TriggerMessage SignChargingStationCertificate it makes a fresh
key and CSR and sends SignCertificate; on CertificateSigned it checks the chain (leaf signed by the CA it trusts, its
own key, its own id as CN) before it accepts it, as a real charger must.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

TYPES_16 = {"CentralSystemRootCertificate": "CSMSRootCertificate",
            "ManufacturerRootCertificate": "ManufacturerRootCertificate"}


def make_csr(common_name: str, key: Any = None, organization: str = "Test CPO") -> tuple[str, Any]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode(), key


def own_hash_data(certificate: x509.Certificate) -> dict[str, str]:
    """CertificateHashData of a self-signed P-256 certificate, computed apart from chargewatch's code."""
    spki = certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    assert len(spki) == 91, "the test peer names P-256 certificates only"
    return {"hashAlgorithm": "SHA256",
            "issuerNameHash": hashlib.sha256(certificate.issuer.public_bytes()).hexdigest(),
            "issuerKeyHash": hashlib.sha256(spki[-65:]).hexdigest(),  # the BIT STRING's point, 04‖X‖Y
            "serialNumber": f"{certificate.serial_number:x}"}


@dataclass
class CertCharger:
    url: str
    charger_id: str
    version: str = "ocpp1.6"
    csr_name: str | None = None  # the CN its CSRs carry (default: its own id)
    installed: dict[str, list[x509.Certificate]] = field(default_factory=dict)  # neutral type → certificates
    own_certificate: x509.Certificate | None = None
    key: Any = None
    pending_key: Any = None
    signing_answers: list[str] = field(default_factory=list)  # what its SignCertificate calls were answered
    signed_chains: list[str] = field(default_factory=list)
    chain_problems: list[str] = field(default_factory=list)
    signed: asyncio.Event = field(default_factory=asyncio.Event)
    asked: asyncio.Event = field(default_factory=asyncio.Event)
    _ws: ClientConnection | None = None
    _cp: Any = None
    _task: asyncio.Task[None] | None = None

    @property
    def v201(self) -> bool:
        return self.version == "ocpp2.0.1"

    async def connect(self) -> None:
        self._ws = await ws_connect(f"{self.url}/{self.charger_id}", subprotocols=[self.version])  # type: ignore[list-item]
        base = ChargePoint201 if self.v201 else ChargePoint16
        self._cp = base(self.charger_id, _Socket(self._ws), response_timeout=15)
        for action, handler, after in self._routes():
            self._cp.route_map[action] = {"_on_action": handler, "_skip_schema_validation": False,
                                          **({"_after_action": after} if after else {})}
        self._task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        try:
            await self._cp.start()
        except Exception:  # noqa: BLE001 - the socket closed
            pass

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._ws is not None:
            await self._ws.close()

    async def boot(self) -> None:
        if self.v201:
            await self._cp.call(call201.BootNotification(
                charging_station={"vendor_name": "PkiVendor", "model": "P1"}, reason="PowerUp"), suppress=False)
        else:
            await self._cp.call(call16.BootNotification(charge_point_vendor="PkiVendor", charge_point_model="P1"),
                                suppress=False)

    async def sign_certificate(self, common_name: str | None = None) -> str:
        """Make a key and CSR and send SignCertificate (as after a trigger, or when its certificate nears its end)."""
        csr, self.pending_key = make_csr(common_name or self.csr_name or self.charger_id)
        if self.v201:
            request = call201.SignCertificate(csr=csr, certificate_type="ChargingStationCertificate")
            answer = await self._cp.call(request, suppress=False)
        else:
            answer = await self._cp.call(call16.SignCertificate(csr=csr), suppress=False)
        self.signing_answers.append(answer.status)
        return str(answer.status)

    # ------------------------------------------------------------------ what it answers

    def _trusted(self) -> list[x509.Certificate]:
        return self.installed.get("CSMSRootCertificate", [])

    def _certificate_signed(self, certificate_chain: str, **_: Any) -> str:
        self.signed_chains.append(certificate_chain)
        try:
            chain = x509.load_pem_x509_certificates(certificate_chain.encode())
            leaf = chain[0]
            issuers = [c for c in (*chain[1:], *self._trusted()) if c.subject == leaf.issuer]
            assert issuers, "no issuer of the leaf in the chain or the trusted roots"
            leaf.verify_directly_issued_by(issuers[0])
            assert any(root.public_key() == issuers[0].public_key() for root in self._trusted()), "CA not trusted"
            assert leaf.public_key() == self.pending_key.public_key(), "not my key"
            cn = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
            assert cn == self.charger_id, f"CN {cn}"
        except Exception as exc:  # noqa: BLE001 - a real charger rejects it and raises a security event
            self.chain_problems.append(str(exc))
            self.signed.set()
            return "Rejected"
        self.own_certificate, self.key = leaf, self.pending_key
        self.signed.set()
        return "Accepted"

    def _install(self, certificate_type: str, certificate: str, **_: Any) -> str:
        neutral = TYPES_16.get(certificate_type, certificate_type)
        self.installed.setdefault(neutral, []).append(x509.load_pem_x509_certificate(certificate.encode()))
        return "Accepted"

    def _delete(self, certificate_hash_data: dict[str, Any], **_: Any) -> str:
        wanted = {k: str(v).lower() for k, v in _camel(certificate_hash_data).items()}
        for certificates in self.installed.values():
            for certificate in list(certificates):
                if {k: v.lower() for k, v in own_hash_data(certificate).items()} == wanted:
                    certificates.remove(certificate)
                    return "Accepted"
        return "NotFound"

    def _listed(self, types: list[str]) -> list[tuple[str, dict[str, str]]]:
        return [(t, own_hash_data(c)) for t in types for c in self.installed.get(t, [])]

    def _routes(self) -> list[tuple[str, Any, Any]]:
        if self.v201:
            def trigger(requested_message: str, **_: Any) -> Any:
                return result201.TriggerMessage(
                    status="Accepted" if requested_message == "SignChargingStationCertificate" else "NotImplemented")

            def after_trigger(requested_message: str, **_: Any) -> Any:
                self.asked.set()
                if requested_message == "SignChargingStationCertificate":
                    return self.sign_certificate()
                return None

            def listing(certificate_type: list[str] | None = None, **_: Any) -> Any:
                found = self._listed(certificate_type or sorted(self.installed))
                if not found:
                    return result201.GetInstalledCertificateIds(status="NotFound")
                return result201.GetInstalledCertificateIds(status="Accepted", certificate_hash_data_chain=[
                    {"certificate_type": t, "certificate_hash_data": _snake(h)} for t, h in found])

            return [
                ("TriggerMessage", trigger, after_trigger),
                ("CertificateSigned", lambda **p: result201.CertificateSigned(status=self._certificate_signed(**p)),
                 None),
                ("InstallCertificate", lambda **p: result201.InstallCertificate(status=self._install(**p)), None),
                ("DeleteCertificate", lambda **p: result201.DeleteCertificate(status=self._delete(**p)), None),
                ("GetInstalledCertificateIds", listing, None),
            ]

        def extended_trigger(requested_message: str, **_: Any) -> Any:
            return result16.ExtendedTriggerMessage(
                status="Accepted" if requested_message == "SignChargePointCertificate" else "NotImplemented")

        def after_extended(requested_message: str, **_: Any) -> Any:
            self.asked.set()
            if requested_message == "SignChargePointCertificate":
                return self.sign_certificate()
            return None

        def listing16(certificate_type: str, **_: Any) -> Any:
            found = self._listed([TYPES_16[certificate_type]])
            if not found:
                return result16.GetInstalledCertificateIds(status="NotFound")
            return result16.GetInstalledCertificateIds(status="Accepted",
                                                       certificate_hash_data=[_snake(h) for _, h in found])

        return [
            ("ExtendedTriggerMessage", extended_trigger, after_extended),
            ("CertificateSigned", lambda **p: result16.CertificateSigned(status=self._certificate_signed(**p)), None),
            ("InstallCertificate", lambda **p: result16.InstallCertificate(status=self._install(**p)), None),
            ("DeleteCertificate", lambda **p: result16.DeleteCertificate(status=self._delete(**p)), None),
            ("GetInstalledCertificateIds", listing16, None),
        ]


def _snake(data: dict[str, str]) -> dict[str, str]:
    return {"hash_algorithm": data["hashAlgorithm"], "issuer_name_hash": data["issuerNameHash"],
            "issuer_key_hash": data["issuerKeyHash"], "serial_number": data["serialNumber"]}


def _camel(data: dict[str, Any]) -> dict[str, Any]:
    names = {"hash_algorithm": "hashAlgorithm", "issuer_name_hash": "issuerNameHash",
             "issuer_key_hash": "issuerKeyHash", "serial_number": "serialNumber"}
    return {names.get(k, k): v for k, v in data.items()}


class _Socket:
    def __init__(self, websocket: ClientConnection) -> None:
        self._ws = websocket

    async def recv(self) -> str:
        return str(await self._ws.recv())

    async def send(self, message: str) -> None:
        await self._ws.send(message)
