"""Reservations over HTTP: the operator API (``/api/v1/reservations``) and the charger page's reserve form.

``POST /api/v1/reservations`` answers 201 with the stored reservation whenever one was made, whatever the charger
said: its ``status`` is ``accepted``, ``rejected`` (``rejection``: Faulted, Occupied, Rejected, Unavailable as the
charger answered, or Offline when it could not be asked) or ``requested`` (no answer in time; it expires by
itself). A request that cannot be made is a problem body: 404 for an unknown charger, 422 naming the field for an
expiry in the past or a connector the charger does not have. Every read first expires what is due.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from ..domain.reservations import ReservationError, ReservationRequest, ReservationStatus
from .auth import csrf_matches
from .errors import error_responses
from .models import ConnectorNumber, Offset, Timestamp

ReservationNumber = Annotated[int, Path(ge=1, le=2**31 - 1, description="the OCPP reservationId")]
_TAG = r"^[^\x00-\x1f]+$"


class ReservationIn(BaseModel):
    charger_id: str = Field(min_length=1, max_length=64)
    connector_id: ConnectorNumber = Field(default=0, description="the connector (2.0.1: EVSE) to hold; 0: any")
    id_tag: str = Field(min_length=1, max_length=36, pattern=_TAG,
                        description="the token that may use it (1.6 chargers take at most 20 characters)")
    parent_id_tag: str | None = Field(default=None, min_length=1, max_length=36, pattern=_TAG,
                                      description="1.6 parentIdTag / 2.0.1 groupIdToken: any tag of the group")
    expiry: Timestamp = Field(description="when the charger releases the connector (ISO 8601 with an offset)")
    external_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=_TAG, description=(
        "your own id for it: asking again with the same one while it holds replaces it (same reservationId)"))
    timeout: float = Field(default=30.0, gt=0, le=300, description="seconds to wait for the charger's answer")


class ReservationOut(BaseModel):
    id: int = Field(description="the OCPP reservationId the charger was given")
    charger_id: str
    connector_id: int
    id_tag: str
    parent_id_tag: str | None
    expires_at: Timestamp
    status: ReservationStatus
    rejection: str | None = Field(description="how it was refused: the charger's answer, or Offline / Invalid")
    requested_by: str | None
    external_id: str | None = None
    requested_at: Timestamp
    answered_at: Timestamp | None
    ended_at: Timestamp | None
    ended_by: str | None = Field(description="operator | charger | expiry | session")
    transaction_id: int | None = Field(description="the session that used it")
    answers: list[dict[str, Any]] = Field(description="every exchange with the charger about it, in order")
    other_starts: list[dict[str, Any]] = Field(
        description="sessions another id tag started on the reserved connector while it was held")


class ReservationPage(BaseModel):
    items: list[ReservationOut]
    next_offset: int | None


class CancelIn(BaseModel):
    timeout: float = Field(default=30.0, gt=0, le=300)


def _who(request: Request) -> str:
    operator = getattr(request.state, "operator", None)
    return str(operator.username) if operator is not None else "api"


def _refused(exc: ReservationError) -> HTTPException:
    detail: Any = {"field": exc.field, "reason": exc.reason} if exc.field else exc.reason
    return HTTPException(exc.status, detail)


def reservations_router(service: Any) -> APIRouter:
    """``service``: a ``workers.reservations.ReservationService``."""
    router = APIRouter(prefix="/api/v1/reservations", tags=["reservations"])

    @router.post("", response_model=ReservationOut, status_code=201, responses=error_responses(404, 422))
    async def reserve(request: Request, body: ReservationIn) -> dict[str, Any]:
        """ReserveNow: hold a connector (0: any) of a charger for an id tag until ``expiry``."""
        wanted = ReservationRequest(body.charger_id, body.connector_id, body.id_tag, body.expiry, body.parent_id_tag,
                                    _who(request), body.external_id)
        try:
            return dict(await service.reserve_now(wanted, timeout=body.timeout))
        except ReservationError as exc:
            raise _refused(exc) from None

    @router.get("", response_model=ReservationPage, responses=error_responses(422))
    async def list_reservations(
        charger_id: Annotated[str | None, Query(max_length=64)] = None,
        status: ReservationStatus | None = None,
        active: Annotated[bool, Query(description="only those still holding a connector")] = False,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """Reservations, newest first."""
        await service.sweep()
        rows = service.listed(charger_id=charger_id, status=status.value if status else None, active=active,
                              limit=limit + 1, offset=offset)
        return {"items": rows[:limit], "next_offset": offset + limit if len(rows) > limit else None}

    @router.get("/{reservation_id}", response_model=ReservationOut, responses=error_responses(404, 422))
    async def get_reservation(reservation_id: ReservationNumber) -> dict[str, Any]:
        """One reservation with its state and the charger's answer (404 when unknown)."""
        await service.sweep()
        found = service.get(reservation_id)
        if found is None:
            raise HTTPException(404, f"reservation {reservation_id} not found")
        return dict(found)

    @router.post("/{reservation_id}/cancel", response_model=ReservationOut,
                 responses=error_responses(404, 409, 422, 502, 504))
    async def cancel(request: Request, reservation_id: ReservationNumber,
                     body: CancelIn | None = None) -> dict[str, Any]:
        """CancelReservation. 409 when it is over already or the charger is offline (it stays as it was), 504 when
        the charger did not answer, 502 when it answered with an error."""
        try:
            return dict(await service.cancel(reservation_id, requested_by=_who(request),
                                             timeout=(body or CancelIn()).timeout))
        except ReservationError as exc:
            raise _refused(exc) from None

    return router


def reservation_pages(service: Any) -> APIRouter:
    """The charger page's reserve form (a plain form post; the page lists the result)."""
    router = APIRouter(include_in_schema=False)

    @router.post("/stations/{charger_id}/reservations")
    async def reserve_from_page(request: Request, charger_id: Annotated[str, Path(max_length=64)],
                                connector_id: int = Form(0), id_tag: str = Form(""), minutes: int = Form(30),
                                csrf_token: str = Form("")) -> Response:
        session = request.state.operator_session
        if session is None or not csrf_matches(session.csrf_token, csrf_token):
            raise HTTPException(403, "CSRF token missing or wrong")
        if not session.operator.may_act:
            raise HTTPException(403, f"{session.operator.username} is a viewer: read-only")
        back = f"/stations/{quote(charger_id, safe='')}"
        if not 1 <= minutes <= 7 * 24 * 60:
            return RedirectResponse(f"{back}?reservation_error={quote('minutes: 1 to 10080')}#station-reservations",
                                    status_code=303)
        wanted = ReservationRequest(charger_id, connector_id, id_tag.strip(),
                                    service.gateway.now() + timedelta(minutes=minutes), None,
                                    session.operator.username)
        try:
            made = await service.reserve_now(wanted)
        except ReservationError as exc:
            return RedirectResponse(f"{back}?reservation_error={quote(str(exc))}#station-reservations",
                                    status_code=303)
        return RedirectResponse(f"{back}?reservation={made['id']}#station-reservations", status_code=303)

    return router
