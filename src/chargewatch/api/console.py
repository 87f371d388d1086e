"""The operator console's truth: times in a visible zone, "today" as the operator's day, exact totals.

- Times: shown in the station's zone by default; the operator may switch to their own (the browser's zone,
  kept in a cookie). Every time carries its zone's abbreviation, and the page says which zone it shows.
- "Today": midnight of the operator's zone (the browser's, else the fleet's most common station zone).
- Totals: revenue and incident counts come from one aggregate query each (store/console.py), served as
  `GET /api/v1/revenue` and `GET /api/v1/incident-counts`.
- The overview's derived figures (fleet power curve, uptime month to date, fleet CSAT/NPS) are computed here.
"""

from __future__ import annotations

import time as monotonic
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_decimal
from fastapi import APIRouter, Query, Request
from sqlalchemy import Engine, or_, select

from ..billing import display
from ..sessions.meter import Reading, summarise
from ..store import console as store
from ..store import schema
from .models import Timestamp

ZONE_MODE_COOKIE = "cw_tz"  # "station" (default) | "mine"
MY_ZONE_COOKIE = "cw_myzone"  # the operator's own zone, as the browser reports it
SMALL_SAMPLE = 5  # fewer ratings than this: show the count, not a percentage
UPTIME_TARGET = Decimal(97)  # NEVI: 97 % per port
POWER_STEP = timedelta(minutes=5)
POWER_HOLD = timedelta(minutes=15)  # a session's last power reading counts this long


def valid_zone(name: str | None) -> str | None:
    """An IANA zone name that zoneinfo knows, else None (a cookie is user input)."""
    if not name or len(name) > 64:
        return None
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return None
    return name


@dataclass(frozen=True)
class Clock:
    """Which zone a time on this page is shown in, and where the operator's day begins."""

    mode: str = "station"  # station | mine
    mine: str | None = None
    fleet_zone: str = "UTC"
    page_zone: str | None = None
    zones: Mapping[str, str] = field(default_factory=dict)  # charger id -> station zone
    lang: str = "en"

    def zone(self, station: str | None = None) -> str:
        """The zone to show a time in: the operator's own if chosen, else the station's (a charger id or a zone
        name), else the page's station, else the fleet's."""
        if self.mode == "mine" and self.mine:
            return self.mine
        if station:
            found = self.zones.get(station) or valid_zone(station)
            if found:
                return found
        return self.page_zone or self.fleet_zone

    @property
    def operator_zone(self) -> str:
        """The operator's own zone: what "today" means on the overview."""
        return self.mine or self.fleet_zone

    @property
    def label(self) -> str:
        """What the page says of its times."""
        if self.mode == "mine" and self.mine:
            return f"your time zone ({self.mine})"
        return "each station's time zone" if self.page_zone is None else f"the station's time zone ({self.page_zone})"

    def midnight(self, now: datetime) -> datetime:
        """The start (UTC) of the operator's local day that contains ``now``."""
        zone = ZoneInfo(self.operator_zone)
        return datetime.combine(now.astimezone(zone).date(), time(), tzinfo=zone).astimezone(UTC)

    def month_start(self, now: datetime) -> datetime:
        zone = ZoneInfo(self.operator_zone)
        return datetime.combine(now.astimezone(zone).date().replace(day=1), time(), tzinfo=zone).astimezone(UTC)


_DEFAULT_CLOCK = Clock()
CLOCK: ContextVar[Clock | None] = ContextVar("chargewatch_console_clock", default=None)


def current_clock() -> Clock:
    return CLOCK.get() or _DEFAULT_CLOCK


def clock_of(cookies: Mapping[str, str], zones: Mapping[str, str], lang: str,
             page_zone: str | None = None) -> Clock:
    mine = valid_zone(unquote(cookies.get(MY_ZONE_COOKIE) or ""))  # the page writes it URI-encoded
    mode = "mine" if cookies.get(ZONE_MODE_COOKIE) == "mine" and mine else "station"
    common = Counter(zones.values()).most_common(1)
    return Clock(mode=mode, mine=mine, fleet_zone=common[0][0] if common else "UTC",
                 page_zone=valid_zone(page_zone), zones=zones, lang=lang)


