"""Smart charging API: a charger's profiles, limits and composite schedule; a site's limit.

The operator's simple action is ``PUT …/charging/limit {"kw": 11}`` (connector 0: the whole charger; a site: split
across its chargers); a full profile in neutral form goes to ``POST …/charging/profiles``. A profile that breaks a
rule of OCPP smart charging is answered 422 naming the field and is never sent; the charger's answer (Accepted,
Rejected, a CALLERROR, no answer) is recorded on the profile.
"""

from __future__ import annotations

from collections.abc import Awaitable
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from ..charging.service import ChargingService, NotFound
from ..domain.charging import ASSUMED_PHASES, ASSUMED_VOLTAGE, ProfileInvalid
from .errors import error_responses

T = TypeVar("T")
ChargerId = Annotated[str, Path(max_length=64)]
Timeout = Annotated[float, Query(gt=0, le=300)]
ERRORS = error_responses(404, 422)


class LimitIn(BaseModel):
    kw: Decimal = Field(gt=0, le=100_000, description="the limit in kW")
    connector_id: int = Field(0, ge=0, le=2**31 - 1, description="0: the whole charger (ChargerMax profile); "
                                                                 "n: connector n (TxDefault profile)")
    phases: int = Field(ASSUMED_PHASES, ge=1, le=3, description="when the charger takes only Current: its phases")
    voltage: int = Field(ASSUMED_VOLTAGE, ge=100, le=1000, description="…and the voltage per phase")
    timeout: float = Field(30.0, gt=0, le=300)


class SiteLimitIn(BaseModel):
    kw: Decimal = Field(gt=0, le=1_000_000, description="the site's limit in kW, split equally across its chargers")
    timeout: float = Field(30.0, gt=0, le=300)


class ProfileIn(BaseModel):
    profile: dict[str, Any] = Field(description="the profile in neutral form: connector_id, purpose (ChargerMax | "
                                                "TxDefault | Tx), stack_level, kind, recurrency_kind?, valid_from?, "
                                                "valid_to?, transaction_id? (Tx), schedule {rate_unit A|W, "
                                                "duration?, start_schedule?, min_charging_rate?, periods "
                                                "[{start_period, limit, number_phases?}]}")
    timeout: float = Field(30.0, gt=0, le=300)


class CompositeIn(BaseModel):
    connector_id: int = Field(0, ge=0, le=2**31 - 1)
    duration: int = Field(86_400, gt=0, le=2**31 - 1, description="seconds")
    rate_unit: str | None = Field(None, pattern="^(A|W)$")
    timeout: float = Field(30.0, gt=0, le=300)


class ProfileOut(BaseModel):
    id: int
    charger_id: str
    connector_id: int
    purpose: str
    stack_level: int
    profile: dict[str, Any]
    ocpp_version: str
    sent_action: str | None = None
    sent_payload: dict[str, Any] | None = None
    command_id: int | None = None
    status: str
    answer_status: str | None = None
    answer: dict[str, Any] | None = None
    active: bool
    origin: str
    site_id: str | None = None
    limit_kw: Decimal | None = None
    created_at: Any = None
    answered_at: Any = None
    cleared_at: Any = None
    clear_answer: dict[str, Any] | None = None
    rendering: str | None = None


class ClearOut(BaseModel):
    profile_id: int
    status: str
    answer_status: str | None = None
    cleared: bool
    command_id: int
    charger_id: str | None = None


class CompositeOut(BaseModel):
    id: int | None = None
    command_id: int | None = None
    connector_id: int
    status: str
    schedule_start: Any = None
    duration: int | None = None
    rate_unit: str | None = None
    periods: list[dict[str, Any]]
    requested_at: Any = None
    ocpp_version: str | None = None


class ChargingView(BaseModel):
    active: list[ProfileOut]
    profiles: list[ProfileOut]
    composite: list[CompositeOut]
    reports: list[dict[str, Any]]


class SiteLimitOut(BaseModel):
    site_id: str
    kw: str
    rule: str
    chargers: list[dict[str, Any]]


class ReportOut(BaseModel):
    request_id: int
    command_id: int
    status: str
    answer_status: str | None = None


async def _answer(work: Awaitable[T]) -> T:
    """The service's refusals as the API's one error shape: 404, or 422 naming the field."""
    try:
        return await work
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except ProfileInvalid as exc:
        raise HTTPException(422, {"field": exc.field, "reason": exc.reason}) from None
    except ValueError as exc:  # the charger's version cannot say it (its schema, or no such message)
        raise HTTPException(422, str(exc)) from None


