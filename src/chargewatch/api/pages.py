"""The HTML pages: operator dashboard (login required) and the driver's session page (token link, no login).

Server-rendered with Jinja2; a little vanilla JavaScript keeps them live from the server-sent events and
re-renders a section by fetching the page again and swapping that section (no client-side templates to drift
from the server's). Backbone data (chargers, connectors, sessions, meter readings) is read from the store;
billing, faults and feedback come through their HTTP APIs (`domains.DomainApi`).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine, func, select

from ..billing import display
from ..billing.price import round_money
from ..billing.signed_data import SignedDataSection
from ..domain.events import SessionEvent, SupportEvent
from ..sessions.links import transaction_of
from ..sessions.meter import Reading, register_series, summarise
from ..store import charging as charging_store
from ..store import reads, schema
from . import console
from .app import Services
from .auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE, SESSION_LIFETIME, OperatorAuth, csrf_matches
from .domains import UNAVAILABLE, DomainApi, Fetched
from .signed_data_view import driver_view

HERE = Path(__file__).parent
_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
_ACTIVE_CONNECTOR = frozenset({"Charging", "SuspendedEV", "SuspendedEVSE", "Preparing", "Finishing"})
_READINGS_SHOWN = 200

# Where the domains serve what the pages show; a page section checks its route on every render.
FEEDBACK_LIST = "/api/v1/feedback"
FEEDBACK_OF_SESSION = "/api/v1/feedback/sessions/{transaction_id}"
FEEDBACK_WEEKLY = "/api/v1/feedback/analytics/weekly"
FEEDBACK_TOPICS = "/api/v1/feedback/analytics/topics"
FEEDBACK_CLUSTERS = "/api/v1/feedback/analytics/clusters"
FEEDBACK_STATIONS = "/api/v1/feedback/analytics/stations"
CERTIFICATES = "/api/v1/chargers/{charger_id}/certificates"
RESERVATIONS = "/api/v1/reservations"
FEEDBACK_CONNECTORS = "/api/v1/feedback/analytics/connectors"
FEEDBACK_DROPS = "/api/v1/feedback/analytics/drops"
SUPPORT_CONVERSATIONS = "/api/v1/support/conversations"
SUPPORT_TIMES = "/api/v1/support/response-times"
BILLING_DISPUTES = "/api/v1/billing/disputes"
DRIVER_DISPUTE = "/api/v1/driver/{token}/billing-dispute"
RECEIPT_EMAIL = "/api/v1/driver/{token}/receipt/email"
FEEDBACK_DRIVER = "/api/v1/feedback/{token}"
INCIDENTS = "/api/v1/incidents"
LOCAL_LIST = "/api/v1/chargers/{charger_id}/local-list"
INCIDENT_ACTIONS = "/api/v1/incidents/{number}/actions"
UPTIME = "/api/v1/uptime"
CHARGER_FIRMWARE = "/api/v1/chargers/{charger_id}/firmware"
CHARGER_LOGS = "/api/v1/chargers/{charger_id}/logs"
GUIDANCE = "/api/v1/driver/{token}/guidance"
DRIVER_REPORTS = "/api/v1/driver/reports"
LIVE_COST = "/api/v1/sessions/{transaction_id}/cost"
DRIVER_COST = "/api/v1/driver/{token}/cost"
DRIVER_TARIFF = "/api/v1/driver/{token}/tariff"
DRIVER_SUPPORT = "/api/v1/driver/{token}/support"
CONNECTOR_PRICES = "/api/v1/driver/chargers/{charger_id}/connectors/{connector_id}/tariff"
BILL = "/api/v1/sessions/{transaction_id}/invoice"
INVOICES = "/api/v1/invoices"
INVOICE_PDF = "/api/v1/invoices/{number}.pdf"
REVENUE = "/api/v1/revenue"
INCIDENT_COUNTS = "/api/v1/incident-counts"
ACTIVE_PAGE = 10  # active sessions per overview page

# What the driver page says, in the languages the guidance catalog has (chosen by ?lang= or Accept-Language).
DRIVER_TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "title": "Your charging session", "charging": "Charging", "finished": "Charging finished",
        "ended_by_fault": "Charging ended with a fault",
        "charger": "Charger", "connector": "connector", "started": "started", "power": "Power", "energy": "Energy",
        "duration": "Duration", "soc": "Battery", "cost": "Cost so far", "total": "Total",
        "incl_vat": "incl. VAT", "running": "updates while you charge",
        "cost_unavailable": "Price information is not available yet.",
        "cost_problem": "The price cannot be shown right now.", "receipt": "Receipt", "invoice": "Invoice",
        "receipt_unavailable": "Receipts are not available yet.",
        "receipt_pending": "Your receipt is being prepared; it appears here in a moment.",
        "download_receipt": "Download receipt (PDF)", "feedback": "How was your charge?",
        "feedback_unavailable": "Feedback is not available yet.", "thanks": "Thank you for your feedback!",
        "operator_reply": "Reply from the operator", "send": "Send feedback",
        "if_wrong": "If something goes wrong",
        "support": "Help with this session", "support_intro": "Write to us about this charge; we answer here.",
        "support_send": "Send", "support_helpline": "Helpline", "support_you": "You", "support_operator": "Support",
        "support_placeholder": "What happened?",
        "guidance_unavailable": "Help for charger errors is not available yet.",
        "guidance_problem": "Help cannot be shown right now.", "contact": "Contact",
        "choose_rating": "Please choose a rating.", "excl_vat": "excl. VAT",
        "waived": "This charge is free of charge: no receipt.",
        "receipt_review": "Your receipt follows after a check of the meter data.",
        "email_receipt": "E-mail me the receipt", "email_receipt_send": "Send",
        "email_receipt_sent": "Sent. Reply to that e-mail if anything is wrong.",
        "dispute_open": "You dispute invoice {invoice}: we are checking it and will tell you the outcome.",
        "dispute_rejected": "Your dispute of invoice {invoice} was checked: the invoice stands.",
        "dispute_accepted": "Your dispute of invoice {invoice} was accepted: credit note {credit} cancels it.",
        "dispute_reissued": "The corrected invoice is {reissued}.",
        "all_ok": "Everything works as it should. If the car does not charge, check the cable is plugged in firmly.",
        "report": "Report a problem", "report_what": "What is wrong?", "report_text": "Details (optional)",
        "report_send": "Send report",
        "prices": "Prices", "prices_unavailable": "Prices cannot be shown right now.",
        "price_incl_vat": "all prices incl. VAT", "other_prices": "At other times",
        "price_fixed": "These prices were in force when your session started and apply to all of it.",
        "price_title": "Prices at this charger", "price_before": "What charging here costs, before you start.",
        "no_tariff": "No price is set for this connector yet.", "breakdown_energy": "Energy",
        "breakdown_time": "Charging time", "breakdown_parking": "Parking", "breakdown_fixed": "Session fee",
        "min_price": "Minimum price per session", "max_price": "Maximum price per session",
        "report_categories": [("not_starting", "Charging does not start"), ("connector_stuck", "Cable is stuck"),
                              ("payment", "Payment or price"), ("screen", "Display"),
                              ("damaged", "Damaged"), ("other", "Something else")],
    },
    "de": {
        "title": "Ihr Ladevorgang", "charging": "Lädt", "finished": "Ladevorgang beendet",
        "ended_by_fault": "Ladevorgang mit Störung beendet",
        "charger": "Ladestation", "connector": "Anschluss", "started": "begonnen", "power": "Leistung",
        "energy": "Energie", "duration": "Dauer", "soc": "Akku", "cost": "Bisherige Kosten", "total": "Gesamt",
        "incl_vat": "inkl. MwSt.", "running": "wird beim Laden aktualisiert",
        "cost_unavailable": "Preisinformationen sind noch nicht verfügbar.",
        "cost_problem": "Der Preis kann gerade nicht angezeigt werden.", "receipt": "Beleg", "invoice": "Rechnung",
        "receipt_unavailable": "Belege sind noch nicht verfügbar.",
        "receipt_pending": "Ihr Beleg wird erstellt und erscheint gleich hier.",
        "download_receipt": "Beleg herunterladen (PDF)", "feedback": "Wie war Ihr Ladevorgang?",
        "feedback_unavailable": "Feedback ist noch nicht verfügbar.", "thanks": "Danke für Ihr Feedback!",
        "operator_reply": "Antwort des Betreibers", "send": "Feedback senden",
        "if_wrong": "Wenn etwas nicht funktioniert",
        "support": "Hilfe zu diesem Ladevorgang",
        "support_intro": "Schreiben Sie uns zu diesem Ladevorgang; wir antworten hier.",
        "support_send": "Senden", "support_helpline": "Hotline", "support_you": "Sie", "support_operator": "Support",
        "support_placeholder": "Was ist passiert?",
        "guidance_unavailable": "Hilfe bei Störungen ist noch nicht verfügbar.",
        "guidance_problem": "Die Hilfe kann gerade nicht angezeigt werden.", "contact": "Kontakt",
        "choose_rating": "Bitte wählen Sie eine Bewertung.", "excl_vat": "zzgl. MwSt.",
        "waived": "Dieser Ladevorgang ist kostenlos: kein Beleg.",
        "receipt_review": "Ihr Beleg folgt nach einer Prüfung der Zählerdaten.",
        "email_receipt": "Beleg per E-Mail senden", "email_receipt_send": "Senden",
        "email_receipt_sent": "Gesendet. Antworten Sie auf diese E-Mail, falls etwas nicht stimmt.",
        "dispute_open": "Sie beanstanden die Rechnung {invoice}: Wir prüfen sie und teilen Ihnen das Ergebnis mit.",
        "dispute_rejected": "Ihre Beanstandung der Rechnung {invoice} wurde geprüft: Die Rechnung bleibt bestehen.",
        "dispute_accepted": "Ihre Beanstandung der Rechnung {invoice} wurde anerkannt: Gutschrift {credit} storniert "
                            "sie.",
        "dispute_reissued": "Die korrigierte Rechnung ist {reissued}.",
        "all_ok": "Alles funktioniert. Wenn das Auto nicht lädt, prüfen Sie, ob das Kabel fest steckt.",
        "report": "Problem melden", "report_what": "Was ist los?", "report_text": "Details (optional)",
        "report_send": "Meldung senden",
        "prices": "Preise", "prices_unavailable": "Die Preise können gerade nicht angezeigt werden.",
        "price_incl_vat": "alle Preise inkl. MwSt.", "other_prices": "Zu anderen Zeiten",
        "price_fixed": "Diese Preise galten beim Start Ihres Ladevorgangs und gelten für den ganzen Vorgang.",
        "price_title": "Preise an dieser Ladestation", "price_before": "Was das Laden hier kostet, vor dem Start.",
        "no_tariff": "Für diesen Anschluss ist noch kein Preis festgelegt.", "breakdown_energy": "Energie",
        "breakdown_time": "Ladezeit", "breakdown_parking": "Standzeit", "breakdown_fixed": "Startgebühr",
        "min_price": "Mindestpreis je Ladevorgang", "max_price": "Höchstpreis je Ladevorgang",
        "report_categories": [("not_starting", "Laden startet nicht"), ("connector_stuck", "Kabel steckt fest"),
                              ("payment", "Bezahlung oder Preis"), ("screen", "Display"),
                              ("damaged", "Beschädigt"), ("other", "Etwas anderes")],
    },
}

# ------------------------------------------------------------------------------------------- formatting


def kilowatts(power_w: int | None) -> str:
    return "–" if power_w is None else f"{power_w / 1000:.1f} kW"


def kilowatt_hours(energy_wh: int | None) -> str:
    return "–" if energy_wh is None else f"{energy_wh / 1000:.2f} kWh"


def when(value: datetime | str | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float | int | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} %"


def money(value: Any, currency: str | None = None) -> str:
    """An amount as the invoice states it: rounded once, half-up, to the currency's minor unit."""
    if value is None:
        return "–"
    try:
        amount = round_money(Decimal(str(value)), currency)
    except ArithmeticError:
        return str(value)
    return f"{amount} {currency}".strip() if currency else str(amount)


