"""Smart charging in OCPP 1.6 words (Smart Charging profile, §5.5, §5.7, §5.16): SetChargingProfile with
csChargingProfiles, ClearChargingProfile, GetCompositeSchedule (answered with chargingSchedule), and the
ChargingScheduleAllowedChargingRateUnit / ChargeProfileMaxStackLevel configuration keys. 1.6 has no
GetChargingProfiles."""

from __future__ import annotations

from typing import Any

from ...domain.charging import (
    ChargingProfile,
    CompositeSchedule,
    Purpose,
)
from ...timeutil import parse_timestamp
from ..shapes import charging_schedule, profile_validity, schedule_periods

VERSION = "ocpp1.6"
PURPOSES = {Purpose.CHARGER_MAX: "ChargePointMaxProfile", Purpose.TX_DEFAULT: "TxDefaultProfile",
            Purpose.TX: "TxProfile"}
_UNITS = {"A": "A", "W": "W"}


class Renderer:
    version = VERSION
    rate_unit_key = "ChargingScheduleAllowedChargingRateUnit"
    max_stack_level_key = "ChargeProfileMaxStackLevel"

    def set_profile(self, profile: ChargingProfile, transaction_ref: str | None) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "chargingProfileId": profile.profile_id, "stackLevel": profile.stack_level,
            "chargingProfilePurpose": PURPOSES[profile.purpose], "chargingProfileKind": profile.kind.value,
            "chargingSchedule": charging_schedule(profile.schedule)}
        if profile.purpose is Purpose.TX:
            if transaction_ref is None or not (transaction_ref.isascii() and transaction_ref.isdigit()):
                raise ValueError("transaction_id: a 1.6 TxProfile needs the charger's integer transactionId")
            body["transactionId"] = int(transaction_ref)
        body.update(profile_validity(profile))
        return "SetChargingProfile", {"connectorId": profile.connector_id, "csChargingProfiles": body}

    def clear_profile(self, profile_id: int | None, connector_id: int | None = None, purpose: Purpose | None = None,
                      stack_level: int | None = None) -> tuple[str, dict[str, Any]]:
        payload: dict[str, Any] = {}
        if profile_id is not None:
            payload["id"] = profile_id
        if connector_id is not None:
            payload["connectorId"] = connector_id
        if purpose is not None:
            payload["chargingProfilePurpose"] = PURPOSES[purpose]
        if stack_level is not None:
            payload["stackLevel"] = stack_level
        return "ClearChargingProfile", payload

    def get_composite(self, connector_id: int, duration: int, rate_unit: str | None) -> tuple[str, dict[str, Any]]:
        payload: dict[str, Any] = {"connectorId": connector_id, "duration": duration}
        if rate_unit:
            payload["chargingRateUnit"] = _UNITS[rate_unit]
        return "GetCompositeSchedule", payload

    def composite_from(self, connector_id: int, response: dict[str, Any]) -> CompositeSchedule:
        raw = response.get("chargingSchedule") or {}
        start = response.get("scheduleStart") or raw.get("startSchedule")
        return CompositeSchedule(
            connector_id=int(response.get("connectorId", connector_id)), status=str(response.get("status", "")),
            schedule_start=parse_timestamp(start) if start else None, duration=raw.get("duration"),
            rate_unit=raw.get("chargingRateUnit"), periods=schedule_periods(raw.get("chargingSchedulePeriod") or []))

    def get_profiles(self, request_id: int, connector_id: int | None) -> tuple[str, dict[str, Any]]:
        raise ValueError("OCPP 1.6 has no GetChargingProfiles: a 1.6 charger's profiles are the ones sent to it")

    def read_setting(self, key: str) -> tuple[str, dict[str, Any]]:
        return "GetConfiguration", {"key": [key]}

    def setting_from(self, response: dict[str, Any]) -> str | None:
        for entry in response.get("configurationKey") or []:
            if entry.get("value") is not None:
                return str(entry["value"])
        return None


RENDERER = Renderer()
