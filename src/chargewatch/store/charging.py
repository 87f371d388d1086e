"""Smart charging rows: profiles sent and their answers, composite schedules, what stations reported.

The one read model of a charger's smart charging (``charger_view``) is shared by the API, the CLI and the charger
page. Rows hold neutral values only (``domain.charging``): nothing here knows an OCPP version's words.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from ..domain.charging import ChargingLimitChanged, ChargingProfilesReported, CompositeSchedule, composite_to_json
from . import schema
from .charging_tables import charging_profiles, charging_reports, composite_schedules

ACCEPTED = "Accepted"


def charging_report_row(charger_id: str, change: ChargingProfilesReported | ChargingLimitChanged) -> dict[str, Any]:
    if isinstance(change, ChargingProfilesReported):
        return {"charger_id": charger_id, "kind": "ReportChargingProfiles", "connector_id": change.connector_id,
                "request_id": change.request_id, "limit_source": change.limit_source, "cleared": False,
                "grid_critical": None, "more_to_come": change.more_to_come, "data": list(change.profiles),
                "received_at": change.at}
    return {"charger_id": charger_id, "kind": "ClearedChargingLimit" if change.cleared else "NotifyChargingLimit",
            "connector_id": change.connector_id, "request_id": None, "limit_source": change.limit_source,
            "cleared": change.cleared, "grid_critical": change.grid_critical, "more_to_come": False,
            "data": list(change.schedules), "received_at": change.at}


# ---------------------------------------------------------------- profiles


def new_profile(connection: Connection, *, charger_id: str, connector_id: int, purpose: str, stack_level: int,
                ocpp_version: str, origin: str, now: datetime, site_id: str | None = None,
                limit_kw: Decimal | None = None) -> int:
    """A pending profile row; its id becomes the chargingProfileId."""
    return int(connection.execute(insert(charging_profiles).values(
        charger_id=charger_id, connector_id=connector_id, purpose=purpose, stack_level=stack_level, profile={},
        ocpp_version=ocpp_version, status="pending", active=False, origin=origin, site_id=site_id,
        limit_kw=limit_kw, created_at=now).returning(charging_profiles.c.id)).scalar_one())


def record_rendered(connection: Connection, profile_id: int, profile: dict[str, Any], action: str,
                    payload: dict[str, Any], command_id: int | None) -> None:
    connection.execute(update(charging_profiles).where(charging_profiles.c.id == profile_id).values(
        profile=profile, sent_action=action, sent_payload=payload, command_id=command_id))


def record_answer(connection: Connection, profile_id: int, status: str, answer: dict[str, Any] | None,
                  now: datetime) -> bool:
    """The charger's answer to SetChargingProfile. Accepted: the profile is in force and replaces the one at the
    same place with the same purpose and stack level (OCPP 1.6 §5.16.2, 2.0.1 K01.FR.05). Returns whether it is."""
    answer_status = (answer or {}).get("status") if status == "answered" else (answer or {}).get("code")
    accepted = status == "answered" and answer_status == ACCEPTED
    p = charging_profiles
    if accepted:
        row = connection.execute(select(p).where(p.c.id == profile_id)).one()
        connection.execute(update(p).where(
            p.c.charger_id == row.charger_id, p.c.connector_id == row.connector_id, p.c.purpose == row.purpose,
            p.c.stack_level == row.stack_level, p.c.active.is_(True), p.c.id != profile_id).values(
            active=False, cleared_at=now, clear_answer={"replaced_by": profile_id}))
    connection.execute(update(p).where(p.c.id == profile_id).values(
        status=status, answer_status=answer_status, answer=answer, active=accepted, answered_at=now))
    return accepted


def active_profiles(connection: Connection, charger_id: str, connector_id: int | None = None,
                    origin: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    p = charging_profiles
    query = select(p).where(p.c.charger_id == charger_id, p.c.active.is_(True))
    if connector_id is not None:
        query = query.where(p.c.connector_id == connector_id)
    if origin is not None:
        query = query.where(p.c.origin.in_(origin))
    return [dict(r._mapping) for r in connection.execute(query.order_by(p.c.id))]


def profiles(connection: Connection, charger_id: str, limit: int = 50) -> list[dict[str, Any]]:
    p = charging_profiles
    rows = connection.execute(select(p).where(p.c.charger_id == charger_id).order_by(p.c.id.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]


def profile(connection: Connection, profile_id: int) -> dict[str, Any] | None:
    row = connection.execute(select(charging_profiles).where(charging_profiles.c.id == profile_id)).first()
    return None if row is None else dict(row._mapping)


def record_cleared(connection: Connection, profile_ids: list[int], answer: dict[str, Any] | None,
                   now: datetime) -> None:
    """ClearChargingProfile answered Accepted (or Unknown: the charger no longer holds it): no longer in force."""
    if profile_ids:
        connection.execute(update(charging_profiles).where(charging_profiles.c.id.in_(profile_ids)).values(
            active=False, cleared_at=now, clear_answer=answer))


def site_profiles(connection: Connection, site_id: str) -> list[dict[str, Any]]:
    p = charging_profiles
    rows = connection.execute(select(p).where(p.c.site_id == site_id, p.c.active.is_(True)).order_by(p.c.id))
    return [dict(r._mapping) for r in rows]


# ---------------------------------------------------------------- composite schedules


def record_composite(connection: Connection, charger_id: str, ocpp_version: str, composite: CompositeSchedule,
                     response: dict[str, Any] | None, now: datetime) -> int:
    data = composite_to_json(composite)
    return int(connection.execute(insert(composite_schedules).values(
        charger_id=charger_id, connector_id=composite.connector_id, ocpp_version=ocpp_version,
        status=composite.status, schedule_start=composite.schedule_start, duration=composite.duration,
        rate_unit=composite.rate_unit, periods=data["periods"], response=response, requested_at=now,
    ).returning(composite_schedules.c.id)).scalar_one())


def latest_composites(connection: Connection, charger_id: str) -> list[dict[str, Any]]:
    """The latest composite schedule asked for, per connector."""
    c = composite_schedules
    latest = select(func.max(c.c.id)).where(c.c.charger_id == charger_id).group_by(c.c.connector_id)
    rows = connection.execute(select(c).where(c.c.id.in_(latest)).order_by(c.c.connector_id))
    return [dict(r._mapping) for r in rows]


# ---------------------------------------------------------------- what the station reported


def reports(connection: Connection, charger_id: str, limit: int = 50) -> list[dict[str, Any]]:
    r = charging_reports
    rows = connection.execute(select(r).where(r.c.charger_id == charger_id).order_by(r.c.id.desc()).limit(limit))
    return [dict(x._mapping) for x in rows]


# ---------------------------------------------------------------- facts the profiles depend on


def charger_facts(connection: Connection, charger_id: str) -> dict[str, Any] | None:
    """The charger's OCPP version and site, None when it does not exist."""
    c = schema.chargers
    row = connection.execute(select(c.c.ocpp_version, c.c.site_id).where(c.c.id == charger_id)).first()
    return None if row is None else {"ocpp_version": row.ocpp_version or "ocpp1.6", "site_id": row.site_id}


