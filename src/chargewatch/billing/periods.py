"""Charging periods from meter telemetry, cut wherever a price component could change.

OCPI 2.2.1 mod_cdrs (CDR object) asks the CPO to start a new ChargingPeriod at every moment relevant
for the cost: tariff time/day/date boundaries in local time, charging <-> not charging, kWh, duration,
power and current thresholds. This module finds those instants and splits the meter series there.

Energy is integer Wh throughout. Between two readings the register is taken to rise linearly; the
register value at an instant is floored to whole Wh, so each period gets E(end) - E(start) and the
periods add up to exactly meter stop - meter start: no Wh is lost or created by a split.
The same function prices a running session: pass `stop=now` and the latest register value.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal
from zoneinfo import ZoneInfo

from chargewatch.billing.charging_period import ChargingPeriod
from chargewatch.billing.tariff import Tariff

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US_PER_HOUR = Decimal(3_600_000_000)
_THOUSAND = Decimal(1000)
DEFAULT_IDLE_POWER_W = 100


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One reading during the session: energy register (Wh), optionally power (W) and current (A, all phases)."""

    timestamp: datetime
    energy_wh: int
    power_w: int | None = None
    current_a: Decimal | None = None


class MeterSeriesError(ValueError):
    """The readings cannot be split honestly (register going backwards, stop before start, …).

    Such sessions go through `anomalies.assess_meter` first, which repairs or flags them.
    """


def build_charging_periods(
    *,
    start: datetime,
    stop: datetime,
    meter_start_wh: int,
    meter_stop_wh: int,
    samples: Sequence[MeterSample],
    time_zone: str,
    tariff: Tariff | None = None,
    idle_power_w: int = DEFAULT_IDLE_POWER_W,
) -> tuple[ChargingPeriod, ...]:
    """OCPI charging periods for a session from `start` to `stop` (aware datetimes).

    An interval between readings counts as charging when the register rose at an average power of at
    least `idle_power_w`, or the charger measured at least that power at its end; otherwise the EV is
    connected but idle, which OCPI bills as PARKING_TIME.
    Samples outside (start, stop) are ignored. Each period carries ENERGY (kWh), TIME or PARKING_TIME
    (hours), and MIN/MAX_POWER, MIN/MAX_CURRENT where readings give them.
    """
    t_start, t_stop = _micros(start), _micros(stop)
    if t_stop <= t_start:
        raise MeterSeriesError(f"stop {stop.isoformat()} is not after start {start.isoformat()}.")
    if meter_stop_wh < meter_start_wh:
        raise MeterSeriesError(f"meter stop {meter_stop_wh} Wh is below meter start {meter_start_wh} Wh.")
    times = [t_start]
    energies = [meter_start_wh]
    powers: list[int | None] = []
    currents: list[Decimal | None] = []
    for sample in sorted(samples, key=lambda s: s.timestamp):
        t = _micros(sample.timestamp)
        if not t_start < t < t_stop or t == times[-1]:
            continue
        if sample.energy_wh < energies[-1] or sample.energy_wh > meter_stop_wh:
            raise MeterSeriesError(
                f"energy register goes from {energies[-1]} Wh to {sample.energy_wh} Wh at "
                f"{sample.timestamp.isoformat()}, outside {meter_start_wh}..{meter_stop_wh} Wh."
            )
        times.append(t)
        energies.append(sample.energy_wh)
        powers.append(sample.power_w)
        currents.append(sample.current_a)
    times.append(t_stop)
    energies.append(meter_stop_wh)
    powers.append(None)
    currents.append(None)

    thresholds = _Thresholds(tariff)
    keys = []
    interval_power: list[int] = []
    for i in range(len(times) - 1):
        delta_wh = energies[i + 1] - energies[i]
        average_w = delta_wh * 3_600_000_000 // (times[i + 1] - times[i])
        measured = powers[i]
        power = measured if measured is not None else average_w
        interval_power.append(power)
        # The same rule as the session's charging/idle seconds (sessions.machine._advance), so the bill
        # parks exactly the time the session page shows as idle: average or measured power reaches it.
        charging = average_w >= idle_power_w or (measured is not None and measured >= idle_power_w)
        keys.append((charging, thresholds.power_band(power), thresholds.current_band(currents[i])))

    cuts = {times[i] for i in range(1, len(keys)) if keys[i] != keys[i - 1]}
    cuts.update(thresholds.clock_cuts(t_start, t_stop, ZoneInfo(time_zone)))
    cuts.update(t_start + seconds * 1_000_000 for seconds in thresholds.duration_seconds)
    for kwh in thresholds.kwh:
        cut = _instant_reaching(times, energies, meter_start_wh + _ceil_wh(kwh))
        if cut is not None:
            cuts.add(cut)
    edges = [t_start, *sorted(c for c in cuts if t_start < c < t_stop), t_stop]

    periods = []
    for a, b in zip(edges, edges[1:], strict=False):
        first = bisect_right(times, a) - 1
        last = bisect_right(times, b - 1) - 1
        wh = _energy_at(times, energies, b) - _energy_at(times, energies, a)
        hours = Decimal(b - a) / _US_PER_HOUR
        charging = keys[first][0]
        span_powers = interval_power[first : last + 1]
        span_currents = [c for c in currents[first : last + 1] if c is not None]
        periods.append(
            ChargingPeriod(
                start_date_time=_EPOCH + timedelta(microseconds=a),
                energy=Decimal(wh) / _THOUSAND,
                time=hours if charging else Decimal(0),
                parking_time=Decimal(0) if charging else hours,
                min_power=Decimal(min(span_powers)) / _THOUSAND,
                max_power=Decimal(max(span_powers)) / _THOUSAND,
                min_current=min(span_currents) if span_currents else None,
                max_current=max(span_currents) if span_currents else None,
                tariff_id=tariff.id if tariff is not None else None,
            )
        )
    return tuple(periods)


