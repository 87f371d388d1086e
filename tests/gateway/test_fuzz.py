"""Issue 10, done-when: a bounded, seeded fuzz run beside well-behaved chargers.

Many connections send mutated and schema-derived frames (``fuzz_frames``) in batches, each followed by a probe
Heartbeat; the answers before the probe's prove every frame that needed an answer got exactly one. Meanwhile
well-behaved chargers run whole sessions, and afterwards fault detection must still open an incident.
Pass: no traceback or error in the server log, no connection closed (except 1009 for an oversized frame, the
documented code), every CALL answered, every well-behaved call accepted, the incident opened.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from chargewatch.sim.client import ChargePointConnection
from faults_live.live import eventually, fast_config, incidents, start_server
from gateway.fuzz_frames import Frame, frames
from helpers import boot, meter, ocpp_url, ts

__all__ = ["start_server"]  # the live-faults fixture: a server with fast detection timings

DOCUMENTED_CLOSE_CODES = {1009}  # frame over the size limit (the only close a charger's frame may cause)
BATCH = 16
SEED = int(os.environ.get("CHARGEWATCH_FUZZ_SEED", "20261202"))


class ServerLog(logging.Handler):
    """Every record the server logs at ERROR or with a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.bad: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.bad.append(f"{record.name}: {record.getMessage()}\n{self.format(record) if record.exc_info else ''}")


@pytest.fixture
def server_log():
    handler = ServerLog()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


class Tally:
    def __init__(self) -> None:
        self.sent = 0
        self.unanswered: list[str] = []
        self.extra: list[str] = []
        self.closes: list[int | None] = []
        self.good_calls = 0
        self.good_failures: list[str] = []


def _snippet(frame: Frame) -> str:
    text = frame.text if isinstance(frame.text, str) else repr(frame.text)
    return text[:160]


async def _fuzzer(app, charger_id: str, seed: int, count: int, tally: Tally) -> None:
    plan = frames(seed, count)
    url = f"{ocpp_url(app)}/{charger_id}"
    websocket = await ws_connect(url, subprotocols=["ocpp1.6"], max_size=None, open_timeout=30, ping_interval=None)
    try:
        for start in range(0, len(plan), BATCH):
            batch = plan[start:start + BATCH]
            probe = f"probe-{seed}-{start}"
            try:
                for frame in batch:
                    await websocket.send(frame.text)
                await websocket.send(json.dumps([2, probe, "Heartbeat", {}]))
                replies = []
                while True:
                    reply = json.loads(await asyncio.wait_for(websocket.recv(), 60))
                    if reply[1] == probe:
                        break
                    replies.append(reply)
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
                tally.closes.append(code)
                if code not in DOCUMENTED_CLOSE_CODES:
                    return
                websocket = await ws_connect(url, subprotocols=["ocpp1.6"], max_size=None, open_timeout=30,
                                             ping_interval=None)
                continue
            tally.sent += len(batch)
            must = sum(frame.must_answer for frame in batch)
            if len(replies) < must:
                tally.unanswered.append(f"{must} to answer, {len(replies)} answers: "
                                        + " | ".join(_snippet(f) for f in batch))
            if len(replies) > len(batch) or any(r[0] not in (3, 4) for r in replies):
                tally.extra.append(repr(replies)[:300])
    finally:
        await websocket.close()


async def _well_behaved(app, charger_id: str, stop: asyncio.Event, tally: Tally) -> None:
    cp = await ChargePointConnection.open(ocpp_url(app), charger_id, open_timeout=30)

    async def call(action, payload):
        try:
            result = await cp.call(action, payload, timeout=60)
        except Exception as exc:  # noqa: BLE001 - any failure of a good charger is what this test counts
            tally.good_failures.append(f"{charger_id} {action}: {exc!r}")
            raise
        tally.good_calls += 1
        await asyncio.sleep(0.05)  # a charger's pace, not a load generator's
        return result

    try:
        await call("BootNotification", boot())
        await call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"})
        session = 0
        while not stop.is_set():
            session += 1
            minute = session * 100
            await call("Authorize", {"idTag": "DEMO-TAG-1"})
            tx = (await call("StartTransaction", {"connectorId": 1, "idTag": "DEMO-TAG-1", "meterStart": 0,
                                                  "timestamp": ts(minute)}))["transactionId"]
            for step in range(1, 6):
                await call("MeterValues", {"connectorId": 1, "transactionId": tx,
                                           "meterValue": meter(step * 1000, minute + step, 11_000)})
            await call("StopTransaction", {"transactionId": tx, "meterStop": 6_000, "timestamp": ts(minute + 6),
                                           "reason": "EVDisconnected"})
            await call("Heartbeat", {})
    except Exception:  # noqa: BLE001 - already counted
        return
    finally:
        await cp.close()


async def _fuzz_run(app, server_log: ServerLog, *, connections: int, per_connection: int, good: int) -> Tally:
    tally = Tally()
    stop = asyncio.Event()
    started = time.monotonic()
    good_tasks = [asyncio.create_task(_well_behaved(app, f"GOOD-{i}", stop, tally)) for i in range(good)]
    await asyncio.gather(*(
        _fuzzer(app, f"FUZZ-{i}", SEED + i, per_connection, tally) for i in range(connections)))
    stop.set()
    await asyncio.gather(*good_tasks)
    elapsed = time.monotonic() - started
    print(f"\nfuzz: {tally.sent} frames on {connections} connections, {tally.good_calls} well-behaved calls, "
          f"{elapsed:.1f} s, closes {tally.closes}")

    # Fault detection still works for the fleet after all that.
    cp = await ChargePointConnection.open(ocpp_url(app), "AFTER-FUZZ", open_timeout=30)
    await cp.call("BootNotification", boot())
    await cp.call("StatusNotification", {"connectorId": 1, "errorCode": "GroundFailure", "status": "Faulted",
                                         "timestamp": ts(0)})

    async def opened():
        return [i for i in await incidents(app, status="open") if i["charger_id"] == "AFTER-FUZZ"]

    found = await eventually(opened, timeout=60)
    assert [(i["code"], i["connector_id"]) for i in found] == [("GroundFailure", 1)]
    await cp.close()
    return tally


def _check(tally: Tally, server_log: ServerLog, minimum: int) -> None:
    assert tally.sent >= minimum
    assert server_log.bad == [], "\n".join(server_log.bad[:5])
    assert [code for code in tally.closes if code not in DOCUMENTED_CLOSE_CODES] == []
    assert tally.unanswered == [], "\n".join(tally.unanswered[:5])
    assert tally.extra == [], "\n".join(tally.extra[:5])
    assert tally.good_failures == [] and tally.good_calls > 0


async def test_twenty_thousand_fuzzed_frames_on_sqlite_close_nothing_and_disturb_no_one(
        sqlite_url, start_server, server_log):
    app = await start_server(sqlite_url, fast_config())
    tally = await _fuzz_run(app, server_log, connections=64, per_connection=316, good=4)
    _check(tally, server_log, 20_000)


async def test_fuzzed_frames_on_postgresql_close_nothing_and_disturb_no_one(pg_url, start_server, server_log):
    app = await start_server(pg_url, fast_config())
    tally = await _fuzz_run(app, server_log, connections=32, per_connection=126, good=2)
    _check(tally, server_log, 4_000)
