"""The operator console's history (issue 15 item 7): sessions and invoices with filters, paging and CSV export,
credit note / re-issue from the invoice list, and the monthly sessions, energy and revenue per site.

- Filters come from the query string as text and are checked here: a bad value is a message on the page (422),
  never a 500. Dates are days in the operator's own zone (``console.Clock.operator_zone``) and become UTC instants
  for the query: "from 2026-03-29 to 2026-03-29" in Berlin is [2026-03-28 23:00Z, 2026-03-29 22:00Z).
- CSV streams in chunks (bounded memory), with a header row; times are in each station's zone with their UTC
  offset, amounts are Decimal text, and a text cell that a spreadsheet would run as a formula (=, +, -, @, tab,
  CR) is prefixed with an apostrophe.
- Viewers read and export; admins may credit / re-issue an invoice (the form carries the CSRF token), which calls
  the billing service (``app.state.billing``: the Biller the CLI's ``invoices reissue`` uses).
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates

from ..billing.price import round_money
from ..sessions.machine import Flag
from ..store import history as store
from . import console
from .app import Services
from .auth import csrf_matches

HERE = Path(__file__).parent
PAGE_SIZE = 50
FLAGS = tuple(sorted(v for k, v in vars(Flag).items() if k.isupper() and isinstance(v, str)))
_TEXT = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")  # charger ids, site ids, id tags, invoice numbers as typed
_NUMBER = re.compile(r"[0-9]{1,7}")  # ASCII digits only: str.isdigit() takes "²", which int() refuses
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def csv_cell(value: Any) -> str:
    """A text cell a spreadsheet shows as text: a leading =, +, -, @, tab or CR gets an apostrophe (OWASP)."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def local_iso(moment: datetime | None, zone: str) -> str:
    """The instant in the station's zone, ISO 8601 with its offset: 2026-03-29T03:30:00+02:00."""
    return "" if moment is None else moment.astimezone(ZoneInfo(zone)).isoformat(timespec="seconds")


def amount(value: Any, currency: str | None) -> str:
    return "" if value is None else str(round_money(Decimal(str(value)), currency))


# ------------------------------------------------------------------------------------------- filters


@dataclass
class Checked:
    """The filter as the operator typed it (to refill the form), the query's filter, and what was wrong."""

    form: dict[str, str]
    errors: list[str] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1


def local_day_bounds(day_from: date | None, day_to: date | None, zone: str) -> tuple[datetime | None,
                                                                                    datetime | None]:
    """[midnight of ``day_from``, midnight after ``day_to``) in ``zone``, as UTC instants (DST-safe: midnight
    exists in every zone zoneinfo knows except a handful of historic ones, where fold 0 is taken)."""
    tz = ZoneInfo(zone)
    since = datetime.combine(day_from, time(), tzinfo=tz).astimezone(UTC) if day_from else None
    until = (datetime.combine(day_to + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)
             if day_to else None)
    return since, until


def _check(query: Mapping[str, str], names: Iterable[str], zone: str) -> Checked:
    form = {name: (query.get(name) or "").strip() for name in names}
    checked = Checked(form)
    for name in ("charger", "site", "id_tag", "number"):
        value = form.get(name)
        if value and not _TEXT.match(value):
            checked.errors.append(f"{name.replace('_', ' ')}: at most 64 characters, no control characters")
    days: dict[str, date | None] = {}
    for name in ("from", "to"):
        value = form.get(name, "")
        days[name] = None
        if value:
            try:
                days[name] = date.fromisoformat(value)
            except ValueError:
                checked.errors.append(f"{name} date: {value!r} is not a date (YYYY-MM-DD)")
                continue
            if not 2000 <= days[name].year <= 2100:  # type: ignore[union-attr]
                checked.errors.append(f"{name} date: {value} is outside 2000–2100")
                days[name] = None
    if days["from"] and days["to"] and days["from"] > days["to"]:
        checked.errors.append(f"the from date ({days['from']}) is after the to date ({days['to']})")
    elif not checked.errors:
        checked.since, checked.until = local_day_bounds(days["from"], days["to"], zone)
    raw_page = (query.get("page") or "1").strip()
    if not _NUMBER.fullmatch(raw_page) or not 1 <= int(raw_page) <= 1_000_000:
        checked.errors.append(f"page: {raw_page!r} is not a page number")
    else:
        checked.page = int(raw_page)
    return checked


SESSION_FIELDS = ("charger", "site", "id_tag", "from", "to", "status", "flag")
INVOICE_FIELDS = ("number", "charger", "site", "id_tag", "from", "to", "kind", "state")


