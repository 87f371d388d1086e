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
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta, tzinfo
from enum import StrEnum

from chargewatch.feedback.facts import INCIDENT_FLAG_PREFIX
from chargewatch.feedback.records import FeedbackRecord
from chargewatch.feedback.significance import (
    Z_CRITICAL_ONE_SIDED_5_PERCENT,
    Interval,
    benjamini_hochberg,
    bernoulli_cusum,
    two_proportion_z_test,
    wilson_interval,
)
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

    @property
    def interval(self) -> Interval | None:
        """95 % Wilson interval of the share (0..1); None for no ratings."""
        return wilson_interval(self.satisfied, self.count)


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


MIN_SAMPLE_FLOOR = 10
"""No window with fewer ratings is ever tested: with 3 against 1 rating any 'drop' is noise."""


@dataclass(frozen=True, slots=True)
class DropRule:
    """When a CSAT drop is worth an alert.

    The recent window is the `recent_weeks` × 7 days before `now`; the baseline the `baseline_weeks`
    × 7 days before that. A window pair is a candidate when both windows have at least `min_sample`
    ratings (never below `MIN_SAMPLE_FLOOR`), CSAT fell by at least `min_drop_points` percentage
    points and the one-sided two-proportion z-test gives z ≤ -`z_critical`.

    Two guards keep a network of many stations from crying wolf:
    - across stations, the one-sided p-values are corrected with Benjamini–Hochberg at `fdr_q`
      (the expected share of false alarms among the alarms), instead of testing each at 5 %;
    - the drop must persist: it must be a (corrected) discovery at `now` and at each of the
      `persistence_checks - 1` weekly checks before, so one unlucky week does not page anyone.

    With `per_charger` every charger of a station is a hypothesis of its own next to the station (a broken
    charger is diluted by its healthy neighbours in the station's share); all hypotheses of one check
    (stations and chargers) go into one Benjamini–Hochberg family. A charger window pair needs
    `charger_min_sample` ratings on each side (never below `MIN_SAMPLE_FLOOR` either).

    Per station, with `cusum_threshold` set (the default), a sequential test replaces the window pairs: a
    one-sided Bernoulli CUSUM per charger over its ratings of the last `cusum_weeks`, for the share falling by
    `cusum_drop_points` from the station's share in the `baseline_weeks` before (all its chargers: a steadier
    reference than one charger's). It alarms at `cusum_threshold`, calibrated on seeded stable networks for
    about one false alarm in twenty 12-week runs of 12 stations: the largest charger statistic over such a run
    reached 10 in 2 of 30 stable runs (seeds 2000-2029 of tests/drop_scenarios.py; see bench/drop_alerts.py).
    The CUSUM is itself the persistence requirement (evidence must accumulate over many ratings; one bad day
    proves nothing), so `persistence_checks` applies only to window pairs: the network's drop, and stations
    with `cusum_threshold=None`, which keeps the window pairs with Benjamini–Hochberg.
    """

    recent_weeks: int = 4
    baseline_weeks: int = 12
    min_sample: int = 30
    min_drop_points: float = 5.0
    z_critical: float = Z_CRITICAL_ONE_SIDED_5_PERCENT
    fdr_q: float = 0.01
    persistence_checks: int = 2
    per_charger: bool = True
    charger_min_sample: int = 15
    cusum_threshold: float | None = 10.0
    cusum_weeks: int = 8
    cusum_drop_points: float = 25.0

    def __post_init__(self) -> None:
        if self.recent_weeks < 1 or self.baseline_weeks < 1:
            raise ValueError("recent_weeks and baseline_weeks must be at least 1")
        if self.min_sample < MIN_SAMPLE_FLOOR:
            raise ValueError(f"min_sample must be at least {MIN_SAMPLE_FLOOR}")
        if self.charger_min_sample < MIN_SAMPLE_FLOOR:
            raise ValueError(f"charger_min_sample must be at least {MIN_SAMPLE_FLOOR}")
        if self.cusum_threshold is not None and self.cusum_threshold <= 0:
            raise ValueError("cusum_threshold must be positive")
        if self.cusum_weeks < 1 or not 0 < self.cusum_drop_points < 100:
            raise ValueError("cusum_weeks must be at least 1 and cusum_drop_points between 0 and 100")
        if not 0 < self.fdr_q < 1:
            raise ValueError("fdr_q must lie between 0 and 1")
        if self.persistence_checks < 1:
            raise ValueError("persistence_checks must be at least 1")


