"""The charger-screen guidance ends with the site's helpline when the site has a support record: by DataTransfer on
a 1.6 charger, by SetDisplayMessage on a 2.0.1 station (the `ocpp` library's charge points, on SQLite and
PostgreSQL)."""

from __future__ import annotations

import io

import httpx
from pypdf import PdfReader

from faults_live.live import eventually, fast_config
from helpers import http_url, ocpp_url
from peers.chargers import LibraryCharger

SCREEN = {"enabled": True, "vendor_id": "com.example.display"}

SITE = {"helpline": "+49 30 1234567", "hours": "Mon-Fri 08:00-20:00", "languages": ["de", "en"]}


async def _screens(cp: LibraryCharger) -> list[dict]:
    return cp.screens()


async def test_the_screen_guidance_ends_with_the_sites_helpline(db_url, ocpp_version, start_server):
    app = await start_server(db_url, fast_config(driver_screen=SCREEN))
    async with httpx.AsyncClient(base_url=http_url(app)) as api:
        assert (await api.put("/api/v1/sites/HELP-1/support", json=SITE)).status_code == 201
    cp = LibraryCharger(ocpp_url(app), "HELP-1", ocpp_version)
    await cp.connect()
    await cp.boot(connectors=1)
    await cp.status(1, "Faulted", "ConnectorLockFailure")
    [screen] = await eventually(lambda: _screens(cp))
    assert screen["text"].endswith("Help: +49 30 1234567")
    assert len(screen["text"]) <= 120
    assert screen["connector"] == 1
    await cp.close()


async def test_without_a_support_record_the_screen_guidance_is_unchanged(sqlite_url, ocpp_version, start_server):
    app = await start_server(sqlite_url, fast_config(driver_screen=SCREEN))
    cp = LibraryCharger(ocpp_url(app), "HELP-2", ocpp_version)
    await cp.connect()
    await cp.boot(connectors=1)
    await cp.status(1, "Faulted", "ConnectorLockFailure")
    [screen] = await eventually(lambda: _screens(cp))
    assert screen["text"] == "Cable lock problem. Re-insert the plug. Cable stuck? Call the hotline."
    await cp.close()


FLAT_TARIFF = {
    "country_code": "DE", "party_id": "CWS", "id": "FLAT-SCREEN", "currency": "EUR",
    "elements": [{"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 19.0, "step_size": 1}]}],
}


async def test_a_fault_in_a_session_shows_the_helpline_on_the_screen_the_driver_page_and_the_receipt(
        db_url, ocpp_version, start_server):
    """Issue 12 end to end for one charger of each version: the site's helpline and hours reach the driver on the
    charger's screen while the fault lasts (2.0.1: SetDisplayMessage for the running transaction), then on the
    session's driver page and on the receipt PDF, with the 'Still stuck? Call …' line."""
    # The session draws no energy while the test talks to the API: keep the stall rule (whose guidance would also go
    # to the screen) out of the way on a loaded machine.
    app = await start_server(db_url, fast_config(driver_screen={**SCREEN, "language": "de"},
                                                 detection={"stall_after": 120, "reconnect_grace": 60}))
    api = httpx.AsyncClient(base_url=http_url(app))
    try:
        assert (await api.post("/api/v1/tariffs", json=FLAT_TARIFF)).status_code == 201
        assert (await api.post("/api/v1/chargers", json={"id": "HELP-3"})).status_code in (200, 201)
        assert (await api.put("/api/v1/tariff-assignments",
                              json={"tariff_id": "FLAT-SCREEN", "charger_id": "HELP-3"})).status_code == 200
        assert (await api.put("/api/v1/sites/HELP-3/support", json=SITE)).status_code == 201
        cp = LibraryCharger(ocpp_url(app), "HELP-3", ocpp_version)
        await cp.connect()
        await cp.boot(connectors=1)
        tx = await cp.start(1, "DEMO-TAG-1")
        await cp.meter(1, tx, 11_000, register_wh=cp.register_wh + 2_000)
        await cp.status(1, "Faulted", "ConnectorLockFailure")
        [screen] = await eventually(lambda: _screens(cp), timeout=20)
        assert screen["text"].startswith("Verriegelungsfehler") and screen["text"].endswith("Hilfe: +49 30 1234567")
        assert screen["language"] == "de" and screen["connector"] == 1 and len(screen["text"]) <= 120
        if cp.v201:
            assert screen["transaction"] == cp.reference(tx)
        await cp.status(1, "Charging")
        await cp.meter(1, tx, 11_000, register_wh=cp.register_wh + 1_000)
        await cp.stop(tx, "Local")
        await cp.close()

        session = (await api.get(f"/api/v1/sessions/{tx}")).json()
        assert session["energy_wh"] == 3_000
        page = (await api.get(session["driver_path"], params={"lang": "en"})).text
        assert "+49 30 1234567" in page and "Mon-Fri 08:00-20:00" in page
        assert "Still stuck? Call +49 30 1234567 (Mon-Fri 08:00-20:00)" in page

        async def invoiced() -> dict | None:
            bill = await api.get(f"/api/v1/sessions/{tx}/invoice")
            return bill.json() if bill.status_code == 200 and bill.json().get("invoice") else None

        bill = await eventually(invoiced, timeout=30)
        pdf = await api.get(bill["invoice"]["pdf_url"], params={"lang": "en"})
        text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages).split())
        assert "Still stuck? Call +49 30 1234567 (Mon-Fri 08:00-20:00)" in text
    finally:
        await api.aclose()
