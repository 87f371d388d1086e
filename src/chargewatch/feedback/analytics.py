"""Satisfaction scores (CSAT, NPS), their trends, drop detection and the CSV export.

Definitions, stated once because dashboards disagree about them elsewhere:
- CSAT = share of overall ratings that are 4 or 5, in percent of all overall ratings.
- NPS = percent promoters (would_recommend 9-10) minus percent detractors (0-6), from -100 to 100;
  only feedback that answered would_recommend counts.
- A session belongs to the ISO week (and the trend window) in which it started: trends describe
  the charging experience, not when the driver got round to rating it.
Shares are floats: they are statistics, not money.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from chargewatch.feedback.records import FeedbackRecord
from chargewatch.feedback.significance import Z_CRITICAL_ONE_SIDED_5_PERCENT, two_proportion_z_test
from chargewatch.feedback.timestamps import as_utc

SATISFIED_MIN = 4
PROMOTER_MIN = 9
DETRACTOR_MAX = 6


@dataclass(frozen=True, slots=True)
class Csat:
    satisfied: int
    count: int

    @property
    def percent(self) -> float | None:
        """None for no ratings, so an empty station is not shown as 0 % satisfied."""
        return 100 * self.satisfied / self.count if self.count else None


@dataclass(frozen=True, slots=True)
class Nps:
    promoters: int
    passives: int
    detractors: int

    @property
    def count(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def score(self) -> float | None:
        return 100 * (self.promoters - self.detractors) / self.count if self.count else None


def csat_of(ratings: Iterable[int]) -> Csat:
    values = list(ratings)
    return Csat(sum(1 for rating in values if rating >= SATISFIED_MIN), len(values))


def nps_of(scores: Iterable[int]) -> Nps:
    values = list(scores)
    promoters = sum(1 for score in values if score >= PROMOTER_MIN)
    detractors = sum(1 for score in values if score <= DETRACTOR_MAX)
    return Nps(promoters, len(values) - promoters - detractors, detractors)


@dataclass(frozen=True, slots=True)
class Scores:
    """CSAT, NPS and mean overall rating for one group (a station, a connector, a week...)."""

    key: str
    csat: Csat
    nps: Nps
    mean_overall: float | None


def scores_of(key: str, records: Sequence[FeedbackRecord]) -> Scores:
    overall = [record.overall for record in records]
    recommend = [r.feedback.would_recommend for r in records if r.feedback.would_recommend is not None]
    mean = sum(overall) / len(overall) if overall else None
    return Scores(key, csat_of(overall), nps_of(recommend), mean)


def iso_week(instant: datetime) -> str:
    """ISO 8601 week of a UTC instant, e.g. ``2026-W48``; zero-padded so it sorts chronologically."""
    year, week, _ = as_utc(instant, "instant").isocalendar()
    return f"{year}-W{week:02d}"


def station_key(record: FeedbackRecord) -> str:
    return record.facts.station_id


def connector_key(record: FeedbackRecord) -> str:
    return f"{record.facts.charger_id}/{record.facts.connector_id}"


def week_key(record: FeedbackRecord) -> str:
    return iso_week(record.facts.started_at)


def scores_by(records: Iterable[FeedbackRecord], key: Callable[[FeedbackRecord], str]) -> list[Scores]:
    """Scores per group, sorted by group key (so weeks come out in chronological order)."""
    groups: dict[str, list[FeedbackRecord]] = defaultdict(list)
    for record in records:
        groups[key(record)].append(record)
    return [scores_of(group, groups[group]) for group in sorted(groups)]


def scores_by_station(records: Iterable[FeedbackRecord]) -> list[Scores]:
    return scores_by(records, station_key)


def scores_by_connector(records: Iterable[FeedbackRecord]) -> list[Scores]:
    """Keys are ``charger_id/connector_id``."""
    return scores_by(records, connector_key)


def weekly_trend(records: Iterable[FeedbackRecord], station_id: str | None = None) -> list[Scores]:
    """Scores per ISO week, oldest first, for one station or (station_id None) the whole network.

    Weeks without feedback are absent rather than zero, so charts do not show fake collapses.
    """
    chosen = [r for r in records if station_id is None or r.facts.station_id == station_id]
    return scores_by(chosen, week_key)


class TrendStatus(StrEnum):
    INSUFFICIENT_DATA = "insufficient_data"
    STABLE = "stable"
    SIGNIFICANT_DROP = "significant_drop"


@dataclass(frozen=True, slots=True)
class DropRule:
    """When a CSAT drop is worth an alert.

    The recent window is the `recent_weeks` × 7 days before `now`; the baseline the `baseline_weeks`
    × 7 days before that. A drop is flagged when both windows have at least `min_sample` ratings,
    CSAT fell by at least `min_drop_points` percentage points, and the one-sided two-proportion
    z-test gives z ≤ -`z_critical` (default: 5 % level).
    """

    recent_weeks: int = 4
    baseline_weeks: int = 12
    min_sample: int = 30
    min_drop_points: float = 5.0
    z_critical: float = Z_CRITICAL_ONE_SIDED_5_PERCENT


@dataclass(frozen=True, slots=True)
class DropCheck:
    key: str
    status: TrendStatus
    recent: Csat
    baseline: Csat
    z: float | None
    p_value: float | None

    @property
    def change_points(self) -> float | None:
        """Recent minus baseline CSAT, in percentage points."""
        if self.recent.percent is None or self.baseline.percent is None:
            return None
        return self.recent.percent - self.baseline.percent


def detect_csat_drop(
    records: Iterable[FeedbackRecord], *, now: datetime, rule: DropRule = DropRule(), key: str = "network"
) -> DropCheck:
    """Compare the recent window's CSAT to the baseline window's, per `rule`."""
    now = as_utc(now, "now")
    recent_start = now - timedelta(weeks=rule.recent_weeks)
    baseline_start = recent_start - timedelta(weeks=rule.baseline_weeks)
    recent: list[int] = []
    baseline: list[int] = []
    for record in records:
        started = record.facts.started_at
        if recent_start <= started < now:
            recent.append(record.overall)
        elif baseline_start <= started < recent_start:
            baseline.append(record.overall)
    recent_csat, baseline_csat = csat_of(recent), csat_of(baseline)
    if recent_csat.count < rule.min_sample or baseline_csat.count < rule.min_sample:
        return DropCheck(key, TrendStatus.INSUFFICIENT_DATA, recent_csat, baseline_csat, None, None)
    test = two_proportion_z_test(baseline_csat.satisfied, baseline_csat.count, recent_csat.satisfied, recent_csat.count)
    check = DropCheck(key, TrendStatus.STABLE, recent_csat, baseline_csat, test.z, test.p_lower)
    change = check.change_points
    if change is not None and -change >= rule.min_drop_points and test.z <= -rule.z_critical:
        return DropCheck(key, TrendStatus.SIGNIFICANT_DROP, recent_csat, baseline_csat, test.z, test.p_lower)
    return check


def detect_csat_drops_by_station(
    records: Iterable[FeedbackRecord], *, now: datetime, rule: DropRule = DropRule()
) -> list[DropCheck]:
    """`detect_csat_drop` per station; significant drops first (strongest z first), then by station id."""
    groups: dict[str, list[FeedbackRecord]] = defaultdict(list)
    for record in records:
        groups[record.facts.station_id].append(record)
    checks = [detect_csat_drop(groups[station], now=now, rule=rule, key=station) for station in groups]
    return sorted(
        checks,
        key=lambda c: (c.status is not TrendStatus.SIGNIFICANT_DROP, c.z if c.z is not None else 0.0, c.key),
    )


EXPORT_COLUMNS: tuple[str, ...] = (
    "session_id",
    "station_id",
    "charger_id",
    "connector_id",
    "session_started_at",
    "session_ended_at",
    "submitted_at",
    "overall",
    "charging_speed",
    "ease_of_use",
    "availability",
    "price_transparency",
    "would_recommend",
    "comment",
    "survey_id",
    "answers",
    "energy_wh",
    "avg_power_w",
    "peak_power_w",
    "connector_rating_w",
    "idle_seconds",
    "price",
    "currency",
    "incident_codes",
    "stop_reason",
    "flags",
)

_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """Render a value for CSV; text a spreadsheet would run as a formula gets a leading quote."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_TRIGGERS):
        return "'" + text
    return text


