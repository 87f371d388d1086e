"""What every benchmark needs: servers in their own processes, their CPU and memory from /proc, scratch databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PG_ADMIN_URL = os.environ.get("CHARGEWATCH_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (threads included)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / _TICKS, sum(values) / _TICKS


def postgres_cpu_seconds() -> float:
    """CPU time of all PostgreSQL server processes (the database's share of an ingest run)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                if f.read().strip() not in ("postgres", "postmaster"):
                    continue
            total += cpu_seconds(int(entry))
        except OSError:
            continue
    return total


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    ocpp_port: int
    http_port: int

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def server(kind: str, db: str | None = None, timeout: float = 120, *, workers: bool = True) -> Iterator[ServerProcess]:
    """Start ``bench/servers.py KIND`` and yield once it listens; SIGTERM it afterwards.

    Its output goes to a log file (a pipe nobody reads would stall it once full); the log's tail is shown if
    it fails to start.
    """
    with tempfile.TemporaryDirectory(prefix="cw-bench-server-") as scratch:
        ready = Path(scratch) / "ready.json"
        log_path = Path(scratch) / "server.log"
        command = [sys.executable, str(BENCH / "servers.py"), kind, "--ready-file", str(ready)]
        command += (["--db", db] if db else []) + ([] if workers else ["--no-workers"])
        with open(log_path, "w") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
            try:
                deadline = time.monotonic() + timeout
                while not ready.exists():
                    if process.poll() is not None or time.monotonic() > deadline:
                        tail = log_path.read_text(errors="replace")[-3000:]
                        raise RuntimeError(f"{kind} server did not start (exit code {process.poll()}):\n{tail}")
                    time.sleep(0.05)
                ports = json.loads(ready.read_text())
                yield ServerProcess(process, ports["ocpp_port"], ports.get("http_port", 0))
            finally:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@contextmanager
def scratch_postgres(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001 - any failure means "skip the PostgreSQL rows"
        return False
