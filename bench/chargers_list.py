"""`GET /api/v1/chargers` at 2,000 chargers (issue 15 item 11): the unpaged list as it was (baseline) against the
cursor-paged list, in the same run, on SQLite and (when reachable) PostgreSQL.

The data: 2,000 chargers with two connectors each, each connector with one physical connector reported by the
device model (evse_connectors), as a 2.0.1 fleet has them.

- in-process rows: the route's work without HTTP — the database reads, the row-to-dict work and the response
  model's validation and JSON encoding, as FastAPI does them. ``before`` is the code as of 4cfbad8 (every charger,
  connectors and EVSE rows by an IN list of 2,000 ids), kept here verbatim as the baseline; ``after`` is the route.
- HTTP rows: the server in its own process (`bench/servers.py`), sequential requests: the first page (100, the
  default), a page of 500 (the most a page holds), and walking all 2,000 by ``next_cursor``.

What the profile showed before the fix: three queries, no N+1; of ~170 ms in-process, ~75 ms was turning 2,000
charger and 4,000 connector rows into dicts and ~100 ms validating and encoding a 1.4 MB answer. A page bounds both.

    .venv/bin/python bench/chargers_list.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from harness import percentile, postgres_available, scratch_postgres, server  # noqa: E402

CHARGERS = 2000
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TARGET_P95_MS = 100.0


def charger_id(index: int) -> str:
    return f"DE*CWT*E{index:05d}"


def generate(url: str) -> None:
    from sqlalchemy import insert

    from chargewatch.store import schema
    from chargewatch.store.database import create_single_use_engine, migrate

    migrate(url)
    engine = create_single_use_engine(url)
    seen = NOW - timedelta(hours=1)
    with engine.begin() as connection:
        connection.execute(insert(schema.chargers), [
            {"id": charger_id(i), "registered": True, "timezone": "Europe/Berlin", "heartbeat_interval": 300,
             "connected": False, "created_at": NOW - timedelta(days=400), "vendor": "Bench", "model": "DC-150",
             "firmware_version": "1.4.2", "ocpp_version": "ocpp2.0.1", "last_seen_at": seen}
            for i in range(CHARGERS)])
        connection.execute(insert(schema.connectors), [
            {"charger_id": charger_id(i), "connector_id": n, "status": "Available", "error_code": "NoError",
             "status_at": seen} for i in range(CHARGERS) for n in (1, 2)])
        connection.execute(insert(schema.evse_connectors), [
            {"charger_id": charger_id(i), "evse_id": n, "connector_id": 1, "status": "Available", "status_at": seen,
             "connector_type": "cCCS2", "max_power_w": 150_000, "reported_at": seen}
            for i in range(CHARGERS) for n in (1, 2)])
    engine.dispose()


def legacy_list(connection: Any) -> list[dict[str, Any]]:
    """`list_chargers` as of 4cfbad8 (api/app.py `_chargers()` and `_with_evse_connectors`), the baseline."""
    from sqlalchemy import select

    from chargewatch.store import reads, schema

    c, k = schema.chargers, schema.connectors
    chargers = [dict(r._mapping) for r in connection.execute(select(c).order_by(c.c.id))]
    ids = [ch["id"] for ch in chargers]
    connectors: dict[str, list[dict[str, Any]]] = {}
    rows = connection.execute(select(k).where(k.c.charger_id.in_(ids)).order_by(k.c.connector_id)).all()
    evses = reads.evse_connectors(connection, sorted({row.charger_id for row in rows}))
    for row in rows:
        connector = dict(row._mapping)
        evse = evses.get((row.charger_id, row.connector_id), {})
        connector["evse_id"] = row.connector_id
        connector["max_power_w"] = row.max_power_w or evse.get("max_power_w")
        connector["evse_connectors"] = evse.get("connectors", [])
        connectors.setdefault(connector["charger_id"], []).append(connector)
    for charger in chargers:
        charger["charger_id"] = charger["id"]
        charger["connectors"] = connectors.get(charger["id"], [])
        charger["connected"] = bool(charger["connected"])
    return chargers


def _timed(work: Callable[[], object], repeat: int) -> tuple[float, float]:
    work()  # warm the caches, as a dashboard in use has them
    timings = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        timings.append(time.perf_counter() - began)
    timings.sort()
    return percentile(timings, 0.5) * 1000, percentile(timings, 0.95) * 1000


def in_process(url: str, repeat: int) -> list[tuple[str, float, float]]:
    from pydantic import TypeAdapter

    from chargewatch.api import models
    from chargewatch.runtime import Chargewatch, ServerOptions

    cw = Chargewatch(ServerOptions(db=url, host="127.0.0.1", ocpp_port=0, http_port=0))
    route = next(r.endpoint for r in cw.app.routes  # type: ignore[attr-defined]
                 if getattr(r, "path", "") == "/api/v1/chargers" and "GET" in getattr(r, "methods", ()))
    unpaged, paged = TypeAdapter(list[models.ChargerOut]), TypeAdapter(models.ChargerPage)

    def before() -> bytes:
        with cw.engine.connect() as connection:
            return unpaged.dump_json(unpaged.validate_python(legacy_list(connection)))

    def after(limit: int) -> Callable[[], bytes]:
        return lambda: paged.dump_json(paged.validate_python(route(limit=limit, cursor=None)))

    rows = [("before: unpaged, all 2,000", *_timed(before, repeat)),
            ("after: first page (100)", *_timed(after(100), repeat)),
            ("after: page of 500", *_timed(after(500), repeat))]
    cw.engine.dispose()
    return rows


def over_http(url: str, repeat: int) -> list[tuple[str, float, float]]:
    with server("chargewatch", url, workers=False) as srv, httpx.Client(timeout=60) as client:
        base = f"http://127.0.0.1:{srv.http_port}/api/v1/chargers"

        def get(params: dict[str, Any]) -> dict[str, Any]:
            response = client.get(base, params=params)
            response.raise_for_status()
            return response.json()

        def walk() -> None:
            body = get({"limit": 500})
            count = len(body["items"])
            while body["next_cursor"]:
                body = get({"limit": 500, "cursor": body["next_cursor"]})
                count += len(body["items"])
            assert count == CHARGERS, count

        return [("HTTP: first page (100)", *_timed(lambda: get({}), repeat)),
                ("HTTP: page of 500", *_timed(lambda: get({"limit": 500}), repeat)),
                ("HTTP: all 2,000, 4 pages of 500", *_timed(walk, repeat))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    import tempfile

    results: list[tuple[str, str, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="cw-bench-chargers-") as scratch:
        url = f"sqlite:///{scratch}/chargewatch.db"
        generate(url)
        results += [("sqlite", *row) for row in in_process(url, args.repeat) + over_http(url, args.repeat)]
    if postgres_available():
        with scratch_postgres("cw_bench_chargers") as url:
            generate(url)
            results += [("postgresql", *row) for row in in_process(url, args.repeat) + over_http(url, args.repeat)]
    else:
        print("PostgreSQL not reachable: its rows are skipped (CHARGEWATCH_BENCH_PG)")
    print(f"CHARGERS LIST  GET /api/v1/chargers, {CHARGERS:,} chargers x 2 connectors, {args.repeat} requests each")
    print(f"{'case':<36}{'engine':<12}{'p50 ms':>9}{'p95 ms':>9}{'vs before':>11}")
    for engine in dict.fromkeys(r[0] for r in results):
        rows = [r for r in results if r[0] == engine]
        baseline = rows[0][3]
        for _, case, p50, p95 in rows:
            mark = "" if case.startswith("before") or case.startswith("HTTP: all") else (
                "  ok" if p95 <= TARGET_P95_MS else "  MISS")
            print(f"{case:<36}{engine:<12}{p50:>9.1f}{p95:>9.1f}{baseline / p95:>10.1f}x{mark}")
    print(f"  ok/MISS: one request's p95 against the {TARGET_P95_MS:.0f} ms target; 'before' is the unpaged list "
          "of 4cfbad8 measured in this run; the walk is 4 requests")


if __name__ == "__main__":
    main()
