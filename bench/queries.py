"""Queries: p95 latency of the dashboard's main API calls on a database of generated sessions.

The data: 2,000 chargers (two connectors each) and N sessions spread over the year before today, with a
day/night rhythm and a skewed charger popularity (a few busy sites, a long tail), ids rising with time as
the gateway allocates them; the newest few hundred are still active. Sixty meter readings each are stored
for the sessions whose detail page is queried. SQLite gets a file cached under bench/.cache/ (generation
is the slow part); PostgreSQL gets a fresh database filled with COPY, dropped afterwards.

Each query runs over HTTP against chargewatch in its own process, sequentially, varied parameters.
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from harness import BENCH, percentile, server
from sqlalchemy import text

CHARGERS = 2000
DETAILED = 200  # sessions with meter readings (their detail page is queried)
DATA_VERSION = 2
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SESSION_COLUMNS = [
    "transaction_id", "charger_id", "connector_id", "id_tag", "status", "started_at", "stopped_at",
    "meter_start_wh", "meter_stop_wh", "energy_wh", "stop_reason", "power_w", "max_power_w", "soc",
    "charging_seconds", "idle_seconds", "last_sample_at", "last_register_wh", "baseline_wh", "offset_wh", "flags",
    "reservation_id", "start_key", "updated_at",
]
ACTIVE = 300


def charger_id(index: int) -> str:
    return f"DE*CWT*E{index:05d}"


def _sessions(count: int, seed: int = 11) -> Iterator[tuple[Any, ...]]:
    """Rows in SESSION_COLUMNS order, oldest first; datetimes as aware UTC values."""
    rng = random.Random(seed)
    weights = [1 / (i + 10) ** 0.8 for i in range(CHARGERS)]  # popularity: a long tail
    charger_of = rng.choices(range(CHARGERS), weights=weights, k=count)
    year = 365 * 86400
    starts = []
    for _ in range(count):
        while True:  # more sessions by day than by night
            second = rng.randrange(year)
            hour = (second // 3600) % 24
            if rng.random() < (1.0 if 7 <= hour < 21 else 0.35):
                break
        starts.append(second)
    starts.sort()
    origin = NOW - timedelta(seconds=year)
    register = [rng.randrange(10_000, 5_000_000) for _ in range(CHARGERS)]
    for n, second in enumerate(starts):
        c = charger_of[n]
        started = origin + timedelta(seconds=second)
        energy = rng.randrange(2_000, 60_000)
        charging = rng.randrange(900, 4 * 3600)
        idle = rng.randrange(0, 1800)
        active = n >= count - ACTIVE
        meter_start = register[c]
        register[c] += energy
        stopped = None if active else started + timedelta(seconds=charging + idle)
        last_sample = started + timedelta(seconds=charging)
        tag = f"TAG{rng.randrange(50_000):05d}"
        yield (
            n + 1, charger_id(c), 1 + n % 2, tag, "active" if active else "completed", started, stopped,
            meter_start, None if active else meter_start + energy, energy, None if active else "EVDisconnected",
            rng.randrange(3_000, 150_000) if active else None, rng.randrange(3_000, 150_000), rng.randrange(20, 100),
            charging, idle, last_sample, meter_start + energy, meter_start, 0, "[]", None,
            f"1|{tag}|{started.isoformat()}|{meter_start}", stopped or last_sample,
        )


def _readings(transaction_id: int, charger: str, started: datetime) -> Iterator[tuple[Any, ...]]:
    for k in range(20):
        at = started + timedelta(minutes=5 * k)
        for measurand, unit, value in (("Energy.Active.Import.Register", "Wh", 1000 + 500 * k),
                                       ("Power.Active.Import", "W", 11000), ("SoC", "Percent", 20 + 3 * k)):
            yield (charger, 1, transaction_id, at, measurand, "", "", "Sample.Periodic", unit, str(value))


def _chargers() -> Iterator[dict[str, Any]]:
    for i in range(CHARGERS):
        yield {"id": charger_id(i), "registered": True, "timezone": "Europe/Berlin", "heartbeat_interval": 300,
               "connected": False, "created_at": NOW - timedelta(days=400), "vendor": "Bench", "model": "DC-150"}


def _connectors() -> Iterator[dict[str, Any]]:
    for i in range(CHARGERS):
        for connector in (1, 2):
            yield {"charger_id": charger_id(i), "connector_id": connector, "status": "Available",
                   "error_code": "NoError", "status_at": NOW - timedelta(hours=1)}


def _sqlite_time(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _pg_field(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


READING_COLUMNS = ["charger_id", "connector_id", "transaction_id", "timestamp", "measurand", "phase", "location",
                   "context", "unit", "value"]


Rows = Iterator[tuple[Any, ...]]


def _with_defaults(table: Any, columns: list[str], rows: Rows) -> tuple[list[str], Rows]:
    """Add the Python-side defaults of columns we do not set (bulk loads bypass them; the schema keeps growing)."""
    import json

    extra: dict[str, Any] = {}
    for column in table.columns:
        if column.name in columns or column.default is None:
            continue
        value = column.default.arg(None) if column.default.is_callable else column.default.arg
        extra[column.name] = json.dumps(value) if isinstance(value, (list, dict)) else value
    tail = tuple(extra.values())
    return columns + list(extra), (row + tail for row in rows)


def generate(url: str, sessions: int) -> list[tuple[int, str, datetime]]:
    """Fill an empty database at ``url``; returns the sessions that got meter readings."""
    from sqlalchemy import insert

    from chargewatch.store import schema
    from chargewatch.store.database import create_single_use_engine, migrate

    migrate(url)
    engine = create_single_use_engine(url)
    rng = random.Random(5)
    detailed_ids = set(rng.sample(range(1, sessions + 1), DETAILED))
    detailed: list[tuple[int, str, datetime]] = []
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        connection.execute(insert(schema.chargers), list(_chargers()))
        connection.execute(insert(schema.connectors), list(_connectors()))
        readings: list[tuple[Any, ...]] = []
        if postgres:
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            columns, rows = _with_defaults(schema.sessions, SESSION_COLUMNS, _sessions(sessions))
            with cursor.copy(f"COPY sessions ({', '.join(columns)}) FROM STDIN") as copy:
                chunk: list[str] = []
                for row in rows:
                    chunk.append("\t".join(_pg_field(v) for v in row))
                    if row[0] in detailed_ids:
                        detailed.append((row[0], row[1], row[5]))
                        readings.extend(_readings(row[0], row[1], row[5]))
                    if len(chunk) >= 20_000:
                        copy.write("\n".join(chunk) + "\n")
                        chunk = []
                if chunk:
                    copy.write("\n".join(chunk) + "\n")
            columns, rows = _with_defaults(schema.meter_readings, READING_COLUMNS, iter(readings))
            with cursor.copy(f"COPY meter_readings ({', '.join(columns)}) FROM STDIN") as copy:
                copy.write("".join("\t".join(_pg_field(v) for v in r) + "\n" for r in rows))
        else:
            columns, rows = _with_defaults(schema.sessions, SESSION_COLUMNS, _sessions(sessions))
            statement = f"INSERT INTO sessions ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                if row[0] in detailed_ids:
                    detailed.append((row[0], row[1], row[5]))
                    readings.extend(_readings(row[0], row[1], row[5]))
                batch.append(tuple(_sqlite_time(v) if isinstance(v, datetime) else v for v in row))
                if len(batch) >= 50_000:
                    connection.exec_driver_sql(statement, batch)
                    batch = []
            if batch:
                connection.exec_driver_sql(statement, batch)
            columns, rows = _with_defaults(schema.meter_readings, READING_COLUMNS, iter(readings))
            connection.exec_driver_sql(
                f"INSERT INTO meter_readings ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                [tuple(_sqlite_time(v) if isinstance(v, datetime) else v for v in r) for r in rows],
            )
    with engine.connect() as connection:
        connection.execute(text("ANALYZE"))
        connection.commit()
    engine.dispose()
    return detailed


def cached_sqlite(sessions: int) -> tuple[str, list[tuple[int, str, datetime]], float]:
    """The SQLite file for ``sessions`` rows (generated once); returns URL, detailed sessions, seconds spent."""
    cache = BENCH / ".cache"
    cache.mkdir(exist_ok=True)
    path = cache / f"queries-{sessions}-v{DATA_VERSION}.db"
    began = time.perf_counter()
    if not path.exists():
        partial = path.with_suffix(".partial")
        for leftover in cache.glob(partial.name + "*"):
            leftover.unlink()
        generate(f"sqlite:///{partial}", sessions)
        shutil.move(partial, path)
    detailed = [(tx, c, s) for tx, c, s, *_ in _detailed_from(f"sqlite:///{path}")]
    return f"sqlite:///{path}", detailed, time.perf_counter() - began


def _detailed_from(url: str) -> list[tuple[Any, ...]]:
    from chargewatch.store.database import create_single_use_engine

    engine = create_single_use_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT DISTINCT transaction_id, charger_id, timestamp FROM meter_readings ORDER BY transaction_id"
        )).all()
    engine.dispose()
    seen: dict[int, tuple[Any, ...]] = {}
    for row in rows:
        seen.setdefault(row[0], tuple(row))
    return list(seen.values())


@dataclass
class QueryResult:
    engine: str
    sessions: int
    query: str
    p50_ms: float
    p95_ms: float
    requests: int

    def row(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _cursor_for(client: httpx.Client, url_base: str, rng: random.Random, sessions: int) -> str:
    from chargewatch.api.app import _encode_cursor

    # Transaction ids rise with start time, so a random id in the middle is a page deep in the list.
    transaction_id = rng.randrange(sessions // 4, 3 * sessions // 4)
    detail = client.get(f"{url_base}/api/v1/sessions/{transaction_id}").json()
    return _encode_cursor(datetime.fromisoformat(detail["started_at"]), transaction_id)


def measure(engine_name: str, url: str, sessions: int, detailed: list[tuple[int, str, datetime]],
            repeat: int) -> list[QueryResult]:
    rng = random.Random(3)
    results = []
    # Without the domain workers: on generated history they would start catching up (pricing a year of sessions)
    # and measure that instead of the queries.
    with server("chargewatch", url, workers=False) as srv, httpx.Client(timeout=60) as client:
        base = f"http://127.0.0.1:{srv.http_port}"
        cursors = [_cursor_for(client, base, rng, sessions) for _ in range(repeat)]
        queries: dict[str, list[str]] = {
            "sessions: first page": ["/api/v1/sessions"] * repeat,
            "sessions: by charger": [f"/api/v1/sessions?charger_id={charger_id(rng.randrange(CHARGERS))}"
                                     for _ in range(repeat)],
            "sessions: status=active": ["/api/v1/sessions?status=active"] * repeat,
            "sessions: cursor page deep in": [f"/api/v1/sessions?cursor={c}" for c in cursors],
            "session detail (+60 readings)": [f"/api/v1/sessions/{rng.choice(detailed)[0]}" for _ in range(repeat)],
            # Paged since issue 15 (the unpaged list of all 2,000 took 323 ms p95): bench/chargers_list.py compares.
            "chargers: first page (100)": ["/api/v1/chargers"] * repeat,
            "chargers: page of 500": ["/api/v1/chargers?limit=500"] * repeat,
        }
        for name, paths in queries.items():
            client.get(base + paths[0]).raise_for_status()  # warm the caches, as a dashboard in use has them
            timings = []
            for path in paths:
                began = time.perf_counter()
                response = client.get(base + path)
                timings.append(time.perf_counter() - began)
                response.raise_for_status()
            timings.sort()
            results.append(QueryResult(engine_name, sessions, name, percentile(timings, 0.5) * 1000,
                                       percentile(timings, 0.95) * 1000, len(timings)))
    return results
