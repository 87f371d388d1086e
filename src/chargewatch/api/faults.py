"""HTTP API of fault handling: incidents and their lifecycle, recovery actions, alert deliveries,
response times, NEVI uptime, and the driver's side (guidance for a session, reporting a problem).

Operator endpoints answer 404 for an unknown incident and 409 (with the reason) for a lifecycle
step the incident cannot take, e.g. acknowledging a resolved incident.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from ..faults.alerts import guidance_to_dict
from ..faults.catalog import Guidance
from ..faults.incidents import ExclusionReason, Incident, IncidentKind, IncidentStatus, InvalidTransition, Severity
from ..faults.incidents import response_times as compute_response_times
from ..faults.remediation import RemedyAction, remedy_intent
from ..faults.uptime import Port, PortUptime, month_bounds, trailing_year_bounds, uptime_report
from ..sessions.links import transaction_of
from ..store import faults as store
from .errors import csv_responses, error_responses
from .models import ConnectorNumber, RowId, Timestamp

if TYPE_CHECKING:
    from ..workers.faults import FaultWorker

# Kinds that mean nothing to a driver: firmware deviations and a rejected card are not the charger's fault.
_NOT_FOR_DRIVERS = frozenset({IncidentKind.INVALID_TRANSITION, IncidentKind.FIRMWARE_FAILED})


# ------------------------------------------------------------------ shapes


class EvidenceOut(BaseModel):
    at: datetime
    source: str
    data: dict[str, Any]


class NoteOut(BaseModel):
    at: datetime
    author: str
    text: str


class IncidentSummary(BaseModel):
    number: int
    id: str
    kind: IncidentKind
    severity: Severity
    status: IncidentStatus
    charger_id: str
    connector_id: int | None
    code: str | None
    session_id: str | None
    outage: bool
    first_seen: datetime
    last_seen: datetime
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    assignee: str | None
    exclusion_reason: ExclusionReason | None
    occurrences: int
    escalation_level: int
    vendor_id: str | None = Field(None, description="StatusNotification vendorId")
    vendor_error_code: str | None = Field(None, description="StatusNotification vendorErrorCode")
    info: str | None = Field(None, description="StatusNotification info")
    members: list[str] = Field(default_factory=list, description="a site incident: the chargers it covers")
    parent_id: str | None = Field(None, description="the site incident that covers this one")


class IncidentPage(BaseModel):
    items: list[IncidentSummary]
    next_cursor: int | None = Field(description="pass as `cursor` to get the next (older) page")


class GuidanceOut(BaseModel):
    key: str
    language: str
    title: str
    driver_message: str
    driver_steps: list[str]
    technical: str
    operator_checklist: list[str]


class ActionOut(BaseModel):
    id: int
    action: str
    rule: str | None
    ocpp_action: str
    payload: dict[str, Any]
    requested_by: str
    requested_at: datetime
    status: str = Field(description="pending | answered | error | timeout | offline")
    response: dict[str, Any] | None
    completed_at: datetime | None


class DriverReportOut(BaseModel):
    id: int
    category: str
    text: str
    contact: str | None
    transaction_id: int | None
    at: datetime


class DeliveryOut(BaseModel):
    id: int
    delivery_id: str
    incident_id: str
    event_type: str
    channel: str
    target: str
    status: str = Field(description="pending | retrying | delivered | failed")
    attempts: int
    attempt_log: list[dict[str, Any]]
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: int | None


class SessionTelemetry(BaseModel):
    transaction_id: int
    status: str
    started_at: datetime
    stopped_at: datetime | None
    energy_wh: int
    power_w: int | None
    max_power_w: int
    soc: int | None
    stop_reason: str | None
    flags: list[str]
    meter_readings: list[dict[str, Any]]


class IncidentDetail(IncidentSummary):
    evidence: list[EvidenceOut]
    resolution: EvidenceOut | None
    notes: list[NoteOut]
    guidance: dict[str, GuidanceOut] = Field(description="by language (en, de)")
    actions: list[ActionOut]
    reports: list[DriverReportOut]
    deliveries: list[DeliveryOut]
    session: SessionTelemetry | None
    remediation_held: str | None = Field(description="why a due remediation rule did not act")


class AcknowledgeIn(BaseModel):
    by: str = Field(min_length=1, max_length=64)


class ResolveIn(BaseModel):
    by: str = Field(min_length=1, max_length=64)
    note: str | None = Field(default=None, max_length=2000)


class AssigneeIn(BaseModel):
    assignee: str | None = Field(max_length=64)


class NoteIn(BaseModel):
    author: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=4000)


class ExclusionIn(BaseModel):
    reason: ExclusionReason | None = Field(description="null removes the exclusion")


class RecoveryAction(StrEnum):
    SOFT_RESET = "soft_reset"
    HARD_RESET = "hard_reset"
    UNLOCK = "unlock"
    MAKE_AVAILABLE = "make_available"
    MAKE_INOPERATIVE = "make_inoperative"
    REMOTE_STOP = "remote_stop"


_REMEDIES = {
    RecoveryAction.SOFT_RESET: RemedyAction.SOFT_RESET,
    RecoveryAction.HARD_RESET: RemedyAction.HARD_RESET,
    RecoveryAction.UNLOCK: RemedyAction.UNLOCK_CONNECTOR,
    RecoveryAction.MAKE_AVAILABLE: RemedyAction.SET_OPERATIVE,
    RecoveryAction.MAKE_INOPERATIVE: RemedyAction.SET_INOPERATIVE,
    RecoveryAction.REMOTE_STOP: RemedyAction.STOP_SESSION,
}


class ActionIn(BaseModel):
    action: RecoveryAction
    by: str = Field(default="operator", min_length=1, max_length=64)
    connector_id: ConnectorNumber | None = Field(default=None, description="defaults to the incident's connector")


class ResponseTimesOut(BaseModel):
    station: str
    incidents: int
    acknowledged: int
    resolved: int
    mtta_seconds: float | None
    mttr_seconds: float | None


class PeriodUptime(BaseModel):
    period_start: datetime
    period_end: datetime
    total_minutes: Decimal
    outage_minutes: Decimal
    excluded_minutes: Decimal
    uptime_percent: Decimal
    excluded_by_reason: dict[str, Decimal]


class PortUptimeOut(BaseModel):
    charger_id: str
    connector_id: int
    month: PeriodUptime
    trailing_12_months: PeriodUptime


class UptimeOut(BaseModel):
    year: int
    month: int
    as_of: datetime
    formula: str = "uptime % = (T − (outage minutes − excluded minutes)) / T × 100 (23 CFR 680.116)"
    ports: list[PortUptimeOut]


class DriverGuidanceItem(BaseModel):
    key: str
    title: str
    message: str
    steps: list[str]
    ongoing: bool
    since: datetime


class DriverGuidanceOut(BaseModel):
    transaction_id: int
    charger_id: str
    connector_id: int
    language: str
    ok: bool = Field(description="true when nothing is known to be wrong")
    items: list[DriverGuidanceItem]


class DriverReportIn(BaseModel):
    # The session token is the driver's credential (the link /s/<token> on the receipt and the charger's screen):
    # without it anyone could open incidents for any charger.
    token: str = Field(min_length=1, max_length=200, description="the session token of the driver link /s/<token>")
    category: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$",
                          description="e.g. not_starting, connector_stuck, payment, screen, damaged, other")
    text: str = Field(default="", max_length=2000)
    contact: str | None = Field(default=None, max_length=255)


class SiteIn(BaseModel):
    site_id: str | None = Field(None, min_length=1, max_length=64,
                                description="the site the charger stands at; null: none")


class SiteOut(BaseModel):
    charger_id: str
    site_id: str | None


class DriverReportReceipt(BaseModel):
    reference: int = Field(description="the incident number to quote to the hotline")
    joined: bool = Field(description="true when the problem was already known (the report joined it)")
    message: str


# ------------------------------------------------------------------ helpers


def _conflict(error: InvalidTransition | ValueError) -> HTTPException:
    return HTTPException(409, {"reason": str(error)})


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    summary = {name: row.get(name) for name in IncidentSummary.model_fields}
    summary["members"] = list(row.get("members") or [])
    return summary


def _period(figure: PortUptime) -> dict[str, Any]:
    return {
        "period_start": figure.period_start, "period_end": figure.period_end,
        "total_minutes": figure.total_minutes, "outage_minutes": figure.outage_minutes,
        "excluded_minutes": figure.excluded_minutes, "uptime_percent": figure.uptime_percent,
        "excluded_by_reason": {reason.value: minutes for reason, minutes in figure.excluded_by_reason.items()},
    }


def _driver_item(guidance: Guidance, ongoing: bool, since: datetime) -> dict[str, Any]:
    return {"key": guidance.key, "title": guidance.title, "message": guidance.driver_message,
            "steps": list(guidance.driver_steps), "ongoing": ongoing, "since": since}


# ------------------------------------------------------------------ routes


def create_router(faults: FaultWorker) -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    db = faults._db

    @router.get("/incidents", response_model=IncidentPage, tags=["incidents"])
    async def list_incidents(
        status: Annotated[str | None, Query(pattern="^(open|acknowledged|resolved|active)$")] = None,
        severity: Annotated[Severity | None, Query(description="this severity and worse")] = None,
        charger_id: str | None = None,
        kind: IncidentKind | None = None,
        since: Annotated[Timestamp | None, Query(description="first seen at or after")] = None,
        q: Annotated[str | None, Query(min_length=1, max_length=50,
                                       description="vendor error code, vendorId, info or code contains")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: RowId | None = None,
    ) -> dict[str, Any]:
        """Incidents (faults the detector raised), filtered by status, severity, charger, kind, start and text, a
        page at a time."""
        where = store.IncidentFilter(status=status, severity=severity.value if severity else None,
                                     charger_id=charger_id, kind=kind.value if kind else None, since=since, q=q)
        rows = await db(store.list_incidents, where, limit + 1, cursor)
        next_cursor = rows[limit - 1]["number"] if len(rows) > limit else None
        return {"items": [_summary(row) for row in rows[:limit]], "next_cursor": next_cursor}

    @router.get("/incidents/response-times", response_model=list[ResponseTimesOut], tags=["incidents"])
    async def response_times(
        since: Annotated[Timestamp | None, Query(description="default: 30 days ago")] = None,
        until: Annotated[Timestamp | None, Query(description="default: now")] = None,
    ) -> list[dict[str, Any]]:
        """Mean time to acknowledge and to resolve per station, from when drivers were first affected."""
        now = faults.now()
        until = until or now
        since = since or until - timedelta(days=30)
        if since >= until:
            raise HTTPException(422, {"field": "since", "reason": "must be before until"})
        incidents = await db(store.incidents_between, since, until)
        return [
            {"station": t.station, "incidents": t.incidents, "acknowledged": t.acknowledged, "resolved": t.resolved,
             "mtta_seconds": None if t.mtta is None else t.mtta.total_seconds(),
             "mttr_seconds": None if t.mttr is None else t.mttr.total_seconds()}
            for t in compute_response_times(incidents).values()
        ]

    async def _row(number: int) -> dict[str, Any]:
        try:
            return await faults.incident(number)
        except store.IncidentNotFound as error:
            raise HTTPException(404, str(error)) from None

    @router.get("/incidents/{number}",
                responses=error_responses(404), response_model=IncidentDetail, tags=["incidents"])
    async def get_incident(number: RowId) -> dict[str, Any]:
        """One incident with its remote actions, driver reports, alert deliveries and session."""
        row = await _row(number)
        incident = store.incident_from_row(row)

        def gather(connection: Any) -> dict[str, Any]:
            extra: dict[str, Any] = {
                "actions": store.actions_of(connection, incident.id),
                "reports": store.reports_of(connection, incident.id),
                "deliveries": store.list_deliveries(connection, incident_id=incident.id, status=None, channel=None,
                                                    limit=100),
                "session": None,
            }
            if incident.session_id and incident.session_id.isascii() and incident.session_id.isdigit():
                session = store.session_row(connection, int(incident.session_id))
                if session is not None:
                    readings = store.session_telemetry(connection, session["transaction_id"])
                    extra["session"] = {**session, "flags": list(session["flags"] or []), "meter_readings": readings}
            return extra

        extra = await db(gather)
        return {
            **_summary(row),
            "evidence": row["evidence"],
            "resolution": row["resolution"],
            "notes": row["notes"],
            "guidance": {lang: guidance_to_dict(faults.catalog.guidance_for_incident(incident, lang))
                         for lang in ("en", "de")},
            "remediation_held": faults.remediation_held.get(incident.id),
            **extra,
        }

    async def _lifecycle(number: int, step: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        await _row(number)
        try:
            row = await step()
        except (InvalidTransition, ValueError) as error:
            raise _conflict(error) from None
        return _summary(row)

    @router.post("/incidents/{number}/acknowledge",
                 responses=error_responses(404, 409), response_model=IncidentSummary, tags=["incidents"])
    async def acknowledge(number: RowId, body: AcknowledgeIn, request: Request) -> dict[str, Any]:
        """open → acknowledged: stops escalation. 409 if resolved or already acknowledged."""
        return await _lifecycle(number, lambda: faults.acknowledge(number, _actor(request, body.by)))

    @router.post("/incidents/{number}/resolve",
                 responses=error_responses(404, 409), response_model=IncidentSummary, tags=["incidents"])
    async def resolve(number: RowId, body: ResolveIn, request: Request) -> dict[str, Any]:
        """Close by hand (fixed on site, false alarm). 409 if already resolved."""
        return await _lifecycle(number, lambda: faults.resolve(number, _actor(request, body.by), body.note))

    @router.put("/incidents/{number}/assignee",
                responses=error_responses(404, 409), response_model=IncidentSummary, tags=["incidents"])
    async def set_assignee(number: RowId, body: AssigneeIn) -> dict[str, Any]:
        """Assign the incident to an operator (or nobody); recorded in its history."""
        return await _lifecycle(number, lambda: faults.assign(number, body.assignee))

    @router.post("/incidents/{number}/notes", response_model=IncidentSummary, status_code=201, tags=["incidents"],
                 responses=error_responses(404, 409))
    async def add_note(number: RowId, body: NoteIn, request: Request) -> dict[str, Any]:
        """Add an operator's note to the incident's history."""
        return await _lifecycle(number, lambda: faults.add_note(number, _actor(request, body.author), body.text))

    @router.put("/incidents/{number}/exclusion",
                responses=error_responses(404, 409), response_model=IncidentSummary, tags=["incidents"])
    async def set_exclusion(number: RowId, body: ExclusionIn) -> dict[str, Any]:
        """Exclude an outage from uptime (cause outside the operator's control). 409 if not an outage."""
        return await _lifecycle(number, lambda: faults.set_exclusion(number, body.reason))

    @router.post("/incidents/{number}/actions",
                 responses=error_responses(404, 409), response_model=ActionOut, tags=["incidents"])
    async def run_action(number: RowId, body: ActionIn, request: Request) -> dict[str, Any]:
        """Send a recovery command to the charger; its answer (or timeout/offline) is recorded on the incident."""
        incident: Incident = store.incident_from_row(await _row(number))
        if body.connector_id is not None:
            incident = replace(incident, connector_id=body.connector_id)
        if body.action is RecoveryAction.REMOTE_STOP and not incident.session_id:
            active = faults._sessions.get((incident.charger_id, incident.connector_id or 0))
            if active is not None:
                incident = replace(incident, session_id=str(active))
        remedy = _REMEDIES[body.action]
        reference = None
        if remedy is RemedyAction.STOP_SESSION and incident.session_id:
            reference = (await db(store.transaction_refs, [incident.session_id])).get(incident.session_id)
        try:  # in the words of the charger's OCPP version, which the action row records
            intent = remedy_intent(remedy, incident, reference)
            return await faults.send_remedy(incident.id, incident.charger_id, body.action.value, intent,
                                            requested_by=_actor(request, body.by))
        except ValueError as error:
            raise HTTPException(409, {"field": "action", "reason": str(error)}) from None

    @router.put("/chargers/{charger_id}/site", response_model=SiteOut, tags=["incidents"],
                responses=error_responses(404))
    async def set_site(charger_id: str, body: SiteIn) -> dict[str, Any]:
        """Which site a charger belongs to: chargers of one site offline together become one site incident."""
        if not await db(store.set_charger_site, charger_id, body.site_id):
            raise HTTPException(404, {"reason": f"charger {charger_id} not found"})
        return {"charger_id": charger_id, "site_id": body.site_id}

    @router.get("/alerts/deliveries", response_model=DeliveryPage, tags=["incidents"],
                responses=error_responses(404))
    async def deliveries(
        incident: Annotated[RowId | None, Query(description="incident number")] = None,
        status: Annotated[str | None, Query(pattern="^(pending|retrying|delivered|failed)$")] = None,
        channel: Annotated[str | None, Query(pattern="^(webhook|email)$")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: RowId | None = None,
    ) -> dict[str, Any]:
        """The webhook and e-mail delivery log: every attempt, its HTTP status or error."""
        incident_id = None
        if incident is not None:
            incident_id = (await _row(incident))["id"]
        rows = await db(store.list_deliveries, incident_id=incident_id, status=status, channel=channel,
                        limit=limit + 1, before=cursor)
        return {"items": rows[:limit], "next_cursor": rows[limit - 1]["id"] if len(rows) > limit else None}

    # ------------------------------------------------------------------ uptime

    async def _uptime(year: int, month: int, charger_id: str | None) -> tuple[Any, datetime]:
        now = faults.now()
        if month_bounds(year, month)[0] >= now:
            raise HTTPException(422, {"field": "month", "reason": f"{year:04d}-{month:02d} has not begun"})
        start, _ = trailing_year_bounds(year, month)
        _, end = month_bounds(year, month)

        def load(connection: Any) -> tuple[list[Incident], list[tuple[str, int]]]:
            return (store.incidents_between(connection, start, end, outages_only=True, charger_id=charger_id),
                    store.ports(connection, charger_id))

        incidents, ports = await db(load)
        report = uptime_report(incidents, [Port(c, k) for c, k in ports], year, month, as_of=now)
        return report, now

    @router.get("/uptime", response_model=UptimeOut, tags=["uptime"])
    async def uptime(
        year: Annotated[int, Query(ge=2000, le=9999)],
        month: Annotated[int, Query(ge=1, le=12)],
        charger_id: str | None = None,
    ) -> dict[str, Any]:
        """Per-port uptime for the month and the 12 months ending with it (outages from incidents)."""
        report, now = await _uptime(year, month, charger_id)
        return {"year": year, "month": month, "as_of": now, "ports": [
            {"charger_id": row.port.charger_id, "connector_id": row.port.connector_id, "month": _period(row.month),
             "trailing_12_months": _period(row.trailing_year)} for row in report.rows]}

    @router.get("/uptime.csv", response_class=PlainTextResponse, tags=["uptime"],
                responses=csv_responses("NEVI uptime per connector, one row per connector and month"))
    async def uptime_csv(
        year: Annotated[int, Query(ge=2000, le=9999)],
        month: Annotated[int, Query(ge=1, le=12)],
        charger_id: str | None = None,
    ) -> PlainTextResponse:
        """NEVI uptime per connector for a month as CSV, one row per connector."""
        report, _ = await _uptime(year, month, charger_id)
        return PlainTextResponse(report.to_csv(), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="uptime-{year:04d}-{month:02d}.csv"'})

    # ------------------------------------------------------------------ drivers

    @router.get("/driver/{token}/guidance",
                responses=error_responses(404), response_model=DriverGuidanceOut, tags=["driver"])
    async def driver_guidance(token: str, lang: Annotated[str, Query(min_length=2, max_length=10)] = "en"
                              ) -> dict[str, Any]:
        """What the driver page shows: plain-language messages and steps for what went wrong at this
        session's connector (during the session, or still going on)."""
        transaction_id = transaction_of(faults.secret, token)
        if transaction_id is None:
            raise HTTPException(404, "session link not found")
        now = faults.now()

        def load(connection: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]], dict[str, Any] | None]:
            session = store.session_row(connection, transaction_id)
            if session is None:
                return None, [], None
            charger, connector = session["charger_id"], session["connector_id"]
            incidents = store.incidents_of_connector(connection, charger, connector, session["started_at"],
                                                     session["stopped_at"] or now)
            return session, incidents, store.connector_error(connection, charger, connector)

        session, rows, connector = await db(load)
        if session is None:
            raise HTTPException(404, "session link not found")
        items: list[dict[str, Any]] = []
        language = lang
        seen: set[str] = set()
        for row in rows:
            incident = store.incident_from_row(row)
            if incident.kind in _NOT_FOR_DRIVERS or (incident.kind is IncidentKind.FAILED_START
                                                     and incident.connector_id is None):
                continue
            guidance = faults.catalog.guidance_for_incident(incident, lang)
            language = guidance.language
            if guidance.key not in seen:
                seen.add(guidance.key)
                items.append(_driver_item(guidance, incident.is_active, incident.first_seen))
        if session["status"] == "active" and connector and connector["error_code"] not in ("NoError", None):
            guidance = faults.catalog.guidance_for(connector["error_code"], connector["vendor_id"],
                                                   connector["vendor_error_code"], lang)
            language = guidance.language
            if guidance.key not in seen:
                items.append(_driver_item(guidance, True, connector["status_at"]))
        return {"transaction_id": transaction_id, "charger_id": session["charger_id"],
                "connector_id": session["connector_id"], "language": language, "ok": not items, "items": items}

    @router.post("/driver/reports", response_model=DriverReportReceipt, status_code=201, tags=["driver"])
    async def driver_report(body: DriverReportIn,
                            lang: Annotated[str, Query(min_length=2, max_length=10)] = "en") -> dict[str, Any]:
        """"Report a problem": opens an incident for the operator, or joins the one already open."""
        transaction_id = transaction_of(faults.secret, body.token)
        session = None if transaction_id is None else await db(store.session_row, transaction_id)
        if session is None:
            raise HTTPException(422, {"field": "token", "reason": "not a session link of this site"})
        charger_id, connector_id = session["charger_id"], session["connector_id"]
        row, joined = await faults.report_problem(charger_id, connector_id, transaction_id, body.category,
                                                  body.text, body.contact)
        guidance = faults.catalog.guidance_for("DriverReport", lang=lang)
        return {"reference": row["number"], "joined": joined, "message": guidance.driver_message}

    return router


def _actor(request: Request, claimed: str) -> str:
    """Who did it: the logged-in operator when there is one (a name in the body cannot override it)."""
    operator = getattr(request.state, "operator", None)
    return operator.username if operator is not None else claimed
