"""Charger certificates over HTTP: what each charger holds, its signing requests, and the commands that change
them (InstallCertificate, DeleteCertificate, GetInstalledCertificateIds, a renewal of its own certificate).

Certificate types are neutral, in the OCPP 2.0.1 names; each charger's adapter says them in its version's words
(``CSMSRootCertificate`` goes to a 1.6 charger as ``CentralSystemRootCertificate``; a renewal is 1.6
ExtendedTriggerMessage SignChargePointCertificate or 2.0.1 TriggerMessage SignChargingStationCertificate).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from ..pki.authority import AuthorityError
from ..pki.certificates import CertificateError, chain_hash_data, common_name
from ..store import pki as store
from ..store import reads
from .errors import error_responses
from .models import RowId

if TYPE_CHECKING:
    from ..workers.pki import PkiWorker

RootType = Literal["CSMSRootCertificate", "ManufacturerRootCertificate", "V2GRootCertificate", "MORootCertificate"]
ListedType = Literal["CSMSRootCertificate", "ManufacturerRootCertificate", "V2GRootCertificate", "MORootCertificate",
                     "V2GCertificateChain"]
ChargerId = Annotated[str, Path(max_length=64)]
Timeout = Annotated[float, Query(gt=0, le=300)]


class CertificateOut(BaseModel):
    id: int
    certificate_type: str = Field(description="neutral (OCPP 2.0.1) name, e.g. CSMSRootCertificate")
    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str
    source: Literal["installed", "reported", "signed"] = Field(description=(
        "installed: we installed it (InstallCertificate accepted); signed: our CA signed it and the charger accepted "
        "it (CertificateSigned); reported: the charger listed it (GetInstalledCertificateIds)"))
    subject: str | None = None
    not_after: datetime | None = None
    installed_at: datetime | None = None
    reported_at: datetime | None = None
    deleted_at: datetime | None = None
    updated_at: datetime


class CertificateRequestOut(BaseModel):
    id: int
    message_id: str
    certificate_type: str
    subject: str | None = None
    received_at: datetime
    status: Literal["rejected", "accepted", "signed", "delivered", "refused", "not_delivered", "failed"] = Field(
        description=("rejected: answered Rejected (see reason); accepted → signed by our CA → delivered (the charger "
                     "accepted CertificateSigned) | refused (it rejected it) | not_delivered (offline, timeout, "
                     "error); failed: the CA could not sign"))
    reason: str | None = None
    serial_number: str | None = None
    not_after: datetime | None = None
    delivered_at: datetime | None = None


class CertificatesOut(BaseModel):
    items: list[CertificateOut]
    requests: list[CertificateRequestOut] = Field(description="the charger's latest signing requests, newest first")


class CertificateCommandOut(BaseModel):
    command_id: int
    status: Literal["answered", "error", "timeout", "offline"]
    sent_action: str | None = Field(default=None, description="the action the charger received, in its version")
    response: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    certificates: list[CertificateOut] = Field(default_factory=list, description="the charger's certificates after it")


class InstallIn(BaseModel):
    certificate_type: RootType
    certificate: str = Field(min_length=1, max_length=5500, description="PEM-encoded X.509 certificate")
    timeout: float = Field(default=30.0, gt=0, le=300)


class RefreshIn(BaseModel):
    certificate_types: list[ListedType] = Field(
        default=["CSMSRootCertificate", "ManufacturerRootCertificate"], min_length=1, max_length=5,
        description="one GetInstalledCertificateIds per type (1.6 asks one type at a time; V2G types are 2.0.1's)")
    timeout: float = Field(default=30.0, gt=0, le=300)


class RenewIn(BaseModel):
    certificate_type: Literal["ChargingStationCertificate", "V2GCertificate"] = "ChargingStationCertificate"
    timeout: float = Field(default=30.0, gt=0, le=300)


class AuthorityOut(BaseModel):
    configured: bool
    available: bool = Field(description="the CA's files load and match: chargers' requests are signed")
    subject: str | None = None
    common_name: str | None = None
    not_after: datetime | None = None
    problem: str | None = None


def pki_router(engine: Engine, worker: PkiWorker) -> APIRouter:
    router = APIRouter(tags=["certificates"])

    def _known(charger_id: str) -> None:
        with engine.connect() as connection:
            if reads.charger(connection, charger_id) is None:
                raise HTTPException(404, f"charger {charger_id!r} not found")

    def _certificates(charger_id: str) -> list[dict[str, Any]]:
        with engine.connect() as connection:
            return store.certificates(connection, charger_id)

    async def _send(charger_id: str, action: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
        await asyncio.to_thread(_known, charger_id)
        try:
            command_id, result = await worker.command(charger_id, action, payload, timeout=timeout,
                                                      requested_by="api")
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"command_id": command_id, "status": result.status, "sent_action": result.sent_action,
                "response": result.response, "error": result.error,
                "certificates": await asyncio.to_thread(_certificates, charger_id)}

    @router.get("/api/v1/chargers/{charger_id}/certificates", response_model=CertificatesOut,
                responses=error_responses(404))
    def list_certificates(charger_id: ChargerId,
                          include_deleted: Annotated[bool, Query(description="also those removed")] = False,
                          ) -> dict[str, Any]:
        """The certificates the charger holds as far as its answers tell, and its signing requests."""
        with engine.connect() as connection:
            if reads.charger(connection, charger_id) is None:
                raise HTTPException(404, f"charger {charger_id!r} not found")
            return {"items": store.certificates(connection, charger_id, include_deleted),
                    "requests": store.requests(connection, charger_id)}

    @router.post("/api/v1/chargers/{charger_id}/certificates", response_model=CertificateCommandOut,
                 responses=error_responses(404, 422))
    async def install_certificate(charger_id: ChargerId, body: InstallIn) -> dict[str, Any]:
        """InstallCertificate: a root certificate (the CSMS's, a manufacturer's, 2.0.1's V2G/MO roots) for the
        charger to trust; recorded when it answers Accepted."""
        try:
            chain_hash_data(body.certificate)
        except CertificateError as exc:
            raise HTTPException(422, {"field": "certificate", "reason": str(exc)}) from None
        return await _send(charger_id, "InstallCertificate",
                           {"certificateType": body.certificate_type, "certificate": body.certificate}, body.timeout)

    @router.post("/api/v1/chargers/{charger_id}/certificates/refresh", response_model=CertificateCommandOut,
                 responses=error_responses(404, 422))
    async def refresh_certificates(charger_id: ChargerId, body: RefreshIn | None = None) -> dict[str, Any]:
        """GetInstalledCertificateIds for each type; the list per type replaces what was known of that type.
        The answer shown is the last type's."""
        body = body or RefreshIn()
        out: dict[str, Any] = {}
        for certificate_type in body.certificate_types:
            out = await _send(charger_id, "GetInstalledCertificateIds", {"certificateType": certificate_type},
                              body.timeout)
            if out["status"] != "answered":
                break
        return out

    @router.delete("/api/v1/chargers/{charger_id}/certificates/{certificate_id}",
                   response_model=CertificateCommandOut, responses=error_responses(404, 422))
    async def delete_certificate(charger_id: ChargerId, certificate_id: RowId,
                                 timeout: Timeout = 30.0) -> dict[str, Any]:
        """DeleteCertificate by its hash data; the row is marked deleted when the charger answers Accepted (or
        NotFound: it does not hold it either)."""
        def find() -> dict[str, Any] | None:
            with engine.connect() as connection:
                return store.certificate(connection, charger_id, certificate_id)

        row = await asyncio.to_thread(find)
        if row is None:
            raise HTTPException(404, f"charger {charger_id!r} has no certificate {certificate_id}")
        return await _send(charger_id, "DeleteCertificate",
                           {"certificateHashData": store.hashes_of([row])[0].to_ocpp()}, timeout)

    @router.post("/api/v1/chargers/{charger_id}/certificates/renew", response_model=CertificateCommandOut,
                 responses=error_responses(404, 422))
    async def renew_certificate(charger_id: ChargerId, body: RenewIn | None = None) -> dict[str, Any]:
        """Ask the charger for a new key and CSR (1.6 ExtendedTriggerMessage SignChargePointCertificate, 2.0.1
        TriggerMessage SignChargingStationCertificate / SignV2GCertificate); its SignCertificate is then signed
        by our CA and the chain sent back (see the requests of GET …/certificates)."""
        body = body or RenewIn()
        if body.certificate_type == "ChargingStationCertificate":
            action, payload = "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}
        else:
            action, payload = "TriggerMessage", {"requestedMessage": "SignV2GCertificate"}
        return await _send(charger_id, action, payload, body.timeout)

    @router.get("/api/v1/certificate-authority", response_model=AuthorityOut)
    def certificate_authority() -> dict[str, Any]:
        """The operator CA that signs chargers' certificates (its certificate, never its key)."""
        authority = worker.authority
        out: dict[str, Any] = {"configured": authority.config.configured, "available": False}
        if not authority.config.configured:
            return out
        try:
            loaded = authority.load()
        except AuthorityError as exc:
            return {**out, "problem": str(exc)}
        certificate = loaded.certificate
        return {**out, "available": True, "subject": certificate.subject.rfc4514_string(),
                "common_name": common_name(certificate), "not_after": certificate.not_valid_after_utc}

    return router