@dataclass(frozen=True, slots=True)
class FlagShift:
    """How often one telemetry flag occurred in rated sessions before and after `since`."""

    flag: str
    since: datetime
    before: Csat  # reused as 'flagged of total': satisfied = sessions with the flag
    after: Csat

    @property
    def change_points(self) -> float:
        return (self.after.percent or 0.0) - (self.before.percent or 0.0)


@dataclass(frozen=True, slots=True)
class DropExplanation:
    """The telemetry change behind a drop, for the station and per charger, with a sentence."""

    text: str
    station: FlagShift | None
    chargers: tuple[tuple[str, FlagShift], ...] = ()


@dataclass(frozen=True, slots=True)
class DropCheck:
    key: str
    status: TrendStatus
    recent: Csat
    baseline: Csat
    z: float | None
    p_value: float | None
    q_value: float | None = None
    persisted_checks: int = 0
    explanation: DropExplanation | None = None
    charger_id: str | None = None
    """Set when the drop was found on this charger of station `key` rather than on the whole station;
    recent, baseline, z, p and q are then the charger's."""
    cusum: float | None = None
    """The CUSUM statistic when the sequential test ran; `recent` is then the ratings since its estimated
    change point, `baseline` the station's share it was compared with, z and p that pair's test."""

    @property
    def change_points(self) -> float | None:
        """Recent minus baseline CSAT, in percentage points."""
        if self.recent.percent is None or self.baseline.percent is None:
            return None
        return self.recent.percent - self.baseline.percent


def _window_check(
    records: Sequence[FeedbackRecord], now: datetime, rule: DropRule, key: str, min_sample: int | None = None
) -> DropCheck:
    """One window pair, uncorrected: SIGNIFICANT_DROP here means 'a candidate at the z threshold'."""
    min_sample = rule.min_sample if min_sample is None else min_sample
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
    if recent_csat.count < min_sample or baseline_csat.count < min_sample:
        return DropCheck(key, TrendStatus.INSUFFICIENT_DATA, recent_csat, baseline_csat, None, None)
    test = two_proportion_z_test(baseline_csat.satisfied, baseline_csat.count, recent_csat.satisfied, recent_csat.count)
    check = DropCheck(key, TrendStatus.STABLE, recent_csat, baseline_csat, test.z, test.p_lower)
    change = check.change_points
    if change is not None and -change >= rule.min_drop_points and test.z <= -rule.z_critical:
        return replace(check, status=TrendStatus.SIGNIFICANT_DROP)
    return check


def _check_times(now: datetime, rule: DropRule) -> list[datetime]:
    """`now` and the weekly checks before it that a drop must also have been found at."""
    return [now - timedelta(weeks=step) for step in range(rule.persistence_checks)]


def detect_csat_drop(
    records: Iterable[FeedbackRecord], *, now: datetime, rule: DropRule = DropRule(), key: str = "network",
    tz: tzinfo = UTC,
) -> DropCheck:
    """Compare the recent window's CSAT to the baseline window's, per `rule` (one test: no correction,
    but the persistence requirement applies)."""
    now = as_utc(now, "now")
    chosen = list(records)
    checks = [_window_check(chosen, at, rule, key) for at in _check_times(now, rule)]
    current = checks[0]
    persisted = _leading_drops([check.status is TrendStatus.SIGNIFICANT_DROP for check in checks])
    current = replace(current, q_value=current.p_value, persisted_checks=persisted)
    if current.status is TrendStatus.SIGNIFICANT_DROP:
        if persisted < rule.persistence_checks:
            return replace(current, status=TrendStatus.STABLE)
        return replace(current, explanation=explain_drop(chosen, now=now, rule=rule, tz=tz))
    return current


