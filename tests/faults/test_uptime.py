"""NEVI uptime (23 CFR 680.116) for a scripted November 2026, checked against a hand computation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargewatch.faults.incidents import Evidence, ExclusionReason, Incident, IncidentKind, Severity, open_incident
from chargewatch.faults.uptime import (
    OutageInterval,
    Port,
    month_bounds,
    port_uptime,
    trailing_year_bounds,
    uptime_report,
)

PORT = Port("CP1", 1)
AS_OF = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def outage(
    start: datetime,
    end: datetime | None,
    connector_id: int | None = 1,
    exclusion: ExclusionReason | None = None,
    is_outage: bool = True,
    kind: IncidentKind = IncidentKind.CONNECTOR_ERROR,
) -> Incident:
    incident = open_incident(
        kind=kind,
        severity=Severity.FAULT,
        charger_id="CP1",
        connector_id=connector_id,
        code=f"X{start.isoformat()}",
        first_seen=start,
        opened_at=start,
        evidence=Evidence(start, "test"),
        outage=is_outage,
    )
    return replace(incident, resolved_at=end, exclusion_reason=exclusion)


def utc(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


NOVEMBER = [
    outage(utc(11, 3, 10), utc(11, 3, 12, 30)),  # A: 150 min
    outage(utc(11, 3, 12), utc(11, 3, 13), connector_id=None, kind=IncidentKind.CHARGER_OFFLINE),  # B overlaps A
    outage(utc(11, 10, 0), utc(11, 10, 4), exclusion=ExclusionReason.UTILITY_OUTAGE),  # C: 240 excluded
    outage(utc(10, 31, 23), utc(11, 1, 1, 30)),  # D: starts in October, 90 min in November
    outage(utc(11, 15, 8), utc(11, 15, 20), connector_id=2),  # E: another port
    outage(utc(11, 20, 0), utc(11, 20, 5), is_outage=False),  # F: a warning, not an outage
    outage(utc(11, 30, 22), None),  # G: still open at the end of the month: 120 min
]


def test_scripted_month_matches_the_hand_computation() -> None:
    # T = 30 days × 1440 = 43200 min. Outages: A∪B = 10:00–13:00 = 180, C = 240, D = 90, G = 120
    # → 630 min, of which 240 excluded → 390 counted. (43200 − 390) / 43200 × 100 = 99.0972…%.
    report = uptime_report(NOVEMBER, [PORT], 2026, 11, AS_OF)
    month = report.rows[0].month
    assert month.total_minutes == 43200
    assert month.outage_minutes == 630
    assert month.excluded_minutes == 240
    assert month.excluded_by_reason == {ExclusionReason.UTILITY_OUTAGE: Decimal(240)}
    assert month.uptime_percent == Decimal("99.097")


def test_trailing_twelve_months_uses_525600_minutes_and_all_months() -> None:
    # Dec 2025 – Nov 2026 has no 29 February: T = 525600. Add 1000 min in March: counted 390 + 1000 + 60
    # (the October part of D) = 1450 → (525600 − 1450) / 525600 × 100 = 99.72412…%.
    incidents = [*NOVEMBER, outage(utc(3, 2, 0), utc(3, 2, 0) + timedelta(minutes=1000))]
    trailing = uptime_report(incidents, [PORT], 2026, 11, AS_OF).rows[0].trailing_year
    assert trailing.total_minutes == 525600
    assert trailing.outage_minutes - trailing.excluded_minutes == 1450
    assert trailing.uptime_percent == Decimal("99.724")


def test_excluded_minutes_overlapping_a_counted_outage_are_still_excluded() -> None:
    start, end = month_bounds(2026, 11)
    outages = [
        OutageInterval(utc(11, 5, 10), utc(11, 5, 12), ExclusionReason.UTILITY_OUTAGE),
        OutageInterval(utc(11, 5, 11), utc(11, 5, 13)),
    ]
    figure = port_uptime(PORT, outages, start, end)
    assert (figure.outage_minutes, figure.excluded_minutes) == (180, 120)


def test_month_in_progress_counts_only_elapsed_minutes() -> None:
    start, end = month_bounds(2026, 11)
    figure = port_uptime(PORT, [], start, end, as_of=utc(11, 25, 0))
    assert figure.total_minutes == 24 * 1440
    assert figure.uptime_percent == 100


def test_december_bounds_roll_into_the_next_year() -> None:
    assert month_bounds(2026, 12) == (utc(12, 1, 0), datetime(2027, 1, 1, tzinfo=UTC))
    assert trailing_year_bounds(2026, 12) == (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def test_csv_has_a_month_and_a_trailing_row_per_port() -> None:
    csv_text = uptime_report(NOVEMBER, [Port("CP1", 2), PORT], 2026, 11, AS_OF).to_csv()
    lines = csv_text.splitlines()
    assert lines[0].startswith("charger_id,connector_id,period,total_minutes,outage_minutes,excluded_minutes")
    assert lines[1].startswith("CP1,1,2026-11,43200.00,630.00,240.00,99.097,240.00")
    assert lines[2].startswith("CP1,1,12 months to 2026-11,525600.00")
    assert lines[3].startswith("CP1,2,2026-11,43200.00,")
    assert len(lines) == 5


def test_an_empty_period_is_refused() -> None:
    with pytest.raises(ValueError, match="empty uptime period"):
        port_uptime(PORT, [], utc(11, 2, 0), utc(11, 2, 0))


spans = st.lists(st.tuples(st.integers(0, 43200), st.integers(1, 5000), st.booleans()), max_size=12)


@given(spans)
def test_uptime_stays_between_0_and_100_and_excluded_never_exceeds_outage(
    raw: list[tuple[int, int, bool]],
) -> None:
    start, end = month_bounds(2026, 11)
    outages = [
        OutageInterval(
            start + timedelta(minutes=offset),
            start + timedelta(minutes=offset + length),
            ExclusionReason.VANDALISM if excluded else None,
        )
        for offset, length, excluded in raw
    ]
    figure = port_uptime(PORT, outages, start, end)
    assert 0 <= figure.excluded_minutes <= figure.outage_minutes <= figure.total_minutes
    assert 0 <= figure.uptime_percent <= 100
