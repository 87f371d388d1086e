"""CDR building, credit CDRs, and the OCPI 2.2.1 mod_cdrs example CDR."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chargewatch.billing.cdr import (
    CdrLocation,
    CdrToken,
    SessionFacts,
    build_cdr,
    build_credit_cdr,
    cdr_for_pricing,
    cdr_to_json_text,
)
from chargewatch.billing.charging_period import ChargingPeriod
from chargewatch.billing.pricing import price_session
from chargewatch.billing.tariff import tariff_from_json

START = datetime(2015, 6, 29, 21, 39, 9, tzinfo=UTC)
END = datetime(2015, 6, 29, 23, 37, 32, tzinfo=UTC)

EXAMPLE_TARIFF = tariff_from_json(
    '{"country_code": "BE", "party_id": "BEC", "id": "12", "currency": "EUR",'
    ' "elements": [{"price_components": [{"type": "TIME", "price": 2.00, "vat": 10.0, "step_size": 300}]}],'
    ' "last_updated": "2015-02-02T14:15:01Z"}'
)
EXAMPLE_PERIODS = (ChargingPeriod(START, energy=Decimal("15.342"), time=Decimal("1.973"), tariff_id="12"),)
FACTS = SessionFacts(
    cdr_id="12345",
    country_code="BE",
    party_id="BEC",
    start=START,
    end=END,
    token=CdrToken("DE", "TNM", "012345678", "RFID", "DE8ACC12E46L89"),
    auth_method="WHITELIST",
    location=CdrLocation(
        id="LOC1", name="Gent Zuid", address="F.Rooseveltlaan 3A", city="Gent", postal_code="9000",
        country="BEL", latitude="3.729944", longitude="51.047599", evse_uid="3256",
        evse_id="BE*BEC*E041503003", connector_id="1", connector_standard="IEC_62196_T2",
        connector_format="SOCKET", connector_power_type="AC_1_PHASE", time_zone="Europe/Brussels",
    ),
)


def example_cdr() -> dict:
    priced = price_session(EXAMPLE_TARIFF, EXAMPLE_PERIODS, time_zone="Europe/Brussels")
    updated = datetime(2015, 6, 29, 22, 1, 13, tzinfo=UTC)
    return build_cdr(FACTS, EXAMPLE_TARIFF, EXAMPLE_PERIODS, priced, last_updated=updated)


def test_example_cdr_bills_1_973_hours_at_2_euro_in_5_minute_steps_as_4_euro():
    cdr = example_cdr()
    assert cdr["total_cost"] == {"excl_vat": Decimal("4.0000"), "incl_vat": Decimal("4.4000")}
    assert cdr["total_time_cost"] == {"excl_vat": Decimal("4.0000"), "incl_vat": Decimal("4.4000")}
    assert cdr["total_energy"] == Decimal("15.342")
    assert cdr["total_time"] == Decimal("1.973")


def test_cdr_has_every_required_ocpi_field():
    cdr = example_cdr()
    required = {"country_code", "party_id", "id", "start_date_time", "end_date_time", "cdr_token", "auth_method",
                "cdr_location", "currency", "charging_periods", "total_cost", "total_energy", "total_time",
                "last_updated"}
    assert required <= cdr.keys()
    assert cdr["cdr_location"]["time_zone"] == "Europe/Brussels"
    assert cdr["charging_periods"][0]["tariff_id"] == "12"
    assert cdr["tariffs"][0]["id"] == "12"


def test_cdr_json_text_round_trips_through_pricing():
    text = cdr_to_json_text(example_cdr())
    parsed = cdr_for_pricing(json.loads(text, parse_float=Decimal))
    assert parsed.time_zone == "Europe/Brussels"
    assert parsed.periods[0].time == Decimal("1.973")
    assert price_session(EXAMPLE_TARIFF, parsed.periods).total_cost.excl_vat == Decimal("4.00")


def test_credit_cdr_references_the_original_and_negates_costs():
    original = example_cdr()
    credit = build_credit_cdr(original, last_updated=END + timedelta(days=2))
    assert credit["credit"] is True
    assert credit["credit_reference_id"] == "12345"
    assert credit["id"] == "12345-C"
    assert credit["total_cost"] == {"excl_vat": Decimal("-4.0000"), "incl_vat": Decimal("-4.4000")}
    assert credit["total_energy"] == original["total_energy"]


def test_credit_cdr_leaves_the_original_untouched():
    original = example_cdr()
    snapshot = json.loads(cdr_to_json_text(original))
    build_credit_cdr(original, last_updated=END)
    assert json.loads(cdr_to_json_text(original)) == snapshot


def test_a_credit_cdr_cannot_be_credited_again():
    credit = build_credit_cdr(example_cdr(), last_updated=END)
    with pytest.raises(ValueError, match="itself a credit CDR"):
        build_credit_cdr(credit, last_updated=END)
