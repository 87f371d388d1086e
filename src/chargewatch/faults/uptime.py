"""Port uptime as 23 CFR 680.116 defines it.

uptime % = (T − (outage minutes − excluded minutes)) / T × 100, per port, where T is the minutes
in the period (525,600 for a non-leap year; the month's minutes for a monthly figure). Outages
come from incidents flagged ``outage``: a connector-level incident affects its port, a
charger-level one (connector None or 0) affects every port of the charger. Overlapping intervals
are merged so a fault during an offline spell is not counted twice, and an excluded interval
(utility outage, vehicle-caused, ...) removes its minutes even where a non-excluded incident
overlaps it, because the port could not have served a driver anyway.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from chargewatch.domain.signals import require_utc
from chargewatch.faults.incidents import ExclusionReason, Incident

_MICROSECONDS_PER_MINUTE = Decimal(60_000_000)


@dataclass(frozen=True)
class Port:
    charger_id: str
    connector_id: int


@dataclass(frozen=True)
class OutageInterval:
    start: datetime
    end: datetime
    exclusion: ExclusionReason | None = None
    incident_id: str | None = None


@dataclass(frozen=True)
class PortUptime:
    port: Port
    period_start: datetime
    period_end: datetime
    total_minutes: Decimal
    outage_minutes: Decimal
    excluded_minutes: Decimal
    uptime_percent: Decimal
    excluded_by_reason: dict[ExclusionReason, Decimal] = field(default_factory=dict)


def _minutes(span: timedelta) -> Decimal:
    return Decimal(span // timedelta(microseconds=1)) / _MICROSECONDS_PER_MINUTE


def _merged_minutes(intervals: Iterable[tuple[datetime, datetime]]) -> Decimal:
    """Length of the union of intervals."""
    total = timedelta()
    current: tuple[datetime, datetime] | None = None
    for start, end in sorted(intervals):
        if current is None or start > current[1]:
            if current is not None:
                total += current[1] - current[0]
            current = (start, end)
        else:
            current = (current[0], max(current[1], end))
    if current is not None:
        total += current[1] - current[0]
    return _minutes(total)


def outages_for_port(incidents: Iterable[Incident], port: Port, as_of: datetime) -> list[OutageInterval]:
    """Outage intervals of ``port``; an incident still open runs until ``as_of``."""
    require_utc(as_of, "as_of")
    outages = []
    for incident in incidents:
        if not incident.outage or incident.charger_id != port.charger_id:
            continue
        if incident.connector_id not in (None, 0, port.connector_id):
            continue
        end = incident.resolved_at or as_of
        if end > incident.first_seen:
            outages.append(OutageInterval(incident.first_seen, end, incident.exclusion_reason, incident.id))
    return outages


def port_uptime(
    port: Port, outages: Iterable[OutageInterval], start: datetime, end: datetime, as_of: datetime | None = None
) -> PortUptime:
    """Uptime of one port over [start, end), clipped to ``as_of`` for a period still running."""
    require_utc(start, "start")
    require_utc(end, "end")
    stop = min(end, as_of) if as_of is not None else end
    if stop <= start:
        raise ValueError(f"empty uptime period {start.isoformat()} .. {stop.isoformat()}")
    clipped = [
        (max(o.start, start), min(o.end, stop), o.exclusion) for o in outages if o.end > start and o.start < stop
    ]
    outage_minutes = _merged_minutes((s, e) for s, e, _ in clipped)
    excluded_minutes = _merged_minutes((s, e) for s, e, reason in clipped if reason is not None)
    by_reason = {
        reason: _merged_minutes((s, e) for s, e, why in clipped if why is reason)
        for reason in ExclusionReason
        if any(why is reason for _, _, why in clipped)
    }
    total = _minutes(stop - start)
    uptime = (total - (outage_minutes - excluded_minutes)) / total * 100
    return PortUptime(
        port=port,
        period_start=start,
        period_end=stop,
        total_minutes=total,
        outage_minutes=outage_minutes,
        excluded_minutes=excluded_minutes,
        uptime_percent=uptime.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP),
        excluded_by_reason=by_reason,
    )


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """[first instant of the month, first instant of the next month) in UTC."""
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def trailing_year_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """The twelve months ending with ``month`` (T = 525,600 minutes unless a 29 February falls in)."""
    first_year, first_month = (year, month - 11) if month == 12 else (year - 1, month + 1)
    return month_bounds(first_year, first_month)[0], month_bounds(year, month)[1]


@dataclass(frozen=True)
class UptimeRow:
    port: Port
    month: PortUptime
    trailing_year: PortUptime


@dataclass(frozen=True)
class UptimeReport:
    """Monthly and trailing-12-month uptime per port, as 23 CFR 680.112 reporting asks."""

    year: int
    month: int
    rows: tuple[UptimeRow, ...]

    CSV_HEADER = (
        "charger_id",
        "connector_id",
        "period",
        "total_minutes",
        "outage_minutes",
        "excluded_minutes",
        "uptime_percent",
        *(f"excluded_{reason.value}_minutes" for reason in ExclusionReason),
    )

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.CSV_HEADER)
        label = f"{self.year:04d}-{self.month:02d}"
        for row in self.rows:
            for period, figure in ((label, row.month), (f"12 months to {label}", row.trailing_year)):
                writer.writerow(
                    [
                        row.port.charger_id,
                        row.port.connector_id,
                        period,
                        _two_places(figure.total_minutes),
                        _two_places(figure.outage_minutes),
                        _two_places(figure.excluded_minutes),
                        figure.uptime_percent,
                        *(_two_places(figure.excluded_by_reason.get(r, Decimal(0))) for r in ExclusionReason),
                    ]
                )
        return buffer.getvalue()


def _two_places(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def uptime_report(
    incidents: Sequence[Incident], ports: Iterable[Port], year: int, month: int, as_of: datetime
) -> UptimeReport:
    """Uptime of each port for the month and for the twelve months ending with it."""
    month_start, month_end = month_bounds(year, month)
    year_start, year_end = trailing_year_bounds(year, month)
    rows = []
    for port in sorted(ports, key=lambda p: (p.charger_id, p.connector_id)):
        outages = outages_for_port(incidents, port, as_of)
        rows.append(
            UptimeRow(
                port=port,
                month=port_uptime(port, outages, month_start, month_end, as_of),
                trailing_year=port_uptime(port, outages, year_start, year_end, as_of),
            )
        )
    return UptimeReport(year=year, month=month, rows=tuple(rows))
