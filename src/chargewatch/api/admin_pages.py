"""The chargers admin pages (issue 15 item 4): the charger list (search, filters, paging), add/edit/delete, password
reset, time zone and tariff, the configuration keys read from the charger with an editor, and the charger's raw
OCPP message log with filters.

Routes (operator login; only an admin may post, every form carries the session's CSRF token):
- ``GET /chargers``: the list; ``POST /chargers``: add one.
- ``GET /chargers/{id}``: its settings, password, removal and configuration; ``POST …/settings``, ``…/password``,
  ``…/delete``, ``…/configuration/read`` (GetConfiguration; a 2.0.1 station: GetBaseReport ConfigurationInventory,
  its NotifyReport fills the list) and ``…/configuration`` (ChangeConfiguration; 2.0.1: SetVariables, as the
  command API renders it).
- ``GET /chargers/{id}/log``: the raw frames, filtered by direction, action, message id, time range (in the
  station's local time), text; paged newest first; each frame pretty-printed and each CALL with its answer.

A bad filter or form value is a message on the page (4xx), never a 500.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy import Engine

from ..gateway.transport import CommandResult
from ..store import admin as store
from ..store import registry
from . import console
from .app import Services
from .auth import csrf_matches
from .models import ChargerIn
from .pages import HERE, _language, _secure_headers, duration

PAGE_SIZE = 25
ChargerId = Annotated[str, Path(max_length=64, pattern=r"^[^\x00]+$")]  # PostgreSQL text holds no NUL
LOG_PAGE = 50
COMMAND_TIMEOUT = 20.0
_DONE = {"added": "Charger added.", "saved": "Settings saved.", "password": "New password set (it is not shown "
         "again; give it to the charger as its basic-auth password).", "deleted": "Charger deleted."}


def pretty(payload: str) -> str:
    """A frame as indented JSON, or exactly as it came when it is not JSON."""
    try:
        return json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
    except ValueError:
        return payload


def local_input(value: str | None, zone: str, field: str) -> datetime | None:
    """A ``datetime-local`` value in the station's zone, as UTC; ValueError with the field's name if malformed."""
    if not value or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(zone))
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 moved across midnight UTC
        raise ValueError(f"{field} {value!r}: not a date and time (YYYY-MM-DDTHH:MM)") from None


def clean(text: str) -> str:
    """Input without NUL characters (PostgreSQL refuses them in text; no charger id or key has one)."""
    return text.replace("\x00", "")


def answer_text(result: CommandResult) -> tuple[str, bool]:
    """What the charger answered, in words, and whether it is bad (offline, timeout, CALLERROR, not Accepted)."""
    if result.status == "offline":
        return "not sent: the charger is offline", True
    if result.status == "timeout":
        return "no answer from the charger in time (timeout)", True
    if result.status == "error":
        error = result.error or {}
        code = error.get("code") or error.get("errorCode") or "error"
        words = error.get("description") or error.get("errorDescription") or ""
        return f"the charger answered {code}" + (f" ({words})" if words else ""), True
    response = result.response or {}
    status = response.get("status")
    if status is None:  # 2.0.1 SetVariables / GetVariables: one result per variable
        results = response.get("setVariableResult") or response.get("getVariableResult") or []
        status = ", ".join(str(r.get("attributeStatus")) for r in results) or None
    if status is None:
        return "the charger answered", False
    return f"the charger answered {status}", status not in ("Accepted", "RebootRequired")


def admin_router(services: Services) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    engine: Engine = services.engine
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters.update(when=console.when, kw=console.kilowatts, kwh=console.kilowatt_hours,
                                 pct=console.percent, money=console.console_money, num=console.number,
                                 zone=console.zone_name, plural=console.plural, duration=duration, pretty=pretty)
    zones = console.ChargerZones(engine)

    def render(request: Request, name: str, context: dict[str, Any], status: int = 200,
               page_zone: str | None = None) -> Response:
        session = request.state.operator_session
        clock = console.clock_of(request.cookies, zones.get(), _language(request, None), page_zone)
        context = {"operator": session.operator if session else None,
                   "csrf_token": session.csrf_token if session else "", "page": "chargers", "clock": clock,
                   "may_act": bool(session and session.operator.may_act), **context}
        token = console.CLOCK.set(clock)
        try:
            return _secure_headers(templates.TemplateResponse(request, name, context, status_code=status))
        finally:
            console.CLOCK.reset(token)

    def refused(request: Request, csrf_token: str) -> Response | None:
        """A post without the session's CSRF token, or by a viewer: 403 on the page."""
        session = request.state.operator_session
        if session is None or not csrf_matches(session.csrf_token, csrf_token):
            return render(request, "admin_refused.html", {"reason": "The form expired (its CSRF token is missing or "
                                                                    "wrong): reload the page and try again."}, 403)
        if not session.operator.may_act:
            return render(request, "admin_refused.html", {"reason": f"{session.operator.username} is a viewer: a "
                                                                    "viewer reads only."}, 403)
        return None

    async def form(request: Request) -> dict[str, str]:
        data = await request.form()
        return {k: clean(v) for k, v in data.items() if isinstance(v, str)}

    # ------------------------------------------------------------------ the list

    async def list_page(request: Request, *, added: dict[str, str] | None = None, error: str | None = None,
                        status: int = 200) -> Response:
        q = request.query_params
        flt = store.ChargerFilter(**{name: clean(q.get(name) or "").strip()[:64] or None
                                     for name in ("q", "status", "site", "model", "firmware", "seen")})
        try:
            page = max(1, min(int(q.get("page") or 1), 10_000))
        except ValueError:
            page, error, status = 1, f"page {q.get('page')!r}: not a number", 422
        now = services.gateway.now()
        links = set(services.gateway.links)

        def read() -> store.ChargerPage:
            with engine.connect() as connection:
                return store.charger_page(connection, flt, links=links, now=now, limit=PAGE_SIZE,
                                          offset=(page - 1) * PAGE_SIZE)

        try:
            found = await asyncio.to_thread(read)
        except ValueError as exc:
            error, status = str(exc), 422
            found = await asyncio.to_thread(
                lambda: _empty(engine, store.ChargerFilter(), links, now))
        pages = max(1, -(-found.total // PAGE_SIZE))
        kept = {k: v for k, v in vars(flt).items() if v}

        def link(to: int) -> str:
            return "/chargers?" + urlencode({**kept, "page": to})

        return render(request, "chargers.html", {
            "found": found, "flt": flt, "page_no": page, "pages": pages, "link": link, "error": error,
            "done": _DONE.get(q.get("done") or ""), "added": added or {}, "now": now,
            "statuses": store.STATUSES, "seen_choices": store.SEEN_CHOICES}, status)

    @router.get("/chargers", response_class=HTMLResponse)
    async def chargers(request: Request) -> Response:
        return await list_page(request)

    @router.post("/chargers", response_class=HTMLResponse)
    async def add_charger(request: Request) -> Response:
        data = await form(request)
        if (no := refused(request, data.get("csrf_token", ""))) is not None:
            return no
        try:
            body = ChargerIn(charger_id=data.get("charger_id", "").strip(), password=data.get("password") or None,
                             timezone=data.get("timezone", "").strip() or "UTC",
                             tariff_id=data.get("tariff_id", "").strip() or None)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = {"id": "charger id", "charger_id": "charger id"}.get(str(first["loc"][0]), str(first["loc"][0]))
            return await list_page(request, added=data, error=f"{field}: {first['msg']}", status=422)

        def write() -> str | None:
            with engine.begin() as connection:
                if store.charger(connection, body.charger_id) is not None:
                    return f"charger {body.charger_id!r} exists already (edit it instead)"
                store.check_tariff(connection, body.tariff_id)
                registry.register_charger(connection, body.charger_id, password=body.password, timezone=body.timezone,
                                          tariff_id=body.tariff_id, now=services.gateway.now())
            return None

        try:
            problem = await asyncio.to_thread(write)
        except registry.RegistryError as exc:
            problem = f"{exc.field}: {exc.reason}"
        if problem:
            return await list_page(request, added=data, error=problem, status=422)
        return RedirectResponse(f"/chargers/{body.charger_id}?done=added", status_code=303)

    # ------------------------------------------------------------------ one charger

    async def charger_page(request: Request, charger_id: str, *, error: str | None = None,
                           told: tuple[str, bool] | None = None, keys: list[dict[str, Any]] | None = None,
                           unknown: list[str] | None = None, status: int = 200) -> Response:
        def read() -> tuple[dict[str, Any] | None, dict[str, list[str]], list[dict[str, Any]]]:
            with engine.connect() as connection:
                found = store.charger(connection, charger_id)
                return found, store.facets(connection), store.device_variables(connection, charger_id)

        found, choices, variables = await asyncio.to_thread(read)
        if found is None:
            return render(request, "not_found.html", {"what": f"charger {charger_id}"}, 404)
        online = charger_id in services.gateway.links
        return render(request, "charger_admin.html", {
            "charger": found, "online": online, "v201": found.get("ocpp_version") == "ocpp2.0.1",
            "tariffs": choices["tariff"], "error": error, "told": told, "keys": keys, "unknown": unknown or [],
            "variables": variables, "done": _DONE.get(request.query_params.get("done") or "")},
            status, page_zone=found["timezone"])

    @router.get("/chargers/{charger_id}", response_class=HTMLResponse)
    async def charger_admin(request: Request, charger_id: ChargerId) -> Response:
        return await charger_page(request, charger_id)

    @router.post("/chargers/{charger_id}/settings", response_class=HTMLResponse)
    async def save_settings(request: Request, charger_id: ChargerId) -> Response:
        data = await form(request)
        if (no := refused(request, data.get("csrf_token", ""))) is not None:
            return no

        def write() -> bool:
            with engine.begin() as connection:
                return store.update_settings(connection, charger_id, timezone=data.get("timezone", "").strip(),
                                             tariff_id=data.get("tariff_id", "").strip() or None)

        try:
            if not await asyncio.to_thread(write):
                return render(request, "not_found.html", {"what": f"charger {charger_id}"}, 404)
        except registry.RegistryError as exc:
            return await charger_page(request, charger_id, error=f"{exc.field}: {exc.reason}", status=422)
        return RedirectResponse(f"/chargers/{charger_id}?done=saved", status_code=303)

    @router.post("/chargers/{charger_id}/password", response_class=HTMLResponse)
    async def reset_password(request: Request, charger_id: ChargerId) -> Response:
        data = await form(request)
        if (no := refused(request, data.get("csrf_token", ""))) is not None:
            return no
        password = data.get("password", "")
        if password != data.get("confirm", ""):
            return await charger_page(request, charger_id, error="password: the two entries differ", status=422)

        def write() -> bool:
            with engine.begin() as connection:
                return store.set_password(connection, charger_id, password)

        try:
            if not await asyncio.to_thread(write):
                return render(request, "not_found.html", {"what": f"charger {charger_id}"}, 404)
        except registry.RegistryError as exc:
            return await charger_page(request, charger_id, error=f"{exc.field}: {exc.reason}", status=422)
        return RedirectResponse(f"/chargers/{charger_id}?done=password", status_code=303)

    @router.post("/chargers/{charger_id}/delete", response_class=HTMLResponse)
    async def delete_charger(request: Request, charger_id: ChargerId) -> Response:
        data = await form(request)
        if (no := refused(request, data.get("csrf_token", ""))) is not None:
            return no
        if charger_id in services.gateway.links:
            return await charger_page(request, charger_id, status=409, error=(
                "the charger is connected: it would reconnect as an unknown charger; disconnect it first"))

        def write() -> bool:
            with engine.begin() as connection:
                return store.delete_charger(connection, charger_id)

        if not await asyncio.to_thread(write):
            return render(request, "not_found.html", {"what": f"charger {charger_id}"}, 404)
        return RedirectResponse("/chargers?done=deleted", status_code=303)

    # ------------------------------------------------------------------ configuration

    async def command(charger_id: str, action: str, payload: dict[str, Any]) -> CommandResult:
        """Send a command as the command API does (recorded in the commands table with its answer)."""
        def record() -> int:
            with engine.begin() as connection:
                return store.record_command(connection, charger_id, action, payload, services.gateway.now())

        def finish(result: CommandResult) -> None:
            with engine.begin() as connection:
                store.finish_command(connection, command_id, result.status,
                                     result.response if result.response is not None else result.error,
                                     services.gateway.now())

        command_id = await asyncio.to_thread(record)
        try:
            result = await services.gateway.call(charger_id, action, payload, COMMAND_TIMEOUT)
        except ValueError as exc:
            result = CommandResult("error", error={"code": "NotSent", "description": str(exc)})
        await asyncio.to_thread(finish, result)
        return result

    async def read_keys(charger_id: str, v201: bool) -> tuple[CommandResult, str]:
        if v201:
            result = await command(charger_id, "GetBaseReport", {"requestId": secrets.randbelow(2**31 - 1) + 1,
                                                                 "reportBase": "ConfigurationInventory"})
            return result, "Read the configuration (GetBaseReport)"
        return await command(charger_id, "GetConfiguration", {}), "Read the configuration (GetConfiguration)"

    def keys_of(result: CommandResult) -> tuple[list[dict[str, Any]] | None, list[str]]:
        if result.status != "answered" or not isinstance(result.response, dict):
            return None, []
        keys = sorted(result.response.get("configurationKey") or [], key=lambda k: str(k.get("key")))
        return keys, [str(k) for k in result.response.get("unknownKey") or []]

    async def version_of(charger_id: str) -> bool | None:
        def read() -> dict[str, Any] | None:
            with engine.connect() as connection:
                return store.charger(connection, charger_id)

        found = await asyncio.to_thread(read)
        return None if found is None else found.get("ocpp_version") == "ocpp2.0.1"

    @router.post("/chargers/{charger_id}/configuration/read", response_class=HTMLResponse)
    async def read_configuration(request: Request, charger_id: ChargerId) -> Response:
        data = await form(request)
        if (no := refused(request, data.get("csrf_token", ""))) is not None:
            return no
        v201 = await version_of(charger_id)
        if v201 is None:
            return render(request, "not_found.html", {"what": f"charger {charger_id}"}, 404)
        result, what = await read_keys(charger_id, v201)
        told, bad = answer_text(result)
        if v201 and not bad:
            told += "; the station sends its report (NotifyReport): reload to see it below"
        keys, unknown = keys_of(result)
        return await charger_page(request, charger_id, told=(f"{what}: {told}", bad), keys=keys, unknown=unknown)

    @router.post("/chargers/{charger_id}/configuration", response_class=HTMLResponse)
    async def change_configuration(request: Request, charger_id: ChargerId) -> Response:
        data = await form(request)
        if (no := refused(request, data.get("csrf_token", ""))) is not None:
            return no
        key, value = data.get("key", "").strip(), data.get("value", "")
        v201 = await version_of(charger_id)
        if v201 is None:
            return render(request, "not_found.html", {"what": f"charger {charger_id}"}, 404)
        if not key or len(key) > 50 or len(value) > 500:
            return await charger_page(request, charger_id, status=422, error=(
                "key: 1 to 50 characters; value: at most 500 (OCPP 1.6 CiString50/500)"))
        result = await command(charger_id, "ChangeConfiguration", {"key": key, "value": value})
        told, bad = answer_text(result)
        keys: list[dict[str, Any]] | None = None
        unknown: list[str] = []
        if not v201 and result.status == "answered":  # show what the charger holds now
            keys, unknown = keys_of(await command(charger_id, "GetConfiguration", {}))
        return await charger_page(request, charger_id, told=(f"Change {key} to {value!r}: {told}", bad),
                                  keys=keys, unknown=unknown)

    # ------------------------------------------------------------------ the raw log

    @router.get("/chargers/{charger_id}/log", response_class=HTMLResponse)
    async def message_log(request: Request, charger_id: ChargerId) -> Response:
        q = request.query_params

        def read_charger() -> dict[str, Any] | None:
            with engine.connect() as connection:
                return store.charger(connection, charger_id)

        found = await asyncio.to_thread(read_charger)
        if found is None:
            return render(request, "not_found.html", {"what": f"charger {charger_id}"}, 404)
        zone = console.valid_zone(found["timezone"]) or "UTC"
        values = {name: clean(q.get(name) or "").strip()[:64] for name in
                  ("direction", "action", "message_id", "since", "until", "text", "before")}
        error = None
        try:
            before = int(values["before"]) if values["before"] else None
            flt = store.MessageFilter(direction=values["direction"] or None, action=values["action"] or None,
                                      message_id=values["message_id"] or None,
                                      since=local_input(values["since"], zone, "from"),
                                      until=local_input(values["until"], zone, "until"),
                                      text=values["text"] or None)

            def read() -> store.MessagePage:
                with engine.connect() as connection:
                    return store.message_page(connection, charger_id, flt, before=before, limit=LOG_PAGE)

            log = await asyncio.to_thread(read)
        except ValueError as exc:
            error = str(exc) if "invalid literal" not in str(exc) else f"before {values['before']!r}: not a row id"

            def read_all() -> store.MessagePage:
                with engine.connect() as connection:
                    return store.message_page(connection, charger_id, store.MessageFilter(), limit=0)

            log = await asyncio.to_thread(read_all)
        kept = {k: v for k, v in values.items() if v and k != "before"}
        older = "?" + urlencode({**kept, "before": log.older}) if log.older else None
        newest = "?" + urlencode(kept) if values["before"] else None
        return render(request, "charger_log.html", {
            "charger": found, "zone": zone, "log": log, "values": values, "error": error, "older": older,
            "newest": newest, "types": store.MESSAGE_TYPES}, 422 if error else 200, page_zone=zone)

    return router


def _empty(engine: Engine, flt: store.ChargerFilter, links: set[str], now: datetime) -> store.ChargerPage:
    """No rows (the filter was refused), with the filter's choices still offered."""
    with engine.connect() as connection:
        return store.ChargerPage([], 0, 0, PAGE_SIZE, store.facets(connection))
