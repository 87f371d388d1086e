"""CSAT drop alerts on seeded synthetic 12-week runs (tests/drop_scenarios.py): the uncorrected per-station
z-test that shipped first (before), Benjamini-Hochberg + persistence over stations only (the reference), the
same over stations and chargers at 1 %, and the current detector (after): a one-sided Bernoulli CUSUM per
charger against its station's baseline share, threshold calibrated on stable networks (seeds 2000-2029).

    .venv/bin/python bench/drop_alerts.py [--runs 20] [--first-seed 0]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from chargewatch.feedback.analytics import DropRule, TrendStatus, csat_of, detect_csat_drops_by_station  # noqa: E402
from chargewatch.feedback.records import FeedbackRecord  # noqa: E402
from chargewatch.feedback.significance import two_proportion_z_test  # noqa: E402
from drop_scenarios import Detector, run  # noqa: E402


def uncorrected(records: Sequence[FeedbackRecord], now: datetime) -> set[str]:
    """The detector before: each station on its own at one-sided 5 %, one window pair, no persistence."""
    rule = DropRule()
    recent_start = now - timedelta(weeks=rule.recent_weeks)
    baseline_start = recent_start - timedelta(weeks=rule.baseline_weeks)
    windows: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for record in records:
        started = record.facts.started_at
        if recent_start <= started < now:
            windows[record.station_id][0].append(record.overall)
        elif baseline_start <= started < recent_start:
            windows[record.station_id][1].append(record.overall)
    flagged = set()
    for station, (recent, baseline) in windows.items():
        r, b = csat_of(recent), csat_of(baseline)
        if r.count < rule.min_sample or b.count < rule.min_sample:
            continue
        test = two_proportion_z_test(b.satisfied, b.count, r.satisfied, r.count)
        if (b.percent or 0) - (r.percent or 0) >= rule.min_drop_points and test.z <= -rule.z_critical:
            flagged.add(station)
    return flagged


def with_rule(rule: DropRule) -> Detector:
    def detect(records: Sequence[FeedbackRecord], now: datetime) -> set[str]:
        return {c.key for c in detect_csat_drops_by_station(records, now=now, rule=rule)
                if c.status is TrendStatus.SIGNIFICANT_DROP}
    return detect


DETECTORS: tuple[tuple[str, Detector], ...] = (
    ("before: per-station z, uncorrected", uncorrected),
    ("BH stations 5 % + 2-week persistence", with_rule(DropRule(per_charger=False, fdr_q=0.05, cusum_threshold=None))),
    ("BH stations+chargers 1 % + persistence", with_rule(DropRule(cusum_threshold=None))),
    ("after: CUSUM per charger (threshold 10)", with_rule(DropRule())),
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0)
    options = parser.parse_args()
    runs, seeds = options.runs, range(options.first_seed, options.first_seed + options.runs)
    print(f"CSAT drop alerts, {runs} seeded 12-week runs, seeds {seeds.start}-{seeds.stop - 1} "
          "(12 stations, one planted slow charger)")
    print(f"{'detector':<42}{'false alarm (stable)':>22}{'alarm before cause':>20}{'cause found':>13}"
          f"{'median delay':>14}")
    for name, detector in DETECTORS:
        outcomes = [run(seed, detector) for seed in seeds]
        delays = [o.delay_days for o in outcomes if o.delay_days is not None]
        delay = f"{statistics.median(delays):.1f} d" if delays else "-"
        print(f"{name:<42}{sum(o.false_alarm for o in outcomes):>17} / {runs}"
              f"{sum(o.early_alarm for o in outcomes):>15} / {runs}{sum(o.detected for o in outcomes):>8} / {runs}"
              f"{delay:>14}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
