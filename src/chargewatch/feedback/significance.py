"""The statistics this package uses to tell a real change from noise: a two-proportion z-test, Wilson
intervals, Benjamini-Hochberg across many tests and a Bernoulli CUSUM (sequential, for drop alerts).

A two-proportion z-test (normal approximation) compares two shares, e.g. the CSAT of the last
four weeks against the twelve before. It is simple enough to explain on a dashboard and adequate
when each group has at least ~30 ratings, which callers enforce with a minimum sample size.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

# One-sided 5 % level: we only alert on drops, so the test is one-sided.
Z_CRITICAL_ONE_SIDED_5_PERCENT = 1.645


@dataclass(frozen=True, slots=True)
class ProportionTest:
    """Result of comparing share `successes_b / count_b` against `successes_a / count_a`.

    `z` is negative when B is lower than A; `p_lower` is the one-sided p-value for 'B is lower'.
    """

    z: float
    p_lower: float


def two_proportion_z_test(successes_a: int, count_a: int, successes_b: int, count_b: int) -> ProportionTest:
    """Pooled two-proportion z-test of B against A; both counts must be positive."""
    if count_a <= 0 or count_b <= 0:
        raise ValueError("both groups need at least one observation")
    share_a = successes_a / count_a
    share_b = successes_b / count_b
    pooled = (successes_a + successes_b) / (count_a + count_b)
    standard_error = math.sqrt(pooled * (1 - pooled) * (1 / count_a + 1 / count_b))
    if standard_error == 0:
        # Both groups are all-satisfied or all-dissatisfied: no evidence of a difference.
        return ProportionTest(0.0, 0.5)
    z = (share_b - share_a) / standard_error
    return ProportionTest(z, 0.5 * math.erfc(-z / math.sqrt(2)))


# Two-sided 95 % normal quantile, for confidence intervals shown next to percentages.
Z_95_TWO_SIDED = 1.959964


@dataclass(frozen=True, slots=True)
class Interval:
    """A confidence interval for a share, both ends in [0, 1]."""

    low: float
    high: float


def wilson_interval(successes: int, count: int, z: float = Z_95_TWO_SIDED) -> Interval | None:
    """Wilson score interval for `successes / count` (None for no observations).

    Unlike the textbook 'p ± z·se' it never leaves [0, 1] and stays wide for small samples: 3 of 3
    satisfied is 44 %..100 %, not 100 % ± 0.
    """
    if count <= 0:
        return None
    if not 0 <= successes <= count:
        raise ValueError("successes must lie between 0 and count")
    share = successes / count
    z2 = z * z
    denominator = 1 + z2 / count
    centre = (share + z2 / (2 * count)) / denominator
    half_width = z * math.sqrt(share * (1 - share) / count + z2 / (4 * count * count)) / denominator
    low = 0.0 if successes == 0 else max(0.0, min(share, centre - half_width))
    high = 1.0 if successes == count else min(1.0, max(share, centre + half_width))
    return Interval(low, high)


def benjamini_hochberg(p_values: Mapping[K, float], q: float) -> dict[K, float]:
    """Benjamini–Hochberg adjusted p-values (q-values) per key; a key is a discovery when its value ≤ `q`.

    Testing fifty stations at 5 % each raises about 2.5 false alarms every time; this controls the
    expected share of false alarms among the alarms at `q` instead. Keys are any hashable (a station, or a
    (station, charger) pair), all in one family.
    """
    if not 0 < q < 1:
        raise ValueError("q must lie between 0 and 1")
    ordered = sorted(p_values.items(), key=lambda item: item[1])
    total = len(ordered)
    adjusted: dict[K, float] = {}
    running = 1.0
    for rank in range(total, 0, -1):
        key, p_value = ordered[rank - 1]
        running = min(running, p_value * total / rank)
        adjusted[key] = min(1.0, running)
    return adjusted


@dataclass(frozen=True, slots=True)
class Cusum:
    """A one-sided CUSUM after the last outcome: `statistic` (log-likelihood ratio, ≥ 0) and `since`, the index
    of the first outcome after the last reset to 0 (the estimated change point)."""

    statistic: float
    since: int


def bernoulli_cusum(successes: Sequence[bool], p0: float, p1: float) -> Cusum:
    """Page's one-sided CUSUM for the success share falling from `p0` to `p1`, outcomes in time order.

    Each outcome adds log(p1/p0) (a success, < 0) or log((1-p1)/(1-p0)) (a failure, > 0); the sum never goes
    below 0. Before a change it hovers near 0; after it, it climbs by about the Kullback-Leibler divergence per
    outcome, so evidence since the change accumulates however long ago it was, without a window diluting it.
    """
    if not 0 < p1 < p0 < 1:
        raise ValueError("need 0 < p1 < p0 < 1")
    on_success, on_failure = math.log(p1 / p0), math.log((1 - p1) / (1 - p0))
    statistic, since = 0.0, 0
    for index, success in enumerate(successes):
        statistic += on_success if success else on_failure
        if statistic <= 0:
            statistic, since = 0.0, index + 1
    return Cusum(statistic, since)
