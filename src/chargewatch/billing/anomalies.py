"""What to bill when the meter readings of a session are broken.

Chargers in the field reset registers on reboot, report a stop value below the last sample, send
meterStop 0, lose the stop value after a power cut, or label kWh as Wh (DOMAIN.md, OCPP 1.6 notes).
Each rule below repairs only what the readings prove; anything else goes to a person. The outcome
never carries negative energy, and a repair always names the rule that made it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class MeterFlag(StrEnum):
    """Anomalies the session layer detected while normalising meter values."""

    REGISTER_RESET = "register_reset"
    STOP_BELOW_LAST_SAMPLE = "stop_below_last_sample"
    METER_STOP_ZERO = "meter_stop_zero"
    MISSING_STOP = "missing_stop"
    UNIT_SUSPECT = "unit_suspect"


class RepairRule(StrEnum):
    """The documented repairs; stored with the invoice so an auditor can see why."""

    AS_MEASURED = "as_measured"
    MISSING_STOP_USES_LAST_SAMPLE = "missing_stop_uses_last_sample"
    ZERO_STOP_USES_LAST_SAMPLE = "zero_stop_uses_last_sample"
    STOP_BELOW_SAMPLE_USES_LAST_SAMPLE = "stop_below_sample_uses_last_sample"
    RESET_SUMS_SEGMENTS = "reset_sums_segments"
    OPERATOR_STATED = "operator_stated"  # a person reviewed the session and stated the energy


@dataclass(frozen=True, slots=True)
class MeterAssessment:
    """Either billable energy with the rule that produced it, or `needs_review` with the reason."""

    needs_review: bool
    reason: str
    energy_wh: int | None = None
    rule: RepairRule | None = None
    meter_stop_wh: int | None = None


def assess_meter(
    *,
    meter_start_wh: int,
    meter_stop_wh: int | None,
    samples_wh: Sequence[int],
    flags: frozenset[MeterFlag] = frozenset(),
) -> MeterAssessment:
    """Decide the billable energy of a session from start/stop and the register samples (in time order).

    Rules, in order:
    - unit_suspect: a Wh/kWh mix-up changes the amount by 1000x and cannot be proven from the numbers
      alone -> review.
    - register_reset: the register fell back during the session; when every drop lands at or near zero
      (a reboot), the energy is the sum of the rising segments -> reset_sums_segments; otherwise review.
    - missing stop: the last sample is the last proven register value -> missing_stop_uses_last_sample.
    - meterStop 0 with samples above it -> zero_stop_uses_last_sample.
    - meterStop below the last sample -> stop_below_sample_uses_last_sample (the samples prove more).
    - anything still negative -> review. No samples and no stop -> review.
    """
    flags = frozenset(flags)
    if MeterFlag.UNIT_SUSPECT in flags:
        return _review("energy unit is suspect (Wh/kWh mix-up); the amount cannot be proven")
    series = [meter_start_wh, *samples_wh]
    if MeterFlag.REGISTER_RESET in flags or any(b < a for a, b in zip(series, series[1:], strict=False)):
        return _after_reset(series, meter_stop_wh)
    last_sample = samples_wh[-1] if samples_wh else None
    if meter_stop_wh is None or MeterFlag.MISSING_STOP in flags:
        if last_sample is None:
            return _review("no stop value and no samples: the energy is unknown")
        return _repaired(meter_start_wh, last_sample, RepairRule.MISSING_STOP_USES_LAST_SAMPLE,
                         "stop value missing; billed up to the last sampled register value")
    if meter_stop_wh == 0 and meter_start_wh > 0:
        if last_sample is None:
            return _review("meterStop is 0 and there are no samples to repair it from")
        return _repaired(meter_start_wh, last_sample, RepairRule.ZERO_STOP_USES_LAST_SAMPLE,
                         "meterStop 0 replaced by the last sampled register value")
    if last_sample is not None and meter_stop_wh < last_sample:
        return _repaired(meter_start_wh, last_sample, RepairRule.STOP_BELOW_SAMPLE_USES_LAST_SAMPLE,
                         f"meterStop {meter_stop_wh} Wh is below the last sample {last_sample} Wh")
    if meter_stop_wh < meter_start_wh:
        return _review(f"meterStop {meter_stop_wh} Wh is below meterStart {meter_start_wh} Wh")
    return MeterAssessment(False, "readings consistent", meter_stop_wh - meter_start_wh,
                           RepairRule.AS_MEASURED, meter_stop_wh)


_RESET_FLOOR_WH = 1000


def _after_reset(series: list[int], meter_stop_wh: int | None) -> MeterAssessment:
    if meter_stop_wh is not None and meter_stop_wh != 0:
        series = [*series, meter_stop_wh]
    total = 0
    for before, after in zip(series, series[1:], strict=False):
        if after >= before:
            total += after - before
        elif after > _RESET_FLOOR_WH:
            return _review(f"register fell from {before} Wh to {after} Wh, not to zero: not a provable reset")
        else:
            total += after  # the register restarted at 0 and counted `after` Wh since
    return MeterAssessment(False, "register reset during the session; rising segments summed", total,
                           RepairRule.RESET_SUMS_SEGMENTS, None)


def _repaired(start_wh: int, stop_wh: int, rule: RepairRule, reason: str) -> MeterAssessment:
    if stop_wh < start_wh:
        return _review(f"{reason}, but it is below meterStart {start_wh} Wh")
    return MeterAssessment(False, reason, stop_wh - start_wh, rule, stop_wh)


def _review(reason: str) -> MeterAssessment:
    return MeterAssessment(True, reason)