def export_rows(records: Iterable[FeedbackRecord]) -> list[dict[str, str]]:
    """One row per feedback, keyed by `EXPORT_COLUMNS`. Contact data is never part of a record."""
    rows = []
    for record in records:
        feedback, facts = record.feedback, record.facts
        values: dict[str, object] = {
            "session_id": facts.session_id,
            "station_id": facts.station_id,
            "charger_id": facts.charger_id,
            "connector_id": facts.connector_id,
            "session_started_at": facts.started_at,
            "session_ended_at": facts.ended_at,
            "submitted_at": feedback.submitted_at,
            "overall": feedback.overall,
            "charging_speed": feedback.charging_speed,
            "ease_of_use": feedback.ease_of_use,
            "availability": feedback.availability,
            "price_transparency": feedback.price_transparency,
            "would_recommend": feedback.would_recommend,
            "comment": feedback.comment,
            "survey_id": feedback.survey_id,
            "answers": json.dumps(dict(feedback.answers), sort_keys=True, ensure_ascii=False)
            if feedback.answers
            else None,
            "energy_wh": facts.energy_wh,
            "avg_power_w": facts.avg_power_w,
            "peak_power_w": facts.peak_power_w,
            "connector_rating_w": facts.connector_rating_w,
            "idle_seconds": facts.idle_seconds,
            "price": facts.price,
            "currency": facts.currency,
            "incident_codes": " ".join(sorted(facts.incident_codes)),
            "stop_reason": facts.stop_reason,
            "flags": " ".join(sorted(facts.flags())),
        }
        rows.append({column: _cell(values[column]) for column in EXPORT_COLUMNS})
    return rows


def export_csv(records: Iterable[FeedbackRecord]) -> str:
    """The export as CSV text with a header row (RFC 4180 quoting, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    writer.writerows(export_rows(records))
    return buffer.getvalue()
