"""Charging periods from meter telemetry."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargewatch.billing.periods import MeterSample, MeterSeriesError, build_charging_periods
from chargewatch.billing.pricing import price_session
from chargewatch.billing.tariff import tariff_from_json

BERLIN = "Europe/Berlin"
D = Decimal

TOU = tariff_from_json({"id": "TOU", "currency": "EUR", "elements": [
    {"price_components": [{"type": "ENERGY", "price": 0.20, "vat": 19, "step_size": 1}],
     "restrictions": {"start_time": "02:00", "end_time": "03:00"}},
    {"price_components": [{"type": "ENERGY", "price": 0.40, "vat": 19, "step_size": 1},
                          {"type": "PARKING_TIME", "price": 6, "vat": 19, "step_size": 60}]},
]})


def steady(start: datetime, minutes: int, every: int, wh_per_sample: int, power_w: int = 11000):
    return [MeterSample(start + timedelta(minutes=m), 1000 + wh_per_sample * (m // every), power_w)
            for m in range(every, minutes, every)]


def local_starts(periods):
    return [p.start_date_time.astimezone(ZoneInfo(BERLIN)).strftime("%H:%M%z") for p in periods]


def test_charging_then_idle_becomes_time_then_parking():
    start = datetime(2026, 11, 25, 9, tzinfo=UTC)
    samples = [MeterSample(start + timedelta(minutes=30), 6500, 11000),
               MeterSample(start + timedelta(minutes=60), 6500, 0)]
    periods = build_charging_periods(start=start, stop=start + timedelta(minutes=90), meter_start_wh=1000,
                                     meter_stop_wh=6500, samples=samples, time_zone=BERLIN)
    assert [(p.time, p.parking_time) for p in periods] == [(D("0.5"), D(0)), (D(0), D(1))]
    assert periods[0].energy == D("5.5")


def test_period_starts_at_a_local_time_boundary():
    start = datetime(2026, 11, 25, 0, 30, tzinfo=UTC)  # 01:30 in Berlin
    periods = build_charging_periods(start=start, stop=start + timedelta(hours=2), meter_start_wh=0,
                                     meter_stop_wh=22000, samples=[], time_zone=BERLIN, tariff=TOU)
    assert local_starts(periods) == ["01:30+0100", "02:00+0100", "03:00+0100"]
    assert [p.energy for p in periods] == [D("5.5"), D("11"), D("5.5")]


def test_spring_forward_night_skips_the_0200_window():
    start = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # 01:00 CET; at 01:00 UTC clocks jump to 03:00 CEST
    periods = build_charging_periods(start=start, stop=start + timedelta(hours=2), meter_start_wh=0,
                                     meter_stop_wh=20000, samples=[], time_zone=BERLIN, tariff=TOU)
    priced = price_session(TOU, periods, time_zone=BERLIN)
    assert priced.total_energy_cost.excl_vat == D("8.00")  # no local 02:00-03:00: all at 0.40
    assert "03:00+0200" in local_starts(periods)


def test_fall_back_night_bills_the_repeated_hour_at_night_price_twice():
    start = datetime(2026, 10, 24, 23, 30, tzinfo=UTC)  # 01:30 CEST; 02:00-03:00 local occurs twice
    periods = build_charging_periods(start=start, stop=start + timedelta(hours=3), meter_start_wh=0,
                                     meter_stop_wh=30000, samples=[], time_zone=BERLIN, tariff=TOU)
    priced = price_session(TOU, periods, time_zone=BERLIN)
    assert priced.total_energy_cost.excl_vat == D("20") * D("0.20") + D("10") * D("0.40")


def test_kwh_threshold_starts_a_period_where_the_register_crosses_it():
    tariff = tariff_from_json({"id": "K", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0, "step_size": 1}], "restrictions": {"max_kwh": 1}},
        {"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]}]})
    start = datetime(2026, 11, 25, 9, tzinfo=UTC)
    periods = build_charging_periods(start=start, stop=start + timedelta(hours=1), meter_start_wh=500,
                                     meter_stop_wh=4500, samples=[], time_zone=BERLIN, tariff=tariff)
    assert periods[1].start_date_time == start + timedelta(minutes=15)
    assert price_session(tariff, periods).total_cost.excl_vat == D("0.90")


def test_duration_threshold_starts_a_period():
    tariff = tariff_from_json({"id": "M", "currency": "EUR", "elements": [
        {"price_components": [{"type": "TIME", "price": 0, "step_size": 1}], "restrictions": {"max_duration": 1800}},
        {"price_components": [{"type": "TIME", "price": 2, "step_size": 1}]}]})
    start = datetime(2026, 11, 25, 9, tzinfo=UTC)
    periods = build_charging_periods(start=start, stop=start + timedelta(hours=1), meter_start_wh=0,
                                     meter_stop_wh=10000, samples=[], time_zone=BERLIN, tariff=tariff)
    assert [p.start_date_time - start for p in periods] == [timedelta(0), timedelta(minutes=30)]


def test_power_band_change_starts_a_period_with_max_power():
    tariff = tariff_from_json({"id": "P", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.2, "step_size": 1}], "restrictions": {"max_power": 16}},
        {"price_components": [{"type": "ENERGY", "price": 0.5, "step_size": 1}]}]})
    start = datetime(2026, 11, 25, 9, tzinfo=UTC)
    samples = [MeterSample(start + timedelta(minutes=10), 2000, 11000),
               MeterSample(start + timedelta(minutes=20), 10000, 48000)]
    periods = build_charging_periods(start=start, stop=start + timedelta(minutes=30), meter_start_wh=0,
                                     meter_stop_wh=18000, samples=samples, time_zone=BERLIN, tariff=tariff)
    assert [p.max_power for p in periods] == [D("11"), D("48")]


def test_live_cost_of_an_active_session_uses_now_as_stop():
    start = datetime(2026, 11, 25, 9, tzinfo=UTC)
    now = start + timedelta(minutes=20)
    samples = steady(start, 20, 5, 900)
    periods = build_charging_periods(start=start, stop=now, meter_start_wh=1000, meter_stop_wh=samples[-1].energy_wh,
                                     samples=samples, time_zone=BERLIN, tariff=TOU)
    assert price_session(TOU, periods, time_zone=BERLIN).total_energy.quantize(D("0.001")) == D("2.700")


def test_register_going_backwards_is_refused():
    start = datetime(2026, 11, 25, 9, tzinfo=UTC)
    with pytest.raises(MeterSeriesError):
        build_charging_periods(start=start, stop=start + timedelta(hours=1), meter_start_wh=5000, meter_stop_wh=9000,
                               samples=[MeterSample(start + timedelta(minutes=5), 4000)], time_zone=BERLIN)


@settings(max_examples=100, deadline=None)
@given(
    offset_min=st.integers(0, 60 * 24 * 400),
    steps=st.lists(st.tuples(st.integers(1, 7200), st.integers(0, 5000), st.integers(0, 50000)), max_size=12),
    tail_s=st.integers(1, 7200),
)
def test_period_energies_add_up_to_the_meter_delta(offset_min, steps, tail_s):
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=offset_min)
    samples, moment, register = [], start, 12345
    for seconds, wh, power in steps:
        moment += timedelta(seconds=seconds)
        register += wh
        samples.append(MeterSample(moment, register, power))
    stop = moment + timedelta(seconds=tail_s)
    meter_stop = register + 77
    tariff = tariff_from_json({"id": "X", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.1, "step_size": 1}],
         "restrictions": {"start_time": "02:30", "end_time": "07:15", "min_kwh": 0.5, "max_kwh": 30,
                          "max_duration": 5000, "max_power": 22}},
        {"price_components": [{"type": "ENERGY", "price": 0.4, "step_size": 1}]}]})
    periods = build_charging_periods(start=start, stop=stop, meter_start_wh=12345, meter_stop_wh=meter_stop,
                                     samples=samples, time_zone=BERLIN, tariff=tariff)
    assert sum(p.energy for p in periods) * 1000 == meter_stop - 12345
    assert all(p.energy >= 0 for p in periods)
    total_seconds = sum(p.time + p.parking_time for p in periods) * 3600
    assert total_seconds.quantize(D("0.000001")) == D((stop - start).total_seconds())


def test_an_interval_with_measured_power_is_charging_even_if_the_register_lags():
    """As the session page counts it (sessions.machine): no parking is billed for time the page shows as charging."""
    start = datetime(2026, 11, 25, 9, tzinfo=UTC)
    samples = [MeterSample(start + timedelta(minutes=30), 6500, 11000),
               MeterSample(start + timedelta(minutes=31), 6500, 11000)]  # register not yet updated, 11 kW measured
    periods = build_charging_periods(start=start, stop=start + timedelta(minutes=32), meter_start_wh=1000,
                                     meter_stop_wh=6600, samples=samples, time_zone=BERLIN)
    assert sum(p.parking_time for p in periods) == 0
    assert sum(p.time for p in periods) == D(32) / 60