class _Thresholds:
    """The restriction values of a tariff that can start a new period."""

    def __init__(self, tariff: Tariff | None) -> None:
        restrictions = [e.restrictions for e in tariff.elements if e.restrictions] if tariff else []
        self.minutes = sorted(
            {t.hour * 60 + t.minute for r in restrictions for t in (r.start_time, r.end_time) if t is not None}
            | ({0} if any(r.day_of_week or r.start_date or r.end_date for r in restrictions) else set())
        )
        self.duration_seconds = sorted(
            {d for r in restrictions for d in (r.min_duration, r.max_duration) if d is not None}
        )
        self.kwh = sorted({k for r in restrictions for k in (r.min_kwh, r.max_kwh) if k is not None})
        self.power_w = sorted(
            {p * _THOUSAND for r in restrictions for p in (r.min_power, r.max_power) if p is not None}
        )
        self.current_a = sorted({c for r in restrictions for c in (r.min_current, r.max_current) if c is not None})

    def power_band(self, power_w: int) -> int:
        return bisect_right(self.power_w, power_w)

    def current_band(self, current_a: Decimal | None) -> int:
        return -1 if current_a is None else bisect_right(self.current_a, current_a)

    def clock_cuts(self, t_start: int, t_stop: int, zone: ZoneInfo) -> set[int]:
        """Every instant in the session where a local time-of-day/date boundary or a UTC offset change falls.

        Both folds of an ambiguous local time count (the hour repeated when DST ends); an offset change
        itself counts because a local time skipped when DST starts is reached at the jump.
        """
        if not self.minutes:
            return set()
        first = (_EPOCH + timedelta(microseconds=t_start)).astimezone(zone).date() - timedelta(days=1)
        last = (_EPOCH + timedelta(microseconds=t_stop)).astimezone(zone).date() + timedelta(days=1)
        cuts = set()
        day = first
        while day <= last:
            for minute in self.minutes:
                naive = datetime.combine(day, time(minute // 60, minute % 60))
                for fold in (0, 1):
                    cuts.add(_micros(naive.replace(tzinfo=zone, fold=fold)))
            day += timedelta(days=1)
        cuts.update(_offset_changes(first, last, zone))
        return {c for c in cuts if t_start < c < t_stop}


def _offset_changes(first: date, last: date, zone: ZoneInfo) -> set[int]:
    """UTC instants (µs) where the zone's offset changes between two local dates, found by bisection."""
    changes = set()
    moment = _micros(datetime.combine(first, time(0), tzinfo=zone))
    end = _micros(datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone))
    step = 3600 * 1_000_000
    while moment < end:
        nxt = moment + step
        if _offset(moment, zone) != _offset(nxt, zone):
            low, high = moment, nxt
            while high - low > 1_000_000:
                mid = (low + high) // 2
                if _offset(mid, zone) == _offset(low, zone):
                    low = mid
                else:
                    high = mid
            changes.add(high - high % 1_000_000)
        moment = nxt
    return changes


def _offset(micros: int, zone: ZoneInfo) -> timedelta | None:
    return (_EPOCH + timedelta(microseconds=micros)).astimezone(zone).utcoffset()


def _micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise MeterSeriesError(f"timestamp {moment.isoformat()} has no time zone; pass aware UTC datetimes.")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _energy_at(times: list[int], energies: list[int], t: int) -> int:
    """Register value (Wh) at instant t: linear between readings, floored to whole Wh."""
    i = bisect_right(times, t) - 1
    if i >= len(times) - 1:
        return energies[-1]
    t0, t1, e0, e1 = times[i], times[i + 1], energies[i], energies[i + 1]
    return e0 + (e1 - e0) * (t - t0) // (t1 - t0)


def _instant_reaching(times: list[int], energies: list[int], target_wh: int) -> int | None:
    """First instant (µs) at which the interpolated register reaches `target_wh`, if it does."""
    for i in range(len(times) - 1):
        e0, e1 = energies[i], energies[i + 1]
        if e0 < target_wh <= e1:
            t0, t1 = times[i], times[i + 1]
            need = (target_wh - e0) * (t1 - t0)
            return t0 + -(-need // (e1 - e0))
    return None


def _ceil_wh(kwh: Decimal) -> int:
    return int((kwh * _THOUSAND).to_integral_value(ROUND_CEILING))
