"""Unit prices before the start (AFIR Art. 5, 23 CFR 680.116(a)), and how figures read for a driver."""

from datetime import UTC, datetime
from decimal import Decimal

from chargewatch.billing import display
from chargewatch.billing.price_sheet import price_sheet
from chargewatch.billing.tariff import TariffDimensionType, tariff_from_json

D = Decimal
DAY_NIGHT = tariff_from_json({"id": "DN", "currency": "EUR", "elements": [
    {"price_components": [{"type": "FLAT", "price": 0.50, "vat": 19.0, "step_size": 1},
                          {"type": "ENERGY", "price": 0.30, "vat": 19.0, "step_size": 1}],
     "restrictions": {"start_time": "07:00", "end_time": "22:00"}},
    {"price_components": [{"type": "ENERGY", "price": 0.20, "vat": 19.0, "step_size": 1},
                          {"type": "PARKING_TIME", "price": 2.40, "vat": 19.0, "step_size": 300}]},
]})
BERLIN_NOON = datetime(2026, 12, 2, 11, tzinfo=UTC)
BERLIN_NIGHT = datetime(2026, 12, 2, 23, tzinfo=UTC)


def test_prices_in_force_now_come_first_with_vat_included():
    sheet = price_sheet(DAY_NIGHT, time_zone="Europe/Berlin", now=BERLIN_NOON)
    now = [(p.dimension, p.incl_vat) for p in sheet.in_force()]
    assert now == [(TariffDimensionType.FLAT, D("0.5950")), (TariffDimensionType.ENERGY, D("0.3570")),
                   (TariffDimensionType.PARKING_TIME, D("0.0476"))]  # 2.40/h is 0.04/min, 0.0476 incl. VAT


def test_night_prices_are_in_force_at_night_in_the_station_time_zone():
    sheet = price_sheet(DAY_NIGHT, time_zone="Europe/Berlin", now=BERLIN_NIGHT)
    energy = [p for p in sheet.in_force() if p.dimension is TariffDimensionType.ENERGY]
    assert [p.excl_vat for p in energy] == [D("0.2000")]
    assert not [p for p in sheet.in_force() if p.dimension is TariffDimensionType.FLAT]


def test_conditions_and_steps_read_in_the_driver_language():
    de = price_sheet(DAY_NIGHT, time_zone="Europe/Berlin", now=BERLIN_NOON, language="de")
    parking = next(p for p in de.prices if p.dimension is TariffDimensionType.PARKING_TIME)
    energy_day = next(p for p in de.prices if p.dimension is TariffDimensionType.ENERGY)
    assert (energy_day.label, energy_day.conditions) == ("Energie", "07:00–22:00")
    assert parking.billing_step == "abgerechnet je angefangene 5 min"
    en = price_sheet(DAY_NIGHT, time_zone="Europe/Berlin", now=BERLIN_NOON, language="en")
    assert next(p for p in en.prices if p.dimension is TariffDimensionType.PARKING_TIME).conditions == "at all times"


def test_reservation_elements_are_not_charging_prices():
    t = tariff_from_json({"id": "R", "currency": "EUR", "elements": [
        {"price_components": [{"type": "TIME", "price": 5, "step_size": 60}],
         "restrictions": {"reservation": "RESERVATION"}},
        {"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]}]})
    assert [p.dimension for p in price_sheet(t, time_zone="UTC", now=BERLIN_NOON).prices] == [
        TariffDimensionType.ENERGY]


def test_money_reads_8_80_euro_in_german_and_english():
    assert display.money(D("8.8000"), "EUR", "de") == "8,80\xa0€"
    assert display.money(D("8.8000"), "EUR", "en") == "€8.80"


def test_money_rounds_as_the_invoice_does():
    assert display.money(D("5.8650"), "EUR", "de") == "5,87\xa0€"


def test_times_are_shown_in_the_station_zone_in_the_driver_language():
    moment = datetime(2026, 11, 2, 20, 30, tzinfo=UTC)
    assert display.local_time(moment, "Europe/Berlin", "de") == "2. Nov. 2026, 21:30 MEZ"
    assert display.local_time(moment, "Europe/Berlin", "en") == "2 Nov 2026, 21:30 CET"


def test_stop_reasons_are_sentences():
    assert display.stop_reason("Other", "en") == "Charging ended."
    assert display.stop_reason("EVDisconnected", "de") == "Das Kabel wurde vom Auto getrennt."
    assert display.stop_reason(None, "en") == "Charging ended."
    assert display.stop_reason("SomethingNew", "de") == "Der Ladevorgang ist beendet."
