"""Invoices, credit notes, their JSON and their PDF."""

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargewatch.billing.charging_period import ChargingPeriod
from chargewatch.billing.invoice import Party, build_invoice, credit_note
from chargewatch.billing.invoice_pdf import latin1_text, render_pdf
from chargewatch.billing.ocmf import VerificationStatus
from chargewatch.billing.price import round_money
from chargewatch.billing.pricing import price_session
from chargewatch.billing.tariff import tariff_from_json

START = datetime(2026, 11, 24, 17, 5, tzinfo=UTC)
TARIFF = tariff_from_json({
    "id": "T1", "currency": "EUR",
    "min_price": {"excl_vat": 1.00, "incl_vat": 1.19},
    "elements": [
        {"price_components": [{"type": "FLAT", "price": 0.35, "vat": 19.0, "step_size": 1},
                              {"type": "ENERGY", "price": 0.39, "vat": 19.0, "step_size": 1},
                              {"type": "PARKING_TIME", "price": 6.0, "step_size": 60}]},
    ],
})


def invoice(energy: str = "12.345", buyer_name: str = "Zoë Ødegård", feedback: str | None = None,
            parking: str = "0.5"):
    periods = [
        ChargingPeriod(START, energy=Decimal(energy), time=Decimal("1.5")),
        ChargingPeriod(START + timedelta(hours=1, minutes=30), parking_time=Decimal(parking)),
    ]
    priced = price_session(TARIFF, periods, time_zone="Europe/Berlin")
    return build_invoice(
        number="CW-2026-000042", issue_date=date(2026, 11, 25),
        seller=Party("Chargewatch Demo GmbH", ("Hauptstraße 1", "10115 Berlin"), "DE123456789"),
        buyer=Party(buyer_name, ("Storgata 5", "Oslo")),
        station_name="Berlin Mitte", evse_id="DE*CWT*E0001", time_zone="Europe/Berlin", session_id="S-1",
        session_start=START, session_stop=START + timedelta(hours=2),
        meter_start_wh=100_000, meter_stop_wh=100_000 + int(Decimal(energy) * 1000), priced=priced,
        meter_verification=VerificationStatus.VALID, feedback_url=feedback,
    )


def test_session_times_are_shown_in_the_station_time_zone():
    inv = invoice()
    assert inv.session_start.isoformat() == "2026-11-24T18:05:00+01:00"


def test_line_items_per_dimension_with_quantity_unit_price_and_vat_rate():
    lines = {line.description: line for line in invoice().lines}
    assert lines["Energy"].quantity == Decimal("12.345")
    assert lines["Energy"].unit_price == Decimal("0.39")
    assert lines["Energy"].vat_rate == Decimal("19.0")
    assert lines["Energy"].net == Decimal("4.81")
    assert lines["Parking time"].vat_rate is None


def test_vat_breakdown_keeps_no_vat_apart_from_a_rate():
    breakdown = invoice().vat_breakdown
    assert [s.rate for s in breakdown] == [Decimal("19.0"), None]
    assert breakdown[1].vat == Decimal("0.00")


def test_totals_add_up():
    inv = invoice()
    assert inv.total_gross == inv.total_net + inv.total_vat
    assert inv.total_net == sum(line.net for line in inv.lines)


def test_minimum_price_shows_as_its_own_line():
    inv = invoice(energy="0.5", parking="0")
    assert inv.lines[-1].description == "Minimum price adjustment"
    assert inv.lines[-1].net == Decimal("0.45")  # residual: 0.35 + 0.20 + 0.45 = the 1.00 minimum
    assert inv.total_net == Decimal("1.00")
    assert inv.total_gross == Decimal("1.19")


def test_energy_comes_from_meter_start_and_stop():
    assert invoice().energy_kwh == Decimal("12.345")


def test_json_amounts_are_decimal_strings():
    data = invoice().to_json()
    assert data["total_gross"] == str(invoice().total_gross)
    assert all(isinstance(line["net"], str) for line in data["lines"])
    assert data["meter_verification"] == "VALID"


