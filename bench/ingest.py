"""Ingest: N chargers each sending meter readings back to back (one outstanding CALL per connection, as OCPP-J
requires) for a fixed time, against one server. Load comes from separate processes that report their CPU.

Every charger first boots and starts a transaction, then sends readings for that transaction with a fresh
timestamp and a rising energy register each time (three sampled values: energy, power, SoC), so every
message is new data for the server, never a replay it could skip. In OCPP 1.6 that is MeterValues after
StartTransaction; in 2.0.1 (``version="2.0.1"``) TransactionEvent Updated with the next seqNo after a Started
event, the same three sampled values in 2.0.1 words (numbers, unitOfMeasure).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from harness import cpu_seconds, machine_busy, percentile, postgres_cpu_seconds, server
from wire import ChargerWire, open_charger, raise_fd_limit, text_frame

HOST = "127.0.0.1"
BOOT = b'[2,"b","BootNotification",{"chargePointVendor":"Bench","chargePointModel":"Load-1"}]'
START = b'[2,"s","StartTransaction",{"connectorId":1,"idTag":"BENCH","meterStart":1000,"timestamp":"%s"}]'
METER = (
    b'[2,"%d","MeterValues",{"connectorId":1,"transactionId":%d,"meterValue":[{"timestamp":"%s","sampledValue":['
    b'{"value":"%d","context":"Sample.Periodic","measurand":"Energy.Active.Import.Register","unit":"Wh"},'
    b'{"value":"%d","context":"Sample.Periodic","measurand":"Power.Active.Import","unit":"W"},'
    b'{"value":"%d","context":"Sample.Periodic","measurand":"SoC","unit":"Percent"}]}]}]'
)


BOOT_201 = (b'[2,"b","BootNotification",{"reason":"PowerUp","chargingStation":{"vendorName":"Bench",'
            b'"model":"Load-1"}}]')
STARTED_201 = (
    b'[2,"s","TransactionEvent",{"eventType":"Started","timestamp":"%s","triggerReason":"Authorized","seqNo":0,'
    b'"transactionInfo":{"transactionId":"%s","chargingState":"Charging"},"evse":{"id":1,"connectorId":1},'
    b'"idToken":{"idToken":"BENCH","type":"ISO14443"},"meterValue":[{"timestamp":"%s","sampledValue":['
    b'{"value":1000,"context":"Transaction.Begin","measurand":"Energy.Active.Import.Register"}]}]}]'
)
UPDATED_201 = (
    b'[2,"%d","TransactionEvent",{"eventType":"Updated","timestamp":"%s","triggerReason":"MeterValuePeriodic",'
    b'"seqNo":%d,"transactionInfo":{"transactionId":"%s","chargingState":"Charging"},"meterValue":[{"timestamp":"%s",'
    b'"sampledValue":[{"value":%d,"context":"Sample.Periodic","measurand":"Energy.Active.Import.Register",'
    b'"unitOfMeasure":{"unit":"Wh"}},'
    b'{"value":%d,"context":"Sample.Periodic","measurand":"Power.Active.Import","unitOfMeasure":{"unit":"W"}},'
    b'{"value":%d,"context":"Sample.Periodic","measurand":"SoC","unitOfMeasure":{"unit":"Percent"}}]}]}]'
)


@dataclass(frozen=True)
class Frames:
    """What one OCPP version sends: the subprotocol, boot, the start of the transaction (with the reference the
    readings name) and reading number ``seq``."""

    subprotocol: str
    boot: bytes
    start: Callable[[str, bytes], tuple[bytes, bytes]]  # (charger id, stamp) → (frame, 2.0.1 reference or b"")
    reading: Callable[[int, int | bytes, bytes], bytes]  # (seq, transaction id or reference, stamp) → frame


def _meter_16(seq: int, transaction: int | bytes, stamp: bytes) -> bytes:
    return METER % (seq, transaction, stamp, 1000 + 10 * seq, 7000 + seq % 400, min(99, 20 + seq // 500))


def _updated_201(seq: int, transaction: int | bytes, stamp: bytes) -> bytes:
    return UPDATED_201 % (seq, stamp, seq, transaction, stamp, 1000 + 10 * seq, 7000 + seq % 400,
                          min(99, 20 + seq // 500))


FRAMES = {
    "1.6": Frames("ocpp1.6", BOOT, lambda charger_id, stamp: (START % stamp, b""), _meter_16),
    "2.0.1": Frames("ocpp2.0.1", BOOT_201, lambda charger_id, stamp: (
        STARTED_201 % (stamp, b"tx-" + charger_id.encode(), stamp), b"tx-" + charger_id.encode()), _updated_201),
}


def _stamp(epoch: float) -> bytes:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)).encode()


def _transaction_id(answer: bytes) -> int:
    marker = answer.find(b'"transactionId":')
    if marker < 0:
        return 1  # the ceiling server answers {} to everything
    tail = answer[marker + 16:].lstrip()
    digits = bytearray()
    for byte in tail:
        if 48 <= byte <= 57:
            digits.append(byte)
        else:
            break
    return int(digits)


async def _ingest(pipe: Connection, port: int, charger_ids: list[str], warm: float, measure: float,
                  source: str, setup_timeout: float, version: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    started_epoch = time.time() - 86400  # samples are a day old and one second apart
    gate = asyncio.Semaphore(64)
    frames = FRAMES[version]

    async def setup(charger_id: str) -> tuple[ChargerWire, int | bytes]:
        async with gate:
            wire = await open_charger(HOST, port, charger_id, source=source, subprotocol=frames.subprotocol)
            await wire.call(text_frame(frames.boot))
            start, reference = frames.start(charger_id, _stamp(started_epoch - 60))
            answer = await wire.call(text_frame(start))
            return wire, reference or _transaction_id(answer)

    # A server that cannot take the fleet on in time is measured with the chargers it did take on.
    tasks = [asyncio.ensure_future(setup(c)) for c in charger_ids]
    done, pending = await asyncio.wait(tasks, timeout=setup_timeout)
    for task in pending:
        task.cancel()
    chargers = [t.result() for t in done if t.exception() is None]
    pipe.send(("ready", len(chargers)))
    begin = await loop.run_in_executor(None, pipe.recv)
    warm_until, end = begin + warm, begin + warm + measure
    latencies = array("d")
    errors = [0]
    cpu: dict[str, float] = {}

    async def drive(wire: ChargerWire, transaction: int | bytes) -> None:
        seq = 0
        while True:
            sent = time.perf_counter()
            if sent >= end:
                return
            seq += 1
            frame = text_frame(frames.reading(seq, transaction, _stamp(started_epoch + seq)))
            answer = await wire.call(frame)
            if sent >= warm_until:
                latencies.append(wire.latency)
                if answer[1:2] != b"3":
                    errors[0] += 1

    async def mark_cpu() -> None:
        await asyncio.sleep(max(0.0, warm_until - time.perf_counter()))
        cpu["start"] = time.process_time()
        await asyncio.sleep(max(0.0, end - time.perf_counter()))
        cpu["end"] = time.process_time()

    await asyncio.sleep(max(0.0, begin - time.perf_counter()))
    await asyncio.gather(mark_cpu(), *(drive(w, tx) for w, tx in chargers))
    for wire, _ in chargers:
        wire.close()
    return {"answered": len(latencies), "errors": errors[0], "latencies": latencies.tobytes(),
            "chargers": len(chargers), "cpu_seconds": cpu["end"] - cpu["start"]}


def _worker(pipe: Connection, port: int, charger_ids: list[str], warm: float, measure: float, source: str,
            setup_timeout: float, version: str) -> None:
    raise_fd_limit()
    try:
        result = asyncio.run(_ingest(pipe, port, charger_ids, warm, measure, source, setup_timeout, version))
        pipe.send(("done", result))
    except Exception as exc:  # noqa: BLE001 - report, do not hang the parent
        pipe.send(("error", repr(exc)))


@dataclass
class IngestResult:
    target: str
    chargers: int
    chargers_connected: int  # within the set-up deadline; fewer than `chargers` means the server fell behind
    messages_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_cpu: float  # fraction of one core, over the measured window
    database_cpu: float  # PostgreSQL processes, fraction of one core
    loadgen_cpu: float  # all load processes together, fraction of one core
    loadgen_processes: int
    machine_busy: float  # fraction of all cores
    version: str = "1.6"  # the OCPP version the chargers speak

    @property
    def cpu_us_per_message(self) -> float:
        """Server (and PostgreSQL) CPU per answered message, in microseconds."""
        return (self.server_cpu + self.database_cpu) / max(1e-9, self.messages_per_s) * 1e6

    def row(self) -> dict[str, Any]:
        return {**self.__dict__, "cpu_us_per_message": self.cpu_us_per_message}


def run_ingest(target: str, kind: str, db: str | None, chargers: int, *, processes: int, warm: float,
               measure: float, workers: bool = True, setup_timeout: float = 45, version: str = "1.6") -> IngestResult:
    context = mp.get_context("spawn")
    ids = [f"ingest-{version.replace('.', '')}-{chargers}-{i:05d}" for i in range(chargers)]
    with server(kind, db, workers=workers) as srv:
        pipes, loaders = [], []
        for p in range(processes):
            parent, child = context.Pipe()
            worker = context.Process(target=_worker, args=(child, srv.ocpp_port, ids[p::processes], warm, measure,
                                                           f"127.0.0.{2 + p}", setup_timeout, version), daemon=True)
            worker.start()
            pipes.append(parent)
            loaders.append(worker)
        for pipe in pipes:
            status, value = pipe.recv()
            if status != "ready":
                raise RuntimeError(f"load generator failed during set-up: {value}")
        begin = time.perf_counter() + 0.2
        for pipe in pipes:
            pipe.send(begin)
        time.sleep(max(0.0, begin + warm - time.perf_counter()))
        server_before, pg_before, busy_before = cpu_seconds(srv.pid), postgres_cpu_seconds(), machine_busy()
        time.sleep(max(0.0, begin + warm + measure - time.perf_counter()))
        server_after, pg_after, busy_after = cpu_seconds(srv.pid), postgres_cpu_seconds(), machine_busy()
        results = []
        for pipe in pipes:
            status, value = pipe.recv()
            if status != "done":
                raise RuntimeError(f"load generator failed: {value}")
            results.append(value)
        for worker in loaders:
            worker.join(10)
    latencies = array("d")
    for r in results:
        latencies.frombytes(r["latencies"])
    ordered = sorted(latencies)
    busy = (busy_after[0] - busy_before[0]) / max(1e-9, busy_after[1] - busy_before[1])
    return IngestResult(
        target=target, chargers=chargers, chargers_connected=sum(r["chargers"] for r in results),
        messages_per_s=len(ordered) / measure,
        p50_ms=percentile(ordered, 0.50) * 1000, p99_ms=percentile(ordered, 0.99) * 1000,
        errors=sum(r["errors"] for r in results),
        server_cpu=(server_after - server_before) / measure,
        database_cpu=(pg_after - pg_before) / measure if kind == "chargewatch" and db and "postgresql" in db else 0.0,
        loadgen_cpu=sum(r["cpu_seconds"] for r in results) / measure,
        loadgen_processes=processes, machine_busy=busy, version=version,
    )
