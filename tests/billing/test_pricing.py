"""Pricing rules beyond the spec's worked examples, and properties that must hold for any session."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from chargewatch.billing.charging_period import ChargingPeriod
from chargewatch.billing.pricing import price_session
from chargewatch.billing.tariff import tariff_from_json

D = Decimal


def energy_tariff(*elements, **extra):
    return tariff_from_json({"id": "T", "currency": "EUR", "elements": list(elements), **extra})


def energy(price: str, step: int = 1, **restrictions) -> dict:
    element = {"price_components": [{"type": "ENERGY", "price": D(price), "vat": D("20"), "step_size": step}]}
    if restrictions:
        element["restrictions"] = restrictions
    return element


NIGHT_DAY = energy_tariff(energy("0.20", start_time="22:00", end_time="06:00"), energy("0.40"))


def utc(y, mo, d, h, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def test_time_window_wraps_past_midnight():
    periods = [ChargingPeriod(utc(2026, 11, 25, 2), energy=D("10"))]  # 03:00 in Berlin
    assert price_session(NIGHT_DAY, periods, time_zone="Europe/Berlin").total_cost.excl_vat == D("2.00")


def test_window_end_is_exclusive():
    periods = [ChargingPeriod(utc(2026, 11, 25, 5), energy=D("10"))]  # 06:00 in Berlin
    assert price_session(NIGHT_DAY, periods, time_zone="Europe/Berlin").total_cost.excl_vat == D("4.00")


def test_end_time_midnight_means_end_of_day():
    tariff = energy_tariff(energy("0.10", start_time="18:00", end_time="00:00"), energy("0.40"))
    periods = [ChargingPeriod(utc(2026, 11, 25, 22, 59), energy=D("1"))]  # 23:59 in Berlin
    assert price_session(tariff, periods, time_zone="Europe/Berlin").total_cost.excl_vat == D("0.10")


def test_day_of_week_is_the_local_weekday():
    tariff = energy_tariff(energy("0.10", day_of_week=["SUNDAY"]), energy("0.40"))
    saturday_utc_sunday_tokyo = [ChargingPeriod(utc(2026, 11, 28, 20), energy=D("1"))]
    assert price_session(tariff, saturday_utc_sunday_tokyo, time_zone="Asia/Tokyo").total_cost.excl_vat == D("0.10")
    assert price_session(tariff, saturday_utc_sunday_tokyo, time_zone="UTC").total_cost.excl_vat == D("0.40")


def test_end_date_is_exclusive_in_local_time():
    tariff = energy_tariff(energy("0.10", start_date="2026-11-01", end_date="2026-12-01"), energy("0.40"))
    last_local_minute = [ChargingPeriod(utc(2026, 11, 30, 22, 59), energy=D("1"))]
    first_local_minute = [ChargingPeriod(utc(2026, 11, 30, 23, 0), energy=D("1"))]
    assert price_session(tariff, last_local_minute, time_zone="Europe/Berlin").total_cost.excl_vat == D("0.10")
    assert price_session(tariff, first_local_minute, time_zone="Europe/Berlin").total_cost.excl_vat == D("0.40")


def test_min_kwh_counts_energy_charged_before_the_period():
    tariff = energy_tariff(energy("0.00", max_kwh=D("5")), energy("0.30"))
    s = utc(2026, 11, 25, 10)
    periods = [ChargingPeriod(s, energy=D("5")), ChargingPeriod(s + timedelta(minutes=30), energy=D("2"))]
    assert price_session(tariff, periods).total_cost.excl_vat == D("0.60")


def test_no_matching_element_makes_the_dimension_free():
    tariff = energy_tariff(energy("0.30", day_of_week=["MONDAY"]))
    periods = [ChargingPeriod(utc(2026, 11, 25, 10), energy=D("10"))]  # a Wednesday
    assert price_session(tariff, periods).total_cost.excl_vat == D("0")


def test_absent_vat_adds_nothing_but_zero_vat_is_kept_apart():
    tariff = tariff_from_json({"id": "T", "currency": "EUR", "elements": [{"price_components": [
        {"type": "ENERGY", "price": 0.30, "step_size": 1}, {"type": "FLAT", "price": 1, "vat": 0, "step_size": 1}]}]})
    priced = price_session(tariff, [ChargingPeriod(utc(2026, 11, 25, 10), energy=D("10"))])
    assert priced.total_cost.excl_vat == priced.total_cost.incl_vat == D("4.00")
    assert [line.vat for line in priced.lines] == [D("0"), None]


def test_flat_fee_is_charged_once_per_session():
    tariff = energy_tariff({"price_components": [{"type": "FLAT", "price": 1, "step_size": 1}]}, energy("0.30"))
    s = utc(2026, 11, 25, 10)
    periods = [ChargingPeriod(s + timedelta(minutes=15 * i), energy=D("1")) for i in range(4)]
    assert price_session(tariff, periods).total_fixed_cost.excl_vat == D("1.00")


def test_step_size_uses_the_last_component_for_the_whole_session_total():
    """5 + 2 + 5 kWh where the last component has a 5000 Wh step: 15 kWh are billed."""
    tariff = energy_tariff(energy("0.30", 1, start_time="08:00", end_time="12:00"), energy("0.50", 5000))
    s = utc(2026, 11, 25, 10)  # 11:00 in Berlin
    periods = [ChargingPeriod(s, energy=D("5")), ChargingPeriod(s + timedelta(minutes=40), energy=D("2")),
               ChargingPeriod(s + timedelta(hours=1), energy=D("5"))]
    priced = price_session(tariff, periods, time_zone="Europe/Berlin")
    assert sum(line.quantity for line in priced.lines) == D("15")
    assert priced.total_cost.excl_vat == D("7") * D("0.30") + D("8") * D("0.50")  # 3 kWh of rounding at 0.50


def test_charging_followed_by_parking_rounds_only_the_parking():
    """OCPI 2.2.1-d2: 21 min charging then 7 min parking, both 5-minute steps: 21 and 10 minutes billed."""
    tariff = tariff_from_json({"id": "T", "currency": "EUR", "elements": [{"price_components": [
        {"type": "TIME", "price": 6, "step_size": 300}, {"type": "PARKING_TIME", "price": 6, "step_size": 300}]}]})
    s = utc(2026, 11, 25, 10)
    periods = [ChargingPeriod(s, energy=D("5"), time=D(21) / 60),
               ChargingPeriod(s + timedelta(minutes=21), parking_time=D(7) / 60)]
    priced = price_session(tariff, periods)
    assert priced.total_time_cost.excl_vat == D("2.10")  # 21 minutes at 0.10/min, not rounded to 25
    assert priced.total_parking_cost.excl_vat == D("1.00")  # 7 minutes billed as 10


def test_charging_time_alone_is_rounded_to_its_step():
    tariff = tariff_from_json({"id": "T", "currency": "EUR", "elements": [{"price_components": [
        {"type": "TIME", "price": 6, "step_size": 300}, {"type": "PARKING_TIME", "price": 6, "step_size": 300}]}]})
    periods = [ChargingPeriod(utc(2026, 11, 25, 10), energy=D("5"), time=D(21) / 60)]
    assert price_session(tariff, periods).total_time_cost.excl_vat == D("2.50")  # 21 minutes billed as 25


def test_total_time_is_the_session_duration_even_for_an_energy_only_tariff():
    s = utc(2026, 11, 25, 10)
    priced = price_session(energy_tariff(energy("0.30")), [ChargingPeriod(s, energy=D("12"))],
                           session_start=s, session_end=s + timedelta(hours=1))
    assert priced.total_time == D(1)
    assert priced.total_parking_time == D(0)


def test_total_time_counts_parking_and_idle_periods_too():
    s = utc(2026, 11, 25, 10)
    periods = [ChargingPeriod(s, energy=D("12"), time=D("0.5")),
               ChargingPeriod(s + timedelta(minutes=30), parking_time=D("0.25"))]
    priced = price_session(energy_tariff(energy("0.30")), periods, session_start=s,
                           session_end=s + timedelta(minutes=45))
    assert (priced.total_time, priced.total_parking_time) == (D("0.75"), D("0.25"))


def test_min_and_max_price_clamp_excl_and_incl_vat_independently():
    tariff = energy_tariff(energy("0.30"), max_price={"excl_vat": D("3.00"), "incl_vat": D("4.00")})
    priced = price_session(tariff, [ChargingPeriod(utc(2026, 11, 25, 10), energy=D("12"))])
    assert priced.total_cost == (D("3.00"), D("4.00"))  # 3.60 net capped; 4.32 gross capped


BERLIN_DAY_NIGHT = energy_tariff(energy("0.10", start_time="02:00", end_time="03:00"), energy("0.40"))


def test_spring_forward_night_has_no_0230_local_time():
    # 2026-03-29 01:00 UTC: Berlin jumps from 02:00 CET to 03:00 CEST; 00:59 UTC is still 01:59 CET.
    before = [ChargingPeriod(utc(2026, 3, 29, 0, 59), energy=D("1"))]
    after = [ChargingPeriod(utc(2026, 3, 29, 1, 0), energy=D("1"))]
    assert price_session(BERLIN_DAY_NIGHT, before, time_zone="Europe/Berlin").total_cost.excl_vat == D("0.40")
    assert price_session(BERLIN_DAY_NIGHT, after, time_zone="Europe/Berlin").total_cost.excl_vat == D("0.40")


def test_fall_back_night_prices_the_repeated_hour_twice():
    # 2026-10-25: 02:00-03:00 local happens at 00:00-01:00 UTC (CEST) and again at 01:00-02:00 UTC (CET).
    first = [ChargingPeriod(utc(2026, 10, 25, 0, 30), energy=D("1"))]
    second = [ChargingPeriod(utc(2026, 10, 25, 1, 30), energy=D("1"))]
    after = [ChargingPeriod(utc(2026, 10, 25, 2, 0), energy=D("1"))]
    for periods, expected in ((first, "0.10"), (second, "0.10"), (after, "0.40")):
        assert price_session(BERLIN_DAY_NIGHT, periods, time_zone="Europe/Berlin").total_cost.excl_vat == D(expected)


PROPERTY_TARIFF = tariff_from_json({
    "id": "P", "currency": "EUR",
    "min_price": {"excl_vat": 1.5, "incl_vat": 1.8}, "max_price": {"excl_vat": 40, "incl_vat": 48},
    "elements": [
        {"price_components": [{"type": "FLAT", "price": 0.5, "vat": 20, "step_size": 1}]},
        {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 20, "step_size": 1},
                              {"type": "TIME", "price": 1.5, "vat": 20, "step_size": 60}],
         "restrictions": {"start_time": "08:00", "end_time": "20:00"}},
        {"price_components": [{"type": "ENERGY", "price": 0.15, "vat": 10, "step_size": 1},
                              {"type": "PARKING_TIME", "price": 3, "step_size": 300}]},
    ],
})

periods_strategy = st.lists(
    st.tuples(st.integers(1, 240), st.integers(0, 50_000), st.booleans()), min_size=1, max_size=8
)


def build(start: datetime, parts) -> list[ChargingPeriod]:
    periods, moment = [], start
    for minutes, wh, charging in parts:
        hours = D(minutes) / 60
        periods.append(ChargingPeriod(moment, energy=D(wh) / 1000, time=hours if charging else D(0),
                                      parking_time=D(0) if charging else hours))
        moment += timedelta(minutes=minutes)
    return periods


@settings(max_examples=100, deadline=None)
@given(offset=st.integers(0, 14 * 24 * 60), parts=periods_strategy)
def test_total_is_never_negative_and_within_min_and_max_price(offset, parts):
    priced = price_session(PROPERTY_TARIFF, build(utc(2026, 3, 20, 0) + timedelta(minutes=offset), parts),
                           time_zone="Europe/Berlin")
    assert D("1.5") <= priced.total_cost.excl_vat <= D("40")
    assert D("1.8") <= priced.total_cost.incl_vat <= D("48")
    assert all(line.excl_vat >= 0 for line in priced.lines)


UNRESTRICTED = tariff_from_json({"id": "U", "currency": "EUR", "elements": [{"price_components": [
    {"type": "FLAT", "price": 0.5, "vat": 20, "step_size": 1},
    {"type": "ENERGY", "price": 0.27, "vat": 19, "step_size": 1},
    {"type": "TIME", "price": 1.2, "vat": 19, "step_size": 1},
    {"type": "PARKING_TIME", "price": 4, "vat": 19, "step_size": 1}]}]})


@settings(max_examples=100, deadline=None)
@given(parts=periods_strategy, index=st.integers(0, 7), cut=st.floats(0.01, 0.99))
def test_splitting_a_period_without_crossing_a_restriction_keeps_the_price(parts, index, cut):
    periods = build(utc(2026, 11, 25, 9), parts)
    index %= len(periods)
    original = periods[index]
    seconds = ((periods[index + 1].start_date_time if index + 1 < len(periods)
                else original.start_date_time + timedelta(hours=float(original.time + original.parking_time)))
               - original.start_date_time).total_seconds()
    share = D(str(round(cut, 4)))
    first = ChargingPeriod(original.start_date_time, energy=original.energy * share, time=original.time * share,
                           parking_time=original.parking_time * share)
    second = ChargingPeriod(original.start_date_time + timedelta(seconds=seconds * float(share)),
                            energy=original.energy - first.energy, time=original.time - first.time,
                            parking_time=original.parking_time - first.parking_time)
    split = periods[:index] + [first, second] + periods[index + 1:]
    assert price_session(UNRESTRICTED, split).total_cost == price_session(UNRESTRICTED, periods).total_cost