def session_filter(query: Mapping[str, str], zone: str) -> tuple[Checked, store.SessionFilter]:
    checked = _check(query, SESSION_FIELDS, zone)
    form = checked.form
    if form["status"] and form["status"] not in store.SESSION_STATUSES:
        checked.errors.append(f"status: {form['status']!r} is not one of {', '.join(store.SESSION_STATUSES)}")
    if form["flag"] and form["flag"] not in FLAGS:
        checked.errors.append(f"flag: {form['flag']!r} is not a session flag")
    return checked, store.SessionFilter(
        charger_id=form["charger"] or None, site_id=_site(form["site"]), id_tag=form["id_tag"] or None,
        since=checked.since, until=checked.until, status=form["status"] or None, flag=form["flag"] or None)


def invoice_filter(query: Mapping[str, str], zone: str) -> tuple[Checked, store.InvoiceFilter]:
    checked = _check(query, INVOICE_FIELDS, zone)
    form = checked.form
    if form["kind"] and form["kind"] not in store.INVOICE_KINDS:
        checked.errors.append(f"kind: {form['kind']!r} is not invoice or credit_note")
    if form["state"] and form["state"] not in store.INVOICE_STATES:
        checked.errors.append(f"state: {form['state']!r} is not in_force or credited")
    return checked, store.InvoiceFilter(
        number=form["number"] or None, charger_id=form["charger"] or None, site_id=_site(form["site"]),
        id_tag=form["id_tag"] or None, since=checked.since, until=checked.until, kind=form["kind"] or None,
        state=form["state"] or None)


def _site(value: str) -> str | None:
    """"" is any site; "(none)" the chargers without one."""
    if not value:
        return None
    return store.NO_SITE if value == "(none)" else value


def month_bounds(year: int, zone: str) -> list[datetime]:
    """The UTC starts of the 12 months of ``year`` in ``zone``, and the start of the next year."""
    tz = ZoneInfo(zone)
    starts = [datetime(year, month, 1, tzinfo=tz) for month in range(1, 13)] + [datetime(year + 1, 1, 1, tzinfo=tz)]
    return [s.astimezone(UTC) for s in starts]


# ------------------------------------------------------------------------------------------- CSV


SESSION_COLUMNS = ("transaction_id", "charger_id", "connector_id", "site_id", "id_tag", "status", "started_at",
                   "stopped_at", "time_zone", "energy_wh", "energy_kwh", "charging_seconds", "stop_reason", "flags",
                   "bill_status", "invoice_number")
INVOICE_COLUMNS = ("number", "kind", "credit_note_for", "credited_by", "issued_at", "time_zone", "transaction_id",
                   "charger_id", "site_id", "id_tag", "currency", "total_net", "total_vat", "total_gross",
                   "meter_verification", "reason")


def _session_line(r: Mapping[str, Any]) -> list[Any]:
    zone = r["timezone"]
    return [r["transaction_id"], csv_cell(r["charger_id"]), r["connector_id"], csv_cell(r["site_id"]),
            csv_cell(r["id_tag"]), r["status"], local_iso(r["started_at"], zone), local_iso(r["stopped_at"], zone),
            zone, r["energy_wh"], str(Decimal(int(r["energy_wh"] or 0)) / 1000), r["charging_seconds"],
            csv_cell(r["stop_reason"]), ";".join(r["flags"]), r["bill_status"] or "", r["invoice_number"] or ""]


def _invoice_line(r: Mapping[str, Any]) -> list[Any]:
    zone, currency = r["timezone"], r["currency"]
    return [r["number"], r["kind"], r["credit_note_for"] or "", r["credited_by"] or "",
            local_iso(r["issued_at"], zone), zone, r["transaction_id"], csv_cell(r["charger_id"]),
            csv_cell(r["site_id"]), csv_cell(r["id_tag"]), currency, amount(r["total_net"], currency),
            amount(r["total_vat"], currency), amount(r["total_gross"], currency), r["meter_verification"],
            csv_cell(r["reason"])]


