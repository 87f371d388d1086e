"""Run a fleet of simulated chargers against a server and report throughput and latency."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace

from .charger import Behaviour, SimulatedCharger, Stats
from .charger201 import SimulatedStation201
from .ocmf import OcmfSigner

log = logging.getLogger(__name__)

SCENARIOS = {
    "normal": Behaviour(),
    "demo": Behaviour(meter_interval=3.0, plug_in_delay=(0.5, 6.0), charge_time=(30, 120), idle_time=(5, 20),
                      fault_probability=0.003),
    "faults": Behaviour(fault_probability=0.05),
    "load": Behaviour(meter_interval=1.0, plug_in_delay=(0.1, 1.0), charge_time=(60, 600), idle_time=(1, 2)),
}


OCPP_VERSIONS = ("1.6", "2.0.1", "mixed")  # mixed: every fourth charger (4, 8, …) speaks 2.0.1, the others 1.6


def speaks_201(number: int, ocpp: str) -> bool:
    """Whether charger ``number`` (1-based) of a fleet run with ``ocpp`` speaks 2.0.1."""
    if ocpp not in OCPP_VERSIONS:
        raise ValueError(f"ocpp: {ocpp!r} is none of {', '.join(OCPP_VERSIONS)}")
    return ocpp == "2.0.1" or (ocpp == "mixed" and number % 4 == 0)


@dataclass
class FleetReport:
    chargers: int
    seconds: float
    calls: int
    errors: int
    p50_ms: float
    p99_ms: float
    cpu_seconds: float

    @property
    def calls_per_second(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0

    def __str__(self) -> str:
        return (f"{self.chargers} chargers, {self.seconds:.0f} s: {self.calls} calls "
                f"({self.calls_per_second:.0f}/s), {self.errors} errors, latency p50 {self.p50_ms:.1f} ms "
                f"p99 {self.p99_ms:.1f} ms, simulator CPU {self.cpu_seconds:.1f} s")


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run_fleet(url: str, chargers: int, scenario: str = "normal", *, duration: float | None = None,
                    prefix: str = "SIM", password: str | None = None, connect_rate: float = 200.0,
                    stop: asyncio.Event | None = None, signers: Mapping[str, OcmfSigner] | None = None,
                    ocpp: str = "1.6") -> FleetReport:
    """Connect ``chargers`` simulated chargers (ramping at ``connect_rate``/s) and run until stopped.

    ``ocpp`` is the version they speak: ``1.6``, ``2.0.1``, or ``mixed`` (see :func:`speaks_201`).
    ``signers`` gives chargers by id a meter that signs its begin and end readings (Eichrecht chargers).
    """
    behaviour = SCENARIOS[scenario]
    stop = stop or asyncio.Event()
    stats = Stats()
    cpu_start = time.process_time()
    started = time.perf_counter()
    signers = signers or {}

    def behaviour_of(charger_id: str) -> Behaviour:
        signer = signers.get(charger_id)
        return behaviour if signer is None else replace(behaviour, signer=signer)

    fleet = [(SimulatedStation201 if speaks_201(i, ocpp) else SimulatedCharger)(
        url, f"{prefix}-{i:05d}", behaviour=behaviour_of(f"{prefix}-{i:05d}"), password=password, stats=stats,
        rng=random.Random(i)) for i in range(1, chargers + 1)]

    async def supervise(charger: SimulatedCharger, delay: float) -> None:
        await asyncio.sleep(delay)
        while not stop.is_set():
            try:
                await charger.run(stop)
            except Exception as exc:  # noqa: BLE001 - reconnect like a real charger
                log.debug("%s: %s; reconnecting", charger.charger_id, exc)
                await asyncio.sleep(charger.rng.uniform(1, 5))

    tasks = [asyncio.create_task(supervise(c, i / connect_rate)) for i, c in enumerate(fleet)]
    if duration is not None:
        asyncio.get_running_loop().call_later(duration, stop.set)
    await stop.wait()
    await asyncio.gather(*tasks, return_exceptions=True)
    elapsed = time.perf_counter() - started
    return FleetReport(chargers, elapsed, stats.calls, stats.errors, _percentile(stats.latencies, 0.5),
                       _percentile(stats.latencies, 0.99), time.process_time() - cpu_start)
