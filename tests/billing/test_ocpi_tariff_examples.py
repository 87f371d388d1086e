"""Every worked example of OCPI 2.2.1 mod_tariffs, priced by the engine.

Each tariff is the one the example describes; each expected figure is the one its text states, except
where the 2.2.1-d2 errata corrected the step_size rule (TIME followed by PARKING_TIME: only parking is
rounded, see `pricing._round_steps`): those figures are re-derived from the corrected rule and say so.
Where the text rounds to cents, the 4-decimal figure is asserted and the cent figure noted.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from chargewatch.billing.charging_period import ChargingPeriod
from chargewatch.billing.price import Price
from chargewatch.billing.pricing import CostCategory, price_session
from chargewatch.billing.tariff import tariff_from_json

BERLIN = "Europe/Berlin"
MONDAY_0930 = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)  # 09:30 in Berlin


def D(text: str) -> Decimal:
    return Decimal(text)


def hours(minutes: int) -> Decimal:
    return Decimal(minutes) / 60


def tariff(*elements: dict, **extra: object):
    return tariff_from_json({"id": "T", "currency": "EUR", "elements": list(elements), **extra})


def component(type_: str, price: str, step: int, vat: str | None = None) -> dict:
    comp = {"type": type_, "price": D(price), "step_size": step}
    if vat is not None:
        comp["vat"] = D(vat)
    return comp


def energy_only(kwh: str, start: datetime = MONDAY_0930) -> list[ChargingPeriod]:
    return [ChargingPeriod(start, energy=D(kwh), time=hours(60))]


def local(day: int, hh: int, mm: int) -> datetime:
    """A November 2026 local Berlin wall time (CET, UTC+1) as UTC."""
    return datetime(2026, 11, day, hh, mm, tzinfo=UTC) - timedelta(hours=1)


SIMPLE_ENERGY = {"price_components": [component("ENERGY", "0.25", 1, "10.0")]}
START_FEE_AND_ENERGY = {
    "price_components": [component("FLAT", "0.50", 1, "20.0"), component("ENERGY", "0.25", 1, "10.0")]
}


def test_simple_025_per_kwh_costs_5_euro_for_20_kwh():
    priced = price_session(tariff(SIMPLE_ENERGY), energy_only("20"))
    assert priced.total_cost == Price(D("5.00"), D("5.50"))


def test_025_per_kwh_with_start_fee_costs_5_50_for_20_kwh():
    priced = price_session(tariff(START_FEE_AND_ENERGY), energy_only("20"))
    assert priced.total_cost == Price(D("5.50"), D("6.10"))
    assert priced.total_fixed_cost == Price(D("0.50"), D("0.60"))


def test_minimum_price_does_not_apply_to_20_kwh():
    t = tariff(SIMPLE_ENERGY, min_price={"excl_vat": D("0.50"), "incl_vat": D("0.55")})
    assert price_session(t, energy_only("20")).total_cost == Price(D("5.00"), D("5.50"))


def test_minimum_price_is_billed_below_2_kwh():
    t = tariff(SIMPLE_ENERGY, min_price={"excl_vat": D("0.50"), "incl_vat": D("0.55")})
    priced = price_session(t, energy_only("1.2"))
    assert priced.total_cost == Price(D("0.50"), D("0.55"))
    assert priced.price_limit_adjustment == Price(D("0.20"), D("0.22"))


def test_parking_billed_per_15_minutes_makes_40_minutes_cost_45():
    t = tariff({"price_components": [
        component("FLAT", "0.50", 1, "20.0"),
        component("ENERGY", "0.25", 1, "10.0"),
        component("PARKING_TIME", "2.00", 900, "20.0"),
    ]})
    periods = [
        ChargingPeriod(MONDAY_0930, energy=D("20"), time=hours(120)),
        ChargingPeriod(MONDAY_0930 + timedelta(minutes=120), parking_time=hours(40)),
    ]
    priced = price_session(t, periods, time_zone=BERLIN)
    assert priced.total_cost == Price(D("7.00"), D("7.90"))
    assert priced.total_parking_cost == Price(D("1.50"), D("1.80"))


MAX_PRICE = {"excl_vat": D("10.00"), "incl_vat": D("11.00")}


def test_maximum_price_caps_50_kwh_at_10_euro():
    t = tariff(START_FEE_AND_ENERGY, max_price=MAX_PRICE, end_date_time="2019-06-30T23:59:59Z")
    priced = price_session(t, energy_only("50", datetime(2019, 6, 1, 10, tzinfo=UTC)))
    assert priced.total_cost == Price(D("10.00"), D("11.00"))


def test_maximum_price_leaves_30_kwh_at_8_euro():
    t = tariff(START_FEE_AND_ENERGY, max_price=MAX_PRICE, end_date_time="2019-06-30T23:59:59Z")
    priced = price_session(t, energy_only("30", datetime(2019, 6, 1, 10, tzinfo=UTC)))
    assert priced.total_cost == Price(D("8.00"), D("8.85"))


def test_2_euro_per_hour_costs_5_euro_for_2_5_hours():
    t = tariff({"price_components": [component("TIME", "2.00", 60, "10.0")]})
    priced = price_session(t, [ChargingPeriod(MONDAY_0930, energy=D("11"), time=hours(150))])
    assert priced.total_cost == Price(D("5.00"), D("5.50"))


def test_3_euro_per_hour_and_5_euro_parking_bills_42_parking_minutes_as_45():
    t = tariff({"price_components": [
        component("TIME", "3.00", 60, "10.0"), component("PARKING_TIME", "5.00", 300, "20.0")
    ]})
    periods = [
        ChargingPeriod(MONDAY_0930, energy=D("30"), time=hours(150)),
        ChargingPeriod(MONDAY_0930 + timedelta(minutes=150), parking_time=hours(42)),
    ]
    assert price_session(t, periods).total_cost == Price(D("11.25"), D("12.75"))


def test_ad_hoc_alt_text_tariff_costs_4_75_for_2_5_hours():
    t = tariff(
        {"price_components": [component("TIME", "1.90", 300, "5.2")]},
        type="AD_HOC_PAYMENT",
        tariff_alt_text=[{"language": "en", "text": "2.00 euro p/hour including VAT."},
                         {"language": "nl", "text": "2.00 euro p/uur inclusief BTW."}],
    )
    priced = price_session(t, [ChargingPeriod(MONDAY_0930, energy=D("11"), time=hours(150))])
    assert priced.total_cost == Price(D("4.75"), D("4.997"))  # the spec shows 5.00 in cents


def test_ad_hoc_tariff_not_expressible_in_ocpi_keeps_its_explanation():
    t = tariff(
        {"price_components": [component("FLAT", "0.40", 1, "25.0"), component("TIME", "1.90", 300, "5.2")]},
        type="AD_HOC_PAYMENT",
        tariff_alt_text=[{"language": "en", "text": "2.00 euro p/hour, start tariff debit card: 0.25 euro, "
                                                    "credit card: 0.50 euro including VAT."}],
    )
    assert t.tariff_alt_text[0].text.startswith("2.00 euro p/hour")
    assert price_session(t, energy_only("5")).total_fixed_cost == Price(D("0.40"), D("0.50"))


def test_energy_billed_per_100_wh_bills_20_45_kwh_as_20_5():
    """The spec's 20.5 kWh and 4.51 EUR at 0.22/kWh agree; its 5.50 EUR at 0.25/kWh is a typo for 5.125."""
    t = tariff({"price_components": [component("ENERGY", "0.25", 100, "10.0")]}, type="PROFILE_CHEAP",
               tariff_alt_url="https://company.com/tariffs/13")
    priced = price_session(t, energy_only("20.45"))
    assert sum(line.quantity for line in priced.lines) == D("20.5")
    assert priced.total_cost == Price(D("5.125"), D("5.6375"))


