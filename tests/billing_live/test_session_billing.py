"""A session charged over a real WebSocket is billed automatically: CDR, invoice, PDF, on both engines.

The session (charger in Europe/Berlin, tariff TOU-IDLE from live_billing):
    21:30-22:00 local  charging 11 kW   5.5 kWh x 0.30 EUR (day rate)    = 1.65 EUR
    22:00-22:30 local  charging 11 kW   5.5 kWh x 0.20 EUR (night rate)  = 1.10 EUR
    22:30-23:00 local  parked, 0 W      0.5 h   x 2.40 EUR/h (parking)   = 1.20 EUR
    net 3.95 EUR; VAT 19 % = 0.7505 EUR -> OCPI total incl. VAT 4.7005, invoice VAT 0.75, gross 4.70 EUR.

Each test runs with a 1.6 charger and a 2.0.1 station (``ocpp_version``) and expects the same bill.
"""

from __future__ import annotations

import asyncio
import json

import httpx

from billing_live.live_billing import (
    METER_START_WH,
    TOU_IDLE_TARIFF,
    accept_driver_cards,
    charge_evening,
    ensure_tariff,
    evening_charger,
    park_and_stop,
    register_berlin_charger,
    wait_for_bill,
)
from chargewatch.runtime import Chargewatch
from conftest import make_options
from helpers import http_url
from peers.chargers import versions


@versions()
async def test_a_stopped_session_is_billed_with_totals_matching_the_hand_computation(server, api, ocpp_version):
    await ensure_tariff(api)
    await register_berlin_charger(api, "BER-1")
    cp = await evening_charger(server, "BER-1", ocpp_version)
    tx = await charge_evening(cp)
    await park_and_stop(cp, tx)
    await cp.close()

    bill = await wait_for_bill(api, tx)
    assert bill["status"] == "issued", bill
    assert (bill["tariff_id"], bill["tariff_version"], bill["meter_rule"]) == ("TOU-IDLE", 1, "as_measured")
    invoice = bill["invoice"]
    assert [(line["description"], line["quantity"], line["unit_price"], line["net"]) for line in invoice["lines"]] == [
        ("Energy", "5.5", "0.3", "1.65"), ("Energy", "5.5", "0.2", "1.10"), ("Parking time", "0.5", "2.4", "1.20")]
    assert invoice["vat_breakdown"] == [{"rate": "19.0", "net": "3.95", "vat": "0.75"}]
    assert (invoice["total_net"], invoice["total_vat"], invoice["total_gross"]) == ("3.95", "0.75", "4.70")
    assert invoice["session"]["meter_start_wh"] == METER_START_WH
    assert invoice["session"]["energy_kwh"] == "11"
    assert invoice["station"]["time_zone"] == "Europe/Berlin"
    assert invoice["session"]["start"] == "2026-11-02T21:30:00+01:00"
    assert invoice["meter_verification"] == "NOT_SIGNED"
    assert invoice["number"] == "CW-00000001"

    cdr = (await api.get(f"/api/v1/cdrs/{invoice['cdr_id']}")).json()
    assert cdr["total_cost"] == {"excl_vat": 3.95, "incl_vat": 4.7005}
    assert cdr["total_energy_cost"] == {"excl_vat": 1.65 + 1.10, "incl_vat": 3.2725}
    assert cdr["total_parking_cost"] == {"excl_vat": 1.2, "incl_vat": 1.428}
    assert cdr["total_time_cost"] == {"excl_vat": 0, "incl_vat": 0}
    assert cdr["total_fixed_cost"] == {"excl_vat": 0, "incl_vat": 0}
    assert (cdr["total_energy"], cdr["total_time"], cdr["total_parking_time"]) == (11, 1.5, 0.5)
    assert [p["start_date_time"] for p in cdr["charging_periods"]] == [
        "2026-11-02T20:30:00Z", "2026-11-02T21:00:00Z", "2026-11-02T21:30:00Z"]
    assert cdr["cdr_location"]["time_zone"] == "Europe/Berlin"
    assert cdr["tariffs"][0]["id"] == "TOU-IDLE"

    pdf = await api.get(f"/api/v1/invoices/{invoice['number']}.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and pdf.content.rstrip().endswith(b"%%EOF")
    # fpdf2 compresses page content; the document title in the info dictionary names the invoice.
    assert b"Invoice CW-00000001" in pdf.content
    assert (await api.get(f"/api/v1/invoices/{invoice['number']}.pdf")).content == pdf.content  # kept, not redrawn

    cost = (await api.get(f"/api/v1/sessions/{tx}/cost")).json()
    assert cost["status"] == "billed"
    assert cost["total_cost"] == {"excl_vat": "3.9500", "incl_vat": "4.7005"}


@versions()
async def test_invoice_numbers_stay_gap_free_when_chargers_stop_and_invoices_are_corrected_at_once(
        server, api, ocpp_version):
    await ensure_tariff(api)
    chargers = [f"BER-{n}" for n in range(6)]
    for charger_id in chargers:
        await register_berlin_charger(api, charger_id)
    cps = [await evening_charger(server, charger_id, ocpp_version) for charger_id in chargers]
    txs = [await charge_evening(cp) for cp in cps]
    await asyncio.gather(*(park_and_stop(cp, tx) for cp, tx in zip(cps, txs, strict=True)))
    for cp in cps:
        await cp.close()
    bills = [await wait_for_bill(api, tx) for tx in txs]
    assert sorted(b["invoice_number"] for b in bills) == [f"CW-{n:08d}" for n in range(1, 7)]

    corrections = await asyncio.gather(*(api.post(f"/api/v1/invoices/{b['invoice_number']}/credit",
                                                  json={"reason": "wrong tariff shown at the station"})
                                         for b in bills))
    assert all(r.status_code == 200 for r in corrections), [r.text for r in corrections]
    invoices = (await api.get("/api/v1/invoices", params={"limit": 100})).json()
    assert [i["sequence"] for i in invoices] == list(range(1, 19))
    assert len({i["number"] for i in invoices}) == 18
    assert sum(i["kind"] == "credit_note" for i in invoices) == 6


@versions()
async def test_sessions_left_unbilled_by_a_crash_are_billed_at_the_next_start(sqlite_url, monkeypatch, ocpp_version):
    from chargewatch.workers.billing import Biller

    def crash(self, transaction_id):  # type: ignore[no-untyped-def]
        raise RuntimeError("power cut")

    first = Chargewatch(make_options(sqlite_url, accept_unknown=True))
    monkeypatch.setattr(Biller, "bill", crash)
    await first.start()
    accept_driver_cards(first)
    try:
        async with httpx.AsyncClient(base_url=http_url(first), timeout=10) as api:
            await ensure_tariff(api)
            await register_berlin_charger(api, "BER-CRASH")
            cp = await evening_charger(first, "BER-CRASH", ocpp_version)
            tx = await charge_evening(cp)
            await park_and_stop(cp, tx)
            await cp.close()
    finally:
        await first.stop()
    monkeypatch.undo()
    second = Chargewatch(make_options(sqlite_url, accept_unknown=True))
    await second.start()
    try:
        async with httpx.AsyncClient(base_url=http_url(second), timeout=10) as api:
            bill = await wait_for_bill(api, tx)
    finally:
        await second.stop()
    assert bill["status"] == "issued" and bill["invoice"]["total_gross"] == "4.70"


def test_the_tariff_fixture_is_valid_ocpi():
    from chargewatch.billing import tariff_from_json

    assert tariff_from_json(json.dumps(TOU_IDLE_TARIFF)).id == "TOU-IDLE"