def site_chargers(connection: Connection, site_id: str) -> list[str]:
    c = schema.chargers
    return [r.id for r in connection.execute(select(c.c.id).where(c.c.site_id == site_id).order_by(c.c.id))]


def running_sessions(connection: Connection, charger_id: str) -> dict[int, tuple[int, str]]:
    """The charger's running sessions: connector → (our session id, the charger's transaction reference)."""
    s = schema.sessions
    rows = connection.execute(select(s.c.connector_id, s.c.transaction_id, s.c.transaction_ref).where(
        s.c.charger_id == charger_id, s.c.status == "active"))
    return {r.connector_id: (r.transaction_id, r.transaction_ref or str(r.transaction_id)) for r in rows}


def reported_variable(connection: Connection, charger_id: str, component: str, variable: str) -> str | None:
    """A 2.0.1 station's reported Actual value of a device-model variable (NotifyReport), if it reported one."""
    v = schema.device_variables
    row = connection.execute(select(v.c.value).where(
        v.c.charger_id == charger_id, v.c.component == component, v.c.variable == variable,
        v.c.attribute_type == "Actual").limit(1)).first()
    return None if row is None else row.value


def answered_configuration(connection: Connection, charger_id: str, key: str, recent: int = 20) -> str | None:
    """A 1.6 configuration key's value from the charger's latest GetConfiguration answers that named it."""
    cmd = schema.commands
    rows = connection.execute(select(cmd.c.response).where(
        cmd.c.charger_id == charger_id, cmd.c.action == "GetConfiguration", cmd.c.status == "answered")
        .order_by(cmd.c.id.desc()).limit(recent))
    for row in rows:
        entries = (row.response or {}).get("configurationKey") if isinstance(row.response, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and entry.get("key") == key and entry.get("value") is not None:
                return str(entry["value"])
    return None


# ---------------------------------------------------------------- the one read model


def charger_view(connection: Connection, charger_id: str) -> dict[str, Any]:
    """A charger's smart charging: profiles in force, recent profiles with their answers, the latest composite
    schedule per connector, what the station reported (2.0.1)."""
    return {"active": active_profiles(connection, charger_id), "profiles": profiles(connection, charger_id, 20),
            "composite": latest_composites(connection, charger_id), "reports": reports(connection, charger_id, 20)}


def read_charger_view(engine: Engine, charger_id: str) -> dict[str, Any]:
    with engine.connect() as connection:
        return charger_view(connection, charger_id)