class ChargerZones:
    """Each charger's time zone, read at most every few seconds (every page render asks)."""

    def __init__(self, engine: Engine, ttl: float = 5.0):
        self.engine, self.ttl = engine, ttl
        self._zones: dict[str, str] = {}
        self._read_at = -ttl

    def get(self) -> dict[str, str]:
        if monotonic.monotonic() - self._read_at >= self.ttl:
            c = schema.chargers
            with self.engine.connect() as connection:
                self._zones = {r.id: valid_zone(r.timezone) or "UTC"
                               for r in connection.execute(select(c.c.id, c.c.timezone))}
            self._read_at = monotonic.monotonic()
        return self._zones


# ------------------------------------------------------------------------------------------- formatting


def _moment(value: datetime | str | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def when(value: datetime | str | None, station: str | None = None) -> str:
    """A moment in the zone the page shows (``station``: the charger id or zone it belongs to), with the zone's
    abbreviation: "2026-12-02 19:15:03 CET", in German "02.12.2026, 19:15:03 MEZ"."""
    moment = _moment(value)
    if moment is None:
        return "–" if value is None else str(value)
    clock = current_clock()
    local = moment.astimezone(ZoneInfo(clock.zone(station)))
    abbreviation = local.strftime("%Z")  # the zone database's own: CET, EST, IST, UTC, +14
    if display.locale_of(clock.lang).startswith("de"):
        german = str(format_datetime(local, "zzz", locale="de_DE"))  # MEZ / MESZ where CLDR has one
        return local.strftime("%d.%m.%Y, %H:%M:%S ") + (german if german.isalpha() and len(german) <= 5
                                                         else abbreviation)
    return local.strftime("%Y-%m-%d %H:%M:%S ") + abbreviation


def zone_name(station: str | None = None) -> str:
    return current_clock().zone(station)


def number(value: Any, digits: int = 2) -> str:
    """A figure in the console's locale: "1.234,5" in German, "1,234.5" in English."""
    if value is None:
        return "–"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return str(format_decimal(Decimal(str(value)), format=pattern, locale=display.locale_of(current_clock().lang)))


def console_money(value: Any, currency: str | None = None) -> str:
    """Money as the invoice rounds it; German locale "8,80 €", English "8.80 EUR" as before."""
    if value is None:
        return "–"
    lang = current_clock().lang
    if currency and lang == "de":
        try:
            return display.money(Decimal(str(value)), currency, lang)
        except ArithmeticError:
            return str(value)
    from .pages import money  # the English form the pages always had

    return money(value, currency)


def kilowatts(power_w: int | float | None) -> str:
    return "–" if power_w is None else f"{number(Decimal(str(power_w)) / 1000, 1)} kW"


def kilowatt_hours(energy_wh: int | None) -> str:
    return "–" if energy_wh is None else f"{number(Decimal(energy_wh) / 1000, 2)} kWh"


def percent(value: Any, digits: int = 0) -> str:
    return "–" if value is None else f"{number(value, digits)} %"


# ------------------------------------------------------------------------------------------- overview reads


def fleet_power(engine: Engine, since: datetime, now: datetime) -> list[dict[str, Any]]:
    """The fleet's charging power every 5 minutes from ``since`` to ``now``: per session its last power reading
    (phases summed, as the session machine reads them), held for at most 15 minutes and never past its stop,
    summed over sessions. Points: x in epoch ms, y in kW."""
    s, m = schema.sessions, schema.meter_readings
    with engine.connect() as connection:
        sessions = {r.transaction_id: r for r in connection.execute(
            select(s.c.transaction_id, s.c.started_at, s.c.stopped_at)
            .where(s.c.started_at <= now, or_(s.c.status == "active", s.c.stopped_at >= since)))}
        readings: dict[int, list[Reading]] = {}
        if sessions:
            for r in connection.execute(
                    select(m.c.transaction_id, m.c.timestamp, m.c.measurand, m.c.value, m.c.unit, m.c.phase,
                           m.c.location, m.c.context)
                    .where(m.c.transaction_id.in_(list(sessions)), m.c.measurand == "Power.Active.Import",
                           m.c.timestamp >= since - POWER_HOLD, m.c.timestamp <= now, m.c.signed_data.is_(None))):
                readings.setdefault(r.transaction_id, []).append(
                    Reading(r.timestamp, r.measurand, Decimal(r.value), r.unit, r.phase, r.location, r.context))
    series = {tx: [(x.timestamp, x.power_w) for x in summarise(rs) if x.power_w is not None]
              for tx, rs in readings.items()}
    points = []
    at = since
    while at <= now:
        total = 0
        for tx, samples in series.items():
            stopped = sessions[tx].stopped_at
            if stopped is not None and at > stopped:
                continue
            last = _last_before(samples, at)
            if last is not None and at - last[0] <= POWER_HOLD:
                total += last[1]
        points.append({"x": int(at.timestamp() * 1000), "y": round(total / 1000, 2)})
        at += POWER_STEP
    return points


def _last_before(samples: Sequence[tuple[datetime, int]], at: datetime) -> tuple[datetime, int] | None:
    found = None
    for sample in samples:  # time order; a day has a few hundred samples per session
        if sample[0] > at:
            break
        found = sample
    return found


def fleet_uptime(ports: Iterable[Mapping[str, Any]], worst: int = 5) -> dict[str, Any] | None:
    """Month-to-date uptime of the whole fleet (every port's minutes pooled, NEVI formula) and the worst ports."""
    ports = list(ports)
    if not ports:
        return None
    total = sum(Decimal(str(p["month"]["total_minutes"])) for p in ports)
    counted_out = sum(Decimal(str(p["month"]["outage_minutes"])) - Decimal(str(p["month"]["excluded_minutes"]))
                      for p in ports)
    fleet = None if total == 0 else (total - counted_out) / total * 100
    ordered = sorted(ports, key=lambda p: (Decimal(str(p["month"]["uptime_percent"])), p["charger_id"],
                                           p["connector_id"]))
    low = [p for p in ordered if Decimal(str(p["month"]["uptime_percent"])) < UPTIME_TARGET]
    return {"percent": fleet, "ports": len(ports), "worst": ordered[:worst], "low": low[:worst],
            "outage_minutes": counted_out}


def fleet_scores(stations: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """CSAT and NPS of the whole network from the per-station counts (pooled, not an average of percentages)."""
    rows = list(stations)
    ratings = sum(int(r["feedback_count"]) for r in rows)
    satisfied = sum(int(r["satisfied"]) for r in rows)
    answers = sum(int(r["nps_count"]) for r in rows)
    promoters = sum(int(r["promoters"]) for r in rows)
    detractors = sum(int(r["detractors"]) for r in rows)
    rated = [(r["mean_overall"], int(r["feedback_count"])) for r in rows if r.get("mean_overall") is not None]
    mean = sum(m * n for m, n in rated) / sum(n for _, n in rated) if rated else None
    return {"ratings": ratings, "satisfied": satisfied, "answers": answers, "promoters": promoters,
            "detractors": detractors, "mean": mean,
            "csat": None if ratings < SMALL_SAMPLE else satisfied / ratings * 100,
            "nps": None if answers < SMALL_SAMPLE else (promoters - detractors) / answers * 100,
            "small": SMALL_SAMPLE}


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# ------------------------------------------------------------------------------------------- the API


def console_router(engine: Engine) -> APIRouter:
    router = APIRouter(prefix="/api/v1")

    @router.get("/revenue", tags=["billing"], summary="Revenue of a period, per currency (one aggregate)")
    def revenue(request: Request, since: Timestamp,
                until: Annotated[Timestamp | None, Query(description="end (exclusive); default: open")] = None
                ) -> dict[str, Any]:
        """Invoices and credit notes issued in [since, until), summed exactly per currency in the database
        (credit notes negative): however many documents, one query."""
        with engine.connect() as connection:
            rows = store.revenue_totals(connection, since, until)
        return {"since": since, "until": until, "currencies": [
            {**r, **{k: str(r[k]) for k in ("total_net", "total_vat", "total_gross")}} for r in rows]}

    @router.get("/incident-counts", tags=["incidents"], summary="Active incidents per severity")
    def incident_counts() -> dict[str, Any]:
        """Open or acknowledged incidents counted per severity (critical, fault, warning, info)."""
        with engine.connect() as connection:
            counts = store.incident_counts(connection)
        return {"active": sum(counts.values()), "by_severity": counts}

    return router
