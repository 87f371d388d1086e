"""Operator API of firmware campaigns and log uploads (``workers.firmware`` does the work).

``POST /api/v1/firmware/campaigns`` starts a campaign over chargers (ids, or a site), ``GET …/campaigns[/{id}]``
shows its progress per charger and in sum; ``GET /api/v1/chargers/{id}/firmware`` a charger's updates and progress
reports. ``POST /api/v1/chargers/{id}/logs`` asks a charger for a diagnostics or security log uploaded to this
server; ``GET /api/v1/chargers/{id}/logs`` lists the requests and received files, ``GET /api/v1/logs/uploads/{id}``
downloads one (operators only, like every /api path).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ..domain.firmware import LogType
from ..store import firmware as store
from .errors import error_responses
from .models import RowId, Timestamp

if TYPE_CHECKING:
    from ..workers.firmware import FirmwareWorker

ChargerId = Annotated[str, Path(max_length=64)]
_INT32 = 2**31 - 1


class CampaignIn(BaseModel):
    name: str = Field("firmware update", min_length=1, max_length=100)
    charger_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None, max_length=10000, description="the chargers to update; or give site_id")
    site_id: str | None = Field(None, min_length=1, max_length=64, description="every charger of this site")
    location: str = Field(min_length=1, max_length=512, description="URL the chargers fetch the firmware from")
    retrieve_at: Timestamp = Field(description="fetch it from then on")
    install_at: Timestamp | None = Field(None, description="install it then (signed firmware, 2.0.1)")
    signing_certificate: str | None = Field(None, min_length=1, max_length=5500,
                                            description="PEM certificate the firmware was signed with")
    signature: str | None = Field(None, min_length=1, max_length=800, description="the firmware's signature, base64")
    retries: int | None = Field(None, ge=0, le=_INT32)
    retry_interval: int | None = Field(None, ge=0, le=_INT32, description="seconds")
    expected_version: str | None = Field(None, min_length=1, max_length=64,
                                         description="the version a boot must report to confirm the install")
    timeout_seconds: int = Field(3600, ge=1, le=30 * 86400,
                                 description="a charger without progress for this long has failed")


class SummaryOut(BaseModel):
    total: int
    pending: int
    sent: int
    downloading: int
    downloaded: int
    installing: int
    installed: int
    failed: int
    confirmed: int = Field(description="installed and confirmed by a boot reporting the new firmware")
    finished: bool


class TargetOut(BaseModel):
    id: int = Field(description="the requestId sent to the charger")
    campaign_id: int
    charger_id: str
    phase: str = Field(description="pending | sent | downloading | downloaded | installing | installed | failed")
    last_status: str | None
    reason: str | None
    sent_action: str | None = Field(description="UpdateFirmware | SignedUpdateFirmware")
    attempts: int
    confirmed: bool
    booted_version: str | None
    sent_at: datetime | None
    updated_at: datetime


class CampaignSummaryOut(BaseModel):
    id: int
    name: str
    location: str
    retrieve_at: datetime
    install_at: datetime | None
    signed: bool
    expected_version: str | None
    timeout_seconds: int
    created_at: datetime
    created_by: str | None
    summary: SummaryOut


class CampaignOut(CampaignSummaryOut):
    targets: list[TargetOut]


class StatusEventOut(BaseModel):
    id: int
    kind: str
    status: str
    request_id: int | None
    target_id: int | None
    received_at: datetime


class ChargerFirmwareOut(BaseModel):
    targets: list[TargetOut]
    statuses: list[StatusEventOut]


class LogRequestIn(BaseModel):
    log_type: LogType = LogType.DIAGNOSTICS
    oldest: Timestamp | None = Field(None, description="oldest log entries to include")
    latest: Timestamp | None = Field(None, description="latest log entries to include")
    retries: int | None = Field(None, ge=0, le=_INT32)
    retry_interval: int | None = Field(None, ge=0, le=_INT32)
    use_get_log: bool = Field(False, description="OCPP 1.6: GetLog (security extension) instead of GetDiagnostics")


class UploadOut(BaseModel):
    id: int
    request_id: int
    charger_id: str
    file_name: str
    content_type: str | None
    size: int
    sha256: str
    received_at: datetime


class LogRequestOut(BaseModel):
    id: int = Field(description="the requestId sent to the charger")
    charger_id: str
    log_type: str
    state: str = Field(description="requested | accepted | nothing | rejected | unsent | uploading | received | "
                                   "failed | cancelled")
    last_status: str | None
    sent_action: str | None = Field(description="GetDiagnostics | GetLog")
    file_name: str | None = Field(description="the file the charger said it will upload")
    oldest: datetime | None
    latest: datetime | None
    requested_by: str | None
    requested_at: datetime
    expires_at: datetime
    updated_at: datetime
    uploads: list[UploadOut]


class LogRequestSent(LogRequestOut):
    location: str = Field(description="the upload URL the charger was given (its token is the credential)")
    command_status: str = Field(description="answered | error | timeout | offline")
    response: dict[str, Any] | None
    error: dict[str, Any] | None


def _campaign_out(campaign: dict[str, Any]) -> dict[str, Any]:
    return {**campaign, "signed": campaign.get("signature") is not None}


def _actor(request: Request) -> str | None:
    operator = getattr(request.state, "operator", None)
    return operator.username if operator is not None else None


def create_router(worker: FirmwareWorker) -> APIRouter:
    from ..workers.firmware import FirmwareError

    router = APIRouter(tags=["firmware"])

    def refused(exc: FirmwareError) -> HTTPException:
        return HTTPException(exc.status, {"field": exc.field, "reason": exc.reason})

    @router.post("/api/v1/firmware/campaigns", response_model=CampaignOut, status_code=201,
                 responses=error_responses(422))
    async def start_campaign(request: Request, body: CampaignIn) -> dict[str, Any]:
        """Start a firmware campaign: each charger gets the update now if it is connected, else when it is back;
        1.6 chargers get UpdateFirmware (SignedUpdateFirmware when signed), 2.0.1 stations UpdateFirmware."""
        try:
            return _campaign_out(await worker.start_campaign(body.model_dump(), _actor(request)))
        except FirmwareError as exc:
            raise refused(exc) from None

    @router.get("/api/v1/firmware/campaigns", response_model=list[CampaignSummaryOut])
    async def list_campaigns() -> list[dict[str, Any]]:
        """Firmware campaigns, newest first (the latest 50), with their progress."""
        return [_campaign_out(c) for c in await worker.read(store.campaigns, 50)]

    @router.get("/api/v1/firmware/campaigns/{campaign_id}", response_model=CampaignOut,
                responses=error_responses(404))
    async def get_campaign(campaign_id: RowId) -> dict[str, Any]:
        """One firmware campaign with each charger's progress (404 when unknown)."""
        try:
            return _campaign_out(await worker.campaign(campaign_id))
        except FirmwareError as exc:
            raise refused(exc) from None

    @router.get("/api/v1/chargers/{charger_id}/firmware", response_model=ChargerFirmwareOut)
    async def charger_firmware(charger_id: ChargerId) -> dict[str, Any]:
        """The charger's firmware version and its latest firmware updates and their status."""
        return await worker.read(store.charger_firmware, charger_id, 20)

    @router.post("/api/v1/chargers/{charger_id}/logs", response_model=LogRequestSent, status_code=201,
                 responses=error_responses(404, 409, 422))
    async def request_log(request: Request, charger_id: ChargerId, body: LogRequestIn) -> dict[str, Any]:
        """Ask a connected charger to upload a log here (1.6 GetDiagnostics or GetLog, 2.0.1 GetLog)."""
        try:
            return await worker.request_log(charger_id, body.model_dump(), _actor(request))
        except FirmwareError as exc:
            raise refused(exc) from None

    @router.get("/api/v1/chargers/{charger_id}/logs", response_model=list[LogRequestOut])
    async def charger_logs(charger_id: ChargerId) -> list[dict[str, Any]]:
        """The charger's latest log requests (diagnostics, security log) and the files it uploaded."""
        return await worker.read(store.charger_logs, charger_id, 20)

    @router.get("/api/v1/logs/uploads/{upload_id}", responses={
        200: {"description": "the file as uploaded", "content": {"application/octet-stream": {}}},
        **error_responses(404)}, response_class=Response)
    async def download_upload(upload_id: RowId) -> Response:
        """A log file a charger uploaded, as received (its SHA-256 in X-Content-SHA256)."""
        found = await worker.read(store.upload, upload_id)
        if found is None:
            raise HTTPException(404, f"upload {upload_id} not found")
        safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in found["file_name"]) or "log"
        return Response(found["content"], media_type="application/octet-stream", headers={
            "Content-Disposition": f'attachment; filename="{safe}"', "X-Content-SHA256": found["sha256"],
            "X-Content-Type-Options": "nosniff"})

    return router
