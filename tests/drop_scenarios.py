"""Seeded synthetic networks for measuring drop alerts: stable stations plus one with a planted cause.

A run is 12 weekly monitoring checks over a network with 28 weeks of history (16 weeks before the
first check so the first check already has a full baseline). Station ST-00's charger CP-00-1 starts
delivering under half its rated power on `cause_at` (a random day in monitoring weeks 5-8); drivers
rate those sessions worse. Every other station is stable: same satisfaction throughout.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from chargewatch.feedback.facts import SessionFacts
from chargewatch.feedback.records import FeedbackRecord
from chargewatch.feedback.submission import Feedback

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # a Monday
HISTORY_WEEKS = 16
CHECKS = 12
PLANTED_STATION = "ST-00"
PLANTED_CHARGER = "CP-00-1"


@dataclass(frozen=True)
class Scenario:
    records: list[FeedbackRecord]
    cause_at: datetime
    check_times: list[datetime]
    stations: list[str]


def _rating(rng: random.Random, satisfied_share: float) -> int:
    return rng.choice((4, 5)) if rng.random() < satisfied_share else rng.choice((1, 2, 3))


def scenario(
    seed: int, *, stations: int = 12, ratings_per_day: float = 2.0, stable_share: float = 0.78,
    slow_share: float = 0.30,
) -> Scenario:
    rng = random.Random(seed)
    days = (HISTORY_WEEKS + CHECKS) * 7
    cause_at = START + timedelta(weeks=HISTORY_WEEKS + 4, days=rng.randrange(28))
    records: list[FeedbackRecord] = []
    serial = 0
    for station_number in range(stations):
        station = f"ST-{station_number:02d}"
        for day in range(days):
            # Poisson-ish daily volume: binomial over 8 slots.
            for _ in range(sum(1 for _ in range(8) if rng.random() < ratings_per_day / 8)):
                started = START + timedelta(days=day, minutes=rng.randrange(14 * 60))
                charger = f"CP-{station_number:02d}-{rng.randrange(1, 3)}"
                slow = station == PLANTED_STATION and charger == PLANTED_CHARGER and started >= cause_at
                overall = _rating(rng, slow_share if slow else stable_share)
                serial += 1
                session_id = f"S-{seed}-{serial}"
                facts = SessionFacts(
                    session_id=session_id, charger_id=charger, connector_id=1, station_id=station,
                    started_at=started, ended_at=started + timedelta(minutes=40), energy_wh=30_000,
                    avg_power_w=18_000 if slow else 45_000, peak_power_w=20_000 if slow else 50_000,
                    connector_rating_w=50_000, price=Decimal("15.90"), currency="EUR", stop_reason="Local",
                )
                feedback = Feedback(session_id=session_id, overall=overall,
                                    submitted_at=started + timedelta(hours=2))
                records.append(FeedbackRecord(feedback, facts))
    check_times = [START + timedelta(weeks=HISTORY_WEEKS + week) for week in range(1, CHECKS + 1)]
    return Scenario(records, cause_at, check_times, [f"ST-{n:02d}" for n in range(stations)])


@dataclass(frozen=True)
class RunOutcome:
    false_alarm: bool  # a stable station was flagged at some check
    early_alarm: bool  # the planted station was flagged at a check before the cause existed
    detected: bool  # the planted station was flagged at some check after the cause
    delay_days: float | None = None  # from the cause to the first check that flagged the planted station after it


Detector = Callable[[Sequence[FeedbackRecord], datetime], set[str]]
"""Records and `now` -> the stations flagged as a significant drop."""


def run(seed: int, detector: Detector, **options: float) -> RunOutcome:
    built = scenario(seed, **options)  # type: ignore[arg-type]
    false_alarm = early = False
    delay: float | None = None
    for now in built.check_times:
        visible = [r for r in built.records if r.facts.started_at < now]
        flagged = detector(visible, now)
        false_alarm |= bool(flagged - {PLANTED_STATION})
        if PLANTED_STATION in flagged:
            if now <= built.cause_at:
                early = True
            elif delay is None:
                delay = (now - built.cause_at) / timedelta(days=1)
    return RunOutcome(false_alarm, early, delay is not None, delay)