def localized_money(value: Any, currency: str | None, lang: str) -> str:
    """An amount in the driver's locale ("8,80 €"), rounded exactly as the invoice rounds it."""
    if value is None or not currency:
        return money(value, currency)
    try:
        return display.money(Decimal(str(value)), currency, lang)
    except ArithmeticError:
        return str(value)


def localized_number(value: Any, lang: str) -> str:
    try:
        return display.quantity(Decimal(str(value)), lang)
    except ArithmeticError:
        return str(value)


def localized_time(value: datetime | str | None, zone: str | None, lang: str) -> str:
    """A moment in the station's time zone, in the driver's language."""
    if value is None:
        return "–"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return display.local_time(value, zone or "UTC", lang)


# ------------------------------------------------------------------------------------------- meter series


@dataclass(frozen=True)
class Sample:
    at: datetime
    power_w: int | None
    energy_wh: int | None


def session_samples(readings: Iterable[Any], meter_start_wh: int) -> list[Sample]:
    """Power and delivered energy per sample time, from stored meter readings, read as the session machine
    reads them (sessions/meter.py): phases summed, the Outlet before the Inlet, intervals integrated."""
    samples = summarise([Reading(r.timestamp, r.measurand, Decimal(r.value), r.unit, r.phase, r.location, r.context)
                         for r in readings if r.signed_data is None])
    levels = {at: wh for at, wh, _ in register_series(samples, meter_start_wh)}
    return [Sample(s.timestamp, s.power_w,
                   max(0, int(levels[s.timestamp]) - meter_start_wh) if s.timestamp in levels else None)
            for s in samples]