def charging_router(service: ChargingService) -> APIRouter:
    router = APIRouter(tags=["smart charging"])

    @router.get("/api/v1/chargers/{charger_id}/charging", response_model=ChargingView, responses=ERRORS)
    async def charging_view(charger_id: ChargerId) -> dict[str, Any]:
        """Profiles in force, recent profiles with the charger's answers, the latest composite schedule per
        connector, and what a 2.0.1 station reported (its profiles, external limits)."""
        return await _answer(service.view(charger_id))

    @router.post("/api/v1/chargers/{charger_id}/charging/profiles", response_model=ProfileOut, responses=ERRORS)
    async def set_profile(charger_id: ChargerId, body: ProfileIn) -> dict[str, Any]:
        """Validate, store and send a charging profile (SetChargingProfile in the charger's version)."""
        return await _answer(service.set_profile(charger_id, body.profile, timeout=body.timeout))

    @router.delete("/api/v1/chargers/{charger_id}/charging/profiles/{profile_id}", response_model=ClearOut,
                   responses=ERRORS)
    async def clear_profile(charger_id: ChargerId, profile_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
                            timeout: Timeout = 30.0) -> dict[str, Any]:
        """ClearChargingProfile by the profile's id."""
        return await _answer(service.clear_profile(charger_id, profile_id, timeout))

    @router.put("/api/v1/chargers/{charger_id}/charging/limit", response_model=ProfileOut, responses=ERRORS)
    async def set_limit(charger_id: ChargerId, body: LimitIn) -> dict[str, Any]:
        """Limit a connector (or the charger, connector 0) to N kW; ``rendering`` says in which unit it went."""
        return await _answer(service.limit(charger_id, body.connector_id, body.kw, phases=body.phases,
                                           voltage=body.voltage, timeout=body.timeout))

    @router.delete("/api/v1/chargers/{charger_id}/charging/limit", response_model=list[ClearOut], responses=ERRORS)
    async def remove_limit(charger_id: ChargerId, connector_id: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
                           timeout: Timeout = 30.0) -> list[dict[str, Any]]:
        """Lift the operator's limits at this connector (0: the charger's own)."""
        return await _answer(service.remove_limit(charger_id, connector_id, timeout))

    @router.put("/api/v1/sites/{site_id}/charging/limit", response_model=SiteLimitOut, responses=ERRORS)
    async def set_site_limit(site_id: Annotated[str, Path(max_length=64)], body: SiteLimitIn) -> dict[str, Any]:
        """Limit a site to N kW: each charger of it gets an equal share (rounded down to 0.1 kW) as its
        ChargerMax profile."""
        return await _answer(service.limit_site(site_id, body.kw, body.timeout))

    @router.delete("/api/v1/sites/{site_id}/charging/limit", response_model=list[ClearOut], responses=ERRORS)
    async def remove_site_limit(site_id: Annotated[str, Path(max_length=64)],
                                timeout: Timeout = 30.0) -> list[dict[str, Any]]:
        """Clear the site's limit: each of its chargers' profiles that the site limit set, with each answer."""
        return await _answer(service.remove_site_limit(site_id, timeout))

    @router.post("/api/v1/chargers/{charger_id}/charging/composite-schedule", response_model=CompositeOut,
                 responses=ERRORS)
    async def fetch_composite(charger_id: ChargerId, body: CompositeIn) -> dict[str, Any]:
        """Ask the charger for its composite schedule (GetCompositeSchedule) and keep it."""
        return await _answer(service.composite_schedule(charger_id, body.connector_id, body.duration,
                                                        body.rate_unit, body.timeout))

    @router.get("/api/v1/chargers/{charger_id}/charging/composite-schedule", response_model=list[CompositeOut],
                responses=ERRORS)
    async def composite(charger_id: ChargerId) -> list[dict[str, Any]]:
        """The latest composite schedule kept per connector."""
        view = await _answer(service.view(charger_id))
        return list(view["composite"])

    @router.post("/api/v1/chargers/{charger_id}/charging/report", response_model=ReportOut, responses=ERRORS)
    async def report(charger_id: ChargerId,
                     connector_id: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
                     timeout: Timeout = 30.0) -> dict[str, Any]:
        """OCPP 2.0.1 GetChargingProfiles: the station's ReportChargingProfiles are kept (``reports``)."""
        return await _answer(service.report_profiles(charger_id, connector_id, timeout))

    return router
