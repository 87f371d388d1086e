"""Memory soak (issue 10 item 8): RSS before/after an all-Invalid-Authorize soak and a fuzz run, side by side.

    .venv/bin/python bench/memory_soak.py [--chargers 50] [--rounds 3] [--authorizes 400] [--trace]
                                          [--trim] [--boot] [--advance 7200]

A baseline round of well-behaved Heartbeats first, then rounds of chargers that connect, send only Authorize
with tags nobody knows (all Invalid) and leave. Bounded memory means RSS after the later rounds stays near RSS
after the first: what is kept per charger or per tag must not grow with traffic. ``--trace`` prints the
tracemalloc lines that grew most between the first and the last round (how the retained objects were found).
``--boot`` has each charger boot first (a charger, not a provisional connection: it connects and disconnects);
``--advance S`` moves the server's clock S seconds on after each round and lets the fault worker tick, so what
expires an hour after a charger left has expired. Each round also prints the fault detector's state (in memory,
and as saved) and the detector-state bytes written per incident change.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import ctypes
import gc
import json
import os
import resource
import sys
import tempfile
import tracemalloc
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from chargewatch.gateway.transport import GatewayConfig, utcnow  # noqa: E402
from chargewatch.runtime import Chargewatch, ServerOptions  # noqa: E402
from chargewatch.sim.client import ChargePointConnection  # noqa: E402
from chargewatch.store import faults as fault_store  # noqa: E402
from helpers import boot  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class SaveCounter:
    """Bytes of detector state the fault worker writes, and the incident rows it writes beside them."""

    def __init__(self) -> None:
        self.state_bytes = self.state_saves = self.incident_writes = self.last = 0
        save_state, save_incidents = fault_store.save_detector_state, fault_store.save_incidents

        def counted_state(connection, node_id, state, now):  # type: ignore[no-untyped-def]
            self.state_saves += 1
            self.last = len(json.dumps(state))
            self.state_bytes += self.last
            return save_state(connection, node_id, state, now)

        def counted_incidents(connection, incidents, now):  # type: ignore[no-untyped-def]
            self.incident_writes += len(incidents)
            return save_incidents(connection, incidents, now)

        fault_store.save_detector_state = counted_state
        fault_store.save_incidents = counted_incidents

    def line(self) -> str:
        per = self.state_bytes / self.incident_writes if self.incident_writes else 0.0
        return (f"{self.incident_writes} incident changes written, {self.state_saves} state saves, "
                f"{self.state_bytes / 1e6:.2f} MB of state = {per / 1e3:.1f} KB of state per incident change")


async def _invalid_authorizes(url: str, charger_id: str, count: int, round_no: int, booted: bool) -> None:
    cp = await ChargePointConnection.open(url, charger_id, open_timeout=30)
    try:
        if booted:
            await cp.call("BootNotification", boot())
        for i in range(count):
            answer = await cp.call("Authorize", {"idTag": f"X{round_no:02d}{charger_id[-3:]}{i:05d}"[:20]})
            assert answer["idTagInfo"]["status"] == "Invalid"
    finally:
        await cp.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chargers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--authorizes", type=int, default=400)
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--trim", action="store_true",
                        help="also print RSS after glibc malloc_trim(0) and the object types that grew: memory "
                             "returned by the trim was fragmentation, what stays is retained")
    parser.add_argument("--same-chargers", action="store_true", help="the same charger ids every round")
    parser.add_argument("--boot", action="store_true", help="each charger sends BootNotification first")
    parser.add_argument("--advance", type=float, default=0.0,
                        help="seconds to move the server clock on after each round (e.g. 7200: past expiry)")
    args = parser.parse_args()
    os.environ.setdefault("CHARGEWATCH_FAULTS", json.dumps({"tick_seconds": 0.5}))
    saves = SaveCounter()
    with tempfile.TemporaryDirectory() as tmp:
        app = Chargewatch(ServerOptions(db=f"sqlite:///{tmp}/soak.db", ocpp_port=0, http_port=0,
                                        gateway=GatewayConfig(accept_unknown=True)))
        offset = [0.0]
        app.gateway.now = lambda: utcnow() + timedelta(seconds=offset[0])
        await app.start()
        faults = app.app.state.faults
        url = f"ws://127.0.0.1:{app.ocpp_port}/ocpp"
        try:
            baseline = await ChargePointConnection.open(url, "BASELINE")
            for _ in range(200):
                await baseline.call("Heartbeat", {})
            await baseline.close()
            gc.collect()
            start = rss_mb()
            print(f"baseline (server up, 200 heartbeats): RSS {start:.0f} MB")
            if args.trace:
                tracemalloc.start(6)
            first = None
            after: list[float] = []
            trimmed: list[float] = []
            counts0 = collections.Counter(type(o).__name__ for o in gc.get_objects())
            for round_no in range(args.rounds):
                await asyncio.gather(*(
                    _invalid_authorizes(url, f"SOAK-{0 if args.same_chargers else round_no}-{i:03d}",
                                        args.authorizes, round_no, args.boot)
                    for i in range(args.chargers)))
                await asyncio.sleep(1)  # let the workers drain the bus
                if args.advance:
                    offset[0] += args.advance
                    await asyncio.sleep(2)  # several fault worker ticks at the new time
                    await faults.flush(save_state=True)
                gc.collect()
                after.append(rss_mb())
                if args.trace and first is None:
                    first = tracemalloc.take_snapshot()
                if args.trim:
                    ctypes.CDLL("libc.so.6").malloc_trim(0)
                    trimmed.append(rss_mb())
                    print(f"   after malloc_trim(0): RSS {trimmed[-1]:.0f} MB")
                detector = faults.detector
                state = json.dumps(detector.to_dict())
                info = sum(1 for i in detector.open_incidents if i.severity.value == "info")
                print(f"   fault detector: {len(detector.open_incidents)} open incidents ({info} info), "
                      f"{len(detector._connectors)} connector states, state with its incidents "
                      f"{len(state) / 1e6:.2f} MB JSON; last saved state {saves.last / 1e6:.3f} MB; {saves.line()}")
                alive = sum(1 for o in gc.get_objects() if type(o).__name__ == "ServerConnection")
                print(f"round {round_no + 1}: {args.chargers} chargers × {args.authorizes} Invalid Authorize, "
                      f"all left: RSS {after[-1]:.0f} MB, server connections still referenced: {alive}")
            print(f"RSS before {start:.0f} MB → after first round {after[0]:.0f} MB → after last "
                  f"{after[-1]:.0f} MB (growth over the later rounds {after[-1] - after[0]:+.0f} MB)")
            if args.trim:
                grown = collections.Counter(type(o).__name__ for o in gc.get_objects())
                grown.subtract(counts0)
                print(f"after malloc_trim: first round {trimmed[0]:.0f} MB → last {trimmed[-1]:.0f} MB "
                      f"({trimmed[-1] - trimmed[0]:+.0f} MB); object types that grew most since the baseline:",
                      ", ".join(f"{name} {n:+d}" for name, n in grown.most_common(8)))
            if args.trace and first is not None:
                for stat in tracemalloc.take_snapshot().compare_to(first, "traceback")[:8]:
                    print(stat)
                    for line in stat.traceback.format()[-6:]:
                        print("   ", line)
        finally:
            await app.stop()


if __name__ == "__main__":
    asyncio.run(main())
