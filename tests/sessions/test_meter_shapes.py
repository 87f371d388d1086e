"""Pure tests of the meter shapes of issue 17: per-phase registers, Outlet/Inlet, intervals, power, late samples,
refused starts."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from chargewatch.sessions import machine
from chargewatch.sessions.machine import Flag
from chargewatch.sessions.meter import Sample, normalise, register_series, summarise

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def at(seconds):
    return T0 + timedelta(seconds=seconds)


def iso(seconds):
    return at(seconds).isoformat().replace("+00:00", "Z")


def one(*sampled, seconds=600):
    (sample,) = summarise(normalise([{"timestamp": iso(seconds), "sampledValue": list(sampled)}]))
    return sample


def energy(value, unit="Wh", **extra):
    return {"value": str(value), "measurand": "Energy.Active.Import.Register", "unit": unit, **extra}


def power(value, unit="W", **extra):
    return {"value": str(value), "measurand": "Power.Active.Import", "unit": unit, **extra}


def test_per_phase_registers_without_a_total_are_summed():
    sample = one(energy(500_170, phase="L1"), energy(500_160, phase="L2"), energy(500_170, phase="L3"))
    assert sample.register_wh == 1_500_500


def test_line_to_neutral_phases_are_summed_too():
    sample = one(energy("0.5", "kWh", phase="L1-N"), energy("0.5", "kWh", phase="L2-N"),
                 energy("0.25", "kWh", phase="L3-N"))
    assert sample.register_wh == 1_250


def test_a_phase_less_total_wins_over_the_phases():
    assert one(energy(900, phase="L1"), energy(3_000), energy(1_000, phase="L2")).register_wh == 3_000


def test_neutral_alone_is_not_a_total():
    assert one(energy(12, phase="N")).register_wh is None


def test_the_outlet_register_wins_over_the_inlet_whichever_comes_first():
    sample = one(energy(1_240_110, location="Inlet"), energy(1_000_200, location="Outlet"))
    assert (sample.register_wh, sample.inlet) == (1_000_200, False)


def test_a_register_without_location_is_the_outlet():
    assert one(energy(1_000_200), energy(1_240_110, location="Inlet")).register_wh == 1_000_200


def test_only_an_inlet_register_is_used_and_marked():
    sample = one(energy(2_000_250, location="Inlet"))
    assert (sample.register_wh, sample.inlet) == (2_000_250, True)


def test_power_is_the_outlet_sum_of_phases_in_w_and_kw():
    sample = one(power("3.68", "kW", phase="L1"), power(3680, phase="L2"), power("3680", phase="L3"),
                 power("12", "kW", location="Inlet"))
    assert sample.power_w == 11_040


def test_interval_energy_is_read_apart_from_the_register():
    sample = one({"value": "0.03", "measurand": "Energy.Active.Import.Interval", "unit": "kWh"})
    assert (sample.register_wh, sample.interval_wh) == (None, Decimal("30.00"))


def test_a_signed_value_is_kept_verbatim_and_not_read_as_a_number():
    signed = '{"signedMeterData": "T0NNRnx7fXx7fQ==", "signingMethod": "", "encodingMethod": "OCMF"}'
    readings = normalise([{"timestamp": iso(0), "sampledValue": [
        {"value": signed, "format": "SignedData", "context": "Transaction.Begin"}, energy(1_000)]}])
    assert readings[0].signed == signed
    assert summarise(readings)[0].register_wh == 1_000


def session(meter_start=0, refused=False):
    return machine.start(1, "CP", 1, "TAG", T0, meter_start, refused=refused)


def interval(seconds, wh, power_w=None):
    return Sample(at(seconds), None, power_w, None, interval_wh=Decimal(wh))


def register(seconds, wh, power_w=None):
    return Sample(at(seconds), Decimal(wh), power_w, None)


def feed(s, *samples):
    for item in samples:
        s = machine.apply_sample(s, item)
    return s


def test_intervals_are_integrated_into_energy_and_charging_time():
    s = feed(session(), *(interval(5 * i, 30) for i in range(1, 10)))
    s = machine.stop(s, at(45), 270, "Local")
    assert (s.energy_wh, s.charging_seconds, s.idle_seconds, s.max_power_w) == (270, 45, 0, 21_600)
    assert Flag.POWER_ESTIMATED in s.flags


def test_a_static_stop_register_leaves_the_interval_sum_standing():
    s = machine.stop(feed(session(), interval(60, 500), interval(120, 500)), at(180), 0, "Local")
    assert s.energy_wh == 1_000 and Flag.METER_STOP_ZERO not in s.flags


def test_reported_power_is_the_maximum_not_the_energy_delta_at_stop():
    s = feed(session(3_000_000), register(600, 3_003_667, 22_000), register(1200, 3_007_334, 22_000))
    s = machine.stop(s, at(1202), 3_007_354, "Local")
    assert (s.max_power_w, s.energy_wh) == (22_000, 7_354) and Flag.POWER_ESTIMATED not in s.flags


def test_the_first_reported_power_replaces_estimates():
    s = feed(session(), register(2, 20), register(600, 1_000, 6_000))
    assert (s.max_power_w, s.flags) == (6_000, ())


def test_estimated_power_is_bounded_by_the_connector_rating():
    s = machine.apply_sample(session(), register(2, 20), rating_w=22_000)
    assert (s.power_w, s.max_power_w) == (22_000, 22_000)


def test_estimated_power_without_a_rating_is_bounded_by_what_any_connector_delivers():
    s = machine.apply_sample(session(), register(1, 1_000))
    assert s.max_power_w == 400_000


def test_a_late_sample_is_flagged_and_its_power_and_interval_count():
    s = feed(session(), interval(600, 1_000, 6_000), interval(1800, 1_000, 6_000), interval(1200, 1_000, 7_000))
    assert (s.energy_wh, s.max_power_w, s.last_sample_at) == (3_000, 7_000, at(1800))
    assert Flag.LATE_SAMPLES in s.flags


def test_a_late_register_changes_no_energy():
    s = feed(session(5_000_000), register(600, 5_001_000), register(1800, 5_003_000), register(1200, 5_002_000))
    assert s.energy_wh == 3_000 and Flag.LATE_SAMPLES in s.flags and Flag.REGISTER_RESET not in s.flags


def test_inlet_only_energy_is_flagged_on_the_session():
    s = machine.apply_sample(session(2_000_000), Sample(at(900), Decimal(2_000_250), None, None, inlet=True))
    assert s.energy_wh == 250 and Flag.INLET_REGISTER in s.flags


def test_a_refused_start_closes_as_rejected_with_no_energy():
    s = feed(session(1_000, refused=True), register(60, 1_200))
    closed = machine.close_refused(s, at(120))
    assert (closed.status, closed.energy_wh, closed.max_power_w, closed.stopped_at) == ("rejected", 0, 0, at(120))
    assert closed.flags == (Flag.START_REFUSED,) and not closed.active


def test_register_series_integrates_intervals_and_keeps_registers_raw():
    samples = [interval(60, 100), interval(120, 100), register(180, 1_000), register(240, 300)]
    assert [wh for _, wh, _ in register_series(samples, 1_000)] == [1_100, 1_200, 1_200, 300]


@given(st.dictionaries(st.integers(min_value=1, max_value=3600), st.integers(min_value=0, max_value=50_000),
                       min_size=1, max_size=25), st.randoms())
def test_interval_energy_is_their_sum_in_any_arrival_order(intervals, rng):
    arrival = list(intervals.items())
    rng.shuffle(arrival)
    s = feed(session(), *(interval(seconds, wh) for seconds, wh in arrival))
    assert s.energy_wh == sum(intervals.values())
    assert s.charging_seconds + s.idle_seconds == s.duration_seconds


@given(st.lists(st.integers(min_value=0, max_value=400_000), min_size=1, max_size=20))
def test_max_power_is_the_largest_reported_power(powers):
    s = feed(session(), *(register(60 * (i + 1), 100 * (i + 1), p) for i, p in enumerate(powers)))
    assert s.max_power_w == max(powers)