def _leading_drops(flags: Sequence[bool]) -> int:
    count = 0
    for flag in flags:
        if not flag:
            break
        count += 1
    return count


def _cusum_check(
    station_records: Sequence[FeedbackRecord], unit_records: Sequence[FeedbackRecord], now: datetime, rule: DropRule,
    key: str, charger: str | None, threshold: float,
) -> DropCheck:
    """The sequential test of one charger (or, `charger` None, the whole station) at `now`."""
    start = now - timedelta(weeks=rule.cusum_weeks)
    baseline_start = start - timedelta(weeks=rule.baseline_weeks)
    baseline = csat_of(r.overall for r in station_records if baseline_start <= r.facts.started_at < start)
    run = sorted((r for r in unit_records if start <= r.facts.started_at < now), key=lambda r: r.facts.started_at)
    if baseline.count < rule.min_sample or len(run) < rule.charger_min_sample:
        return DropCheck(key, TrendStatus.INSUFFICIENT_DATA, csat_of(r.overall for r in run), baseline, None, None,
                         charger_id=charger)
    p0 = min(max(baseline.satisfied / baseline.count, 0.05), 0.95)
    result = bernoulli_cusum([r.overall >= SATISFIED_MIN for r in run], p0, max(p0 - rule.cusum_drop_points / 100,
                                                                                0.01))
    recent = csat_of(r.overall for r in run[result.since:])
    z = p_value = None
    if recent.count:
        test = two_proportion_z_test(baseline.satisfied, baseline.count, recent.satisfied, recent.count)
        z, p_value = test.z, test.p_lower
    status = TrendStatus.SIGNIFICANT_DROP if result.statistic >= threshold else TrendStatus.STABLE
    return DropCheck(key, status, recent, baseline, z, p_value, charger_id=charger, cusum=result.statistic)


def _cusum_drops(
    groups: dict[Unit, list[FeedbackRecord]], now: datetime, rule: DropRule, threshold: float, tz: tzinfo
) -> list[DropCheck]:
    alerting: dict[str, list[DropCheck]] = defaultdict(list)
    for unit, records in groups.items():
        if unit[1] is not None:
            check = _cusum_check(groups[(unit[0], None)], records, now, rule, unit[0], unit[1], threshold)
            if check.status is TrendStatus.SIGNIFICANT_DROP:
                alerting[unit[0]].append(check)
    results = []
    for (station, charger), records in groups.items():
        if charger is not None:
            continue
        chargers = sorted(alerting[station], key=lambda c: -(c.cusum or 0.0))
        if len(chargers) == 1:
            alert = chargers[0]
        else:
            # No charger, or several (the whole station): the station's own sequential test, for the numbers.
            alert = _cusum_check(records, records, now, rule, station, None, threshold)
            if chargers:
                alert = replace(alert, status=TrendStatus.SIGNIFICANT_DROP)
            elif alert.status is TrendStatus.SIGNIFICANT_DROP:
                alert = replace(alert, status=TrendStatus.STABLE)  # the threshold is calibrated per charger
        if alert.status is TrendStatus.SIGNIFICANT_DROP:
            alert = replace(alert, explanation=explain_drop(records, now=now, rule=rule, tz=tz,
                                                            charger_id=alert.charger_id))
        results.append(alert)
    return results


Unit = tuple[str, str | None]
"""What one hypothesis is about: (station, None) for the whole station, (station, charger) for one charger."""


