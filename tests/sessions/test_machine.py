"""Session energy and time from meter data, and the field bugs of DOMAIN.md."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from chargewatch.sessions import machine
from chargewatch.sessions.machine import Flag
from chargewatch.sessions.meter import Sample, normalise, summarise

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def at(minutes):
    return T0 + timedelta(minutes=minutes)


def sample(minutes, register, power=None, unit="Wh"):
    return Sample(at(minutes), Decimal(register), power, None, unit)


def session(meter_start=50_000):
    return machine.start(1, "CP", 1, "TAG", T0, meter_start)


def feed(s, *samples):
    for item in samples:
        s = machine.apply_sample(s, item)
    return s


def test_energy_is_register_minus_meter_start():
    s = feed(session(), sample(10, 52_000), sample(20, 55_500))
    assert s.energy_wh == 5_500


def test_charging_and_idle_time_follow_the_power_drawn():
    s = feed(session(), sample(10, 53_000), sample(20, 56_000), sample(30, 56_000), sample(40, 56_000))
    assert (s.charging_seconds, s.idle_seconds) == (1200, 1200)


def test_register_reset_keeps_counting_from_the_new_base():
    s = feed(session(), sample(10, 52_000), sample(20, 300), sample(30, 1_300))
    assert s.energy_wh == 2_000 + 1_300
    assert Flag.REGISTER_RESET in s.flags


def test_stop_lower_than_last_sample_uses_the_last_sample():
    s = feed(session(), sample(10, 58_000))
    s = machine.stop(s, at(20), 57_000, "Local")
    assert s.energy_wh == 8_000 and Flag.STOP_BELOW_LAST_SAMPLE in s.flags


def test_meter_stop_zero_uses_the_last_sample():
    s = feed(session(), sample(10, 58_000))
    s = machine.stop(s, at(20), 0, "PowerLoss")
    assert s.energy_wh == 8_000 and Flag.METER_STOP_ZERO in s.flags


def test_missing_stop_closes_at_the_last_sample():
    s = feed(session(), sample(10, 51_000), sample(15, 52_000))
    s = machine.close_missing_stop(s)
    assert (s.status, s.stopped_at, s.energy_wh) == ("completed", at(15), 2_000)
    assert Flag.MISSING_STOP in s.flags


def test_kwh_sent_as_wh_is_scaled_and_flagged():
    s = feed(session(meter_start=1_234_567), sample(10, 1_236_000), sample(20, "1237.5"))
    assert s.energy_wh == 1_237_500 - 1_234_567
    assert Flag.UNIT_SUSPECT in s.flags


def test_a_replayed_sample_is_ignored():
    s = feed(session(), sample(10, 52_000))
    assert machine.apply_sample(s, sample(10, 52_000)) == s


def test_stop_twice_changes_nothing():
    s = machine.stop(feed(session(), sample(10, 52_000)), at(20), 53_000, "Local")
    assert machine.stop(s, at(30), 60_000, "Local") == s


def test_meter_values_in_kwh_are_normalised_to_wh_and_power_summed_over_phases():
    readings = normalise([{"timestamp": "2026-03-01T12:10:00Z", "sampledValue": [
        {"value": "52.5", "unit": "kWh"},
        {"value": "3.7", "measurand": "Power.Active.Import", "unit": "kW", "phase": "L1"},
        {"value": "3.6", "measurand": "Power.Active.Import", "unit": "kW", "phase": "L2"},
        {"value": "3.7", "measurand": "Power.Active.Import", "unit": "kW", "phase": "L3"},
        {"value": "OCMF|{}|{}", "format": "SignedData"},
    ]}])
    assert readings[0].value == Decimal("52500.0")
    assert readings[-1].signed == "OCMF|{}|{}"
    (summary,) = summarise(readings)
    assert summary.register_wh == Decimal("52500.0") and summary.power_w == 11_000


@given(st.lists(st.integers(min_value=0, max_value=10_000_000), min_size=1, max_size=30),
       st.integers(min_value=0, max_value=10_000_000))
def test_energy_is_never_negative_whatever_the_charger_sends(registers, meter_stop):
    s = session(meter_start=registers[0])
    for i, register in enumerate(registers):
        s = machine.apply_sample(s, sample(i + 1, register))
        assert s.energy_wh >= 0
    s = machine.stop(s, at(len(registers) + 1), meter_stop, "Local")
    assert s.energy_wh >= 0 and s.charging_seconds + s.idle_seconds == s.duration_seconds
