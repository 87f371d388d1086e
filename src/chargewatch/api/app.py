"""The HTTP API (FastAPI): /api/v1, /openapi.json, /metrics (the pages are installed by `workers.dashboard`)."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from fastapi_offline import FastAPIOffline
from prometheus_client import generate_latest
from sqlalchemy import Connection, Engine, func, insert, select, tuple_, update

from ..charging.service import ChargingService
from ..gateway.events import EventBus
from ..gateway.transport import CommandResult, Gateway
from ..ocpp import credentials
from ..sessions.links import session_token
from ..sessions.machine import ChargingSession
from ..store import reads, registry, schema
from . import models
from .auth import is_public
from .charging import charging_router
from .console import console_router
from .errors import error_responses, install_error_handlers, install_openapi
from .models import ConnectorNumber, Offset, RowId, Timestamp, TransactionId
from .paging import Cursor, Limit, decode_cursor, page
from .security import security_router

# A 1.6 charger's screen is the vendor's DataTransfer; unless the faults config's driver_screen names the vendor's ids.
DISPLAY_VENDOR_ID = "org.chargewatch"
DISPLAY_MESSAGE_ID = "DisplayMessage"

_SAMPLE_TOKEN = "1-" + "A" * 22
# OCPP 2.0.1 commands a station answers with a report (NotifyReport, NotifyMonitoringReport) carrying its requestId.
REPORT_ACTIONS = frozenset({"GetBaseReport", "GetReport", "GetMonitoringReport"})


def operator_only(path: str) -> bool:
    """Whether an API path (template) is behind the operator login (the driver's token paths are not)."""
    return path.startswith("/api/") and not is_public(path.replace("{token}", _SAMPLE_TOKEN))


@dataclass
class Services:
    engine: Engine
    gateway: Gateway
    bus: EventBus
    secret: bytes

    def driver_path(self, transaction_id: int) -> str:
        """Where the driver follows this session (the link/QR code on the charger and receipt)."""
        return f"/s/{session_token(self.secret, transaction_id)}"


def _session_out(session: ChargingSession) -> dict[str, Any]:
    data = {name: getattr(session, name) for name in models.SessionOut.model_fields if hasattr(session, name)}
    data["flags"] = list(session.flags)
    data["duration_seconds"] = session.duration_seconds
    return data


def _encode_cursor(started_at: datetime, transaction_id: int) -> str:
    return base64.urlsafe_b64encode(f"{started_at.isoformat()}|{transaction_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        started, tx = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(started), int(tx)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(422, {"field": "cursor", "reason": "not a cursor returned by this API"}) from None


def create_app(services: Services) -> FastAPI:
    # /docs and /redoc load Swagger UI and ReDoc from fastapi-offline's package data, never from a CDN.
    app = FastAPIOffline(
        title="chargewatch",
        version="0.1.0",
        description="Monitor EV charging sessions end to end: OCPP 1.6J chargers, sessions, commands.",
        openapi_url="/openapi.json",
        static_url="/docs/assets",
    )
    engine = services.engine
    app.state.services = services
    install_error_handlers(app)
    install_openapi(app, operator_only)
    app.include_router(charging_router(ChargingService(engine, services.gateway)))

    # ------------------------------------------------------------------ chargers

    def _chargers(connection: Connection, *conditions: Any, limit: int | None = None) -> list[dict[str, Any]]:
        """Chargers in id order with their connectors: three queries whatever the count (the connectors and EVSE
        rows of the page's id range, on their primary keys), no per-charger query."""
        c, k = schema.chargers, schema.connectors
        query = select(c).where(*conditions).order_by(c.c.id)
        if limit is not None:
            query = query.limit(limit)
        chargers = [dict(r._mapping) for r in connection.execute(query)]
        if not chargers:
            return []
        first, last = chargers[0]["id"], chargers[-1]["id"]
        rows = connection.execute(select(k).where(k.c.charger_id.between(first, last))
                                  .order_by(k.c.charger_id, k.c.connector_id)).all()
        connectors: dict[str, list[dict[str, Any]]] = {}
        for connector in _with_evse_connectors(connection, rows, (first, last)):
            connectors.setdefault(connector["charger_id"], []).append(connector)
        links = services.gateway.links
        for charger in chargers:
            charger["charger_id"] = charger["id"]
            charger["connectors"] = connectors.get(charger["id"], [])
            charger["connected"] = charger["id"] in links or bool(charger["connected"])
        return chargers

    def _charger(charger_id: str) -> dict[str, Any] | None:
        with engine.connect() as connection:
            found = _chargers(connection, schema.chargers.c.id == charger_id)
        return found[0] if found else None

    @app.get("/api/v1/chargers", response_model=models.ChargerPage, tags=["chargers"],
             responses=error_responses(422))
    def list_chargers(limit: Limit = 100, cursor: Cursor = None) -> dict[str, Any]:
        """Chargers in id order, a page at a time, each with its connectors, presence and identity (vendor, model,
        firmware) as its last boot reported them."""
        conditions = []
        if cursor:
            (after,) = decode_cursor(cursor, str)
            conditions.append(schema.chargers.c.id > after)
        with engine.connect() as connection:
            rows = _chargers(connection, *conditions, limit=limit + 1)
        return page(rows, limit, lambda charger: (charger["id"],))

    @app.post("/api/v1/chargers", response_model=models.ChargerOut, status_code=201, tags=["chargers"],
              responses=error_responses(422))
    def register_charger(body: models.ChargerIn) -> dict[str, Any]:
        """Register a charger: it may then connect without `--accept-unknown`; with a password it must send it as
        HTTP Basic auth (OCPP security profile 1)."""
        try:
            with engine.begin() as connection:
                registry.register_charger(connection, body.charger_id, password=body.password,
                                          timezone=body.timezone, tariff_id=body.tariff_id,
                                          now=services.gateway.now())
        except registry.RegistryError as exc:
            raise HTTPException(422, {"field": exc.field, "reason": exc.reason}) from None
        registered = _charger(body.charger_id)
        assert registered is not None
        return registered

    @app.get("/api/v1/chargers/{charger_id}", response_model=models.ChargerOut, tags=["chargers"],
             responses=error_responses(404))
    def get_charger(charger_id: str) -> dict[str, Any]:
        """One charger with its connectors (404 when no charger has this id)."""
        found = _charger(charger_id)
        if found is None:
            raise HTTPException(404, f"charger {charger_id!r} not found")
        return found

    @app.get("/api/v1/connectors", response_model=models.ConnectorPage, tags=["chargers"],
             responses=error_responses(422))
    def list_connectors(charger_id: Annotated[str | None, Query(max_length=64)] = None, limit: Limit = 100,
                        cursor: Cursor = None) -> dict[str, Any]:
        """Charging points (1.6 connectors, 2.0.1 EVSEs) with their last status, in charger and connector order,
        a page at a time; `charger_id` keeps one charger's."""
        k = schema.connectors
        query = select(k).order_by(k.c.charger_id, k.c.connector_id).limit(limit + 1)
        if charger_id:
            query = query.where(k.c.charger_id == charger_id)
        if cursor:
            after_charger, after_connector = decode_cursor(cursor, str, int)
            query = query.where(tuple_(k.c.charger_id, k.c.connector_id) > tuple_(after_charger, after_connector))
        with engine.connect() as connection:
            rows = _with_evse_connectors(connection, connection.execute(query).all())
        return page(rows, limit, lambda connector: (connector["charger_id"], connector["connector_id"]))

    @app.get("/api/v1/chargers/{charger_id}/evses", response_model=list[models.EvseOut], tags=["chargers"],
             responses=error_responses(404))
    def list_evses(charger_id: Annotated[str, Path(max_length=64)]) -> list[dict[str, Any]]:
        """The station's EVSEs and their connectors: from its device-model report (NotifyReport: connector type,
        rated power) and its status reports, each connector with its own status."""
        k = schema.connectors
        with engine.connect() as connection:
            if reads.charger(connection, charger_id) is None:
                raise HTTPException(404, f"charger {charger_id!r} not found")
            statuses = {row.connector_id: row.status for row in connection.execute(
                select(k.c.connector_id, k.c.status).where(k.c.charger_id == charger_id))}
            evses = reads.evse_connectors(connection, [charger_id])
        return [{"evse_id": evse_id, "status": statuses.get(evse_id), **entry}
                for (_, evse_id), entry in sorted(evses.items())]

    @app.get("/api/v1/chargers/{charger_id}/variables", response_model=models.VariablePage, tags=["chargers"],
             responses=error_responses(404))
    def list_variables(
        charger_id: Annotated[str, Path(max_length=64)],
        component: Annotated[str | None, Query(max_length=50, description="component name (case-insensitive)")] = None,
        variable: Annotated[str | None, Query(max_length=50, description="variable name (case-insensitive)")] = None,
        evse_id: ConnectorNumber | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """The station's device model as it reported it (OCPP 2.0.1 NotifyReport, e.g. answering GetBaseReport):
        one item per variable attribute, with the report's progress (parts, gaps, complete)."""
        v, r = schema.device_variables, schema.device_reports
        conditions = [v.c.charger_id == charger_id]
        if component:
            conditions.append(func.lower(v.c.component) == component.lower())
        if variable:
            conditions.append(func.lower(v.c.variable) == variable.lower())
        if evse_id is not None:
            conditions.append(v.c.evse_id == evse_id)
        query = select(v).where(*conditions).order_by(
            v.c.component, v.c.component_instance, v.c.evse_id, v.c.connector_id, v.c.variable,
            v.c.variable_instance, v.c.attribute_type).offset(offset).limit(limit + 1)
        with engine.connect() as connection:
            if reads.charger(connection, charger_id) is None:
                raise HTTPException(404, f"charger {charger_id!r} not found")
            # The reports first: each statement sees what was committed when it began (PostgreSQL's READ
            # COMMITTED), so a report read as complete has every one of its variables in the later read.
            reports = connection.execute(select(r).where(r.c.charger_id == charger_id).order_by(
                r.c.updated_at.desc()).limit(20)).all()
            rows = connection.execute(query).all()
        return {"items": [dict(row._mapping) for row in rows[:limit]],
                "next_offset": offset + limit if len(rows) > limit else None,
                "reports": [dict(row._mapping) for row in reports]}

    @app.get("/api/v1/chargers/{charger_id}/messages", response_model=list[models.MessageOut], tags=["chargers"])
    def charger_messages(charger_id: str, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                         before: RowId | None = None) -> list[dict[str, Any]]:
        """The charger's raw OCPP log (every frame in and out, as sent), newest first; `before` pages back by
        message id."""
        m = schema.ocpp_messages
        query = select(m).where(m.c.charger_id == charger_id).order_by(m.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(m.c.id < before)
        with engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(query)]

    # ------------------------------------------------------------------ commands

    async def _command(charger_id: str, action: str, payload: dict[str, Any],
                       timeout: float) -> tuple[int, CommandResult]:
        """Record the command, send it (the charger's adapter renders it), record the answer."""
        cmd = schema.commands
        now = services.gateway.now()

        def record() -> int:  # a password in the command is kept as "***" (credentials.redact_call)
            with engine.begin() as connection:
                return connection.execute(insert(cmd).values(
                    charger_id=charger_id, action=action, payload=credentials.redact_call(action, payload),
                    status="pending", requested_at=now).returning(cmd.c.id)).scalar_one()

        command_id = await asyncio.to_thread(record)
        try:
            result = await services.gateway.call(charger_id, action, payload, timeout)
        except ValueError as exc:
            await asyncio.to_thread(_finish_command, engine, command_id, "error",
                                    {"reason": str(exc)}, services.gateway.now())
            field = getattr(exc, "field", None)  # InvalidCommand: where the payload breaks the schema
            raise HTTPException(422, {"field": field, "reason": str(exc)} if field else str(exc)) from None
        await asyncio.to_thread(_finish_command, engine, command_id, result.status,
                                result.response if result.response is not None else result.error,
                                services.gateway.now())
        return command_id, result

    @app.post("/api/v1/chargers/{charger_id}/commands", response_model=models.CommandOut, tags=["commands"])
    async def send_command(charger_id: str, body: models.CommandIn) -> dict[str, Any]:
        """Send an OCPP command to a connected charger and wait for its answer: `status` is answered, error, timeout
        or offline (never a success without the charger's answer)."""
        payload = body.payload
        if body.action in REPORT_ACTIONS and "requestId" not in payload:  # the station's report will carry it
            payload = {**payload, "requestId": secrets.randbelow(2**31 - 1) + 1}
        command_id, result = await _command(charger_id, body.action, payload, body.timeout)
        return {"id": command_id, "status": result.status, "response": result.response, "error": result.error,
                "sent_action": result.sent_action, "request_id": payload.get("requestId")}

    async def _display(request: Request, charger_id: str, connector_id: int, text: str, language: str | None,
                       timeout: float) -> dict[str, Any]:
        """A message on a station's screen (empty text: clear it) as a domain intent: the 2.0.1 adapter renders
        SetDisplayMessage/ClearDisplayMessage, a 1.6 charger gets the fault worker's vendor DataTransfer."""
        charger = await asyncio.to_thread(_charger_version, engine, charger_id)
        if charger is None:
            raise HTTPException(404, f"charger {charger_id!r} not found")
        faults = getattr(request.app.state, "faults", None)
        screen = getattr(getattr(faults, "settings", None), "screen", None)
        vendor_id = screen.vendor_id if screen is not None else DISPLAY_VENDOR_ID
        message_id = screen.message_id if screen is not None else DISPLAY_MESSAGE_ID
        data: dict[str, Any] = {"text": text}
        if language:
            data["language"] = language
        if connector_id:
            data["connectorId"] = connector_id
        payload = {"vendorId": vendor_id, "messageId": message_id, "data": json.dumps(data, ensure_ascii=False)}
        command_id, result = await _command(charger_id, "DataTransfer", payload, timeout)
        v201 = (result.sent_action or "") in ("SetDisplayMessage", "ClearDisplayMessage") or (
            result.sent_action is None and charger == "ocpp2.0.1")
        if v201:
            sent = "SetDisplayMessage" if text else "ClearDisplayMessage"
            rendering = f"OCPP 2.0.1 {sent} (message id {connector_id})"
        else:
            sent = "DataTransfer"
            rendering = (f"OCPP 1.6 has no standard display message: sent as DataTransfer vendorId {vendor_id!r} "
                         f"messageId {message_id!r} with {{text, language, connectorId}} as data, as the fault "
                         f"worker's driver-screen guidance" + ("" if text else " (an empty text clears it)"))
        return {"id": connector_id, "command_id": command_id, "status": result.status, "sent_action": sent,
                "rendering": rendering, "response": result.response, "error": result.error}

    @app.post("/api/v1/chargers/{charger_id}/display-messages", response_model=models.DisplayMessageOut,
              tags=["commands"], responses=error_responses(404, 422))
    async def show_display_message(request: Request, charger_id: Annotated[str, Path(max_length=64)],
                                   body: models.DisplayMessageIn) -> dict[str, Any]:
        """Show a message on the station's screen (per connector, or the station's own with connector 0)."""
        return await _display(request, charger_id, body.connector_id, body.text, body.language, body.timeout)

    @app.delete("/api/v1/chargers/{charger_id}/display-messages/{message_id}",
                response_model=models.DisplayMessageOut, tags=["commands"], responses=error_responses(404, 422))
    async def clear_display_message(request: Request, charger_id: Annotated[str, Path(max_length=64)],
                                    message_id: ConnectorNumber,
                                    timeout: Annotated[float, Query(gt=0, le=300)] = 30.0) -> dict[str, Any]:
        """Clear the message shown by id (the connector number it was shown for; 0: the station's own screen)."""
        return await _display(request, charger_id, message_id, "", None, timeout)

    # ------------------------------------------------------------------ sessions

    @app.get("/api/v1/sessions", response_model=models.SessionPage, tags=["sessions"])
    def list_sessions(
        charger_id: str | None = None,
        connector_id: ConnectorNumber | None = None,
        status: Annotated[str | None, Query(pattern="^(active|completed|rejected)$")] = None,
        since: Timestamp | None = None,
        until: Timestamp | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """Charging sessions, newest first, filtered by charger, connector, status and start time, a page at a time
        (`next_cursor`)."""
        s = schema.sessions
        conditions = []
        if charger_id:
            conditions.append(s.c.charger_id == charger_id)
        if connector_id is not None:
            conditions.append(s.c.connector_id == connector_id)
        if status:
            conditions.append(s.c.status == status)
        if since:
            conditions.append(s.c.started_at >= since)
        if until:
            conditions.append(s.c.started_at < until)
        if cursor:
            started, tx = _decode_cursor(cursor)
            # A row-value comparison lets both engines seek the (started_at, transaction_id) order directly; the
            # equivalent OR form made SQLite scan the index from the top (150 ms deep into 1M sessions).
            conditions.append(tuple_(s.c.started_at, s.c.transaction_id) < tuple_(started, tx))
        query = select(s).where(*conditions).order_by(s.c.started_at.desc(), s.c.transaction_id.desc()).limit(limit + 1)
        with engine.connect() as connection:
            rows = connection.execute(query).all()
        items = [reads.session_from_row(r) for r in rows[:limit]]
        next_cursor = _encode_cursor(items[-1].started_at, items[-1].transaction_id) if len(rows) > limit else None
        return {"items": [_session_out(x) for x in items], "next_cursor": next_cursor}

    @app.get("/api/v1/sessions/{transaction_id}", response_model=models.SessionDetail, tags=["sessions"],
             responses=error_responses(404))
    def get_session(transaction_id: TransactionId) -> dict[str, Any]:
        """One session with its meter readings and the driver's page link."""
        with engine.connect() as connection:
            session = reads.session(connection, transaction_id)
            if session is None:
                raise HTTPException(404, f"session {transaction_id} not found")
            return _session_detail(connection, session)

    @app.get("/api/v1/chargers/{charger_id}/transactions/{reference}", response_model=models.SessionDetail,
             tags=["sessions"], responses=error_responses(404))
    def get_session_by_reference(charger_id: Annotated[str, Path(max_length=64)],
                                 reference: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
        """A session by the charger's own transaction reference (OCPP 2.0.1 transactionId, or a 1.6 id)."""
        with engine.connect() as connection:
            session = reads.session_by_reference(connection, charger_id, reference)
            if session is None:
                raise HTTPException(404, f"charger {charger_id} has no transaction {reference}")
            return _session_detail(connection, session)

    def _session_detail(connection: Connection, session: ChargingSession) -> dict[str, Any]:
        transaction_id = session.transaction_id
        m = schema.meter_readings
        readings = connection.execute(
            select(m).where(m.c.transaction_id == transaction_id).order_by(m.c.timestamp, m.c.id)
        ).all()
        detail = _session_out(session)
        detail["driver_path"] = services.driver_path(transaction_id)
        detail["meter_readings"] = [
            {**dict(r._mapping), "value": str(r.value)} for r in readings
        ]
        return detail

    # ------------------------------------------------------------------ id tags

    @app.get("/api/v1/id-tags", response_model=models.IdTagPage, tags=["id tags"], responses=error_responses(422))
    def list_id_tags(limit: Limit = 100, cursor: Cursor = None) -> dict[str, Any]:
        """RFID cards and app tokens known to the server (what an Authorize is answered with), in id order."""
        t = schema.id_tags
        query = select(t).order_by(t.c.id_tag).limit(limit + 1)
        if cursor:
            (after,) = decode_cursor(cursor, str)
            query = query.where(t.c.id_tag > after)
        with engine.connect() as connection:
            rows = [dict(r._mapping) for r in connection.execute(query)]
        return page(rows, limit, lambda tag: (tag["id_tag"],))

    @app.put("/api/v1/id-tags/{id_tag}", response_model=models.IdTagOut, tags=["id tags"])
    async def put_id_tag(id_tag: str, body: models.IdTagIn) -> dict[str, Any]:
        """Create or replace an id tag (RFID card or app token) and what an Authorize with it is answered."""
        if body.id_tag != id_tag:
            raise HTTPException(422, {"field": "id_tag", "reason": "must match the path"})
        tag = body.model_dump()

        def store() -> None:
            with engine.begin() as connection:
                registry.put_id_tag(connection, tag)
            services.gateway.id_tags.refresh()

        await asyncio.to_thread(store)
        return tag

    # ------------------------------------------------------------------ live events, metrics

    @app.get("/api/v1/events", tags=["live"], response_class=StreamingResponse)
    async def events(request: Request) -> StreamingResponse:
        """Server-sent events: sessions, connector status, charger presence, as they happen."""
        queue = services.bus.subscribe()

        async def stream():  # type: ignore[no-untyped-def]
            try:
                yield ": connected\n\n"
                while not await request.is_disconnected():
                    try:
                        event = await asyncio.wait_for(queue.get(), 15)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    yield f"event: {event.kind}\ndata: {json.dumps(event.to_json(), default=str)}\n\n"
            finally:
                services.bus.unsubscribe(queue)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/metrics", response_class=PlainTextResponse, include_in_schema=False)
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(services.gateway.metrics.registry).decode(),
                                 media_type="text/plain; version=0.0.4")

    app.include_router(console_router(engine))  # revenue and incident counts as one aggregate each (console)

    @app.get("/healthz", tags=["live"])
    def health() -> dict[str, Any]:
        """Liveness: the server answers, and how many chargers are connected to this node."""
        return {"status": "ok", "connected_chargers": len(services.gateway.links)}

    app.include_router(security_router(services))
    return app


def _with_evse_connectors(connection: Connection, rows: Sequence[Any],
                          charger_range: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    """Connector rows with their EVSE id, rated power and physical connectors (evse_connectors); the EVSE rows are
    read for ``charger_range`` (first, last id) when given, else for the rows' chargers."""
    if charger_range is not None:
        evses = reads.evse_connectors_between(connection, *charger_range)
    else:
        evses = reads.evse_connectors(connection, sorted({row.charger_id for row in rows}))
    out = []
    for row in rows:
        connector = dict(row._mapping)
        evse = evses.get((row.charger_id, row.connector_id), {})
        connector["evse_id"] = row.connector_id
        connector["max_power_w"] = row.max_power_w or evse.get("max_power_w")
        connector["evse_connectors"] = evse.get("connectors", [])
        out.append(connector)
    return out


def _charger_version(engine: Engine, charger_id: str) -> str | None:
    """The charger's OCPP version as last seen (ocpp1.6 when unknown), or None when no such charger exists."""
    c = schema.chargers
    with engine.connect() as connection:
        row = connection.execute(select(c.c.ocpp_version).where(c.c.id == charger_id)).first()
    return None if row is None else (row.ocpp_version or "ocpp1.6")


def _finish_command(engine: Engine, command_id: int, status: str, response: Any, now: datetime) -> None:
    cmd = schema.commands
    with engine.begin() as connection:
        connection.execute(update(cmd).where(cmd.c.id == command_id).values(
            status=status, response=response, completed_at=now))
