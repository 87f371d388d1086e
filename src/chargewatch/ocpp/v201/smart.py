"""Smart charging in OCPP 2.0.1 words (functional block K): SetChargingProfile with evseId and chargingProfile (its
chargingSchedule a list, each schedule with an id), ClearChargingProfile by id or chargingProfileCriteria,
GetCompositeSchedule (answered with schedule), GetChargingProfiles (answered by ReportChargingProfiles), and the
station's own NotifyChargingLimit / ClearedChargingLimit, read into neutral changes here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from ...domain.charging import (
    ChargingLimitChanged,
    ChargingProfile,
    ChargingProfilesReported,
    ChargingSchedule,
    CompositeSchedule,
    Purpose,
    decimal_text,
)
from ...domain.model import Change, ChargerState, Outcome
from ...timeutil import parse_timestamp
from ..adapter import Environment
from ..shapes import charging_schedule, profile_validity, schedule_periods

VERSION = "ocpp2.0.1"
PURPOSES = {Purpose.CHARGER_MAX: "ChargingStationMaxProfile", Purpose.TX_DEFAULT: "TxDefaultProfile",
            Purpose.TX: "TxProfile"}
_NEUTRAL_PURPOSES = {word: purpose.value for purpose, word in PURPOSES.items()}


def schedule(schedule: ChargingSchedule, schedule_id: int) -> dict[str, Any]:
    return {"id": schedule_id, **charging_schedule(schedule)}


def _schedule_json(raw: dict[str, Any]) -> dict[str, Any]:
    """A 2.0.1 ChargingScheduleType in the neutral JSON form (``profile_to_json``'s schedule)."""
    minimum = raw.get("minChargingRate")
    return {"rate_unit": raw.get("chargingRateUnit"), "duration": raw.get("duration"),
            "start_schedule": raw.get("startSchedule"),
            "min_charging_rate": None if minimum is None else decimal_text(Decimal(str(minimum))),
            "periods": [{"start_period": p["startPeriod"], "limit": decimal_text(Decimal(str(p["limit"]))),
                         **({"number_phases": p["numberPhases"]} if "numberPhases" in p else {})}
                        for p in raw.get("chargingSchedulePeriod") or []]}


def profile_json(raw: dict[str, Any], evse_id: int) -> dict[str, Any]:
    """A reported 2.0.1 ChargingProfileType in the neutral JSON form; ``transaction_ref`` is the station's own
    transactionId; a purpose with no neutral name (ChargingStationExternalConstraints) keeps its 2.0.1 name."""
    schedules = raw.get("chargingSchedule") or []
    return {"profile_id": raw.get("id"), "connector_id": evse_id,
            "purpose": _NEUTRAL_PURPOSES.get(raw.get("chargingProfilePurpose", ""), raw.get("chargingProfilePurpose")),
            "stack_level": raw.get("stackLevel"), "kind": raw.get("chargingProfileKind"),
            "recurrency_kind": raw.get("recurrencyKind"), "valid_from": raw.get("validFrom"),
            "valid_to": raw.get("validTo"), "transaction_ref": raw.get("transactionId"),
            "schedule": _schedule_json(schedules[0]) if schedules else None,
            "schedules": [_schedule_json(s) for s in schedules]}


class Renderer:
    version = VERSION
    rate_unit_key = "SmartChargingCtrlr.RateUnit"
    max_stack_level_key = "SmartChargingCtrlr.ProfileStackLevel"

    def set_profile(self, profile: ChargingProfile, transaction_ref: str | None) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "id": profile.profile_id, "stackLevel": profile.stack_level,
            "chargingProfilePurpose": PURPOSES[profile.purpose], "chargingProfileKind": profile.kind.value,
            "chargingSchedule": [schedule(profile.schedule, profile.profile_id)]}
        if profile.purpose is Purpose.TX:
            if not transaction_ref:
                raise ValueError("transaction_id: a 2.0.1 TxProfile needs the station's transactionId")
            body["transactionId"] = transaction_ref
        body.update(profile_validity(profile))
        return "SetChargingProfile", {"evseId": profile.connector_id, "chargingProfile": body}

    def clear_profile(self, profile_id: int | None, connector_id: int | None = None, purpose: Purpose | None = None,
                      stack_level: int | None = None) -> tuple[str, dict[str, Any]]:
        payload: dict[str, Any] = {}
        if profile_id is not None:
            payload["chargingProfileId"] = profile_id
        criteria: dict[str, Any] = {}
        if connector_id is not None:
            criteria["evseId"] = connector_id
        if purpose is not None:
            criteria["chargingProfilePurpose"] = PURPOSES[purpose]
        if stack_level is not None:
            criteria["stackLevel"] = stack_level
        if criteria:
            payload["chargingProfileCriteria"] = criteria
        return "ClearChargingProfile", payload

    def get_composite(self, connector_id: int, duration: int, rate_unit: str | None) -> tuple[str, dict[str, Any]]:
        payload: dict[str, Any] = {"evseId": connector_id, "duration": duration}
        if rate_unit:
            payload["chargingRateUnit"] = rate_unit
        return "GetCompositeSchedule", payload

    def composite_from(self, connector_id: int, response: dict[str, Any]) -> CompositeSchedule:
        raw = response.get("schedule") or {}
        start = raw.get("scheduleStart")
        return CompositeSchedule(
            connector_id=int(raw.get("evseId", connector_id)), status=str(response.get("status", "")),
            schedule_start=parse_timestamp(start) if start else None, duration=raw.get("duration"),
            rate_unit=raw.get("chargingRateUnit"), periods=schedule_periods(raw.get("chargingSchedulePeriod") or []))

    def get_profiles(self, request_id: int, connector_id: int | None) -> tuple[str, dict[str, Any]]:
        payload: dict[str, Any] = {"requestId": request_id, "chargingProfile": {}}
        if connector_id is not None:
            payload["evseId"] = connector_id
        return "GetChargingProfiles", payload

    def read_setting(self, key: str) -> tuple[str, dict[str, Any]]:
        component, variable = key.split(".", 1)
        return "GetVariables", {"getVariableData": [{"component": {"name": component},
                                                     "variable": {"name": variable}}]}

    def setting_from(self, response: dict[str, Any]) -> str | None:
        for result in response.get("getVariableResult") or []:
            if result.get("attributeStatus") == "Accepted" and result.get("attributeValue") is not None:
                return str(result["attributeValue"])
        return None


