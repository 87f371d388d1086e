"""Run every benchmark on loopback and print one table (also written to bench/results/latest.json).

    python bench/run.py            the full run (under 10 minutes on a 2-core machine)
    python bench/run.py --quick    a ~1-minute smoke run with smaller numbers
    python bench/run.py --only ingest,connections,pricing,queries

Every server under test runs in its own process; load comes from separate processes that report their own
CPU time, so the table shows whether the load generator kept up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import connections  # noqa: E402
import harness  # noqa: E402
import ingest  # noqa: E402
import pricing  # noqa: E402
import queries  # noqa: E402

RESULTS = harness.BENCH / "results"
TARGETS = {
    "ingest_vs_baseline": 3.0,  # chargewatch (durable) / ocpp-library baseline, same run
    "ingest_vs_ceiling": 0.6,  # chargewatch (durable) / bare WebSocket server, same run
    "connections": 20_000,
    "rss_per_connection_kb": 30.0,
    "pricing_sessions_per_s": 20_000,
    "query_p95_ms": 100.0,
}


@dataclass(frozen=True)
class Plan:
    ingest_chargers: tuple[int, ...]
    ingest_warm: float
    ingest_seconds: float
    plateaus: tuple[int, ...]
    hold: float
    connection_processes: int
    pricing_seconds: float
    query_sessions: int
    query_repeat: int
    setup_timeout: float  # seconds for the ingest fleet to connect, boot and start its transactions


FULL = Plan((100, 1000), 3, 6, (10_000, 20_000), 12, 4, 2.0, 1_000_000, 50, 25)
QUICK = Plan((100,), 2, 4, (1_000, 2_000), 5, 2, 0.5, 100_000, 20, 20)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_ingest(plan: Plan, postgres: bool) -> list[dict[str, Any]]:
    rows = []
    for chargers in plan.ingest_chargers:
        processes = 1 if chargers <= 100 else 2
        # (name, server kind, engine, domain workers, OCPP version of the chargers)
        targets: list[tuple[str, str, str | None, bool, str]] = [
            ("ceiling", "ceiling", None, True, "1.6"), ("ocpp-lib baseline", "baseline", None, True, "1.6"),
            ("chargewatch sqlite", "chargewatch", "sqlite", True, "1.6"),
        ]
        if postgres:
            targets.append(("chargewatch postgresql", "chargewatch", "postgresql", True, "1.6"))
        targets.append(("cw sqlite, gateway only", "chargewatch", "sqlite", False, "1.6"))
        # 2.0.1 TransactionEvent Updated beside them: the same durable servers, the ocpp library's v201 baseline.
        targets += [("ocpp-lib baseline 2.0.1", "baseline201", None, True, "2.0.1"),
                    ("chargewatch sqlite 2.0.1", "chargewatch", "sqlite", True, "2.0.1")]
        if postgres:
            targets.append(("chargewatch postgresql 2.0.1", "chargewatch", "postgresql", True, "2.0.1"))
        by_target = {}
        for name, kind, engine, workers, version in targets:
            log(f"ingest: {chargers} chargers → {name}")
            with tempfile.TemporaryDirectory(prefix="cw-bench-") as scratch:
                if engine == "postgresql":
                    with harness.scratch_postgres("cw_bench_ingest") as url:
                        result = ingest.run_ingest(name, kind, url, chargers, processes=processes,
                                                   warm=plan.ingest_warm, measure=plan.ingest_seconds,
                                                   setup_timeout=plan.setup_timeout, version=version)
                else:
                    url = f"sqlite:///{scratch}/chargewatch.db" if engine else None
                    result = ingest.run_ingest(name, kind, url, chargers, processes=processes,
                                               warm=plan.ingest_warm, measure=plan.ingest_seconds, workers=workers,
                                               setup_timeout=plan.setup_timeout, version=version)
            by_target[name] = result.row()
        baselines = {"1.6": "ocpp-lib baseline", "2.0.1": "ocpp-lib baseline 2.0.1"}
        for row in by_target.values():
            row["vs_baseline"] = row["messages_per_s"] / by_target[baselines[row["version"]]]["messages_per_s"]
            row["vs_ceiling"] = row["messages_per_s"] / by_target["ceiling"]["messages_per_s"]
            rows.append(row)
    return rows


def run_connections(plan: Plan) -> dict[str, Any]:
    ceiling = connections.connection_ceiling()
    plateaus = [min(p, ceiling) for p in plan.plateaus]
    log(f"connections: ramp to {', '.join(f'{p:,}' for p in plateaus)} idle chargers"
        + (f" (one process may hold {ceiling:,} here: RLIMIT_NOFILE)" if ceiling < max(plan.plateaus) else ""))
    with tempfile.TemporaryDirectory(prefix="cw-bench-") as scratch:
        # Gateway only: the fault detector re-examines every charger on every event (O(n) per message), which at
        # 1,000 idle chargers already pushes heartbeat p99 to seconds; see bench/README.md.
        idle_mb, plateaus = connections.run_connections(
            f"sqlite:///{scratch}/chargewatch.db", list(plan.plateaus), processes=plan.connection_processes,
            hold=plan.hold, workers=False)
    return {"server_idle_rss_mb": idle_mb, "plateaus": [p.row() for p in plateaus], "hold_seconds": plan.hold,
            "load_processes": plan.connection_processes, "planned": list(plan.plateaus), "fd_ceiling": ceiling}


def run_pricing(plan: Plan) -> dict[str, Any]:
    log("pricing")
    return pricing.run(plan.pricing_seconds)


def run_queries(plan: Plan, postgres: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"sessions": plan.query_sessions, "results": []}
    log(f"queries: SQLite with {plan.query_sessions:,} sessions (cached under bench/.cache/)")
    url, detailed, seconds = queries.cached_sqlite(plan.query_sessions)
    out["sqlite_prepare_seconds"] = seconds
    out["results"] += [r.row() for r in queries.measure("sqlite", url, plan.query_sessions, detailed,
                                                        plan.query_repeat)]
    if postgres:
        log(f"queries: PostgreSQL with {plan.query_sessions:,} sessions (COPY into a fresh database)")
        with harness.scratch_postgres("cw_bench_queries") as pg:
            began = time.perf_counter()
            detailed = queries.generate(pg, plan.query_sessions)
            out["postgresql_prepare_seconds"] = time.perf_counter() - began
            out["results"] += [r.row() for r in queries.measure("postgresql", pg, plan.query_sessions, detailed,
                                                                plan.query_repeat)]
    return out


def _machine() -> dict[str, Any]:
    with open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    with open("/proc/meminfo") as f:
        memory_kb = int(f.readline().split()[1])
    return {"cpu": model, "cores": os.cpu_count(), "memory_gib": round(memory_kb / 2**20, 1),
            "python": platform.python_version(), "system": platform.platform(),
            "load_average_before": os.getloadavg()}


def _mark(ok: bool) -> str:
    return "ok" if ok else "MISS"


def table(results: dict[str, Any]) -> str:
    lines = []
    add = lines.append
    if "ingest" in results:
        add("INGEST  1.6 MeterValues / 2.0.1 TransactionEvent Updated back to back, one outstanding CALL per charger")
        add(f"{'target':<30}{'chargers':>9}{'msg/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'vs base':>9}{'vs ceil':>9}"
            f"{'srv cpu':>9}{'db cpu':>8}{'µs/msg':>8}{'load cpu':>10}{'busy':>6}")
        for r in results["ingest"]:
            chargers = f"{r['chargers']:,}" if r["chargers_connected"] == r["chargers"] else (
                f"{r['chargers_connected']}/{r['chargers']}")
            add(f"{r['target']:<30}{chargers:>9}{r['messages_per_s']:>9,.0f}{r['p50_ms']:>9.1f}"
                f"{r['p99_ms']:>9.1f}{r['vs_baseline']:>8.2f}x{r['vs_ceiling']:>8.2f}x{r['server_cpu']:>9.2f}"
                f"{r['database_cpu']:>8.2f}{r['cpu_us_per_message']:>8,.0f}"
                f"{r['loadgen_cpu']:>6.2f}/{r['loadgen_processes']}p{r['machine_busy']:>6.0%}")
        add("  cpu columns: cores used in the measured window (server process, PostgreSQL processes, all load"
            " processes / their count); µs/msg: server + PostgreSQL CPU per answered message; busy: whole machine")
        add("  vs base: against the ocpp library's central system of the same version (in memory, nothing durable)")
        add("  chargewatch rows run the server as `chargewatch serve` does (domain workers installed); 'gateway only'"
            " runs it without them; a/b chargers: only a connected within the set-up deadline")
        add("")
    if "connections" in results:
        c = results["connections"]
        add(f"CONNECTIONS  idle chargers (Boot, Heartbeat/60 s, some StatusNotification), chargewatch gateway only"
            f" (no domain workers) on SQLite; server RSS with no charger {c['server_idle_rss_mb']:.0f} MB")
        if c["fd_ceiling"] < max(c["planned"]):
            add(f"  capped at {c['fd_ceiling']:,}: the hard RLIMIT_NOFILE of a process here is {c['fd_ceiling'] + 64:,}"
                " and cannot be raised without CAP_SYS_RESOURCE")
        add(f"{'connected':>10}{'failed':>8}{'ramp s':>8}{'RSS MB':>8}{'KB/conn':>9}{'heartbeats':>11}"
            f"{'hb p50 ms':>10}{'hb p99 ms':>10}{'srv cpu':>9}")
        for p in c["plateaus"]:
            add(f"{p['connections']:>10,}{p['connect_failures']:>8}{p['ramp_seconds']:>8.1f}{p['rss_mb']:>8.0f}"
                f"{p['rss_per_connection_kb']:>9.1f}{p['heartbeats']:>11,}{p['heartbeat_p50_ms']:>10.1f}"
                f"{p['heartbeat_p99_ms']:>10.1f}{p['server_cpu']:>9.2f}")
        add("")
    if "pricing" in results:
        p = results["pricing"]
        add(f"PRICING  {p['mean_periods']:.1f} periods per session, one core: engine "
            f"{p['engine_sessions_per_s']:,.0f} sessions/s, naive baseline {p['baseline_sessions_per_s']:,.0f}"
            f" ({p['speedup']:.1f}x)")
        add("")
    if "queries" in results:
        q = results["queries"]
        add(f"QUERIES  HTTP API, {q['sessions']:,} sessions over 2,000 chargers and a year")
        add(f"{'query':<34}{'engine':<12}{'p50 ms':>9}{'p95 ms':>9}{'requests':>9}")
        for r in q["results"]:
            add(f"{r['query']:<34}{r['engine']:<12}{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}{r['requests']:>9}")
        add("")
    if results.get("targets"):
        add("TARGETS")
        for name, (value, target, ok) in results["targets"].items():
            add(f"  {_mark(ok):<5}{name:<56}{value:>12}  (target {target})")
    return "\n".join(lines)


def evaluate(results: dict[str, Any]) -> dict[str, tuple[str, str, bool]]:
    checks: dict[str, tuple[str, str, bool]] = {}
    for r in results.get("ingest", []):
        if r["target"].startswith("chargewatch"):  # as shipped; the gateway-only row is a diagnosis
            key = f"{r['target']} {r['chargers']:,}"
            checks[f"ingest {key} vs baseline"] = (f"{r['vs_baseline']:.2f}x", "≥ 3x",
                                                   r["vs_baseline"] >= TARGETS["ingest_vs_baseline"])
            checks[f"ingest {key} vs ceiling"] = (f"{r['vs_ceiling']:.2f}x", "≥ 0.6x",
                                                  r["vs_ceiling"] >= TARGETS["ingest_vs_ceiling"])
    if "connections" in results:
        last = results["connections"]["plateaus"][-1]
        if max(results["connections"]["planned"]) >= TARGETS["connections"]:  # not in a --quick run
            held = last["connections"]
            checks["connections held (one server process)"] = (
                f"{held:,}", f"{TARGETS['connections']:,}", held >= TARGETS["connections"])
        checks["RSS per idle connection"] = (f"{last['rss_per_connection_kb']:.1f} KB", "≤ 30 KB",
                                             last["rss_per_connection_kb"] <= TARGETS["rss_per_connection_kb"])
    if "pricing" in results:
        value = results["pricing"]["engine_sessions_per_s"]
        checks["pricing"] = (f"{value:,.0f}/s", "≥ 20,000/s", value >= TARGETS["pricing_sessions_per_s"])
    if "queries" in results:
        for r in results["queries"]["results"]:
            checks[f"p95 {r['query']} ({r['engine']})"] = (f"{r['p95_ms']:.1f} ms", "≤ 100 ms",
                                                          r["p95_ms"] <= TARGETS["query_p95_ms"])
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a ~1-minute smoke run with smaller numbers")
    parser.add_argument("--only", default="ingest,connections,pricing,queries",
                        help="comma-separated subset of: ingest, connections, pricing, queries")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    only = set(args.only.split(","))
    from wire import raise_fd_limit

    raise_fd_limit(100_000)
    postgres = harness.postgres_available()
    if not postgres:
        log(f"PostgreSQL not reachable at {harness.PG_ADMIN_URL}: its rows are skipped (CHARGEWATCH_BENCH_PG)")
    began = time.perf_counter()
    results: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                               "mode": "quick" if args.quick else "full", "machine": _machine(), "plan": plan.__dict__}
    if "ingest" in only:
        results["ingest"] = run_ingest(plan, postgres)
    if "connections" in only:
        results["connections"] = run_connections(plan)
    if "pricing" in only:
        results["pricing"] = run_pricing(plan)
    if "queries" in only:
        results["queries"] = run_queries(plan, postgres)
    results["targets"] = evaluate(results)
    results["seconds"] = time.perf_counter() - began
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(table(results))
    shown = args.output.relative_to(harness.ROOT) if args.output.is_relative_to(harness.ROOT) else args.output
    print(f"\n{results['mode']} run in {results['seconds']:.0f} s on {results['machine']['cores']} cores "
          f"(load average before: {results['machine']['load_average_before'][0]:.1f}); JSON in {shown}")


if __name__ == "__main__":
    main()
