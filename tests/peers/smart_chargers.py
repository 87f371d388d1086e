"""A library charger (peers/chargers.py, the `ocpp` PyPI library's v16/v201 ChargePoint) that does smart charging
the way a real one does: it keeps the profiles it accepts (a new one with the same id, or the same place, purpose and
stack level, replaces the old), clears them by id or criteria, answers GetCompositeSchedule with a simple composite
(per connector: the highest-stack Tx profile, else TxDefault on the connector, else on 0, capped by the charger's
max profile; the charger's own maximum where no profile limits it) and says which rate units it takes
(1.6 ChargingScheduleAllowedChargingRateUnit, 2.0.1 SmartChargingCtrlr.RateUnit). A 2.0.1 station answers
GetChargingProfiles and then reports its profiles (ReportChargingProfiles), and can send NotifyChargingLimit /
ClearedChargingLimit. ``reject_profiles`` makes it answer SetChargingProfile Rejected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

from ocpp.v16 import call_result as result16
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from peers.chargers import LibraryCharger, iso

MAX_W = Decimal(22_000)  # the charger's own limit, 3 × 32 A at 230 V
VOLTS, PHASES = 230, 3
_MAX_PURPOSES = ("ChargePointMaxProfile", "ChargingStationMaxProfile")


def _in_unit(limit: Decimal, unit: str, wanted: str, phases: int | None) -> Decimal:
    if unit == wanted:
        return limit
    factor = Decimal(VOLTS * (phases or PHASES))
    return (limit * factor if wanted == "W" else (limit / factor).quantize(Decimal("0.1"), ROUND_DOWN))


@dataclass
class SmartCharger(LibraryCharger):
    rate_units: str | None = None  # None: "Current,Power" (1.6) / "A,W" (2.0.1)
    reject_profiles: bool = False
    # connector → {chargingProfileId → (purpose, stackLevel, profile as received, camelCase)}
    profiles: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)

    async def connect(self) -> None:
        await super().connect()
        answers = self._smart_201() if self.v201 else self._smart_16()
        for action, handler in answers.items():
            self._cp.route_map[action] = {"_on_action": handler, "_skip_schema_validation": False,
                                          "_after_action": self._smart_after(action)}

    # --- keeping profiles ------------------------------------------------------------------------------------

    def _last(self, action: str) -> dict[str, Any]:
        return next(payload for name, payload in reversed(self.received) if name == action)

    def _keep(self, connector: int, profile: dict[str, Any]) -> None:
        profile_id = profile["chargingProfileId"] if "chargingProfileId" in profile else profile["id"]
        for held in self.profiles.values():
            held.pop(profile_id, None)
        place = self.profiles.setdefault(connector, {})
        for other_id, other in list(place.items()):
            if (other["chargingProfilePurpose"], other["stackLevel"]) == (profile["chargingProfilePurpose"],
                                                                          profile["stackLevel"]):
                del place[other_id]
        place[profile_id] = profile

    def _clear(self, profile_id: int | None, connector: int | None, purpose: str | None,
               stack_level: int | None) -> bool:
        removed = False
        for place, held in self.profiles.items():
            for pid, profile in list(held.items()):
                if profile_id is not None and pid != profile_id:
                    continue
                if connector is not None and place != connector:
                    continue
                if purpose is not None and profile["chargingProfilePurpose"] != purpose:
                    continue
                if stack_level is not None and profile["stackLevel"] != stack_level:
                    continue
                del held[pid]
                removed = True
        return removed

    def held(self) -> list[dict[str, Any]]:
        return [p for place in self.profiles.values() for p in place.values()]

    @staticmethod
    def _schedule(profile: dict[str, Any]) -> dict[str, Any]:
        schedule = profile["chargingSchedule"]
        return schedule[0] if isinstance(schedule, list) else schedule

    def _limit(self, profile: dict[str, Any], unit: str) -> Decimal:
        schedule = self._schedule(profile)
        period = schedule["chargingSchedulePeriod"][0]
        return _in_unit(Decimal(str(period["limit"])), schedule["chargingRateUnit"], unit, period.get("numberPhases"))

    def composite(self, connector: int, unit: str | None) -> tuple[str, Decimal]:
        """The limit this charger applies on ``connector`` now, in ``unit`` (the profile's when None)."""
        own = [p for p in self.profiles.get(connector, {}).values()]
        general = [p for p in self.profiles.get(0, {}).values()]

        def top(candidates: list[dict[str, Any]], purpose: str) -> dict[str, Any] | None:
            chosen = [p for p in candidates if p["chargingProfilePurpose"] == purpose]
            return max(chosen, key=lambda p: p["stackLevel"]) if chosen else None

        tx = top(own, "TxProfile") or top(own, "TxDefaultProfile") or top(general, "TxDefaultProfile")
        cap = next((top(general, purpose) for purpose in _MAX_PURPOSES if top(general, purpose)), None)
        first = tx or cap
        wanted = unit or (self._schedule(first)["chargingRateUnit"] if first else "W")
        limit = _in_unit(MAX_W, "W", wanted, None)
        for profile in (tx, cap):
            if profile is not None:
                limit = min(limit, self._limit(profile, wanted))
        return wanted, limit

    # --- 1.6 ----------------------------------------------------------------------------------------------------

    def _smart_16(self) -> dict[str, Any]:
        def set_profile(**_: Any) -> Any:
            payload = self._last("SetChargingProfile")
            if self.reject_profiles:
                return result16.SetChargingProfile(status="Rejected")
            self._keep(payload["connectorId"], payload["csChargingProfiles"])
            return result16.SetChargingProfile(status="Accepted")

        def clear(**_: Any) -> Any:
            p = self._last("ClearChargingProfile")
            found = self._clear(p.get("id"), p.get("connectorId"), p.get("chargingProfilePurpose"),
                                p.get("stackLevel"))
            return result16.ClearChargingProfile(status="Accepted" if found else "Unknown")

        def composite(**_: Any) -> Any:
            p = self._last("GetCompositeSchedule")
            unit, limit = self.composite(p["connectorId"], p.get("chargingRateUnit"))
            return result16.GetCompositeSchedule(
                status="Accepted", connector_id=p["connectorId"], schedule_start=iso(self.clock()),
                charging_schedule={"duration": p["duration"], "start_schedule": iso(self.clock()),
                                   "charging_rate_unit": unit,
                                   "charging_schedule_period": [{"start_period": 0, "limit": float(limit)}]})

        def configuration(**_: Any) -> Any:
            keys = self._last("GetConfiguration").get("key") or []
            known = {"ChargingScheduleAllowedChargingRateUnit": self.rate_units or "Current,Power",
                     "ChargeProfileMaxStackLevel": "8"}
            return result16.GetConfiguration(
                configuration_key=[{"key": k, "readonly": True, "value": known[k]} for k in keys if k in known],
                unknown_key=[k for k in keys if k not in known] or None)

        return {"SetChargingProfile": set_profile, "ClearChargingProfile": clear,
                "GetCompositeSchedule": composite, "GetConfiguration": configuration}

    # --- 2.0.1 --------------------------------------------------------------------------------------------------

    def _smart_201(self) -> dict[str, Any]:
        def set_profile(**_: Any) -> Any:
            payload = self._last("SetChargingProfile")
            if self.reject_profiles:
                return result201.SetChargingProfile(status="Rejected",
                                                    status_info={"reason_code": "InvalidSchedule"})
            self._keep(payload["evseId"], payload["chargingProfile"])
            return result201.SetChargingProfile(status="Accepted")

        def clear(**_: Any) -> Any:
            p = self._last("ClearChargingProfile")
            criteria = p.get("chargingProfileCriteria") or {}
            found = self._clear(p.get("chargingProfileId"), criteria.get("evseId"),
                                criteria.get("chargingProfilePurpose"), criteria.get("stackLevel"))
            return result201.ClearChargingProfile(status="Accepted" if found else "Unknown")

        def composite(**_: Any) -> Any:
            p = self._last("GetCompositeSchedule")
            unit, limit = self.composite(p["evseId"], p.get("chargingRateUnit"))
            return result201.GetCompositeSchedule(status="Accepted", schedule={
                "evse_id": p["evseId"], "duration": p["duration"], "schedule_start": iso(self.clock()),
                "charging_rate_unit": unit, "charging_schedule_period": [{"start_period": 0, "limit": float(limit)}]})

        def get_profiles(**_: Any) -> Any:
            return result201.GetChargingProfiles(status="Accepted" if self.held() else "NoProfiles")

        def variables(**_: Any) -> Any:
            known = {("SmartChargingCtrlr", "RateUnit"): self.rate_units or "A,W",
                     ("SmartChargingCtrlr", "ProfileStackLevel"): "8"}
            results = []
            for item in self._last("GetVariables")["getVariableData"]:
                key = (item["component"]["name"], item["variable"]["name"])
                component, variable = {"name": key[0]}, {"name": key[1]}
                if key in known:
                    results.append({"attribute_status": "Accepted", "attribute_value": known[key],
                                    "component": component, "variable": variable})
                else:
                    results.append({"attribute_status": "UnknownVariable", "component": component,
                                    "variable": variable})
            return result201.GetVariables(get_variable_result=results)

        return {"SetChargingProfile": set_profile, "ClearChargingProfile": clear,
                "GetCompositeSchedule": composite, "GetChargingProfiles": get_profiles, "GetVariables": variables}

    def _smart_after(self, action: str) -> Any:
        def after(**_: Any) -> Any:
            if action == "GetChargingProfiles" and self.held():
                return self._report(self._last("GetChargingProfiles")["requestId"])
            return None

        return after

    async def _report(self, request_id: int) -> None:
        places = [(evse, list(held.values())) for evse, held in sorted(self.profiles.items()) if held]
        for i, (evse, held) in enumerate(places):
            await self.send(call201.ReportChargingProfiles(
                request_id=request_id, charging_limit_source="CSO", evse_id=evse,
                charging_profile=[_snake(p) for p in held], tbc=i < len(places) - 1))

    async def notify_limit(self, evse: int, source: str, limit_w: int, *, grid_critical: bool = True) -> None:
        await self.send(call201.NotifyChargingLimit(
            evse_id=evse, charging_limit={"charging_limit_source": source, "is_grid_critical": grid_critical},
            charging_schedule=[{"id": 1, "charging_rate_unit": "W",
                                "charging_schedule_period": [{"start_period": 0, "limit": limit_w}]}]))

    async def cleared_limit(self, evse: int, source: str) -> None:
        await self.send(call201.ClearedChargingLimit(charging_limit_source=source, evse_id=evse))


def _snake(data: Any) -> Any:
    """A camelCase payload part as the library's snake_case arguments."""
    if isinstance(data, dict):
        return {"".join("_" + c.lower() if c.isupper() else c for c in k): _snake(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_snake(v) for v in data]
    return data