RENDERER = Renderer()


# ---------------------------------------------------------------- what a station sends


def profiles_reported(payload: dict[str, Any], now: datetime) -> ChargingProfilesReported:
    evse_id = int(payload["evseId"])
    return ChargingProfilesReported(
        request_id=int(payload["requestId"]), connector_id=evse_id, limit_source=payload["chargingLimitSource"],
        profiles=tuple(profile_json(p, evse_id) for p in payload["chargingProfile"]),
        more_to_come=bool(payload.get("tbc", False)), at=now)


def limit_notified(payload: dict[str, Any], now: datetime) -> ChargingLimitChanged:
    limit = payload["chargingLimit"]
    return ChargingLimitChanged(
        connector_id=int(payload.get("evseId", 0)), limit_source=limit["chargingLimitSource"], cleared=False,
        grid_critical=limit.get("isGridCritical"),
        schedules=tuple(_schedule_json(s) for s in payload.get("chargingSchedule") or []), at=now)


def limit_cleared(payload: dict[str, Any], now: datetime) -> ChargingLimitChanged:
    return ChargingLimitChanged(connector_id=int(payload.get("evseId", 0)), limit_source=payload["chargingLimitSource"],
                                cleared=True, grid_critical=None, schedules=(), at=now)


_READERS: dict[str, Callable[[dict[str, Any], datetime], Change]] = {
    "ReportChargingProfiles": profiles_reported, "NotifyChargingLimit": limit_notified,
    "ClearedChargingLimit": limit_cleared}
INBOUND = frozenset(_READERS)


def inbound(action: str) -> Callable[[dict[str, Any], ChargerState, Environment], Outcome]:
    """The handler of one of the station's smart-charging messages: recorded (a neutral change), answered empty."""
    read = _READERS[action]

    def handler(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
        return Outcome({}, [read(payload, env.now)])

    return handler