def detect_csat_drops_by_station(
    records: Iterable[FeedbackRecord], *, now: datetime, rule: DropRule = DropRule(), tz: tzinfo = UTC
) -> list[DropCheck]:
    """Per station, corrected for testing every station (and, with `rule.per_charger`, every charger) at
    once (Benjamini–Hochberg at `rule.fdr_q`) and required to persist over `rule.persistence_checks`
    weekly checks.

    One check per station. A station whose own share dropped reports the station's numbers; otherwise a
    station with a dropping charger reports that charger's numbers and `charger_id` (the strongest one).
    Significant drops first (strongest z first), then by station id; each drop carries its explanation.
    """
    now = as_utc(now, "now")
    groups: dict[Unit, list[FeedbackRecord]] = defaultdict(list)
    for record in records:
        groups[(record.facts.station_id, None)].append(record)
        if rule.per_charger or rule.cusum_threshold is not None:
            groups[(record.facts.station_id, record.facts.charger_id)].append(record)
    if rule.cusum_threshold is not None:
        return _sorted_drops(_cusum_drops(groups, now, rule, rule.cusum_threshold, tz))
    discoveries_per_check: list[set[Unit]] = []
    current: dict[Unit, DropCheck] = {}
    for step, at in enumerate(_check_times(now, rule)):
        checks = {
            unit: _window_check(unit_records, at, rule, unit[0],
                                rule.min_sample if unit[1] is None else rule.charger_min_sample)
            for unit, unit_records in groups.items()
        }
        p_values = {unit: c.p_value for unit, c in checks.items() if c.p_value is not None}
        q_values = benjamini_hochberg(p_values, rule.fdr_q) if p_values else {}
        discoveries_per_check.append({
            unit for unit, check in checks.items()
            if check.status is TrendStatus.SIGNIFICANT_DROP and q_values[unit] <= rule.fdr_q
        })
        if step == 0:
            current = {unit: replace(c, q_value=q_values.get(unit), charger_id=unit[1]) for unit, c in checks.items()}
    alerting: dict[str, list[DropCheck]] = defaultdict(list)
    for unit, check in current.items():
        persisted = _leading_drops([unit in found for found in discoveries_per_check])
        check = replace(check, persisted_checks=persisted)
        if check.status is TrendStatus.SIGNIFICANT_DROP and persisted < rule.persistence_checks:
            check = replace(check, status=TrendStatus.STABLE)
        current[unit] = check
        if check.status is TrendStatus.SIGNIFICANT_DROP:
            alerting[unit[0]].append(check)
    results = []
    for (station, charger), check in current.items():
        if charger is not None:
            continue
        alert = _most_specific(alerting[station])
        if alert is not None:
            check = replace(alert, explanation=explain_drop(groups[(station, None)], now=now, rule=rule, tz=tz,
                                                            charger_id=alert.charger_id))
        results.append(check)
    return _sorted_drops(results)


def _sorted_drops(results: Iterable[DropCheck]) -> list[DropCheck]:
    return sorted(
        results,
        key=lambda c: (c.status is not TrendStatus.SIGNIFICANT_DROP, c.z if c.z is not None else 0.0, c.key),
    )


def _most_specific(alerts: Sequence[DropCheck]) -> DropCheck | None:
    """The alert to show for one station: its single dropping charger when only one charger dropped (the
    station's share then only echoes it), else the station's own drop, else the strongest charger's."""
    chargers = sorted((a for a in alerts if a.charger_id is not None), key=lambda a: a.z or 0.0)
    own = [a for a in alerts if a.charger_id is None]
    if len(chargers) == 1 or (chargers and not own):
        return chargers[0]
    return own[0] if own else None


_FLAG_PHRASES: dict[str, str] = {
    "slow": "below half rated power",
    "long_idle": "with a long idle time",
    "had_incident": "with an incident",
    "aborted": "stopped abnormally",
    "zero_energy": "that delivered no energy",
}
MIN_SIDE = 5  # sessions needed on each side of a change date


def _phrase(flag: str) -> str:
    if flag.startswith(INCIDENT_FLAG_PREFIX):
        return f"with a {flag.removeprefix(INCIDENT_FLAG_PREFIX)} incident"
    return _FLAG_PHRASES.get(flag, f"flagged {flag}")


def _shift(flagged: Sequence[tuple[datetime, bool]], since: datetime, flag: str) -> FlagShift:
    before = [hit for at, hit in flagged if at < since]
    after = [hit for at, hit in flagged if at >= since]
    return FlagShift(flag, since, Csat(sum(before), len(before)), Csat(sum(after), len(after)))


