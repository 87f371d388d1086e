"""Relating ratings to telemetry: do drivers rate slow, aborted or faulty sessions lower?

For each fact flag (see `SessionFacts.flags`) the feedback is split into sessions with and without
the flag and compared on mean overall rating and CSAT. A plain-language `Insight` is produced only
when both groups are large enough, the mean differs by a noticeable amount and the CSAT difference
passes a two-sided two-proportion z-test, so operators are not sent chasing noise from a handful
of ratings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chargewatch.feedback.analytics import Csat, csat_of
from chargewatch.feedback.facts import DEFAULT_THRESHOLDS, INCIDENT_FLAG_PREFIX, FactFlag, FactThresholds
from chargewatch.feedback.records import FeedbackRecord
from chargewatch.feedback.significance import two_proportion_z_test

_SUBJECTS: dict[str, str] = {
    FactFlag.SLOW: "Slow sessions (under half the connector's rated power)",
    FactFlag.LONG_IDLE: "Sessions with a long idle time",
    FactFlag.HAD_INCIDENT: "Sessions with any incident",
    FactFlag.ABORTED: "Sessions that were stopped abnormally (reset, power loss, emergency stop...)",
    FactFlag.ZERO_ENERGY: "Sessions that delivered no energy",
}


def describe_flag(flag: str) -> str:
    """The subject of an insight sentence for a flag, e.g. 'Sessions with EVCommunicationError incidents'."""
    if flag.startswith(INCIDENT_FLAG_PREFIX):
        return f"Sessions with {flag.removeprefix(INCIDENT_FLAG_PREFIX)} incidents"
    return _SUBJECTS.get(flag, f"Sessions flagged {flag}")


@dataclass(frozen=True, slots=True)
class GroupStats:
    count: int
    mean_overall: float | None
    csat: Csat


def _stats(ratings: Sequence[int]) -> GroupStats:
    return GroupStats(len(ratings), sum(ratings) / len(ratings) if ratings else None, csat_of(ratings))


@dataclass(frozen=True, slots=True)
class FactComparison:
    """Feedback on sessions with `flag` against feedback on sessions without it.

    Differences are with minus without: negative means flagged sessions are rated worse.
    `p_value` is the two-sided p-value of the CSAT difference (None if a group is empty).
    """

    flag: str
    with_flag: GroupStats
    without_flag: GroupStats
    p_value: float | None

    @property
    def mean_difference(self) -> float | None:
        if self.with_flag.mean_overall is None or self.without_flag.mean_overall is None:
            return None
        return self.with_flag.mean_overall - self.without_flag.mean_overall

    @property
    def csat_difference_points(self) -> float | None:
        if self.with_flag.csat.percent is None or self.without_flag.csat.percent is None:
            return None
        return self.with_flag.csat.percent - self.without_flag.csat.percent


def compare_facts(
    records: Sequence[FeedbackRecord], thresholds: FactThresholds = DEFAULT_THRESHOLDS
) -> list[FactComparison]:
    """One comparison per flag that occurs in `records`, sorted by flag name."""
    flags_per_record = [record.facts.flags(thresholds) for record in records]
    comparisons = []
    for flag in sorted(set().union(*flags_per_record)):
        with_flag = [r.overall for r, flags in zip(records, flags_per_record, strict=True) if flag in flags]
        without = [r.overall for r, flags in zip(records, flags_per_record, strict=True) if flag not in flags]
        with_stats, without_stats = _stats(with_flag), _stats(without)
        p_value = None
        if with_flag and without:
            test = two_proportion_z_test(
                without_stats.csat.satisfied, without_stats.count, with_stats.csat.satisfied, with_stats.count
            )
            p_value = min(1.0, 2 * min(test.p_lower, 1 - test.p_lower))
        comparisons.append(FactComparison(flag, with_stats, without_stats, p_value))
    return comparisons


@dataclass(frozen=True, slots=True)
class InsightRule:
    """When a comparison is worth saying out loud."""

    min_with: int = 20
    min_without: int = 20
    min_mean_difference: float = 0.3
    max_p_value: float = 0.05


@dataclass(frozen=True, slots=True)
class Insight:
    flag: str
    text: str
    comparison: FactComparison


def insights(
    records: Sequence[FeedbackRecord],
    rule: InsightRule = InsightRule(),
    thresholds: FactThresholds = DEFAULT_THRESHOLDS,
) -> list[Insight]:
    """Plain-language findings, largest rating difference first, e.g.
    'Sessions with EVCommunicationError incidents are rated 1.4 points lower on average
    (2.9 vs 4.3; CSAT 39% vs 78%; n=23 vs 310).'
    """
    found = []
    for comparison in compare_facts(records, thresholds):
        difference = comparison.mean_difference
        if (
            difference is None
            or comparison.p_value is None
            or comparison.with_flag.count < rule.min_with
            or comparison.without_flag.count < rule.min_without
            or abs(difference) < rule.min_mean_difference
            or comparison.p_value > rule.max_p_value
        ):
            continue
        found.append(Insight(comparison.flag, _sentence(comparison, difference), comparison))
    return sorted(found, key=lambda insight: (-abs(insight.comparison.mean_difference or 0.0), insight.flag))


def _sentence(comparison: FactComparison, difference: float) -> str:
    with_flag, without = comparison.with_flag, comparison.without_flag
    direction = "lower" if difference < 0 else "higher"
    return (
        f"{describe_flag(comparison.flag)} are rated {abs(difference):.1f} points {direction} on average "
        f"({with_flag.mean_overall:.1f} vs {without.mean_overall:.1f}; "
        f"CSAT {with_flag.csat.percent:.0f}% vs {without.csat.percent:.0f}%; "
        f"n={with_flag.count} vs {without.count})."
    )
