"""Smart charging as the operator uses it: set a profile, limit a connector, a charger or a site to N kW, lift a
limit, read the composite schedule, ask a 2.0.1 station for its profiles.

Each command is validated in neutral form (``domain.charging.validate``, errors naming the field), stored (the
profile row's id is its chargingProfileId), rendered for the charger's OCPP version (``ocpp.charging``), sent
through the gateway (which checks the rendered payload against that version's official schema), and the charger's
answer is recorded on the profile row and in ``commands``. Nothing is ever sent that failed validation.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, insert, update

from ..domain import charging
from ..domain.charging import ProfileInvalid, Purpose
from ..gateway.transport import CommandResult, Gateway
from ..ocpp.charging import ChargingRenderer, renderer_for
from ..store import charging as rows
from ..store import schema

# Clearing answered so: the charger no longer holds the profile (Unknown: it had none by that id).
CLEARED = frozenset({"Accepted", "Unknown"})
OPERATOR_ORIGINS = ("limit", "site")


class NotFound(LookupError):
    """No such charger, site or profile."""


@dataclass(frozen=True)
class Sent:
    command_id: int
    result: CommandResult


class ChargingService:
    def __init__(self, engine: Engine, gateway: Gateway):
        self.engine = engine
        self.gateway = gateway

    # ------------------------------------------------------------------ plumbing

    async def _db(self, work: Any, *args: Any, write: bool = False) -> Any:
        def run() -> Any:
            with (self.engine.begin() if write else self.engine.connect()) as connection:
                return work(connection, *args)

        return await asyncio.to_thread(run)

    async def _send(self, charger_id: str, action: str, payload: dict[str, Any], timeout: float | None) -> Sent:
        """Send one CALL the way the command API does: recorded in ``commands`` with its outcome. ValueError when
        the charger's adapter refuses it (the rendered payload breaks the version's schema)."""
        cmd = schema.commands
        now = self.gateway.now()

        def record(connection: Any) -> int:
            return int(connection.execute(insert(cmd).values(
                charger_id=charger_id, action=action, payload=payload, status="pending", requested_by="charging",
                requested_at=now).returning(cmd.c.id)).scalar_one())

        def finish(connection: Any, command_id: int, status: str, response: Any) -> None:
            connection.execute(update(cmd).where(cmd.c.id == command_id).values(
                status=status, response=response, completed_at=self.gateway.now()))

        command_id = await self._db(record, write=True)
        try:
            result = await self.gateway.call(charger_id, action, payload, timeout)
        except ValueError as exc:
            await self._db(finish, command_id, "error", {"reason": str(exc)}, write=True)
            raise
        await self._db(finish, command_id, result.status,
                       result.response if result.response is not None else result.error, write=True)
        return Sent(command_id, result)

    async def _charger(self, charger_id: str) -> tuple[dict[str, Any], ChargingRenderer]:
        facts = await self._db(rows.charger_facts, charger_id)
        if facts is None:
            raise NotFound(f"charger {charger_id!r} not found")
        return facts, renderer_for(facts["ocpp_version"])

    async def _setting(self, charger_id: str, renderer: ChargingRenderer, key: str,
                       timeout: float | None) -> str | None:
        """A charger setting smart charging depends on: what it reported (2.0.1 device model) or answered before
        (1.6 GetConfiguration), else asked live (GetConfiguration / GetVariables); None when the charger cannot tell
        (offline, unknown key)."""
        if "." in key:
            component, variable = key.split(".", 1)
            reported = await self._db(rows.reported_variable, charger_id, component, variable)
        else:
            reported = await self._db(rows.answered_configuration, charger_id, key)
        if reported is not None:
            return str(reported)
        action, payload = renderer.read_setting(key)
        try:
            sent = await self._send(charger_id, action, payload, timeout)
        except ValueError:
            return None
        return renderer.setting_from(sent.result.response or {}) if sent.result.status == "answered" else None

    async def _max_stack_level(self, charger_id: str, renderer: ChargingRenderer) -> int | None:
        """The highest stack level the charger said it supports: a 2.0.1 station's reported
        SmartChargingCtrlr.ProfileStackLevel, a 1.6 charger's ChargeProfileMaxStackLevel from a GetConfiguration it
        answered (not asked for each profile: where unknown, the charger's own answer says if it is over)."""
        key = renderer.max_stack_level_key
        if "." in key:
            component, variable = key.split(".", 1)
            reported = await self._db(rows.reported_variable, charger_id, component, variable)
        else:
            reported = await self._db(rows.answered_configuration, charger_id, key)
        try:
            return int(str(reported))
        except ValueError:
            return None

    # ------------------------------------------------------------------ profiles

    async def set_profile(self, charger_id: str, data: dict[str, Any], *, origin: str = "profile",
                          site_id: str | None = None, limit_kw: Decimal | None = None,
                          timeout: float | None = None, max_stack_level: int | None = None) -> dict[str, Any]:
        """Validate, store, render and send one profile (neutral JSON form); the stored row with the answer."""
        facts, renderer = await self._charger(charger_id)
        if max_stack_level is None:
            max_stack_level = await self._max_stack_level(charger_id, renderer)
        running = await self._db(rows.running_sessions, charger_id)
        profile = charging.profile_from_json(data, profile_id=1)  # the row's id replaces it once stored
        charging.validate(profile, active_transactions={c: tx for c, (tx, _) in running.items()},
                          max_stack_level=max_stack_level)
        now = self.gateway.now()
        profile_id = await self._db(lambda c: rows.new_profile(
            c, charger_id=charger_id, connector_id=profile.connector_id, purpose=profile.purpose.value,
            stack_level=profile.stack_level, ocpp_version=facts["ocpp_version"], origin=origin, now=now,
            site_id=site_id, limit_kw=limit_kw), write=True)
        profile = replace(profile, profile_id=profile_id)
        reference = running.get(profile.connector_id, (None, None))[1] if profile.purpose is Purpose.TX else None
        action, payload = renderer.set_profile(profile, reference)
        await self._db(rows.record_rendered, profile_id, charging.profile_to_json(profile), action, payload, None,
                       write=True)
        try:
            sent = await self._send(charger_id, action, payload, timeout)
        except ValueError as exc:
            await self._db(rows.record_answer, profile_id, "error", {"code": "Invalid", "description": str(exc)},
                           self.gateway.now(), write=True)
            raise
        result = sent.result
        answer = result.response if result.status == "answered" else result.error
        await self._db(rows.record_rendered, profile_id, charging.profile_to_json(profile), action, payload,
                       sent.command_id, write=True)
        await self._db(rows.record_answer, profile_id, result.status, answer, self.gateway.now(), write=True)
        return await self._db(rows.profile, profile_id)

    async def clear_profiles(self, charger_id: str, profile_ids: list[int],
                             timeout: float | None = None) -> list[dict[str, Any]]:
        """ClearChargingProfile by id, one per profile; each profile's outcome (cleared when Accepted/Unknown)."""
        _, renderer = await self._charger(charger_id)
        outcomes = []
        for profile_id in profile_ids:
            action, payload = renderer.clear_profile(profile_id)
            sent = await self._send(charger_id, action, payload, timeout)
            result = sent.result
            answer = result.response if result.status == "answered" else result.error
            status = (answer or {}).get("status") if result.status == "answered" else result.status
            cleared = status in CLEARED
            if cleared:
                await self._db(rows.record_cleared, [profile_id], answer, self.gateway.now(), write=True)
            outcomes.append({"profile_id": profile_id, "status": result.status, "answer_status": status,
                             "cleared": cleared, "command_id": sent.command_id})
        return outcomes

    async def clear_profile(self, charger_id: str, profile_id: int, timeout: float | None = None) -> dict[str, Any]:
        found = await self._db(rows.profile, profile_id)
        if found is None or found["charger_id"] != charger_id:
            raise NotFound(f"charger {charger_id!r} has no charging profile {profile_id}")
        return (await self.clear_profiles(charger_id, [profile_id], timeout))[0]

    # ------------------------------------------------------------------ the operator's limit

    async def limit(self, charger_id: str, connector_id: int, kilowatts: Decimal, *,
                    phases: int = charging.ASSUMED_PHASES, voltage: int = charging.ASSUMED_VOLTAGE,
                    site_id: str | None = None, timeout: float | None = None) -> dict[str, Any]:
        """Limit a connector (TxDefault) or the charger (connector 0, ChargerMax) to N kW: in W, or in A when the
        charger's allowed rate units (ChargingScheduleAllowedChargingRateUnit / SmartChargingCtrlr.RateUnit) say
        Current only, at ``phases`` × ``voltage``."""
        if not 1 <= phases <= 3:
            raise ProfileInvalid("phases", "must be 1, 2 or 3")
        if not 100 <= voltage <= 1000:
            raise ProfileInvalid("voltage", "must be between 100 and 1000 V")
        _, renderer = await self._charger(charger_id)
        units = await self._setting(charger_id, renderer, renderer.rate_unit_key, timeout)
        profile = charging.limit_profile(1, connector_id, kilowatts, allowed_units=units, now=self.gateway.now(),
                                         phases=phases, voltage=voltage)
        row = await self.set_profile(charger_id, charging.profile_to_json(profile),
                                     origin="site" if site_id else "limit", site_id=site_id, limit_kw=kilowatts,
                                     timeout=timeout)
        unit = profile.schedule.rate_unit
        row["rendering"] = (f"{kilowatts} kW as {profile.schedule.periods[0].limit} W" if unit == "W" else
                            f"{kilowatts} kW as {profile.schedule.periods[0].limit} A per phase: the charger takes "
                            f"only Current ({units}); assumed {phases} phase(s) at {voltage} V, rounded down")
        return row

    async def remove_limit(self, charger_id: str, connector_id: int,
                           timeout: float | None = None) -> list[dict[str, Any]]:
        """Lift the operator's limits at this place (a connector, or the charger with 0)."""
        await self._charger(charger_id)
        active = await self._db(lambda c: rows.active_profiles(c, charger_id, connector_id, OPERATOR_ORIGINS))
        return await self.clear_profiles(charger_id, [p["id"] for p in active], timeout)

    async def limit_site(self, site_id: str, kilowatts: Decimal, timeout: float | None = None) -> dict[str, Any]:
        """One ChargerMax profile per charger of the site, the site's kW split by ``domain.charging.site_shares``."""
        chargers = await self._db(rows.site_chargers, site_id)
        if not chargers:
            raise NotFound(f"site {site_id!r} has no charger")
        shares = charging.site_shares(kilowatts, chargers)
        results = await asyncio.gather(*(self.limit(charger_id, 0, share, site_id=site_id, timeout=timeout)
                                         for charger_id, share in shares.items()))
        return {"site_id": site_id, "kw": str(kilowatts), "rule": "equal shares, each rounded down to 0.1 kW",
                "chargers": [{"charger_id": charger_id, "kw": str(shares[charger_id]), "profile": row}
                             for charger_id, row in zip(shares, results, strict=True)]}

    async def remove_site_limit(self, site_id: str, timeout: float | None = None) -> list[dict[str, Any]]:
        profiles = await self._db(rows.site_profiles, site_id)
        outcomes: list[dict[str, Any]] = []
        for charger_id in sorted({p["charger_id"] for p in profiles}):
            ids = [p["id"] for p in profiles if p["charger_id"] == charger_id]
            outcomes.extend({"charger_id": charger_id, **o} for o in await self.clear_profiles(charger_id, ids,
                                                                                                timeout))
        return outcomes

    # ------------------------------------------------------------------ what the charger will do

    async def composite_schedule(self, charger_id: str, connector_id: int, duration: int,
                                 rate_unit: str | None = None, timeout: float | None = None) -> dict[str, Any]:
        """Ask the charger for its composite schedule (GetCompositeSchedule) and store it, whatever it answered."""
        if connector_id < 0:
            raise ProfileInvalid("connector_id", "must be 0 (the whole charger) or a connector number")
        if duration <= 0:
            raise ProfileInvalid("duration", "must be a positive number of seconds")
        if rate_unit not in (None, "A", "W"):
            raise ProfileInvalid("rate_unit", "must be A or W")
        facts, renderer = await self._charger(charger_id)
        action, payload = renderer.get_composite(connector_id, duration, rate_unit)
        sent = await self._send(charger_id, action, payload, timeout)
        result = sent.result
        if result.status == "answered":
            composite = renderer.composite_from(connector_id, result.response or {})
        else:
            composite = charging.CompositeSchedule(connector_id, result.status)
        answer = result.response if result.status == "answered" else result.error
        composite_id = await self._db(rows.record_composite, charger_id, facts["ocpp_version"], composite, answer,
                                      self.gateway.now(), write=True)
        return {"id": composite_id, "command_id": sent.command_id, **charging.composite_to_json(composite)}

    async def report_profiles(self, charger_id: str, connector_id: int | None,
                              timeout: float | None = None) -> dict[str, Any]:
        """2.0.1 GetChargingProfiles: the station reports what it holds in ReportChargingProfiles (recorded)."""
        _, renderer = await self._charger(charger_id)
        request_id = secrets.randbelow(2**31 - 1) + 1
        action, payload = renderer.get_profiles(request_id, connector_id)  # ValueError on 1.6
        sent = await self._send(charger_id, action, payload, timeout)
        result = sent.result
        return {"request_id": request_id, "command_id": sent.command_id, "status": result.status,
                "answer_status": (result.response or {}).get("status")}

    async def view(self, charger_id: str) -> dict[str, Any]:
        await self._charger(charger_id)
        return await self._db(rows.charger_view, charger_id)