def test_credit_note_negates_amounts_and_references_the_original():
    original = invoice()
    credit = credit_note(original, number="CW-2026-000043", issue_date=date(2026, 11, 26))
    assert credit.credit_note_for == "CW-2026-000042"
    assert credit.total_gross == -original.total_gross
    assert credit.to_json()["type"] == "credit_note"


def test_a_credit_note_cannot_itself_be_credited():
    credit = credit_note(invoice(), number="CW-2", issue_date=date(2026, 11, 26))
    with pytest.raises(ValueError):
        credit_note(credit, number="CW-3", issue_date=date(2026, 11, 26))


def test_pdf_is_a_real_pdf_with_the_invoice_number():
    pdf = render_pdf(invoice(feedback="https://chargewatch.example/feedback/S-1"))
    assert pdf.startswith(b"%PDF-")
    assert len(pdf) > 2000


def test_pdf_survives_names_outside_latin1():
    assert render_pdf(invoice(buyer_name="Łukasz Żółć 李雷 🚗")).startswith(b"%PDF-")


def test_latin1_text_keeps_accents_latin1_has_and_strips_others():
    assert latin1_text("Zoë Łukasz 李") == "Zoë Lukasz ?"


MIXED = tariff_from_json({"id": "M", "currency": "EUR", "elements": [
    {"price_components": [{"type": "ENERGY", "price": 0.3333, "vat": 19.0, "step_size": 1}],
     "restrictions": {"max_kwh": 5}},
    {"price_components": [{"type": "ENERGY", "price": 0.4449, "vat": 7.0, "step_size": 1},
                          {"type": "TIME", "price": 1.1111, "vat": 19.0, "step_size": 1}]},
]})


@given(st.integers(1, 80_000), st.integers(1, 500_000), st.integers(1, 36_000))
@settings(max_examples=200, deadline=None)
def test_invoice_totals_are_the_cdr_total_rounded_once(first_wh, second_wh, seconds):
    periods = [ChargingPeriod(START, energy=Decimal(first_wh) / 1000, time=Decimal(seconds) / 3600),
               ChargingPeriod(START + timedelta(seconds=seconds), energy=Decimal(second_wh) / 1000,
                              time=Decimal(seconds) / 7200)]
    priced = price_session(MIXED, periods)
    inv = build_invoice(
        number="CW-1", issue_date=date(2026, 11, 25), seller=Party("S"), buyer=None, station_name="X",
        evse_id="E", time_zone="UTC", session_id="1", session_start=START, session_stop=START + timedelta(hours=20),
        meter_start_wh=0, meter_stop_wh=first_wh + second_wh, priced=priced)
    assert inv.total_net == round_money(priced.total_cost.excl_vat, "EUR")
    assert inv.total_gross == round_money(priced.total_cost.incl_vat, "EUR")
    assert sum(line.net for line in inv.lines) == inv.total_net
    assert sum(s.vat for s in inv.vat_breakdown) == inv.total_vat


def test_5_865_eur_is_5_87_on_the_invoice_as_on_every_page():
    assert round_money(Decimal("5.8650"), "EUR") == Decimal("5.87")
    assert round_money(Decimal("5.8649"), "EUR") == Decimal("5.86")


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_german_pdf_has_german_labels_amounts_and_local_times():
    text = _pdf_text(render_pdf(invoice(), "de"))
    assert "Rechnung CW-2026-000042" in text
    assert "Zu zahlen" in text and "Energie" in text and "Standzeit" in text
    assert "Beginn" in text and "24. Nov. 2026, 18:05 MEZ" in text  # 17:05 UTC in Berlin
    total = invoice().total_gross
    assert f"{total:.2f}".replace(".", ",") + " EUR" in text.replace("\xa0", " ")


def test_english_pdf_has_english_labels_amounts_and_local_times():
    text = _pdf_text(render_pdf(invoice(), "en"))
    assert "Invoice CW-2026-000042" in text and "Total to pay" in text
    assert "24 Nov 2026, 18:05 CET" in text
    assert f"EUR {invoice().total_gross:.2f}" in text.replace("\xa0", " ")
