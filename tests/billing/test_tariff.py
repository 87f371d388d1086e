"""Tariff parsing and validation: every error names the exact JSON path."""

import json
from decimal import Decimal

import pytest

from chargewatch.billing.tariff import TariffValidationError, tariff_from_json, tariff_to_json

VALID = {
    "country_code": "DE", "party_id": "CWT", "id": "T1", "currency": "EUR", "type": "REGULAR",
    "tariff_alt_text": [{"language": "en", "text": "Day 0.39, night 0.29 per kWh"}],
    "min_price": {"excl_vat": 0.5, "incl_vat": 0.6}, "max_price": {"excl_vat": 50},
    "elements": [
        {"price_components": [{"type": "FLAT", "price": 0.35, "vat": 19.0, "step_size": 1}]},
        {"price_components": [{"type": "ENERGY", "price": 0.39, "vat": 19.0, "step_size": 1},
                              {"type": "PARKING_TIME", "price": 6, "step_size": 60}],
         "restrictions": {"start_time": "07:00", "end_time": "22:00", "start_date": "2026-01-01",
                          "end_date": "2027-01-01", "min_kwh": 0, "max_kwh": 100, "min_power": 0, "max_power": 350,
                          "min_current": 0, "max_current": 500, "min_duration": 0, "max_duration": 86400,
                          "day_of_week": ["MONDAY", "FRIDAY"]}},
        {"price_components": [{"type": "TIME", "price": 2, "vat": 19.0, "step_size": 300}],
         "restrictions": {"reservation": "RESERVATION"}},
    ],
    "start_date_time": "2026-01-01T00:00:00Z",
    "last_updated": "2026-11-01T12:00:00Z",
}


def broken(mutate) -> dict:
    doc = json.loads(json.dumps(VALID))
    mutate(doc)
    return doc


def error_for(doc) -> TariffValidationError:
    with pytest.raises(TariffValidationError) as info:
        tariff_from_json(doc)
    return info.value


def test_prices_are_exact_decimals_even_from_float_json():
    tariff = tariff_from_json(VALID)
    assert tariff.elements[1].price_components[0].price == Decimal("0.39")


def test_absent_vat_is_not_zero_vat():
    tariff = tariff_from_json(VALID)
    assert tariff.elements[1].price_components[1].vat is None


def test_round_trip_through_json_gives_the_same_tariff():
    tariff = tariff_from_json(VALID)
    assert tariff_from_json(json.dumps(tariff_to_json(tariff), default=float)) == tariff


def test_negative_price_names_the_component():
    err = error_for(broken(lambda d: d["elements"][1]["price_components"][1].update(price=-1)))
    assert err.field == "elements[1].price_components[1].price"
    assert "negative" in err.reason


def test_unknown_dimension_type_names_the_component():
    err = error_for(broken(lambda d: d["elements"][0]["price_components"][0].update(type="KWH")))
    assert err.field == "elements[0].price_components[0].type"
    assert "ENERGY" in err.reason


def test_hour_25_is_not_a_time():
    err = error_for(broken(lambda d: d["elements"][1]["restrictions"].update(start_time="25:00")))
    assert err.field == "elements[1].restrictions.start_time"
    assert "25:00" in err.reason


def test_currency_must_be_three_letters():
    err = error_for(broken(lambda d: d.update(currency="EURO")))
    assert err.field == "currency"


def test_elements_must_not_be_empty():
    assert error_for(broken(lambda d: d.update(elements=[]))).field == "elements"


def test_step_size_must_be_a_positive_integer():
    err = error_for(broken(lambda d: d["elements"][1]["price_components"][1].update(step_size=0)))
    assert err.field == "elements[1].price_components[1].step_size"


def test_step_size_must_be_an_integer():
    err = error_for(broken(lambda d: d["elements"][2]["price_components"][0].update(step_size=1.5)))
    assert err.field == "elements[2].price_components[0].step_size"


def test_unknown_weekday_names_its_index():
    err = error_for(broken(lambda d: d["elements"][1]["restrictions"].update(day_of_week=["MONDAY", "MON"])))
    assert err.field == "elements[1].restrictions.day_of_week[1]"


def test_impossible_date_is_rejected():
    err = error_for(broken(lambda d: d["elements"][1]["restrictions"].update(start_date="2026-02-30")))
    assert err.field == "elements[1].restrictions.start_date"


def test_max_below_min_makes_an_element_that_never_applies():
    err = error_for(broken(lambda d: d["elements"][1]["restrictions"].update(min_kwh=50, max_kwh=10)))
    assert err.field == "elements[1].restrictions.max_kwh"


def test_misspelled_restrictions_key_is_named():
    def rename(d):
        d["elements"][1]["tariff_restrictions"] = d["elements"][1].pop("restrictions")
    assert error_for(broken(rename)).field == "elements[1].tariff_restrictions"


def test_vat_above_100_percent_is_rejected():
    err = error_for(broken(lambda d: d["elements"][0]["price_components"][0].update(vat=119)))
    assert err.field == "elements[0].price_components[0].vat"


def test_negative_min_price_is_rejected():
    assert error_for(broken(lambda d: d["min_price"].update(excl_vat=-1))).field == "min_price.excl_vat"


def test_invalid_json_text_is_a_validation_error():
    assert error_for("{").field == "$"


def test_missing_id_is_named():
    assert error_for(broken(lambda d: d.pop("id"))).field == "id"
