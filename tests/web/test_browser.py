"""The dashboard and the driver page in a real headless Chromium, against a running server with a simulated fleet.

One server and one browser for the module: a fleet of demo chargers keeps the overview busy, and one scripted
charger (CW-LIVE) makes the moments the tests look for happen exactly when they want them.
Screenshots of the main pages go to artifacts/screenshots/.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import async_playwright, expect

from chargewatch.runtime import Chargewatch
from chargewatch.sim.charger import DEMO_ID_TAGS
from chargewatch.sim.client import ChargePointConnection
from chargewatch.sim.fleet import run_fleet
from chargewatch.store.registry import put_id_tag
from conftest import make_options
from web.conftest import (
    ADMIN,
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWER,
    add_operators,
    eventually,
    require_chromium,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

TARIFF = {
    "country_code": "DE", "party_id": "CWD", "id": "DASH-AC", "currency": "EUR",
    "elements": [{"price_components": [{"type": "ENERGY", "price": 0.39, "vat": 19.0, "step_size": 1},
                                       {"type": "FLAT", "price": 0.50, "vat": 19.0, "step_size": 1}]}],
}
LIVE = "CW-LIVE"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Site:
    app: Chargewatch
    api: httpx.AsyncClient  # HTTP Basic as the admin: the API needs a login once accounts exist
    charger: ChargePointConnection
    browser: Any
    base: str

    async def meter(self, tx: int, register_wh: int, power_w: int, connector: int = 1) -> None:
        await self.charger.call("MeterValues", {"connectorId": connector, "transactionId": tx, "meterValue": [
            {"timestamp": now_iso(), "sampledValue": [
                {"value": str(register_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"}]}]})

    async def start(self, connector: int = 1, meter_start: int = 2_000_000) -> int:
        await self.charger.call("StatusNotification", {"connectorId": connector, "errorCode": "NoError",
                                                       "status": "Preparing", "timestamp": now_iso()})
        started = await self.charger.call("StartTransaction", {
            "connectorId": connector, "idTag": DEMO_ID_TAGS[0], "meterStart": meter_start, "timestamp": now_iso()})
        await self.charger.call("StatusNotification", {"connectorId": connector, "errorCode": "NoError",
                                                       "status": "Charging", "timestamp": now_iso()})
        return started["transactionId"]

    async def stop(self, tx: int, meter_stop: int, connector: int = 1) -> None:
        await self.charger.call("StopTransaction", {"transactionId": tx, "meterStop": meter_stop,
                                                    "timestamp": now_iso(), "reason": "EVDisconnected"})
        await self.charger.call("StatusNotification", {"connectorId": connector, "errorCode": "NoError",
                                                       "status": "Available", "timestamp": now_iso()})

    async def driver_path(self, tx: int) -> str:
        return (await self.api.get(f"/api/v1/sessions/{tx}")).json()["driver_path"]

    async def page(self, who: tuple[str, str] | None = ADMIN, **context: Any) -> Any:
        """A fresh browser context (own cookies), logged in as ``who`` unless None."""
        ctx = await self.browser.new_context(base_url=self.base, **({"viewport": {"width": 1366, "height": 900}}
                                                                    | context))
        page = await ctx.new_page()
        if who is not None:
            await page.goto("/")
            await page.fill("#username", who[0])
            await page.fill("#password", who[1])
            await page.click("button[type=submit]")
            await page.wait_for_url(re.compile(r"/$"))
        return page


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    require_chromium()

    db = f"sqlite:///{tmp_path_factory.mktemp('web')}/chargewatch.db"
    app = Chargewatch(make_options(db, accept_unknown=True, command_timeout=5.0))
    with app.engine.begin() as connection:
        for tag in DEMO_ID_TAGS:
            put_id_tag(connection, {"id_tag": tag, "status": "Accepted", "expiry_date": None,
                                    "parent_id_tag": None, "description": "demo driver"})
    add_operators(app)
    await app.start()
    base = f"http://127.0.0.1:{app.http_port}"
    api = httpx.AsyncClient(base_url=base, auth=ADMIN, timeout=10)
    assert (await api.post("/api/v1/tariffs", json=TARIFF)).status_code == 201
    assert (await api.put("/api/v1/tariff-assignments", json={"tariff_id": "DASH-AC"})).status_code == 200
    stop = asyncio.Event()
    fleet = asyncio.create_task(run_fleet(f"ws://127.0.0.1:{app.ocpp_port}/ocpp", 4, "demo", prefix="DEMO",
                                          stop=stop))
    charger = await ChargePointConnection.open(f"ws://127.0.0.1:{app.ocpp_port}/ocpp", LIVE)
    await charger.call("BootNotification", {"chargePointVendor": "Alpitronic", "chargePointModel": "HYC50",
                                            "firmwareVersion": "1.4.2"})
    for connector in (1, 2):
        await charger.call("StatusNotification", {"connectorId": connector, "errorCode": "NoError",
                                                  "status": "Available", "timestamp": now_iso()})
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield Site(app, api, charger, browser, base)
        finally:
            await browser.close()
            stop.set()
            await fleet
            await charger.close()
            await api.aclose()
            await app.stop()


async def test_an_operator_logs_in_and_sees_the_live_overview(site: Site):
    await eventually(lambda: _active_sessions(site, minimum=2))
    await eventually(lambda: _connected(site, 5))
    page = await site.page(None)
    await page.goto("/")
    assert "/login" in page.url
    await page.fill("#username", ADMIN[0])
    await page.fill("#password", "wrong-password")
    await page.click("button[type=submit]")
    assert "Wrong name or password" in await page.inner_text(".problem")
    await page.fill("#password", ADMIN[1])
    await page.click("button[type=submit]")
    await page.wait_for_url(re.compile(r"/$"))
    assert await page.inner_text("h1") == "Overview"
    assert int(await page.inner_text('[data-kpi="online"]')) == 5
    await page.wait_for_selector("#live-dot.on")
    assert await page.locator("#active-sessions tr[data-tx]").count() >= 2
    await shot(page, "overview")
    await page.set_viewport_size({"width": 390, "height": 844})
    await shot(page, "overview-phone")
    await page.context.close()


async def _connected(site: Site, chargers: int) -> bool:
    return (await site.api.get("/healthz")).json()["connected_chargers"] >= chargers


async def _active_sessions(site: Site, minimum: int) -> bool:
    items = (await site.api.get("/api/v1/sessions", params={"status": "active"})).json()["items"]
    return len(items) >= minimum


async def test_the_session_page_shows_the_power_change_without_reloading(site: Site):
    tx = await site.start(connector=1)
    await site.meter(tx, 2_000_300, 7_400)
    page = await site.page()
    await page.goto(f"/sessions/{tx}")
    await page.evaluate("window.notReloaded = true")
    await page.wait_for_selector("#live-dot.on")
    assert await page.inner_text("#live-power") == "7.4 kW"
    await site.meter(tx, 2_000_900, 11_040)
    await expect(page.locator("#live-power")).to_have_text("11.0 kW")
    await site.meter(tx, 2_001_500, 10_500)
    await expect(page.locator("#live-power")).to_have_text("10.5 kW")
    assert await page.evaluate("window.notReloaded") is True
    assert await page.inner_text("#live-energy") == "1.50 kWh"
    points = await page.evaluate("Chart.getChart('session-chart').data.datasets[0].data.length")
    assert points == 3, "each meter value adds a point to the power curve"
    await shot(page, "session-live")
    await site.stop(tx, 2_001_500)
    await page.wait_for_selector("#session-status .chip.completed")
    await page.context.close()


async def test_an_admin_acknowledges_an_incident_raised_by_a_charger_fault(site: Site):
    await site.charger.call("StatusNotification", {
        "connectorId": 2, "errorCode": "GroundFailure", "status": "Faulted", "info": "RCD tripped",
        "vendorId": "Alpitronic", "vendorErrorCode": "E-RCD-30", "timestamp": now_iso()})

    async def opened() -> list[dict[str, Any]]:
        items = (await site.api.get("/api/v1/incidents", params={"charger_id": LIVE, "status": "open"})).json()
        return [i for i in items["items"] if (i["code"], i["connector_id"]) == ("GroundFailure", 2)]

    number = (await eventually(opened))[0]["number"]
    page = await site.page()
    await page.goto("/incidents")
    row = page.locator(f'tr[data-incident="{number}"]')
    assert "GroundFailure" in await row.inner_text()
    await shot(page, "incidents")
    await row.get_by_role("button", name="Acknowledge").click()
    await page.wait_for_selector(f'tr[data-incident="{number}"] .chip.acknowledged')
    assert "acknowledged by ada" in await page.locator(f'tr[data-incident="{number}"]').inner_text()
    detail = (await site.api.get(f"/api/v1/incidents/{number}")).json()
    assert (detail["status"], detail["acknowledged_by"]) == ("acknowledged", "ada")
    await page.goto(f"/stations/{LIVE}")
    assert "Faulted" in await page.inner_text("#station-connectors")
    await shot(page, "station")
    await page.context.close()


async def test_a_viewer_sees_incidents_but_cannot_act_on_them(site: Site):
    page = await site.page(VIEWER)
    await page.goto("/incidents")
    assert await page.get_by_role("button", name="Acknowledge").count() == 0
    assert await page.get_by_role("button", name="Resolve").count() == 0
    status = await page.evaluate("""async () => {
        const token = document.querySelector('meta[name="csrf-token"]').content;
        const r = await fetch('/api/v1/chargers', {method: 'POST', headers: {'Content-Type': 'application/json',
            'X-CSRF-Token': token}, body: JSON.stringify({id: 'VIEWER-MADE'})});
        return r.status; }""")
    assert status == 403
    await page.context.close()


async def test_an_operator_opens_the_invoice_of_a_finished_session(site: Site):
    tx = await site.start(connector=1, meter_start=3_000_000)
    await site.meter(tx, 3_005_000, 11_000)
    await site.stop(tx, 3_010_000)

    async def billed() -> bool:
        return (await site.api.get(f"/api/v1/sessions/{tx}/invoice")).status_code == 200

    await eventually(billed)
    page = await site.page()
    await page.goto(f"/sessions/{tx}")
    assert "billed" in await page.inner_text("#session-billing")
    assert await page.inner_text("#session-cost") == "5.24 EUR"  # (10 kWh × 0.39 + 0.50) × 1.19
    await shot(page, "session-billed")
    await page.click("[data-invoice-json]")
    invoice = json.loads(await page.inner_text("body"))
    assert invoice["transaction_id"] == tx and invoice["total_gross"] == "5.24"
    pdf = await page.context.request.get(invoice["pdf_url"])
    assert pdf.ok and (await pdf.body()).startswith(b"%PDF")
    await page.context.close()


async def test_a_driver_follows_the_session_and_leaves_feedback_on_a_phone(site: Site):
    tx = await site.start(connector=1, meter_start=4_000_000)
    await site.meter(tx, 4_000_500, 7_200)
    path = await site.driver_path(tx)
    page = await site.page(None, viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                           has_touch=True, locale="de-DE")
    await page.goto(path)
    assert await page.inner_text("h1") == "Ihr Ladevorgang", "German from the phone's Accept-Language"
    await page.click("text=EN")
    assert await page.inner_text("h1") == "Your charging session"
    await page.wait_for_selector("#live-dot.on")
    await site.meter(tx, 4_001_700, 7_300)
    await expect(page.locator("#live-power")).to_have_text("7.3 kW")
    await page.wait_for_selector("#live-cost")
    await shot(page, "driver-live")
    await site.stop(tx, 4_002_000)
    form = page.locator("#feedback-form")
    await form.wait_for(timeout=15_000)
    await page.wait_for_selector("#receipt-link", timeout=15_000)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling"
    await form.locator('[data-question="overall"] label:has-text("4")').click()
    await form.locator('[data-question="would_recommend"] label:has-text("9")').first.click()
    await form.locator('textarea[name="comment"]').fill("Quick and easy, but the cable was dirty.")
    await shot(page, "driver-feedback-form")
    async with page.expect_response(re.compile(r"/api/v1/feedback/")) as answer:
        await form.locator("button[type=submit]").click()
    assert (await answer.value).status == 201
    await page.wait_for_selector("#feedback-thanks")
    await shot(page, "driver-finished")
    stored = (await site.api.get(f"/api/v1/feedback/sessions/{tx}")).json()
    assert (stored["overall"], stored["would_recommend"]) == (4, 9)
    assert stored["comment"] == "Quick and easy, but the cable was dirty."
    receipt = await page.context.request.get(await page.get_attribute("#receipt-link", "href"))
    assert receipt.ok and (await receipt.body()).startswith(b"%PDF")
    await page.context.close()


async def test_the_feedback_page_shows_scores_topics_and_comments(site: Site):
    page = await site.page()
    await page.goto("/feedback")
    await page.wait_for_selector("#feedback-weekly")
    assert "Quick and easy" in await page.inner_text("#feedback-comments")
    # One rating is one rating: the CSAT carries n and its (wide) 95 % Wilson interval.
    assert "(21–100 %, n=1)" in await page.inner_text("#feedback-stations")
    await shot(page, "feedback")
    await page.context.close()


async def test_an_operator_promotes_a_discovered_theme_to_a_topic_in_one_click(site: Site):
    """Runs last: its ratings would change the station figures the feedback-page test checks."""
    comments = ["No roof, got soaked in the rain", "A roof would help, rain all day", "Please build a roof"]
    for index, comment in enumerate(comments):
        tx = await site.start(connector=1, meter_start=3_000_000 + index * 10_000)
        await site.stop(tx, 3_000_000 + index * 10_000 + 5_000)
        token = (await site.driver_path(tx)).removeprefix("/s/")
        assert (await site.api.put(f"/api/v1/feedback/{token}", json={"overall": 2, "comment": comment})).is_success
    page = await site.page()
    await page.goto("/feedback")
    cluster = page.locator("#feedback-clusters tr.cluster", has_text="roof")
    await expect(cluster).to_have_count(1)
    assert "Please build a roof" in await cluster.inner_text()
    await shot(page, "feedback-themes")
    await cluster.locator("button.promote").click()
    await expect(page.locator("#toast")).to_contain_text("Promoted to a topic")
    await expect(page.locator("#feedback-clusters tr.cluster", has_text="roof")).to_have_count(0)
    topics = {t["id"]: t for t in (await site.api.get("/api/v1/feedback/topics")).json()}
    assert topics["roof"]["operator"] is True and "roof" in topics["roof"]["phrases"]
    await page.context.close()