def test_energy_billed_per_100_wh_at_real_time_price_022_costs_4_51():
    t = tariff({"price_components": [component("ENERGY", "0.22", 100, "10.0")]})
    assert price_session(t, energy_only("20.45")).total_cost == Price(D("4.51"), D("4.961"))


COMPLEX = (
    {"price_components": [component("FLAT", "2.50", 1, "15.0")]},
    {"price_components": [component("TIME", "1.00", 900, "20.0")], "restrictions": {"max_current": D("32.00")}},
    {"price_components": [component("TIME", "2.00", 600, "20.0")],
     "restrictions": {"min_current": D("32.00"),
                      "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
    {"price_components": [component("TIME", "1.25", 600, "20.0")],
     "restrictions": {"min_current": D("32.00"), "day_of_week": ["SATURDAY", "SUNDAY"]}},
    {"price_components": [component("PARKING_TIME", "5.00", 300, "10.0")],
     "restrictions": {"start_time": "09:00", "end_time": "18:00",
                      "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
    {"price_components": [component("PARKING_TIME", "6.00", 300, "10.0")],
     "restrictions": {"start_time": "10:00", "end_time": "17:00", "day_of_week": ["SATURDAY"]}},
)


def test_complex_tariff_monday_morning_at_16_a_costs_8_70_under_the_corrected_step_rule():
    """The original text bills 147 charging minutes as 150 (8.75); 2.2.1-d2 rounds only the parking after them."""
    start = local(23, 9, 30)
    periods = [
        ChargingPeriod(start, energy=D("8"), time=hours(147), max_current=D("16")),
        ChargingPeriod(start + timedelta(minutes=147), parking_time=hours(42)),
    ]
    priced = price_session(tariff(*COMPLEX), periods, time_zone=BERLIN)
    assert priced.total_cost == Price(D("8.70"), D("9.94"))
    assert priced.total_time_cost.excl_vat == D("2.45")  # 147 minutes, not rounded: parking follows
    assert priced.total_parking_cost.excl_vat == D("3.75")  # 42 minutes billed as 45


def test_complex_tariff_saturday_afternoon_at_43_a_costs_12_375_under_the_corrected_step_rule():
    """The original text bills 114 charging minutes as 120 (12.50); 2.2.1-d2 rounds only the parking after them."""
    start = local(28, 13, 30)
    periods = [
        ChargingPeriod(start, energy=D("40"), time=hours(114), min_current=D("43")),
        ChargingPeriod(start + timedelta(minutes=114), parking_time=hours(71)),
    ]
    priced = price_session(tariff(*COMPLEX), periods, time_zone=BERLIN)
    assert priced.total_cost == Price(D("12.375"), D("13.975"))
    assert priced.total_time_cost.excl_vat == D("2.375")  # 114 minutes at 1.25/h
    assert priced.total_parking_cost.excl_vat == D("7.50")  # 71 minutes billed as 75 at 6.00/h


def test_free_of_charge_tariff_costs_nothing():
    t = tariff({"price_components": [component("FLAT", "0.00", 0)]})
    assert price_session(t, energy_only("20")).total_cost == Price(D("0"), D("0"))


def test_first_kwh_and_first_parking_hour_free_costs_7_30():
    """The example's arithmetic counts 2.75 h of parking from session start, i.e. charging takes no time."""
    t = tariff(
        {"price_components": [component("PARKING_TIME", "0.0", 60)],
         "restrictions": {"min_duration": 0, "max_duration": 3600}},
        {"price_components": [component("PARKING_TIME", "2.0", 60)],
         "restrictions": {"min_duration": 3600, "max_duration": 10800}},
        {"price_components": [component("PARKING_TIME", "3.0", 60)], "restrictions": {"min_duration": 10800}},
        {"price_components": [component("ENERGY", "0.0", 1)], "restrictions": {"max_kwh": D("1.0")}},
        {"price_components": [component("ENERGY", "0.2", 1)], "restrictions": {"min_kwh": D("1.0")}},
    )
    s = MONDAY_0930
    periods = [
        ChargingPeriod(s, energy=D("1")),
        ChargingPeriod(s, energy=D("19")),
        ChargingPeriod(s, parking_time=hours(60)),
        ChargingPeriod(s + timedelta(hours=1), parking_time=hours(105)),
    ]
    priced = price_session(t, periods)
    assert priced.total_cost.excl_vat == D("7.30")
    assert priced.total_energy_cost.excl_vat == D("3.80")


RESERVATION_START = MONDAY_0930


def reserved_then_charged(reserved_minutes: int) -> list[ChargingPeriod]:
    return [
        ChargingPeriod(RESERVATION_START, reservation_time=hours(reserved_minutes)),
        ChargingPeriod(RESERVATION_START + timedelta(minutes=reserved_minutes), energy=D("20"), time=hours(90)),
    ]


RESERVATION = {"reservation": "RESERVATION"}
EXPIRES = {"reservation": "RESERVATION_EXPIRES"}


def test_reservation_at_5_euro_per_hour_then_20_kwh_costs_6_75():
    t = tariff({"price_components": [component("TIME", "5.00", 60, "20.0")], "restrictions": RESERVATION},
               START_FEE_AND_ENERGY)
    priced = price_session(t, reserved_then_charged(15))
    assert priced.total_cost == Price(D("6.75"), D("7.60"))
    assert priced.total_reservation_cost == Price(D("1.25"), D("1.50"))


def test_reservation_fee_and_13_minutes_billed_as_15_costs_8_75():
    t = tariff({"price_components": [component("FLAT", "2.00", 1, "20.0"), component("TIME", "5.00", 300, "20.0")],
                "restrictions": RESERVATION}, START_FEE_AND_ENERGY)
    assert price_session(t, reserved_then_charged(13)).total_cost == Price(D("8.75"), D("10.00"))


EXPIRE_FEE_TARIFF = (
    {"price_components": [component("FLAT", "4.00", 1, "20.0")], "restrictions": EXPIRES},
    {"price_components": [component("TIME", "2.00", 600, "20.0")], "restrictions": RESERVATION},
    START_FEE_AND_ENERGY,
)


def test_reservation_with_expire_fee_used_after_22_minutes_costs_6_50():
    priced = price_session(tariff(*EXPIRE_FEE_TARIFF), reserved_then_charged(22))
    assert priced.total_cost == Price(D("6.50"), D("7.30"))


def test_expired_one_hour_reservation_costs_time_plus_expire_fee():
    periods = [ChargingPeriod(RESERVATION_START, reservation_time=hours(60))]
    priced = price_session(tariff(*EXPIRE_FEE_TARIFF), periods, reservation_expired=True)
    assert priced.total_cost == Price(D("6.00"), D("7.20"))


EXPIRE_TIME_TARIFF = (
    {"price_components": [component("TIME", "6.00", 600, "20.0")], "restrictions": EXPIRES},
    {"price_components": [component("TIME", "3.00", 600, "20.0")], "restrictions": RESERVATION},
    START_FEE_AND_ENERGY,
)


def test_reservation_with_expire_time_used_after_22_minutes_costs_7_00():
    priced = price_session(tariff(*EXPIRE_TIME_TARIFF), reserved_then_charged(22))
    assert priced.total_cost == Price(D("7.00"), D("7.90"))


def test_expired_reservation_is_priced_by_the_expires_element():
    periods = [ChargingPeriod(RESERVATION_START, reservation_time=hours(90))]
    priced = price_session(tariff(*EXPIRE_TIME_TARIFF), periods, reservation_expired=True)
    assert priced.total_cost == Price(D("9.00"), D("10.80"))


def test_max_power_bands_price_each_kwh_by_charging_power():
    t = tariff(
        {"price_components": [component("ENERGY", "0.20", 1, "20.0")], "restrictions": {"max_power": D("16.00")}},
        {"price_components": [component("ENERGY", "0.35", 1, "20.0")], "restrictions": {"max_power": D("32.00")}},
        {"price_components": [component("ENERGY", "0.50", 1, "20.0")]},
    )
    s = MONDAY_0930
    periods = [
        ChargingPeriod(s, energy=D("1"), time=hours(10), max_power=D("6")),
        ChargingPeriod(s + timedelta(minutes=10), energy=D("40"), time=hours(50), max_power=D("48")),
        ChargingPeriod(s + timedelta(minutes=60), energy=D("0.5"), time=hours(8), max_power=D("4")),
    ]
    assert price_session(t, periods).total_cost.excl_vat == D("20.30")


def test_max_duration_makes_the_first_30_minutes_free():
    t = tariff(
        {"price_components": [component("ENERGY", "0.00", 1, "20.0")], "restrictions": {"max_duration": 1800}},
        {"price_components": [component("ENERGY", "0.25", 1, "20.0")], "restrictions": {"max_duration": 3600}},
        {"price_components": [component("ENERGY", "0.40", 1, "20.0")]},
    )
    s = MONDAY_0930
    periods = [
        ChargingPeriod(s, energy=D("5"), time=hours(30)),
        ChargingPeriod(s + timedelta(minutes=30), energy=D("1.2"), time=hours(10)),
    ]
    assert price_session(t, periods).total_cost.excl_vat == D("0.30")


STEP_SIZE_TARIFF = (
    {"price_components": [component("TIME", "1.20", 1800), component("PARKING_TIME", "1.00", 900)],
     "restrictions": {"start_time": "00:00", "end_time": "17:00"}},
    {"price_components": [component("TIME", "2.40", 900), component("PARKING_TIME", "1.00", 900)],
     "restrictions": {"start_time": "17:00", "end_time": "20:00"}},
    {"price_components": [component("TIME", "2.40", 900)],
     "restrictions": {"start_time": "20:00", "end_time": "23:59"}},
)


def test_step_size_switching_element_1_bills_0_55():
    """2.2.1-d2: 5 min at 1.20/h (0.10) + 5 min at 2.40/h (0.20), charging not rounded; 2 parking min as 15 (0.25)."""
    s = local(24, 16, 55)
    periods = [
        ChargingPeriod(s, energy=D("1"), time=hours(5)),
        ChargingPeriod(s + timedelta(minutes=5), energy=D("1"), time=hours(5)),
        ChargingPeriod(s + timedelta(minutes=10), parking_time=hours(2)),
    ]
    priced = price_session(tariff(*STEP_SIZE_TARIFF), periods, time_zone=BERLIN)
    assert priced.total_cost.excl_vat == D("0.55")
    assert priced.total_time_cost.excl_vat == D("0.30")
    assert priced.total_parking_cost.excl_vat == D("0.25")
    parking = [line for line in priced.lines if line.category is CostCategory.PARKING]
    assert sum(line.quantity for line in parking) == D("0.25")  # 15 minutes


def test_step_size_switching_element_2_bills_0_80_after_17_and_1_30_in_total():
    s = local(24, 16, 35)
    periods = [
        ChargingPeriod(s, energy=D("5"), time=hours(25)),
        ChargingPeriod(s + timedelta(minutes=25), energy=D("2"), time=hours(10)),
    ]
    priced = price_session(tariff(*STEP_SIZE_TARIFF), periods, time_zone=BERLIN)
    assert priced.total_cost.excl_vat == D("1.30")
    after_17 = sum(line.excl_vat for line in priced.lines if line.period == 1)
    assert after_17.quantize(D("0.01")) == D("0.80")


def test_step_size_switching_to_free_parking_bills_0_60():
    """Parking after 20:00 has no PARKING_TIME component, so no parking is priced and charging time is rounded."""
    s = local(24, 19, 55)
    periods = [
        ChargingPeriod(s, energy=D("1"), time=hours(5)),
        ChargingPeriod(s + timedelta(minutes=5), energy=D("1"), time=hours(5)),
        ChargingPeriod(s + timedelta(minutes=10), parking_time=hours(2)),
    ]
    priced = price_session(tariff(*STEP_SIZE_TARIFF), periods, time_zone=BERLIN)
    assert priced.total_cost.excl_vat == D("0.60")


def _all_totals(priced) -> dict:
    return {name: getattr(priced, name) for name in (
        "total_cost", "total_energy_cost", "total_time_cost", "total_parking_cost", "total_fixed_cost",
        "total_reservation_cost", "total_energy", "total_time", "total_parking_time")}


NO_VAT_ZERO = Price(D("0"), D("0"))


def test_step_size_example_1_every_cdr_total():
    s = local(24, 16, 55)
    periods = [ChargingPeriod(s, time=hours(5)), ChargingPeriod(s + timedelta(minutes=5), time=hours(5)),
               ChargingPeriod(s + timedelta(minutes=10), parking_time=hours(2))]
    priced = price_session(tariff(*STEP_SIZE_TARIFF), periods, time_zone=BERLIN, session_start=s,
                           session_end=s + timedelta(minutes=12))
    assert _all_totals(priced) == {
        "total_cost": Price(D("0.55"), D("0.55")), "total_energy_cost": NO_VAT_ZERO,
        "total_time_cost": Price(D("0.30"), D("0.30")), "total_parking_cost": Price(D("0.25"), D("0.25")),
        "total_fixed_cost": NO_VAT_ZERO, "total_reservation_cost": NO_VAT_ZERO,
        "total_energy": D("0"), "total_time": D("0.2"), "total_parking_time": hours(2)}


def test_step_size_example_2_every_cdr_total():
    s = local(24, 16, 35)
    periods = [ChargingPeriod(s, time=hours(25)), ChargingPeriod(s + timedelta(minutes=25), time=hours(10))]
    priced = price_session(tariff(*STEP_SIZE_TARIFF), periods, time_zone=BERLIN, session_start=s,
                           session_end=s + timedelta(minutes=35))
    assert _all_totals(priced) == {
        "total_cost": Price(D("1.30"), D("1.30")), "total_energy_cost": NO_VAT_ZERO,
        "total_time_cost": Price(D("1.30"), D("1.30")), "total_parking_cost": NO_VAT_ZERO,
        "total_fixed_cost": NO_VAT_ZERO, "total_reservation_cost": NO_VAT_ZERO,
        "total_energy": D("0"), "total_time": hours(35), "total_parking_time": D("0")}


def test_step_size_example_free_parking_every_cdr_total():
    s = local(24, 19, 55)
    periods = [ChargingPeriod(s, time=hours(5)), ChargingPeriod(s + timedelta(minutes=5), time=hours(5)),
               ChargingPeriod(s + timedelta(minutes=10), parking_time=hours(2))]
    priced = price_session(tariff(*STEP_SIZE_TARIFF), periods, time_zone=BERLIN, session_start=s,
                           session_end=s + timedelta(minutes=12))
    assert _all_totals(priced) == {
        "total_cost": Price(D("0.60"), D("0.60")), "total_energy_cost": NO_VAT_ZERO,
        "total_time_cost": Price(D("0.60"), D("0.60")), "total_parking_cost": NO_VAT_ZERO,
        "total_fixed_cost": NO_VAT_ZERO, "total_reservation_cost": NO_VAT_ZERO,
        "total_energy": D("0"), "total_time": D("0.2"), "total_parking_time": hours(2)}
