"""Pricing throughput: the compiled engine against a straightforward baseline, in one run.

Sessions are realistic: 3-8 charging periods over a day/night energy tariff with a daytime parking fee
and a start fee, in Europe/Berlin. The baseline is what a first implementation does: decode the tariff
JSON for every session and walk its elements with no precomputation. Both must agree on every total.

    python bench/pricing.py [seconds]
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from chargewatch.billing.charging_period import ChargingPeriod  # noqa: E402
from chargewatch.billing.pricing import price_session  # noqa: E402
from chargewatch.billing.tariff import tariff_from_json  # noqa: E402

TIME_ZONE = "Europe/Berlin"
TARIFF_JSON = json.dumps(
    {
        "country_code": "DE",
        "party_id": "CWT",
        "id": "BENCH-TOU",
        "currency": "EUR",
        "elements": [
            {"price_components": [{"type": "FLAT", "price": 0.35, "vat": 19.0, "step_size": 1}]},
            {
                "price_components": [{"type": "ENERGY", "price": 0.39, "vat": 19.0, "step_size": 1}],
                "restrictions": {"start_time": "07:00", "end_time": "22:00"},
            },
            {"price_components": [{"type": "ENERGY", "price": 0.29, "vat": 19.0, "step_size": 1}]},
            {
                "price_components": [{"type": "PARKING_TIME", "price": 6.00, "vat": 19.0, "step_size": 60}],
                "restrictions": {
                    "start_time": "08:00",
                    "end_time": "20:00",
                    "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"],
                },
            },
        ],
        "last_updated": "2026-11-01T00:00:00Z",
    }
)


def build_sessions(count: int, seed: int = 7) -> list[list[ChargingPeriod]]:
    """Sessions of 3-8 periods: charging periods (energy + time) then some parking periods."""
    rng = random.Random(seed)
    sessions = []
    base = datetime(2026, 11, 2, 5, 0, tzinfo=UTC)
    for _ in range(count):
        start = base + timedelta(minutes=rng.randrange(0, 7 * 24 * 60))
        periods = []
        moment = start
        n = rng.randint(3, 8)
        charging = rng.randint(1, n - 1)
        for i in range(n):
            minutes = rng.randint(5, 90)
            hours = Decimal(minutes * 60) / Decimal(3600)
            if i < charging:
                wh = rng.randint(500, 20000)
                periods.append(ChargingPeriod(moment, energy=Decimal(wh) / 1000, time=hours,
                                              max_power=Decimal(rng.randint(3, 150))))
            else:
                periods.append(ChargingPeriod(moment, parking_time=hours))
            moment += timedelta(minutes=minutes)
        sessions.append(periods)
    return sessions


def naive_price(tariff_json: str, periods: list[ChargingPeriod], time_zone: str) -> Decimal:
    """Baseline: re-decode the tariff and scan every element for every dimension of every period."""
    tariff = json.loads(tariff_json, parse_float=Decimal)
    zone = ZoneInfo(time_zone)
    total = Decimal(0)
    flat_done = False
    last_step: dict[str, tuple[Decimal, int]] = {}
    billed: dict[str, Decimal] = {}
    weekdays = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
    for period in periods:
        local = period.start_date_time.astimezone(zone)
        hhmm = local.strftime("%H:%M")
        day = weekdays[local.weekday()]
        volumes = {"FLAT": Decimal(1) if not flat_done else Decimal(0), "ENERGY": period.energy,
                   "TIME": period.time, "PARKING_TIME": period.parking_time}
        for dimension, volume in volumes.items():
            if not volume:
                continue
            for element in tariff["elements"]:
                component = next((c for c in element["price_components"] if c["type"] == dimension), None)
                if component is None:
                    continue
                r = element.get("restrictions", {})
                if "start_time" in r and hhmm < r["start_time"]:
                    continue
                if "end_time" in r and hhmm >= r["end_time"]:
                    continue
                if "day_of_week" in r and day not in r["day_of_week"]:
                    continue
                amount = volume * Decimal(component["price"])
                total += amount * (1 + Decimal(component["vat"]) / 100)
                if dimension == "FLAT":
                    flat_done = True
                else:
                    billed[dimension] = billed.get(dimension, Decimal(0)) + volume
                    last_step[dimension] = (component["price"] * (1 + component["vat"] / 100),
                                            component["step_size"])
                break
    for dimension, (unit_incl, step) in last_step.items():
        unit = Decimal(1000) if dimension == "ENERGY" else Decimal(3600)
        amount = (billed[dimension] * unit).quantize(Decimal("0.000001"))
        extra = (amount / step).to_integral_value(rounding=ROUND_CEILING) * step - amount
        total += extra / unit * unit_incl
    return total.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _throughput(price_one, sessions: list[list[ChargingPeriod]], seconds: float) -> float:
    """Sessions per CPU-second of this (single-threaded) process, so a busy machine does not skew it."""
    done = 0
    cpu_began = time.process_time()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for periods in sessions:
            price_one(periods)
        done += len(sessions)
    return done / (time.process_time() - cpu_began)


def run(seconds: float = 2.0) -> dict[str, float]:
    """Measure both implementations for about `seconds` each; returns sessions/s and the ratio."""
    tariff = tariff_from_json(TARIFF_JSON)
    sessions = build_sessions(500)
    for periods in sessions:
        engine_total = price_session(tariff, periods, time_zone=TIME_ZONE).total_cost.incl_vat
        baseline_total = naive_price(TARIFF_JSON, periods, TIME_ZONE)
        if engine_total != baseline_total:
            raise AssertionError(f"engine {engine_total} != baseline {baseline_total}")
    engine = _throughput(lambda p: price_session(tariff, p, time_zone=TIME_ZONE), sessions, seconds)
    baseline = _throughput(lambda p: naive_price(TARIFF_JSON, p, TIME_ZONE), sessions, seconds)
    return {
        "engine_sessions_per_s": engine,
        "baseline_sessions_per_s": baseline,
        "speedup": engine / baseline,
        "mean_periods": sum(len(s) for s in sessions) / len(sessions),
    }


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    result = run(seconds)
    print(f"sessions with {result['mean_periods']:.1f} periods on average, tariff {TIME_ZONE} time-of-day + parking")
    print(f"engine   : {result['engine_sessions_per_s']:>10,.0f} sessions per CPU-second")
    print(f"baseline : {result['baseline_sessions_per_s']:>10,.0f} sessions per CPU-second"
          " (tariff JSON re-parsed per session)")
    print(f"speedup  : {result['speedup']:.1f}x")


if __name__ == "__main__":
    main()