def chart_points(samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """Chart.js points: x in epoch milliseconds, y in kW / kWh."""
    return [{"x": int(s.at.timestamp() * 1000),
             "kw": None if s.power_w is None else round(s.power_w / 1000, 2),
             "kwh": None if s.energy_wh is None else round(s.energy_wh / 1000, 3)} for s in samples]


# ------------------------------------------------------------------------------------------- store reads


def _rows(result: Iterable[Any]) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in result]


def _charger_state(charger: dict[str, Any], connectors: list[dict[str, Any]], online: bool) -> str:
    if any(c["status"] == "Faulted" or c["error_code"] not in ("NoError", None) for c in connectors):
        return "faulted"
    return "online" if online else "offline"


def read_overview(engine: Engine, links: Any, now: datetime, midnight: datetime | None = None) -> dict[str, Any]:
    """``midnight``: the start of the operator's day (console.Clock.midnight); UTC midnight without it."""
    c, k, s = schema.chargers, schema.connectors, schema.sessions
    midnight = midnight or now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with engine.connect() as connection:
        chargers = _rows(connection.execute(select(c).order_by(c.c.id)))
        connectors = _rows(connection.execute(select(k).order_by(k.c.charger_id, k.c.connector_id)))
        active = [reads.session_from_row(r) for r in connection.execute(
            select(s).where(s.c.status == "active").order_by(s.c.started_at.desc()))]
        recent = [reads.session_from_row(r) for r in connection.execute(
            select(s).where(s.c.status == "completed").order_by(s.c.stopped_at.desc()).limit(10))]
        energy_today = connection.execute(
            select(func.coalesce(func.sum(s.c.energy_wh), 0)).where(s.c.started_at >= midnight)).scalar_one()
        sessions_today = connection.execute(
            select(func.count()).select_from(s).where(s.c.started_at >= midnight)).scalar_one()
    by_charger: dict[str, list[dict[str, Any]]] = {}
    for connector in connectors:
        by_charger.setdefault(connector["charger_id"], []).append(connector)
    for charger in chargers:
        charger["connectors"] = [x for x in by_charger.get(charger["id"], []) if x["connector_id"] > 0]
        charger["online"] = charger["id"] in links
        charger["state"] = _charger_state(charger, by_charger.get(charger["id"], []), charger["online"])
    counts = {state: sum(1 for ch in chargers if ch["state"] == state) for state in ("online", "offline", "faulted")}
    return {
        "chargers": chargers, "counts": counts, "active": active, "recent": recent,
        "power_w": sum(x.power_w or 0 for x in active), "energy_today_wh": int(energy_today),
        "sessions_today": sessions_today, "midnight": midnight,
    }


