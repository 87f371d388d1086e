"""HTTP API of the local authorization list: each charger's list (version sent, confirmed, reported; conflicts; the
charger's answers) and the operator's actions (push it, Full or as needed; ask the charger's version).

A push the charger answered (Accepted, Failed, NotSupported …) or could not be sent (offline, timeout) is a 200 whose
``status`` says so; a list longer than the charger holds is refused with 409 and nothing is sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, Field

from .errors import error_responses

if TYPE_CHECKING:
    from ..workers.local_list import LocalListWorker

ChargerId = Annotated[str, Path(max_length=64)]


class ListEntryOut(BaseModel):
    id_tag: str
    status: str | None
    expiry: datetime | None = None
    group: str | None = None


class ListUpdateOut(BaseModel):
    id: int
    version: int
    update_type: str
    entries_count: int
    reason: str
    status: str
    answer: Any = None
    sent_at: datetime
    answered_at: datetime | None = None


class LocalListOut(BaseModel):
    charger_id: str
    holds_list: bool = Field(description="the charger accepted a list from chargewatch (it is kept in step)")
    version_sent: int | None = None
    version_confirmed: int | None = None
    version_reported: int | None = Field(None, description="what the charger answered GetLocalListVersion last")
    version_reported_at: datetime | None = None
    entries_count: int | None = None
    entries_hash: str | None = None
    wanted_count: int = Field(description="the id tags the list is built from now")
    wanted_hash: str
    in_sync: bool = Field(description="the charger confirmed exactly the list the id tags make now")
    last_full_at: datetime | None = None
    last_update_type: str | None = None
    last_status: str | None = None
    last_answer: Any = None
    last_error: str | None = None
    last_attempt_at: datetime | None = None
    supported: bool | None = Field(None, description="False: the charger answered NotSupported")
    enabled: bool | None = None
    max_entries: int | None = None
    per_message: int | None = None
    conflict_open: bool
    conflict_at: datetime | None = None
    conflict_reason: str | None = None
    conflict_resolved_at: datetime | None = None
    entries: list[ListEntryOut]
    updates: list[ListUpdateOut]


class PushIn(BaseModel):
    full: bool = Field(False, description="send the whole list (Full) even if a Differential would do")


class PushedUpdate(BaseModel):
    version: int
    update_type: str
    entries: int
    status: str


class PushOut(BaseModel):
    charger_id: str
    status: str = Field(description="the last answer: Accepted, Failed, VersionMismatch, NotSupported, up_to_date, "
                                    "offline, timeout, error")
    version: int | None = None
    updates: list[PushedUpdate]


class VersionOut(BaseModel):
    charger_id: str
    status: str
    version_reported: int | None
    version_confirmed: int | None
    supported: bool | None
    matches: bool | None = Field(description="the reported version is the one the charger confirmed")
    error: dict[str, Any] | None = None


def create_router(worker: LocalListWorker) -> APIRouter:
    from ..workers.local_list import LocalListRefused

    router = APIRouter(tags=["local list"])

    async def _known(charger_id: str) -> None:
        if not await worker.charger_exists(charger_id):
            raise HTTPException(404, f"charger {charger_id!r} not found")

    @router.get("/api/v1/chargers/{charger_id}/local-list", response_model=LocalListOut,
                responses=error_responses(404))
    async def get_local_list(charger_id: ChargerId) -> dict[str, Any]:
        """The charger's local authorization list as chargewatch sent it and the charger confirmed it."""
        await _known(charger_id)
        return await worker.overview(charger_id)

    @router.post("/api/v1/chargers/{charger_id}/local-list/push", response_model=PushOut,
                 responses=error_responses(404, 409, 422))
    async def push_local_list(charger_id: ChargerId, body: PushIn | None = None) -> dict[str, Any]:
        """Send the charger the list the id tags make now: only what changed (Differential), or Full when asked, when
        its version is unknown or most of the list changed; split to its SendLocalListMaxLength."""
        await _known(charger_id)
        try:
            return await worker.push(charger_id, full=body.full if body else False)
        except LocalListRefused as exc:
            raise HTTPException(409, str(exc)) from None

    @router.post("/api/v1/chargers/{charger_id}/local-list/version", response_model=VersionOut,
                 responses=error_responses(404))
    async def get_local_list_version(charger_id: ChargerId) -> dict[str, Any]:
        """Ask the charger its list version (GetLocalListVersion) and compare it with the one it confirmed."""
        await _known(charger_id)
        return await worker.query_version(charger_id)

    return router
