"""Support in a real headless Chromium: a driver opens a conversation from the session page, an operator answers
it in the console, and each side sees the other's message arrive live (server-sent events, no reload)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import async_playwright, expect

from chargewatch.runtime import Chargewatch
from chargewatch.sim.client import ChargePointConnection
from conftest import make_options
from web.conftest import ADMIN, CHROMIUM, CHROMIUM_ARGS, add_operators, require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
CHARGER = "CW-HELP"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Chargewatch, httpx.AsyncClient,
                                                                                    ChargePointConnection, object]]:
    require_chromium()
    db = f"sqlite:///{tmp_path_factory.mktemp('support-web')}/chargewatch.db"
    app = Chargewatch(make_options(db, accept_unknown=True, command_timeout=5.0))
    add_operators(app)
    await app.start()
    api = httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.http_port}", auth=ADMIN, timeout=10)
    charger = await ChargePointConnection.open(f"ws://127.0.0.1:{app.ocpp_port}/ocpp", CHARGER)
    await charger.call("BootNotification", {"chargePointVendor": "Alpitronic", "chargePointModel": "HYC50"})
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield app, api, charger, browser
        finally:
            await browser.close()
            await charger.close()
            await api.aclose()
            await app.stop()


async def charged_session(charger: ChargePointConnection, api: httpx.AsyncClient) -> tuple[int, str]:
    started = await charger.call("StartTransaction", {"connectorId": 1, "idTag": "DRIVER-1", "meterStart": 1_000,
                                                      "timestamp": now_iso()})
    tx = started["transactionId"]
    await charger.call("StopTransaction", {"transactionId": tx, "meterStop": 11_000, "timestamp": now_iso(),
                                           "reason": "EVDisconnected"})
    return tx, (await api.get(f"/api/v1/sessions/{tx}")).json()["driver_path"]


async def support_console(browser, base: str):  # type: ignore[no-untyped-def]
    """An operator logged in through the form, on the support console."""
    operator_context = await browser.new_context(base_url=base)
    operator = await operator_context.new_page()
    await operator.goto("/")
    await operator.fill("#username", ADMIN[0])
    await operator.fill("#password", ADMIN[1])
    await operator.click("button[type=submit]")
    await operator.wait_for_url(re.compile(r"/$"))
    await operator.goto("/support")
    return operator_context, operator


async def test_a_driver_opens_a_support_conversation_and_the_operator_answers_it_live(running):
    app, api, charger, browser = running
    site = {"helpline": "+49 30 1234567", "hours": "Mon-Fri 08:00-20:00", "languages": ["de", "en"]}
    assert (await api.put(f"/api/v1/sites/{CHARGER}/support", json=site)).status_code == 201
    tx, path = await charged_session(charger, api)
    base = f"http://127.0.0.1:{app.http_port}"

    driver = await (await browser.new_context(base_url=base, locale="en-GB")).new_page()
    await driver.goto(path)
    await expect(driver.locator("#support-helpline")).to_contain_text("+49 30 1234567")
    await expect(driver.locator("#still-stuck")).to_contain_text("Still stuck? Call +49 30 1234567")
    await driver.wait_for_selector("body[data-live=on]", state="attached")  # the session's live stream is open

    operator_context, operator = await support_console(browser, base)
    await expect(operator.locator("#support-waiting")).to_contain_text("Nobody is waiting")
    await operator.wait_for_selector("body[data-live=on]", state="attached")

    await driver.fill("#support-text", "The cable will not unlock.")
    await driver.click("#support-form button[type=submit]")
    await expect(driver.locator("#support-messages")).to_contain_text("The cable will not unlock.")

    # The operator's console shows the new conversation without a reload (support.message on /api/v1/events).
    waiting = operator.locator("#support-waiting")
    await expect(waiting).to_contain_text("The cable will not unlock.", timeout=15_000)
    await expect(waiting).to_contain_text(f"Session #{tx}")
    await waiting.locator("textarea").fill("Unlocking it remotely now, one moment.")
    await waiting.locator("button[type=submit]").click()

    # The driver's page shows the answer without a reload (support.message on /s/{token}/events).
    await expect(driver.locator("#support-messages .support-operator")).to_contain_text(
        "Unlocking it remotely now, one moment.", timeout=15_000)
    await expect(operator.locator("#support-recent")).to_contain_text("Unlocking it remotely now", timeout=15_000)
    [times] = (await api.get("/api/v1/support/response-times")).json()
    assert (times["station_id"], times["conversations"], times["waiting_for_first_response"]) == (CHARGER, 1, 0)
    await operator_context.close()
    await driver.context.close()


async def test_an_operator_accepts_a_disputed_invoice_in_the_console_and_the_driver_sees_the_correction(running):
    app, api, charger, browser = running
    tariff = {"country_code": "DE", "party_id": "CWS", "id": "FLAT-WEB", "currency": "EUR",
              "elements": [{"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 19.0, "step_size": 1}]}]}
    assert (await api.post("/api/v1/tariffs", json=tariff)).status_code == 201
    assert (await api.put("/api/v1/tariff-assignments",
                          json={"tariff_id": "FLAT-WEB", "charger_id": CHARGER})).status_code == 200
    assert (await api.put("/api/v1/id-tags/DRIVER-1", json={"id_tag": "DRIVER-1"})).status_code == 200
    tx, path = await charged_session(charger, api)
    number = None
    for _ in range(300):  # bounded: the billing worker issues the invoice
        bill = await api.get(f"/api/v1/sessions/{tx}/invoice")
        if bill.status_code == 200 and bill.json()["status"] == "issued":
            number = bill.json()["invoice_number"]
            break
        await asyncio.sleep(0.05)
    assert number is not None
    token = path.removeprefix("/s/")
    assert (await api.put(f"/api/v1/feedback/{token}", json={"overall": 1, "comment": "Charged twice for one session!"})
            ).status_code == 201
    for _ in range(300):
        disputes = (await api.get("/api/v1/billing/disputes", params={"status": "open"})).json()["items"]
        if disputes:
            break
        await asyncio.sleep(0.05)
    [dispute] = disputes
    base = f"http://127.0.0.1:{app.http_port}"

    operator_context, operator = await support_console(browser, base)
    card = operator.locator(f'#billing-disputes article[data-dispute="{dispute["id"]}"]')
    await expect(card).to_contain_text("Charged twice for one session!")
    await expect(card).to_contain_text(number)
    await card.locator("textarea").fill("Billed for 5 kWh as measured by the car")
    await card.locator("input[name=energy_wh]").fill("5000")
    await card.locator("button[value=accept]").click()
    await expect(operator.locator("#billing-disputes")).to_contain_text("No open disputes.", timeout=15_000)
    decided = (await api.get(f"/api/v1/billing/disputes/{dispute['id']}")).json()
    assert decided["status"] == "accepted" and decided["decided_by"] == ADMIN[0] and decided["reissued_invoice"]
    await operator_context.close()

    driver = await (await browser.new_context(base_url=base, locale="en-GB")).new_page()
    await driver.goto(path)
    await expect(driver.locator("#billing-dispute")).to_contain_text(f"credit note {decided['credit_note']}")
    await expect(driver.locator("#billing-dispute")).to_contain_text(decided["reissued_invoice"])
    await expect(driver.locator("#billing-dispute-reason")).to_contain_text("Billed for 5 kWh")
    await driver.context.close()
