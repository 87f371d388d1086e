"""The one statistical test this package uses to tell a real change from noise.

A two-proportion z-test (normal approximation) compares two shares, e.g. the CSAT of the last
four weeks against the twelve before. It is simple enough to explain on a dashboard and adequate
when each group has at least ~30 ratings, which callers enforce with a minimum sample size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