def csv_lines(header: Iterable[str], rows: Iterator[list[Any]], batch: int = 200) -> Iterator[bytes]:
    """The CSV as UTF-8 chunks of ``batch`` lines (a BOM first, so spreadsheets read the umlauts)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    yield ("\ufeff" + buffer.getvalue()).encode()
    buffer.seek(0), buffer.truncate()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
        if count % batch == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0), buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue().encode()


# ------------------------------------------------------------------------------------------- the router


def history_router(services: Services) -> APIRouter:
    from .pages import _language, duration  # the pages' own helpers (pages imports the app at load)

    router = APIRouter(include_in_schema=False)
    engine = services.engine
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters.update(when=console.when, kw=console.kilowatts, kwh=console.kilowatt_hours,
                                 pct=console.percent, money=console.console_money, num=console.number,
                                 zone=console.zone_name, plural=console.plural, duration=duration)
    zones = console.ChargerZones(engine)

    def clock(request: Request) -> console.Clock:
        return console.clock_of(request.cookies, zones.get(), _language(request, None))

    def render(request: Request, name: str, context: dict[str, Any], at: console.Clock,
               status: int = 200) -> Response:
        session = request.state.operator_session
        context = {"operator": session.operator if session else None,
                   "csrf_token": session.csrf_token if session else "", "page": name.removesuffix(".html"),
                   "clock": at, **context}
        token = console.CLOCK.set(at)
        try:
            response = templates.TemplateResponse(request, name, context, status_code=status)
        finally:
            console.CLOCK.reset(token)
        response.headers.update({"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff",
                                 "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
                                 "Cache-Control": "no-store"})
        return response

    def pages_of(total: int, page: int) -> dict[str, int]:
        pages = max(1, -(-total // PAGE_SIZE))
        first = (page - 1) * PAGE_SIZE + 1 if total else 0
        return {"page": page, "pages": pages, "total": total, "first": min(first, total),
                "last": min(page * PAGE_SIZE, total)}

    def link(form: Mapping[str, str], **changes: Any) -> str:
        values = {k: v for k, v in {**form, **changes}.items() if v not in (None, "")}
        return "?" + urlencode(values)

    # ------------------------------------------------------------------ sessions

    @router.get("/history/sessions", response_class=HTMLResponse)
    async def sessions_page(request: Request) -> Response:
        at = await asyncio.to_thread(clock, request)
        checked, wanted = session_filter(request.query_params, at.operator_zone)
        rows: list[dict[str, Any]] = []
        total = 0
        if not checked.errors:
            def read() -> tuple[list[dict[str, Any]], int]:
                with engine.connect() as connection:
                    return store.find_sessions(connection, wanted, limit=PAGE_SIZE,
                                               offset=(checked.page - 1) * PAGE_SIZE)
            rows, total = await asyncio.to_thread(read)
        return render(request, "history_sessions.html", {
            "checked": checked, "form": checked.form, "rows": rows, "pages": pages_of(total, checked.page),
            "link": lambda **changes: link(checked.form, **changes), "flags": FLAGS,
            "statuses": store.SESSION_STATUSES, "sites": await asyncio.to_thread(_sites),
            "csv": "/history/sessions.csv" + link(checked.form)}, at, status=422 if checked.errors else 200)

    def _sites() -> list[str]:
        with engine.connect() as connection:
            return store.sites(connection)

    @router.get("/history/sessions.csv")
    async def sessions_csv(request: Request) -> Response:
        at = await asyncio.to_thread(clock, request)
        checked, wanted = session_filter(request.query_params, at.operator_zone)
        if checked.errors:
            return Response("\n".join(checked.errors) + "\n", status_code=422, media_type="text/plain")
        lines = (_session_line(r) for r in store.iter_sessions(engine, wanted))
        return StreamingResponse(csv_lines(SESSION_COLUMNS, lines), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": 'attachment; filename="sessions.csv"',
                                          "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    # ------------------------------------------------------------------ invoices

    @router.get("/history/invoices", response_class=HTMLResponse)
    async def invoices_page(request: Request) -> Response:
        at = await asyncio.to_thread(clock, request)
        checked, wanted = invoice_filter(request.query_params, at.operator_zone)
        rows: list[dict[str, Any]] = []
        totals: list[dict[str, Any]] = []
        total = 0
        if not checked.errors:
            def read() -> tuple[list[dict[str, Any]], int, list[dict[str, Any]]]:
                with engine.connect() as connection:
                    return store.find_invoices(connection, wanted, limit=PAGE_SIZE,
                                               offset=(checked.page - 1) * PAGE_SIZE)
            rows, total, totals = await asyncio.to_thread(read)
        done = {k: request.query_params.get(k) for k in ("credited", "credit_note", "reissued", "error")}
        return render(request, "history_invoices.html", {
            "checked": checked, "form": checked.form, "rows": rows, "totals": totals,
            "pages": pages_of(total, checked.page), "link": lambda **changes: link(checked.form, **changes),
            "sites": await asyncio.to_thread(_sites), "done": done,
            "billing": getattr(request.app.state, "billing", None) is not None,
            "here": "/history/invoices" + link(checked.form, page=checked.page if checked.page > 1 else None),
            "csv": "/history/invoices.csv" + link(checked.form)}, at, status=422 if checked.errors else 200)

    @router.get("/history/invoices.csv")
    async def invoices_csv(request: Request) -> Response:
        at = await asyncio.to_thread(clock, request)
        checked, wanted = invoice_filter(request.query_params, at.operator_zone)
        if checked.errors:
            return Response("\n".join(checked.errors) + "\n", status_code=422, media_type="text/plain")
        lines = (_invoice_line(r) for r in store.iter_invoices(engine, wanted))
        return StreamingResponse(csv_lines(INVOICE_COLUMNS, lines), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": 'attachment; filename="invoices.csv"',
                                          "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    @router.post("/history/invoices/{number}/credit")
    async def credit_from_page(request: Request, number: str, reason: str = Form(""), action: str = Form("reissue"),
                               back: str = Form("/history/invoices"), csrf_token: str = Form("")) -> Response:
        """Credit note (and by default a corrected invoice with a new number) for invoice ``number``."""
        session = request.state.operator_session
        if session is None or not csrf_matches(session.csrf_token, csrf_token):
            raise HTTPException(403, "CSRF token missing or wrong")
        if not session.operator.may_act:
            raise HTTPException(403, f"{session.operator.username} is a viewer: read-only")
        back = back if back.startswith("/history/invoices") and not back.startswith("//") else "/history/invoices"
        joiner = "&" if "?" in back else "?"
        biller: Any = getattr(request.app.state, "billing", None)
        reason = reason.strip()
        error = None
        if biller is None:
            error = "billing is not running on this server"
        elif not reason or len(reason) > 500:
            error = "a reason is required (at most 500 characters)"
        elif action not in ("reissue", "credit"):
            error = "choose re-issue or credit only"
        if error is None:
            try:
                credit_number, new_number = await asyncio.to_thread(
                    biller.credit, number, f"{reason} (by {session.operator.username} in the console)",
                    reissue=action == "reissue")
            except LookupError:
                error = f"invoice {number} not found"
            except ValueError as exc:  # BillingConflict: already credited, a credit note, cannot re-price …
                error = str(exc)
        if error is not None:
            return RedirectResponse(f"{back}{joiner}error={quote(error)}", status_code=303)
        target = f"{back}{joiner}credited={quote(number)}&credit_note={quote(credit_number)}"
        if new_number:
            target += f"&reissued={quote(new_number)}"
        return RedirectResponse(target, status_code=303)

    # ------------------------------------------------------------------ monthly

    @router.get("/history/monthly", response_class=HTMLResponse)
    async def monthly_page(request: Request) -> Response:
        at = await asyncio.to_thread(clock, request)
        now = services.gateway.now().astimezone(ZoneInfo(at.operator_zone))
        raw_year = (request.query_params.get("year") or str(now.year)).strip()
        site = (request.query_params.get("site") or "").strip()
        errors = []
        if not _NUMBER.fullmatch(raw_year) or not 2000 <= int(raw_year) <= 2100:
            errors.append(f"year: {raw_year!r} is not a year from 2000 to 2100")
        if site and not _TEXT.match(site):
            errors.append("site: at most 64 characters, no control characters")
        table: dict[str, Any] = {"sites": [], "cells": {}}
        year = int(raw_year) if not errors else now.year
        bounds = month_bounds(year, at.operator_zone)
        if not errors:
            def read() -> dict[str, Any]:
                with engine.connect() as connection:
                    return store.monthly(connection, bounds, _site(site))
            table = await asyncio.to_thread(read)
        return render(request, "history_monthly.html", {
            "errors": errors, "year": year, "site": site, "table": table, "summary": _summary(table),
            "months": [datetime(year, m, 1) for m in range(1, 13)], "sites": await asyncio.to_thread(_sites)},
            at, status=422 if errors else 200)

    return router


def _summary(table: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each site's year: the sum of its monthly aggregates (exact Decimals, per currency)."""
    out: dict[str, dict[str, Any]] = {}
    for (site, _), cell in table["cells"].items():
        entry = out.setdefault(site, {"sessions": 0, "energy_wh": 0, "revenue": {}})
        entry["sessions"] += cell["sessions"]
        entry["energy_wh"] += cell["energy_wh"]
        for currency, money in cell["revenue"].items():
            entry["revenue"][currency] = entry["revenue"].get(currency, Decimal(0)) + money["gross"]
    return out
