"""Meter-data shapes real OCPP 1.6 chargers send (all legal), as exact message sequences with the session
numbers each must produce.

The same data drives every peer: our scripted raw-frame client, the `ocpp` PyPI library's ChargePoint and
the npm `ocpp-rpc` client in strict mode (``peers/ocpp_rpc/run_shapes.js`` reads ``as_json()``). A string
``"$tx"`` / ``"$tx1"`` in a payload stands for the transactionId of the latest / first StartTransaction.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TAG = "SHAPE-TAG"
BLOCKED_TAG = "SHAPE-BLOCKED"  # in the directory as Blocked; any other unknown tag is Invalid
ID_TAGS = {TAG: "Accepted", BLOCKED_TAG: "Blocked"}


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def minutes(m: float) -> str:
    return at(m * 60)


def sv(value: Any, measurand: str = "Energy.Active.Import.Register", unit: str = "Wh", **extra: str) -> dict[str, Any]:
    return {"value": str(value), "context": "Sample.Periodic", "measurand": measurand, "unit": unit, **extra}


def mv(timestamp: str, *sampled: dict[str, Any], connector: int = 1) -> tuple[str, dict[str, Any]]:
    return ("MeterValues", {"connectorId": connector, "transactionId": "$tx",
                            "meterValue": [{"timestamp": timestamp, "sampledValue": list(sampled)}]})


def start(meter_start: int, timestamp: str, tag: str = TAG, connector: int = 1) -> tuple[str, dict[str, Any]]:
    return ("StartTransaction", {"connectorId": connector, "idTag": tag, "meterStart": meter_start,
                                 "timestamp": timestamp})


def stop(meter_stop: int, timestamp: str, reason: str = "EVDisconnected",
         tx: str = "$tx") -> tuple[str, dict[str, Any]]:
    return ("StopTransaction", {"transactionId": tx, "idTag": TAG, "meterStop": meter_stop, "timestamp": timestamp,
                                "reason": reason})


def status(state: str, timestamp: str, connector: int = 1) -> tuple[str, dict[str, Any]]:
    return ("StatusNotification", {"connectorId": connector, "errorCode": "NoError", "status": state,
                                   "timestamp": timestamp})


BOOT = ("BootNotification", {"chargePointVendor": "FieldTruth", "chargePointModel": "SHAPES-1"})


@dataclass(frozen=True)
class Expected:
    """What the API must say about one session of the shape (None: not checked)."""

    energy_wh: int
    max_power_w: int | None = None
    charging_seconds: int | None = None
    idle_seconds: int | None = None
    status: str = "completed"
    flags: frozenset[str] = frozenset()  # exactly these flags


@dataclass(frozen=True)
class Shape:
    name: str
    issue_item: str
    steps: list[tuple[str, dict[str, Any]]]
    sessions: list[Expected]
    peers: bool = True  # also driven from the independent OCPP clients

    @property
    def charger_id(self) -> str:
        return f"SHAPE-{self.name.upper().replace('_', '-')}"


def _phases(l1: int, l2: int, l3: int, *, names: tuple[str, str, str] = ("L1", "L2", "L3"),
            measurand: str = "Energy.Active.Import.Register", unit: str = "Wh") -> list[dict[str, Any]]:
    return [sv(v, measurand, unit, phase=p) for v, p in zip((l1, l2, l3), names, strict=True)]


def _per_phase_steps(names: tuple[str, str, str], power_unit: str, power: str) -> list[tuple[str, dict[str, Any]]]:
    # 3 kW on three phases for 30 minutes: 500 Wh every 10 minutes, register 1,500,000 Wh summed over the phases.
    registers = [(500_170, 500_160, 500_170), (500_340, 500_330, 500_330), (500_500, 500_500, 500_500)]
    steps = [BOOT, start(1_500_000, minutes(0))]
    for i, (l1, l2, l3) in enumerate(registers, start=1):
        steps.append(mv(minutes(10 * i), *_phases(l1, l2, l3, names=names),
                        *_phases(power, power, power, names=names, measurand="Power.Active.Import",  # type: ignore[arg-type]
                                 unit=power_unit)))
    steps.append(stop(1_501_500, minutes(30)))
    return steps


def _outlet_inlet() -> list[tuple[str, dict[str, Any]]]:
    # The EV got 400 Wh (Outlet); the grid side (Inlet) counted 300 Wh more over the same half hour.
    steps = [BOOT, start(1_000_000, minutes(0))]
    for i, (outlet, inlet) in enumerate([(1_000_200, 1_240_110), (1_000_400, 1_240_300)], start=1):
        steps.append(mv(minutes(15 * i), sv(outlet, location="Outlet"), sv("0.8", "Power.Active.Import", "kW",
                                                                              location="Outlet"),
                        sv(inlet, location="Inlet"), sv("0.85", "Power.Active.Import", "kW", location="Inlet")))
    steps.append(stop(1_000_400, minutes(30)))
    return steps


def _inlet_only() -> list[tuple[str, dict[str, Any]]]:
    steps = [BOOT, start(2_000_000, minutes(0))]
    for i, inlet in enumerate([2_000_250, 2_000_500], start=1):
        steps.append(mv(minutes(15 * i), sv(inlet, location="Inlet"),
                        sv(1000, "Power.Active.Import", "W", location="Inlet")))
    steps.append(stop(2_000_500, minutes(30)))
    return steps


def _interval_only() -> list[tuple[str, dict[str, Any]]]:
    # An even 45 s session: 30 Wh in every 5 s interval (21.6 kW); no register, no power.
    steps = [BOOT, start(0, at(0))]
    steps += [mv(at(5 * i), sv(30, "Energy.Active.Import.Interval")) for i in range(1, 10)]
    steps.append(stop(270, at(45)))
    return steps


def _power_reported(power: list[dict[str, Any]], step_wh: int, meter_start: int) -> list[tuple[str, dict[str, Any]]]:
    # The charger reports its power; StopTransaction comes 2 s after the last sample with 20 Wh more.
    steps = [BOOT, start(meter_start, minutes(0))]
    for i in range(1, 4):
        steps.append(mv(minutes(10 * i), sv(meter_start + step_wh * i), *power))
    steps.append(stop(meter_start + 3 * step_wh + 20, at(30 * 60 + 2)))
    return steps


def _out_of_order() -> list[tuple[str, dict[str, Any]]]:
    late = mv(minutes(20), sv(5_002_000), sv(7000, "Power.Active.Import", "W"))
    return [BOOT, start(5_000_000, minutes(0)),
            mv(minutes(10), sv(5_001_000), sv(6000, "Power.Active.Import", "W")),
            mv(minutes(30), sv(5_003_000), sv(6000, "Power.Active.Import", "W")),
            late, late,  # the queued sample arrives late, and once more (its answer was lost)
            stop(5_004_000, minutes(40))]


SHAPES = [
    Shape("per_phase", "1", _per_phase_steps(("L1", "L2", "L3"), "W", 1000),  # type: ignore[arg-type]
          [Expected(1_500, 3_000, 1_800, 0)]),
    Shape("per_phase_ln", "1", _per_phase_steps(("L1-N", "L2-N", "L3-N"), "kW", "1.0"),  # type: ignore[arg-type]
          [Expected(1_500, 3_000, 1_800, 0)]),
    Shape("outlet_inlet", "2", _outlet_inlet(), [Expected(400, 800, 1_800, 0)]),
    Shape("inlet_only", "2", _inlet_only(), [Expected(500, 1_000, 1_800, 0, flags=frozenset({"inlet_register"}))]),
    Shape("interval_only", "3", _interval_only(),
          [Expected(270, 21_600, 45, 0, flags=frozenset({"power_estimated"}))]),
    Shape("power_kw", "4", _power_reported([sv("22.0", "Power.Active.Import", "kW")], 3_667, 3_000_000),
          [Expected(11_021, 22_000, 1_802, 0)]),
    Shape("power_phases_w", "4", _power_reported(
        [*_phases(3680, 3680, 3680, measurand="Power.Active.Import", unit="W"),
         *_phases(16, 16, 16, measurand="Current.Import", unit="A"),
         *_phases(230, 230, 230, names=("L1-N", "L2-N", "L3-N"), measurand="Voltage", unit="V")],
        1_840, 4_000_000), [Expected(5_540, 11_040, 1_802, 0)]),
    Shape("out_of_order", "6", _out_of_order(),
          [Expected(4_000, 7_000, 2_400, 0, flags=frozenset({"late_samples"}))], peers=False),
    Shape("refused_then_available", "7",
          [BOOT, status("Preparing", minutes(0)), start(7_000_000, minutes(0), tag="NOT-A-KNOWN-CARD"),
           mv(minutes(1), sv(7_000_000)), status("Available", minutes(2))],
          [Expected(0, status="rejected", flags=frozenset({"start_refused"}))], peers=False),
    Shape("refused_then_new_start", "7",
          [BOOT, start(8_000_000, minutes(0), tag=BLOCKED_TAG), start(8_000_000, minutes(1)),
           mv(minutes(11), sv(8_001_000)), stop(8_002_000, minutes(21))],
          [Expected(0, status="rejected", flags=frozenset({"start_refused"})),
           Expected(2_000, 6_000, 1_200, 0, flags=frozenset({"power_estimated"}))],
          peers=False),
]
PEER_SHAPES = [s for s in SHAPES if s.peers]


def as_json(shapes: list[Shape]) -> str:
    """The shapes as the node peer reads them."""
    return json.dumps([{"name": s.name, "chargerId": s.charger_id, "steps": s.steps} for s in shapes])


Call = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass
class Run:
    transaction_ids: list[int] = field(default_factory=list)

    def fill(self, payload: dict[str, Any]) -> dict[str, Any]:
        out = dict(payload)
        for key, value in payload.items():
            if value == "$tx":
                out[key] = self.transaction_ids[-1]
            elif value == "$tx1":
                out[key] = self.transaction_ids[0]
        return out


async def drive(shape: Shape, call: Call) -> list[int]:
    """Send the shape's messages through ``call``; returns the transaction ids the server gave."""
    run = Run()
    for action, payload in shape.steps:
        reply = await call(action, run.fill(payload))
        if action == "StartTransaction":
            run.transaction_ids.append(int(reply["transactionId"]))
    return run.transaction_ids


def check(session: dict[str, Any], expected: Expected) -> list[str]:
    """The differences between a session from the API and what the shape must produce."""
    problems = []
    actual = {"energy_wh": session["energy_wh"], "max_power_w": session["max_power_w"],
              "charging_seconds": session["charging_seconds"], "idle_seconds": session["idle_seconds"],
              "status": session["status"], "flags": frozenset(session["flags"])}
    for name, value in actual.items():
        want = getattr(expected, name)
        if want is not None and value != want:
            problems.append(f"{name}: {value!r}, expected {want!r}")
    return problems
