"""Meter anomaly policy: repair by a named rule or send to review, never a negative amount."""

from hypothesis import given
from hypothesis import strategies as st

from chargewatch.billing.anomalies import MeterFlag, RepairRule, assess_meter


def test_consistent_readings_are_billed_as_measured():
    result = assess_meter(meter_start_wh=1000, meter_stop_wh=9000, samples_wh=[3000, 6000])
    assert (result.energy_wh, result.rule, result.needs_review) == (8000, RepairRule.AS_MEASURED, False)


def test_missing_stop_is_repaired_with_the_last_sample():
    result = assess_meter(meter_start_wh=1000, meter_stop_wh=None, samples_wh=[3000, 7000],
                          flags=frozenset({MeterFlag.MISSING_STOP}))
    assert (result.energy_wh, result.rule) == (6000, RepairRule.MISSING_STOP_USES_LAST_SAMPLE)


def test_meter_stop_zero_with_samples_uses_the_last_sample():
    result = assess_meter(meter_start_wh=1000, meter_stop_wh=0, samples_wh=[3000, 7000])
    assert (result.energy_wh, result.rule) == (6000, RepairRule.ZERO_STOP_USES_LAST_SAMPLE)


def test_meter_stop_zero_without_samples_needs_review():
    assert assess_meter(meter_start_wh=1000, meter_stop_wh=0, samples_wh=[]).needs_review


def test_stop_below_last_sample_bills_up_to_the_sample():
    result = assess_meter(meter_start_wh=1000, meter_stop_wh=6500, samples_wh=[3000, 7000])
    assert (result.energy_wh, result.rule) == (6000, RepairRule.STOP_BELOW_SAMPLE_USES_LAST_SAMPLE)


def test_register_reset_to_zero_sums_the_rising_segments():
    result = assess_meter(meter_start_wh=50_000, meter_stop_wh=4000, samples_wh=[52_000, 10, 2000],
                          flags=frozenset({MeterFlag.REGISTER_RESET}))
    assert (result.energy_wh, result.rule) == (2000 + 10 + 1990 + 2000, RepairRule.RESET_SUMS_SEGMENTS)


def test_register_drop_that_is_not_a_reset_needs_review():
    assert assess_meter(meter_start_wh=50_000, meter_stop_wh=52_000, samples_wh=[51_000, 30_000]).needs_review


def test_suspect_unit_needs_review():
    result = assess_meter(meter_start_wh=0, meter_stop_wh=12, samples_wh=[], flags=frozenset({MeterFlag.UNIT_SUSPECT}))
    assert result.needs_review and result.energy_wh is None


@given(
    start=st.integers(0, 10**9),
    stop=st.one_of(st.none(), st.integers(0, 10**9)),
    samples=st.lists(st.integers(0, 10**9), max_size=8),
    flags=st.frozensets(st.sampled_from(list(MeterFlag))),
)
def test_outcome_is_never_a_negative_amount(start, stop, samples, flags):
    result = assess_meter(meter_start_wh=start, meter_stop_wh=stop, samples_wh=samples, flags=flags)
    assert result.needs_review or (result.energy_wh is not None and result.energy_wh >= 0 and result.rule)
