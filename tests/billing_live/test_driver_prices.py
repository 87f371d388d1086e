"""Prices before the start and the running cost, as a driver sees them (AFIR Art. 5, 23 CFR 680.116(a)).

Driven over a real WebSocket on SQLite and PostgreSQL; the public routes are read without a login while
operator accounts exist (so the API requires one everywhere else). The tests a session drives run with a 1.6
charger and a 2.0.1 station (``ocpp_version``) and show the driver the same.
"""

from __future__ import annotations

import httpx

from billing_live.live_billing import (
    charge_evening,
    ensure_tariff,
    evening_charger,
    park_and_stop,
    register_berlin_charger,
    wait_for_bill,
)
from helpers import http_url
from peers.chargers import versions
from web.conftest import add_operators

PRICES = "/api/v1/driver/chargers/{}/connectors/1/tariff"


async def test_a_connector_prices_are_public_before_a_session_starts(server, api):
    await ensure_tariff(api)
    await register_berlin_charger(api, "PUB-1")
    add_operators(server)
    async with httpx.AsyncClient(base_url=http_url(server), timeout=10) as anonymous:
        assert (await anonymous.get("/api/v1/tariffs")).status_code == 401  # the operator API needs a login
        de = await anonymous.get(PRICES.format("PUB-1"), params={"lang": "de"})
        page = await anonymous.get("/price/PUB-1/1", params={"lang": "de"})
        unknown = await anonymous.get(PRICES.format("NOPE"))
        spec = (await anonymous.get("/openapi.json")).json()
    assert de.status_code == 200, de.text
    body = de.json()
    assert (body["tariff_id"], body["currency"], body["time_zone"], body["language"]) == (
        "TOU-IDLE", "EUR", "Europe/Berlin", "de")
    energy = [p for p in body["prices"] if p["dimension"] == "ENERGY"]
    assert {(p["incl_vat"], p["display"], p["conditions"]) for p in energy} == {
        ("0.3570", "0,357\xa0€/kWh", "07:00–22:00"), ("0.2380", "0,238\xa0€/kWh", "jederzeit")}
    parking = next(p for p in body["prices"] if p["dimension"] == "PARKING_TIME")
    assert (parking["unit"], parking["incl_vat"], parking["label"]) == (
        "min", "0.0476", "Standzeit (angesteckt, ohne Laden)")
    assert page.status_code == 200 and "0,357\xa0€/kWh" in page.text and "Preise an dieser Ladestation" in page.text
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("application/problem+json")
    operation = spec["paths"]["/api/v1/driver/chargers/{charger_id}/connectors/{connector_id}/tariff"]["get"]
    assert "no login" in operation["description"] and "404" in operation["responses"]


@versions()
async def test_driver_page_shows_unit_prices_and_the_running_cost_broken_down_in_german(server, api, ocpp_version):
    await ensure_tariff(api)
    await register_berlin_charger(api, "PUB-2")
    cp = await evening_charger(server, "PUB-2", ocpp_version)
    tx = await charge_evening(cp)
    path = (await api.get(f"/api/v1/sessions/{tx}")).json()["driver_path"]
    running = (await api.get(path, params={"lang": "de"})).text
    await park_and_stop(cp, tx)
    await cp.close()
    await wait_for_bill(api, tx)
    finished = (await api.get(path, params={"lang": "de"})).text

    assert 'id="driver-prices"' in running and "0,357\xa0€/kWh" in running and "inkl. MwSt." in running
    # 5.5 kWh x 0.357 + 5.5 kWh x 0.238 = 3.2725 EUR so far, energy only, in German.
    assert 'id="live-cost">3,27\xa0€<' in running
    assert 'data-part="total_energy_cost">3,27\xa0€<' in running
    # Started 21:30 in Berlin (20:30 UTC), shown in the station's zone.
    assert 'id="started-at">2. Nov. 2026, 21:30 MEZ<' in running
    assert 'data-part="total_parking_cost">1,43\xa0€<' in finished  # 0.5 h parking x 2.40 x 1.19 = 1.428
    assert '<dt>Standzeit <span class="muted small">30 min</span></dt>' in finished
    assert '<dt>Energie <span class="muted small">11 kWh</span></dt>' in finished
    assert 'id="live-cost">4,70\xa0€<' in finished
    assert 'id="stop-reason">Das Kabel wurde vom Auto getrennt.<' in finished


@versions()
async def test_the_receipt_pdf_is_in_the_driver_language_with_station_times(server, api, ocpp_version):
    import io

    from pypdf import PdfReader

    await ensure_tariff(api)
    await register_berlin_charger(api, "PUB-3")
    cp = await evening_charger(server, "PUB-3", ocpp_version)
    tx = await charge_evening(cp)
    await park_and_stop(cp, tx)
    await cp.close()
    await wait_for_bill(api, tx)
    path = (await api.get(f"/api/v1/sessions/{tx}")).json()["driver_path"]
    german = await api.get(f"{path}/receipt.pdf", params={"lang": "de"})
    english = await api.get(f"{path}/receipt.pdf", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert german.status_code == 200 and german.headers["content-type"] == "application/pdf"

    def text(data: bytes) -> str:
        return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).replace("\xa0", " ")

    de, en = text(german.content), text(english.content)
    assert "Rechnung CW-" in de and "Zu zahlen" in de and "4,70 EUR" in de
    assert "2. Nov. 2026, 21:30 MEZ" in de  # the session started 20:30 UTC, in Berlin
    assert "Invoice CW-" in en and "Total to pay" in en and "EUR 4.70" in en and "2 Nov 2026, 21:30 CET" in en