def read_station(engine: Engine, charger_id: str, links: Any) -> dict[str, Any] | None:
    c, k, e, s, m = schema.chargers, schema.connectors, schema.status_events, schema.sessions, schema.meter_readings
    with engine.connect() as connection:
        charger = connection.execute(select(c).where(c.c.id == charger_id)).first()
        if charger is None:
            return None
        connectors = _rows(connection.execute(select(k).where(k.c.charger_id == charger_id).order_by(k.c.connector_id)))
        history = _rows(connection.execute(select(e).where(e.c.charger_id == charger_id)
                                           .order_by(e.c.timestamp.desc(), e.c.id.desc()).limit(50)))
        sessions = [reads.session_from_row(r) for r in connection.execute(
            select(s).where(s.c.charger_id == charger_id).order_by(s.c.started_at.desc()).limit(12))]
        curves = []
        for session in sessions[:6]:
            readings = connection.execute(select(m).where(
                m.c.transaction_id == session.transaction_id, m.c.measurand == "Power.Active.Import")
                .order_by(m.c.timestamp)).all()
            samples = session_samples(readings, session.meter_start_wh)
            until = session.stopped_at or datetime.now(UTC)
            curves.append({"label": f"#{session.transaction_id} (connector {session.connector_id})",
                           "minutes": round(max(0.0, (until - session.started_at).total_seconds()) / 60, 2),
                           "points": [{"x": round((p.at - session.started_at).total_seconds() / 60, 2),
                                       "y": round(p.power_w / 1000, 2)} for p in samples if p.power_w is not None]})
    online = charger_id in links
    return {"charger": dict(charger._mapping), "online": online,
            "state": _charger_state(dict(charger._mapping), connectors, online),
            "connectors": [x for x in connectors if x["connector_id"] > 0],
            "charger_status": next((x for x in connectors if x["connector_id"] == 0), None),
            "history": history, "sessions": sessions, "curves": curves}


