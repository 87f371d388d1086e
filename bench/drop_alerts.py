"""CSAT drop alerts on seeded synthetic 12-week runs (tests/drop_scenarios.py): the uncorrected per-station
z-test that shipped before (before) against Benjamini-Hochberg + persistence (after).

    .venv/bin/python bench/drop_alerts.py [--runs 20]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from chargewatch.feedback.analytics import DropRule, TrendStatus, csat_of, detect_csat_drops_by_station  # noqa: E402
from chargewatch.feedback.records import FeedbackRecord  # noqa: E402
from chargewatch.feedback.significance import two_proportion_z_test  # noqa: E402
from drop_scenarios import run  # noqa: E402


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


def corrected(records: Sequence[FeedbackRecord], now: datetime) -> set[str]:
    return {c.key for c in detect_csat_drops_by_station(records, now=now) if c.status is TrendStatus.SIGNIFICANT_DROP}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    print(f"CSAT drop alerts, {runs} seeded 12-week runs (12 stations, one planted slow charger)")
    print(f"{'detector':<34}{'false alarm (stable)':>22}{'alarm before cause':>20}{'cause found':>13}")
    for name, detector in (("before: per-station z, uncorrected", uncorrected),
                           ("after: BH 5 % + 2-week persistence", corrected)):
        outcomes = [run(seed, detector) for seed in range(runs)]
        print(f"{name:<34}{sum(o.false_alarm for o in outcomes):>17} / {runs}"
              f"{sum(o.early_alarm for o in outcomes):>15} / {runs}{sum(o.detected for o in outcomes):>8} / {runs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