def _best_split(
    flagged: Sequence[tuple[datetime, bool]], flag: str, candidates: Sequence[datetime]
) -> FlagShift | None:
    """The change date that separates 'flag rare' from 'flag common' best: the largest two-proportion z
    of 'after' against 'before' (a raw share difference would wander by days with the noise)."""
    best: FlagShift | None = None
    best_z = 0.0
    for since in candidates:
        shift = _shift(flagged, since, flag)
        if shift.before.count < MIN_SIDE or shift.after.count < MIN_SIDE:
            continue
        z = two_proportion_z_test(shift.before.satisfied, shift.before.count,
                                  shift.after.satisfied, shift.after.count).z
        if best is None or z > best_z:
            best, best_z = shift, z
    return best


def explain_drop(
    records: Sequence[FeedbackRecord], *, now: datetime, rule: DropRule = DropRule(), tz: tzinfo = UTC,
    min_change_points: float = 20.0, charger_id: str | None = None,
) -> DropExplanation:
    """What changed in the telemetry of these (one station's) rated sessions over the two windows.

    For every fact flag the session start day that best separates 'before' from 'since' is found;
    the flag with the largest increase explains the drop, e.g. 'since 2 Mar 85 % of rated sessions
    below half rated power (n=40), vs 0 % before (n=160)', followed by the chargers where it changed.
    With `charger_id` (a drop found on one charger) the change is searched in that charger's sessions,
    the text starts with 'charger CP-1 at station ST-1: ' and `station` is the station-wide share
    since the same day. Dates are shown in `tz` (the station's time zone).
    """
    now = as_utc(now, "now")
    start = now - timedelta(weeks=rule.recent_weeks + rule.baseline_weeks)
    chosen = sorted((r for r in records if start <= r.facts.started_at < now), key=lambda r: r.facts.started_at)
    flags = [(r, r.facts.flags()) for r in chosen]
    searched = [(r, f) for r, f in flags if charger_id is None or r.facts.charger_id == charger_id]
    candidates = sorted({
        datetime.combine(r.facts.started_at.astimezone(tz).date(), time(), tzinfo=tz).astimezone(UTC)
        for r, _ in searched
    })
    best: FlagShift | None = None
    for flag in sorted(set().union(*(f for _, f in searched))) if searched else []:
        shift = _best_split([(r.facts.started_at, flag in f) for r, f in searched], flag, candidates)
        if shift is not None and (best is None or shift.change_points > best.change_points):
            best = shift
    prefix = f"charger {charger_id} at station {chosen[0].facts.station_id}: " if charger_id and chosen else ""
    if best is None or best.change_points < min_change_points:
        return DropExplanation(prefix + "no telemetry change explains it (speed, idle time, incidents, stop "
                               "reasons look as before): read the comments", None)
    unit = best
    if charger_id is not None:
        best = _shift([(r.facts.started_at, best.flag in f) for r, f in flags], best.since, best.flag)
    chargers: list[tuple[str, FlagShift]] = []
    for charger in sorted({r.facts.charger_id for r in chosen}):
        shift = _shift([(r.facts.started_at, best.flag in f) for r, f in flags if r.facts.charger_id == charger],
                       best.since, best.flag)
        chargers.append((charger, shift))
    chargers.sort(key=lambda item: (-item[1].change_points, item[0]))
    day = best.since.astimezone(tz)
    text = (f"{prefix}since {day.day} {day:%b} {unit.after.percent:.0f} % of rated sessions {_phrase(best.flag)} "
            f"(n={unit.after.count}), vs {unit.before.percent:.0f} % before (n={unit.before.count})")
    changed = [f"{charger} {s.after.percent:.0f} % vs {s.before.percent or 0:.0f} %" for charger, s in chargers
               if s.after.count and s.change_points >= min_change_points]
    if changed:
        text += "; by charger: " + ", ".join(changed)
    return DropExplanation(text, best, tuple(chargers))


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