def read_session(engine: Engine, transaction_id: int) -> dict[str, Any] | None:
    m = schema.meter_readings
    with engine.connect() as connection:
        session = reads.session(connection, transaction_id)
        if session is None:
            return None
        readings = connection.execute(select(m).where(m.c.transaction_id == transaction_id)
                                      .order_by(m.c.timestamp, m.c.id)).all()
        charger = connection.execute(select(schema.chargers.c.timezone, schema.chargers.c.tariff_id)
                                     .where(schema.chargers.c.id == session.charger_id)).first()
    samples = session_samples(readings, session.meter_start_wh)
    return {"session": session, "points": chart_points(samples), "readings": list(reversed(readings))[:_READINGS_SHOWN],
            "reading_count": len(readings), "timezone": charger.timezone if charger else "UTC",
            "tariff_id": charger.tariff_id if charger else None}


# ------------------------------------------------------------------------------------------- the router


def _language(request: Request, lang: str | None) -> str:
    if lang in ("en", "de"):
        return lang
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in ("en", "de"):
            return code
    return "en"


def _safe_next(target: str | None) -> str:
    """Only a local path: an open redirect after login would be a phishing aid."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _secure_headers(response: Response, *, driver: bool = False) -> Response:
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    # The driver page's URL is its credential: never leak it in a Referer.
    response.headers["Referrer-Policy"] = "no-referrer" if driver else "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def pages_router(services: Services, auth: OperatorAuth, api: DomainApi) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    engine = services.engine
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters.update(kw=kilowatts, kwh=kilowatt_hours, when=when, duration=duration, pct=percent,
                                 money=money, lmoney=localized_money, local=localized_time,
                                 stop_sentence=display.stop_reason, lnum=localized_number)
    # The operator console: times in the shown zone (with its abbreviation), figures in the operator's locale.
    templates.env.filters.update(when=console.when, kw=console.kilowatts, kwh=console.kilowatt_hours,
                                 pct=console.percent, money=console.console_money, num=console.number,
                                 zone=console.zone_name, plural=console.plural)
    zones = console.ChargerZones(engine)

    def clock(request: Request, page_zone: str | None = None, lang: str | None = None) -> console.Clock:
        return console.clock_of(request.cookies, zones.get(), _language(request, lang), page_zone)

    def secure_cookie(request: Request) -> bool:
        return request.url.scheme == "https"

    def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        session = request.state.operator_session
        context = {"operator": session.operator if session else None,
                   "csrf_token": session.csrf_token if session else "", "page": name.removesuffix(".html"),
                   **context}
        if "clock" not in context:
            station = context.get("charger")
            context["clock"] = clock(request, context.get("timezone") or (
                station.get("timezone") if isinstance(station, dict) else None), context.get("lang"))
        token = console.CLOCK.set(context["clock"])
        try:
            return _secure_headers(templates.TemplateResponse(request, name, context, status_code=status),
                                   driver=name == "driver.html")
        finally:
            console.CLOCK.reset(token)

    # ------------------------------------------------------------------ login

    @router.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request, next: str | None = None) -> Response:
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
        has_accounts = await asyncio.to_thread(auth.accounts_exist)
        response = render(request, "login.html", {"next": _safe_next(next), "login_csrf": token, "error": None,
                                                  "has_accounts": has_accounts})
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure_cookie(request),
                            max_age=3600, path="/login")
        return response

    @router.post("/login", response_class=HTMLResponse)
    async def login(request: Request, username: str = Form(""), password: str = Form(""),
                    csrf_token: str = Form(""), next: str = Form("/")) -> Response:
        client = request.client.host if request.client else "?"
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        error = None
        operator = None
        if not expected or not csrf_matches(expected, csrf_token):
            error = "The login form expired. Please try again."
        else:
            outcome = await asyncio.to_thread(auth.login, username, password, client)
            operator = outcome.operator
            if outcome.retry_after is not None:
                error = f"Too many failed attempts. Try again in {outcome.retry_after} seconds."
            elif operator is None:
                error = "Wrong name or password."
        if operator is None:
            has_accounts = await asyncio.to_thread(auth.accounts_exist)
            status = 429 if error and error.startswith("Too many") else 401
            return render(request, "login.html", {"next": _safe_next(next), "login_csrf": expected, "error": error,
                                                  "has_accounts": has_accounts, "username": username}, status=status)
        cookie, _ = await asyncio.to_thread(auth.open_session, operator)
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(SESSION_COOKIE, cookie, httponly=True, samesite="lax", secure=secure_cookie(request),
                            max_age=int(SESSION_LIFETIME.total_seconds()), path="/")
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    @router.post("/logout")
    async def logout(request: Request, csrf_token: str = Form("")) -> Response:
        session = request.state.operator_session
        if session is None or not csrf_matches(session.csrf_token, csrf_token):
            raise HTTPException(403, "CSRF token missing or wrong")
        await asyncio.to_thread(auth.close_session, request.cookies.get(SESSION_COOKIE, ""))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # ------------------------------------------------------------------ operator pages

    @router.get("/", response_class=HTMLResponse)
    async def overview(request: Request, page: int = 1) -> Response:
        now = services.gateway.now()
        at = await asyncio.to_thread(clock, request)
        data = await asyncio.to_thread(read_overview, engine, services.gateway.links, now, at.midnight(now))
        month = now.astimezone(ZoneInfo(at.operator_zone))  # uptime of the operator's month so far
        incidents, totals, counts, uptime, ratings, power = await asyncio.gather(
            api.get(INCIDENTS, {"status": "active", "limit": 8}),
            api.get(REVENUE, {"since": data["midnight"].isoformat()}) if api.has(INVOICES) else _not_yet(),
            api.get(INCIDENT_COUNTS) if api.has(INCIDENTS) else _not_yet(),
            api.get(UPTIME, {"year": month.year, "month": month.month}),
            api.get(FEEDBACK_STATIONS, {"since": at.month_start(now).isoformat()}),
            asyncio.to_thread(console.fleet_power, engine, data["midnight"], now))
        active, pages = _paged(data["active"], page, ACTIVE_PAGE)
        costs = await _live_costs([x.transaction_id for x in active])
        return render(request, "overview.html", {
            **data, "clock": at, "now": now, "incidents": incidents, "totals": totals, "incident_counts": counts,
            "uptime": uptime, "fleet_uptime": console.fleet_uptime(uptime.data["ports"]) if uptime.ok else None,
            "ratings": ratings, "scores": console.fleet_scores(ratings.data) if ratings.ok else None,
            "power_points": power, "active_page": active, "pages": pages, "costs": costs,
            "billing": api.has(LIVE_COST)})

    async def _live_costs(transaction_ids: list[int]) -> dict[int, Fetched]:
        if not api.has(LIVE_COST):
            return {}
        found = await asyncio.gather(*(api.get(LIVE_COST, transaction_id=tx) for tx in transaction_ids))
        return dict(zip(transaction_ids, found, strict=True))

    @router.get("/stations/{charger_id}", response_class=HTMLResponse)
    async def station(request: Request, charger_id: str) -> Response:
        now = services.gateway.now()
        data = await asyncio.to_thread(read_station, engine, charger_id, services.gateway.links)
        if data is None:
            return render(request, "not_found.html", {"what": f"charger {charger_id}"}, status=404)
        (incidents, uptime, ratings, connector_ratings, certificates, reservations, local_list, firmware,
         logs) = await asyncio.gather(
            api.get(INCIDENTS, {"charger_id": charger_id, "limit": 20}),
            api.get(UPTIME, {"charger_id": charger_id, "year": now.year, "month": now.month}),
            api.get(FEEDBACK_STATIONS),
            api.get(FEEDBACK_CONNECTORS, {"station": charger_id}),
            api.get(CERTIFICATES, charger_id=quote(charger_id, safe="")),
            api.get(RESERVATIONS, {"charger_id": charger_id, "limit": 10}),
            api.get(LOCAL_LIST, charger_id=quote(charger_id, safe="")),
            api.get(CHARGER_FIRMWARE, charger_id=quote(charger_id, safe="")),
            api.get(CHARGER_LOGS, charger_id=quote(charger_id, safe="")))
        station_ratings = None
        if ratings.ok and isinstance(ratings.data, list):
            station_ratings = next((r for r in ratings.data if r.get("station_id") == charger_id), None)
        data["charging"] = await asyncio.to_thread(charging_store.read_charger_view, engine, charger_id)
        return render(request, "station.html", {**data, "incidents": incidents, "uptime": uptime,
                                                "ratings": ratings, "station_ratings": station_ratings,
                                                "connector_ratings": connector_ratings, "certificates": certificates,
                                                "reservations": reservations,
                                                "local_list": local_list,
                                                "firmware": firmware, "logs": logs,
                                                "actions_available": api.has(INCIDENT_ACTIONS, "POST")})

    @router.get("/sessions/{transaction_id}", response_class=HTMLResponse)
    async def session_page(request: Request, transaction_id: int) -> Response:
        data = await asyncio.to_thread(read_session, engine, transaction_id)
        if data is None:
            return render(request, "not_found.html", {"what": f"session {transaction_id}"}, status=404)
        session = data["session"]
        cost, invoices, incidents, feedback = await asyncio.gather(
            api.get(LIVE_COST, transaction_id=transaction_id),
            api.get(INVOICES, {"transaction_id": transaction_id}),
            api.get(INCIDENTS, {"charger_id": session.charger_id, "since": session.started_at.isoformat(),
                                "limit": 100}),
            api.get(FEEDBACK_OF_SESSION, transaction_id=transaction_id))
        if incidents.ok:
            incidents = replace(incidents, data=session_incidents(incidents.data["items"], session,
                                                                  services.gateway.now()))
        return render(request, "session.html", {**data, "cost": cost, "invoices": invoices,
                                                "incidents": incidents, "feedback": feedback,
                                                "driver_path": services.driver_path(transaction_id),
                                                "actions_available": api.has(INCIDENT_ACTIONS, "POST")})

    @router.get("/incidents", response_class=HTMLResponse)
    async def incidents_page(request: Request, status: str | None = None, q: str | None = None) -> Response:
        status = status if status in ("open", "acknowledged", "resolved", "active") else None
        q = (q or "").strip()[:50] or None
        incidents = await api.get(INCIDENTS, {"status": status, "limit": 200, "q": q})
        return render(request, "incidents.html", {"incidents": incidents, "status": status, "q": q,
                                                  "actions_available": api.has(INCIDENT_ACTIONS, "POST")})

    @router.get("/feedback", response_class=HTMLResponse)
    async def feedback_page(request: Request) -> Response:
        weekly, topics, stations, comments, drops, clusters = await asyncio.gather(
            api.get(FEEDBACK_WEEKLY), api.get(FEEDBACK_TOPICS), api.get(FEEDBACK_STATIONS),
            api.get(FEEDBACK_LIST, {"limit": 50}), api.get(FEEDBACK_DROPS), api.get(FEEDBACK_CLUSTERS))
        return render(request, "feedback.html", {"weekly": weekly, "topics": topics, "stations": stations,
                                                 "comments": comments, "drops": drops, "clusters": clusters})

    @router.get("/support", response_class=HTMLResponse)
    async def support_page(request: Request) -> Response:
        """Drivers' support conversations, waiting ones first, answered live; response times per station."""
        waiting, recent, times, disputes = await asyncio.gather(
            api.get(SUPPORT_CONVERSATIONS, {"status": "waiting", "limit": 100}),
            api.get(SUPPORT_CONVERSATIONS, {"limit": 50}), api.get(SUPPORT_TIMES),
            api.get(BILLING_DISPUTES, {"status": "open", "limit": 100}))
        return render(request, "support.html", {"waiting": waiting, "recent": recent, "times": times,
                                                "disputes": disputes})

    # ------------------------------------------------------------------ driver page

    def _transaction(token: str) -> int:
        transaction_id = transaction_of(services.secret, token)
        if transaction_id is None:
            raise HTTPException(404, "unknown session link")
        return transaction_id

    @router.get("/s/{token}", response_class=HTMLResponse)
    async def driver_page(request: Request, token: str, lang: str | None = None) -> Response:
        transaction_id = transaction_of(services.secret, token)
        language = _language(request, lang)
        data = await asyncio.to_thread(read_session, engine, transaction_id) if transaction_id is not None else None
        if data is None:
            return render(request, "driver_unknown.html", {"lang": language}, status=404)
        ended = not data["session"].active
        cost, guidance, feedback, bill, prices, support, dispute = await asyncio.gather(
            api.get(DRIVER_COST, token=token),
            api.get(GUIDANCE, {"lang": language}, token=token),
            api.get(FEEDBACK_DRIVER, {"lang": language}, token=token) if ended else _not_yet(),
            api.get(BILL, transaction_id=transaction_id) if ended else _not_yet(),
            api.get(DRIVER_TARIFF, {"lang": language}, token=token),
            api.get(DRIVER_SUPPORT, {"lang": language}, token=token),
            api.get(DRIVER_DISPUTE, token=token) if ended else _not_yet())
        return render(request, "driver.html", {
            **data, "token": token, "lang": language, "t": DRIVER_TEXT[language], "cost": cost, "prices": prices,
            "guidance": guidance, "feedback": feedback, "reports": api.has(DRIVER_REPORTS, "POST"),
            "feedback_available": api.has(FEEDBACK_DRIVER, "PUT"), "receipt_available": api.has(INVOICE_PDF),
            "signed": driver_view(_signed_data(bill), language), "support": support,
            "receipt_email_available": api.has(RECEIPT_EMAIL, "POST"),
            "dispute": dispute.data.get("dispute") if dispute.ok and isinstance(dispute.data, dict) else None})

    def _signed_data(bill: Fetched) -> dict[str, Any] | None:
        invoice = bill.data.get("invoice") if bill.ok and isinstance(bill.data, dict) else None
        return invoice.get("signed_data") if isinstance(invoice, dict) else None

    @router.get("/s/{token}/signed-data.xml")
    async def driver_signed_data(token: str) -> Response:
        """The session's signed meter values as the S.A.F.E. e.V. Transparenzsoftware opens them (Eichrecht)."""
        transaction_id = _transaction(token)
        signed = _signed_data(await api.get(BILL, transaction_id=transaction_id))
        if signed is None:
            raise HTTPException(404, "no signed meter values for this session")
        return Response(SignedDataSection.from_json(signed).transparency_xml(), media_type="application/xml",
                        headers={"Content-Disposition": f'attachment; filename="signed-data-{transaction_id}.xml"',
                                 "Referrer-Policy": "no-referrer", "Cache-Control": "private, no-store"})

    @router.get("/price/{charger_id}/{connector_id}", response_class=HTMLResponse)
    async def price_page(request: Request, charger_id: str, connector_id: int, lang: str | None = None) -> Response:
        """Public, no login (the QR code on the charger): the connector's unit prices before a session starts."""
        language = _language(request, lang)
        prices = await api.get(CONNECTOR_PRICES, {"lang": language}, charger_id=charger_id,
                               connector_id=connector_id)
        status = 404 if prices.status == 404 else 200
        return render(request, "price.html", {"lang": language, "t": DRIVER_TEXT[language], "prices": prices,
                                              "charger_id": charger_id, "connector_id": connector_id},
                      status=status)

    @router.get("/s/{token}/receipt.pdf")
    async def driver_receipt(request: Request, token: str, lang: str | None = None) -> Response:
        """The invoice PDF for the driver (in their language): the invoice API is the operator's, the token opens
        only this one."""
        transaction_id = _transaction(token)
        language = _language(request, lang)
        bill = await api.get(BILL, transaction_id=transaction_id)
        number = bill.data.get("invoice_number") if bill.ok and isinstance(bill.data, dict) else None
        if number is None:
            raise HTTPException(404, "no receipt for this session (yet)")
        pdf = await api.raw(INVOICE_PDF, {"lang": language}, number=number)
        if pdf is None:
            raise HTTPException(404, "no receipt for this session (yet)")
        return Response(pdf, media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="receipt-{number}.pdf"', "Referrer-Policy": "no-referrer",
            "Cache-Control": "private, no-store"})

    @router.get("/s/{token}/events")
    async def driver_events(request: Request, token: str) -> StreamingResponse:
        """This one session's live values (the operator stream shows every charger, so it is not public)."""
        transaction_id = _transaction(token)
        queue = services.bus.subscribe()
        shown = ("transaction_id", "energy_wh", "power_w", "soc", "status", "stop_reason", "charging_seconds", "at")
        # Support messages of this session only; the operator's user name stays in the console.
        support_shown = ("transaction_id", "conversation_id", "message_id", "author", "body", "sent_at", "status",
                         "source")

        async def stream() -> AsyncIterator[str]:
            try:
                yield ": connected\n\n"
                while not await request.is_disconnected():
                    try:
                        event = await asyncio.wait_for(queue.get(), 15)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    if isinstance(event, SessionEvent | SupportEvent) and event.transaction_id == transaction_id:
                        values = event.to_json()
                        keys = shown if isinstance(event, SessionEvent) else support_shown
                        data = {k: values.get(k) for k in keys}
                        yield f"event: {event.kind}\ndata: {json.dumps(data, default=str)}\n\n"
            finally:
                services.bus.unsubscribe(queue)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no",
                                          "Referrer-Policy": "no-referrer"})

    return router


def _paged(items: Sequence[Any], page: int, size: int) -> tuple[list[Any], dict[str, int]]:
    """One page of a list (1-based, clamped) and where it stands: first/last shown, total, pages."""
    pages = max(1, -(-len(items) // size))
    page = min(max(page, 1), pages)
    shown = list(items[(page - 1) * size:page * size])
    first = (page - 1) * size + 1 if shown else 0
    return shown, {"page": page, "pages": pages, "total": len(items), "first": first,
                   "last": first + len(shown) - 1 if shown else 0}


def session_incidents(items: list[dict[str, Any]], session: Any, now: datetime) -> list[dict[str, Any]]:
    """The charger's incidents that concern this session: linked to it, or on its connector while it ran."""
    until = session.stopped_at or now

    def concerns(incident: dict[str, Any]) -> bool:
        if incident.get("session_id") == str(session.transaction_id):
            return True
        first_seen = datetime.fromisoformat(str(incident["first_seen"]).replace("Z", "+00:00"))
        return incident.get("connector_id") in (None, 0, session.connector_id) and first_seen <= until

    return [i for i in items if concerns(i)]


async def _not_yet() -> Fetched:
    """A section that only exists once the session has ended (the template shows the live values instead)."""
    return UNAVAILABLE
