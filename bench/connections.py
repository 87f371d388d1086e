"""Connections: ramp idle chargers up to each plateau (10,000 then 20,000) against chargewatch, then hold.

An idle charger does what a real one does between sessions: BootNotification and a StatusNotification on
connect, a Heartbeat every 60 s (first one at a random moment, so the fleet's heartbeats are spread out),
and now and then (one heartbeat in ten) a StatusNotification. We report the server's RSS growth per
connection and the latency of the heartbeats answered during each hold.

Connections come from several load processes, each with its own loopback source address (127.0.0.2, .3 …),
so no single source address runs out of its ~28k ephemeral ports.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing as mp
import random
import time
from array import array
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from harness import cpu_seconds, percentile, rss_bytes, server
from wire import ChargerWire, open_charger, raise_fd_limit, text_frame

HOST = "127.0.0.1"
HEARTBEAT_EVERY = 60.0
BOOT = text_frame(b'[2,"b","BootNotification",{"chargePointVendor":"Bench","chargePointModel":"Idle-1"}]')
HEARTBEAT = text_frame(b'[2,"h","Heartbeat",{}]')
STATUS = b'[2,"s","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"%s","timestamp":"%s"}]'


def _status_frame() -> bytes:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()).encode()
    return text_frame(STATUS % (random.choice((b"Available", b"Preparing", b"Available")), stamp))


async def _idle_fleet(pipe: Connection, port: int, prefix: str, source: str) -> None:
    loop = asyncio.get_running_loop()
    wires: list[ChargerWire] = []
    tasks: list[asyncio.Task[None]] = []
    heartbeats = array("d")
    failures = [0]
    gate = asyncio.Semaphore(100)

    async def idle(wire: ChargerWire) -> None:
        await asyncio.sleep(random.uniform(0, HEARTBEAT_EVERY))
        while True:
            try:
                await wire.call(HEARTBEAT)
                heartbeats.append(wire.latency)
                if random.random() < 0.1:
                    await wire.call(_status_frame())
            except ConnectionError:
                failures[0] += 1
                return
            await asyncio.sleep(HEARTBEAT_EVERY)

    async def connect(charger_id: str) -> None:
        async with gate:
            try:
                wire = await open_charger(HOST, port, charger_id, source=source, timeout=60)
                await asyncio.wait_for(wire.call(BOOT), 60)
                await asyncio.wait_for(wire.call(_status_frame()), 60)
            except (ConnectionError, OSError, TimeoutError):
                failures[0] += 1
                return
        wires.append(wire)
        tasks.append(asyncio.create_task(idle(wire)))

    while True:
        command, value = await loop.run_in_executor(None, pipe.recv)
        if command == "open":
            first, count = value
            began = time.perf_counter()
            await asyncio.gather(*(connect(f"{prefix}-{i:06d}") for i in range(first, first + count)))
            pipe.send({"connected": len(wires), "failures": failures[0], "seconds": time.perf_counter() - began})
        elif command == "heartbeats":
            pipe.send({"latencies": heartbeats.tobytes(), "failures": failures[0]})
            del heartbeats[:]
        else:
            for task in tasks:
                task.cancel()
            for wire in wires:
                wire.close()
            await asyncio.sleep(0.5)
            pipe.send({"closed": len(wires)})
            return


def _worker(pipe: Connection, port: int, prefix: str, source: str) -> None:
    raise_fd_limit(100_000)
    gc.disable()  # the fleet only accumulates; collections of 10k live connections would stall heartbeats
    asyncio.run(_idle_fleet(pipe, port, prefix, source))


@dataclass
class Plateau:
    connections: int
    ramp_seconds: float
    connect_failures: int
    rss_mb: float
    rss_per_connection_kb: float
    heartbeats: int
    heartbeat_p50_ms: float
    heartbeat_p99_ms: float
    server_cpu: float  # fraction of one core during the hold

    def row(self) -> dict[str, Any]:
        return self.__dict__.copy()


def register_chargers(db: str, charger_ids: list[str]) -> None:
    """Register the fleet up front, as an operator does (unknown chargers would each cost an extra commit)."""
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from chargewatch.store import schema
    from chargewatch.store.database import create_single_use_engine, migrate

    migrate(db)
    engine = create_single_use_engine(db)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(insert(schema.chargers), [
            {"id": charger_id, "registered": True, "timezone": "Europe/Berlin", "heartbeat_interval": 60,
             "connected": False, "created_at": now} for charger_id in charger_ids
        ])
    engine.dispose()


def connection_ceiling() -> int:
    """How many chargers one server process can hold here: its file-descriptor limit less what it needs itself.

    Raising the hard RLIMIT_NOFILE needs CAP_SYS_RESOURCE; a container without it caps a process at its hard
    limit, and past it accept() fails with EMFILE.
    """
    import resource

    raise_fd_limit(100_000)
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 64


def run_connections(db: str, plateaus: list[int], *, processes: int, hold: float,
                    workers: bool = True) -> tuple[float, list[Plateau]]:
    """Returns the server's idle RSS (MB, no chargers) and one result per plateau."""
    context = mp.get_context("spawn")
    plateaus = [min(p, connection_ceiling()) for p in plateaus]
    per_process = plateaus[-1] // processes
    register_chargers(db, [f"idle{p}-{i:06d}" for p in range(processes) for i in range(per_process)])
    results: list[Plateau] = []
    with server("chargewatch", db, workers=workers) as srv:
        pipes, loaders = [], []
        for p in range(processes):
            parent, child = context.Pipe()
            worker = context.Process(target=_worker, args=(child, srv.ocpp_port, f"idle{p}", f"127.0.0.{2 + p}"),
                                     daemon=True)
            worker.start()
            pipes.append(parent)
            loaders.append(worker)
        time.sleep(1.0)
        base_rss = rss_bytes(srv.pid)
        opened = 0
        for target in plateaus:
            share = (target - opened) // processes
            began = time.perf_counter()
            for pipe in pipes:
                pipe.send(("open", (opened // processes, share)))
            statuses = [pipe.recv() for pipe in pipes]
            ramp = time.perf_counter() - began
            opened = target
            for pipe in pipes:  # discard heartbeats measured during the ramp
                pipe.send(("heartbeats", None))
                pipe.recv()
            cpu_before = cpu_seconds(srv.pid)
            time.sleep(hold)
            cpu_after = cpu_seconds(srv.pid)
            latencies = array("d")
            failures = 0
            for pipe in pipes:
                pipe.send(("heartbeats", None))
                answer = pipe.recv()
                latencies.frombytes(answer["latencies"])
                failures = max(failures, answer["failures"])
            connected = sum(s["connected"] for s in statuses)
            rss = rss_bytes(srv.pid)
            ordered = sorted(latencies)
            results.append(Plateau(
                connections=connected, ramp_seconds=ramp, connect_failures=sum(s["failures"] for s in statuses),
                rss_mb=rss / 2**20, rss_per_connection_kb=(rss - base_rss) / max(1, connected) / 1024,
                heartbeats=len(ordered), heartbeat_p50_ms=percentile(ordered, 0.5) * 1000,
                heartbeat_p99_ms=percentile(ordered, 0.99) * 1000, server_cpu=(cpu_after - cpu_before) / hold,
            ))
        for pipe in pipes:
            pipe.send(("close", None))
            pipe.recv()
        for worker in loaders:
            worker.join(10)
    return base_rss / 2**20, results
