"""JSON shapes that OCPP 1.6 and 2.0.1 spell alike, rendered and read in one place for both adapters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..domain.charging import ChargingProfile, ChargingSchedule, SchedulePeriod, json_number
from ..timeutil import format_timestamp


def with_retries(payload: dict[str, Any], retries: int | None, interval: int | None) -> dict[str, Any]:
    """A firmware or log request's optional ``retries`` / ``retryInterval`` (same names in both versions)."""
    if retries is not None:
        payload["retries"] = retries
    if interval is not None:
        payload["retryInterval"] = interval
    return payload


def charging_schedule(schedule: ChargingSchedule) -> dict[str, Any]:
    """ChargingSchedule as both versions write it (2.0.1 adds only its ``id``)."""
    out: dict[str, Any] = {"chargingRateUnit": schedule.rate_unit, "chargingSchedulePeriod": [
        {"startPeriod": p.start_period, "limit": json_number(p.limit),
         **({"numberPhases": p.number_phases} if p.number_phases is not None else {})} for p in schedule.periods]}
    if schedule.duration is not None:
        out["duration"] = schedule.duration
    if schedule.start_schedule is not None:
        out["startSchedule"] = format_timestamp(schedule.start_schedule)
    if schedule.min_charging_rate is not None:
        out["minChargingRate"] = json_number(schedule.min_charging_rate)
    return out


def profile_validity(profile: ChargingProfile) -> dict[str, Any]:
    """A charging profile's ``recurrencyKind``, ``validFrom`` and ``validTo``, where set (same names in both)."""
    out: dict[str, Any] = {}
    if profile.recurrency_kind:
        out["recurrencyKind"] = profile.recurrency_kind
    if profile.valid_from:
        out["validFrom"] = format_timestamp(profile.valid_from)
    if profile.valid_to:
        out["validTo"] = format_timestamp(profile.valid_to)
    return out


def schedule_periods(raw: list[dict[str, Any]]) -> tuple[SchedulePeriod, ...]:
    """A charger's chargingSchedulePeriod list in neutral form."""
    return tuple(SchedulePeriod(int(p["startPeriod"]), Decimal(str(p["limit"])), p.get("numberPhases"))
                 for p in raw)


def int_or_none(value: Any) -> int | None:
    """An integer a charger sent as a number or as text; None when it is neither."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
