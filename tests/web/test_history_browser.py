"""The sessions and invoices history in a real headless Chromium (issue 15 item 7): filter → results → CSV download
→ credit note and re-issue from the page; the monthly table per site; a viewer reads and exports but cannot credit.

One server for the module; a scripted 1.6 charger in Berlin (site SITE-H) charges three sessions that billing
invoices for real (tariff 0.39 EUR/kWh + 0.50 EUR per session, 19 % VAT), one of them by the id tag "=HACK1" that a
spreadsheet would run as a formula. Screenshots: artifacts/screenshots/console-sessions, console-invoices,
console-monthly.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import async_playwright, expect
from sqlalchemy import insert, update

from chargewatch.runtime import Chargewatch
from chargewatch.sim.client import ChargePointConnection
from chargewatch.store import schema
from chargewatch.store.registry import put_id_tag
from conftest import make_options
from web.conftest import ADMIN, CHROMIUM, CHROMIUM_ARGS, VIEWER, add_operators, eventually, require_chromium, shot
from web.test_console_browser import TARIFF, iso

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

CHARGER, OTHER, SITE = "CW-HIST", "CW-ELSE", "SITE-H"
TAGS = ("HIST-TAG-1", "=HACK1")
ZONE = ZoneInfo("Europe/Berlin")


@dataclass
class World:
    app: Chargewatch
    api: httpx.AsyncClient
    browser: Any
    base: str
    sessions: list[int]
    invoices: dict[int, str]

    async def page(self, who: tuple[str, str] = ADMIN) -> Any:
        ctx = await self.browser.new_context(base_url=self.base, viewport={"width": 1366, "height": 900},
                                             timezone_id="Europe/Berlin", accept_downloads=True)
        page = await ctx.new_page()
        await page.goto("/login")
        await page.fill("#username", who[0])
        await page.fill("#password", who[1])
        await page.click("button[type=submit]")
        await page.wait_for_url(re.compile(r"/(\?.*)?$"))
        return page


async def _charge(charger: ChargePointConnection, tag: str, register: int, energy_wh: int) -> int:
    start = datetime.now(UTC) - timedelta(minutes=30)
    started = await charger.call("StartTransaction", {"connectorId": 1, "idTag": tag, "meterStart": register,
                                                      "timestamp": iso(start)})
    tx = int(started["transactionId"])
    await charger.call("StopTransaction", {"transactionId": tx, "meterStop": register + energy_wh,
                                           "timestamp": iso(start + timedelta(minutes=20)),
                                           "reason": "EVDisconnected"})
    return tx


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    require_chromium()
    app = Chargewatch(make_options(f"sqlite:///{tmp_path_factory.mktemp('history')}/chargewatch.db",
                                   accept_unknown=True, command_timeout=5.0))
    with app.engine.begin() as connection:
        for tag in TAGS:
            put_id_tag(connection, {"id_tag": tag, "status": "Accepted", "expiry_date": None,
                                    "parent_id_tag": None, "description": "history driver"})
    add_operators(app)
    await app.start()
    base = f"http://127.0.0.1:{app.http_port}"
    api = httpx.AsyncClient(base_url=base, auth=ADMIN, timeout=10)
    assert (await api.post("/api/v1/tariffs", json=TARIFF)).status_code == 201
    assert (await api.put("/api/v1/tariff-assignments", json={"tariff_id": TARIFF["id"]})).status_code == 200
    for charger_id in (CHARGER, OTHER):
        assert (await api.post("/api/v1/chargers", json={"id": charger_id, "timezone": "Europe/Berlin"})
                ).status_code == 201
    with app.engine.begin() as connection:
        connection.execute(update(schema.chargers).where(schema.chargers.c.id == CHARGER).values(site_id=SITE))
    charger = await ChargePointConnection.open(f"ws://127.0.0.1:{app.ocpp_port}/ocpp", CHARGER)
    await charger.call("BootNotification", {"chargePointVendor": "Alpitronic", "chargePointModel": "HYC50"})
    sessions = [await _charge(charger, TAGS[0], 1_000_000, 10_000),  # 3.90 + 0.50 = 4.40 net, 5.24 gross
                await _charge(charger, TAGS[1], 1_010_000, 20_000),  # 7.80 + 0.50 = 8.30 net, 9.88 gross
                await _charge(charger, TAGS[0], 1_030_000, 5_000)]   # 1.95 + 0.50 = 2.45 net, 2.92 gross
    invoices: dict[int, str] = {}

    async def billed() -> bool:
        for tx in sessions:
            answer = await api.get(f"/api/v1/sessions/{tx}/invoice")
            if answer.status_code != 200 or not answer.json().get("invoice_number"):
                return False
            invoices[tx] = answer.json()["invoice_number"]
        return True

    await eventually(billed)
    now = datetime.now(UTC)
    with app.engine.begin() as connection:  # 55 finished sessions of the other charger, for paging
        connection.execute(insert(schema.sessions), [{
            "transaction_id": 10_000 + n, "charger_id": OTHER, "connector_id": 1, "id_tag": TAGS[0],
            "status": "completed", "started_at": now - timedelta(minutes=n), "stopped_at": now, "meter_start_wh": 0,
            "energy_wh": 1000, "flags": [], "start_key": f"paging-{n}", "updated_at": now} for n in range(55)])
    world = World(app, api, None, base, sessions, invoices)
    async with async_playwright() as playwright:
        world.browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield world
        finally:
            await world.browser.close()
            await charger.close()
            await api.aclose()
            await app.stop()


def _rows(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


async def test_filter_sessions_then_download_the_csv(world: World):
    page = await world.page()
    await page.click("nav.nav >> text=History")
    await expect(page.locator("h1")).to_have_text("Sessions history")
    today = datetime.now(ZONE).date().isoformat()
    await page.fill("input[name=charger]", CHARGER)
    await page.fill("input[name=from]", today)
    await page.fill("input[name=to]", today)
    await page.click("#history-filter button[type=submit]")
    rows = page.locator("#history-sessions tbody tr")
    await expect(rows).to_have_count(3)
    assert await page.inner_text("#history-sessions h2") == "3 sessions"
    first = await rows.first.inner_text()
    assert str(world.sessions[-1]) in first and "CE" in first and SITE in first  # newest first, Berlin time
    await page.select_option("select[name=flag]", "")
    await page.fill("input[name=id_tag]", TAGS[1])
    await page.click("#history-filter button[type=submit]")
    await expect(rows).to_have_count(1)
    await shot(page, "console-sessions")
    async with page.expect_download() as info:
        await page.click("#sessions-csv")
    download = await info.value
    text = (await download.path()).read_text(encoding="utf-8")  # type: ignore[union-attr]
    [line] = _rows(text)
    assert line["id_tag"] == "'=HACK1"  # not a formula in a spreadsheet
    assert line["transaction_id"] == str(world.sessions[1]) and line["energy_kwh"] == "20"
    assert line["energy_wh"] == "20000" and line["site_id"] == SITE and line["time_zone"] == "Europe/Berlin"
    started = datetime.fromisoformat(line["started_at"])
    assert line["started_at"][-6:] in ("+01:00", "+02:00") and started.utcoffset() == datetime.now(ZONE).utcoffset()
    assert line["invoice_number"] == world.invoices[world.sessions[1]]

    await page.goto("/history/sessions?from=2026-13-01&status=paid")
    errors = await page.inner_text("#filter-errors")
    assert "from date: '2026-13-01' is not a date (YYYY-MM-DD)" in errors and "status: 'paid'" in errors
    await page.context.close()


async def test_fifty_sessions_a_page(world: World):
    page = await world.page()
    await page.goto(f"/history/sessions?charger={OTHER}")
    rows = page.locator("#history-sessions tbody tr")
    await expect(rows).to_have_count(50)
    assert await page.inner_text("#history-range") == "1–50 of 55"
    await expect(rows.first).to_have_attribute("data-session", "10000")  # the newest first
    await page.click("a[rel=next]")
    await expect(rows).to_have_count(5)
    assert await page.inner_text("#history-range") == "51–55 of 55" and "page=2" in page.url
    assert f"charger={OTHER}" in page.url  # the filter stays
    await expect(rows.last).to_have_attribute("data-session", "10054")
    await page.click("a[rel=prev]")
    await expect(rows).to_have_count(50)
    await page.context.close()


async def test_invoices_filter_and_reissue_from_the_page(world: World):
    page = await world.page()
    await page.goto(f"/history/invoices?charger={CHARGER}")
    rows = page.locator("#history-invoices tbody tr")
    await expect(rows).to_have_count(3)
    # 5.24 + 9.88 + 2.92 = 18.04 EUR gross, 4.40 + 8.30 + 2.45 = 15.15 EUR net
    assert "18.04 EUR gross (15.15 EUR net, 3 documents)" in await page.inner_text("#invoice-totals")
    number = world.invoices[world.sessions[0]]
    row = page.locator(f"tr[data-invoice='{number}']")
    await row.locator("summary").click()
    await row.locator("input[name=reason]").fill("meter photo shows less energy")
    await row.get_by_role("button", name="Issue credit note").click()
    result = page.locator("#credit-result")
    await expect(result).to_contain_text(f"cancels {number}; the corrected invoice is")
    found = re.search(r"Credit note (\S+) cancels \S+; the corrected invoice is (\S+)\.", await result.inner_text())
    assert found, await result.inner_text()
    credit_number, new_number = found.groups()
    await expect(rows).to_have_count(5)  # the filter stayed: 3 + the credit note + the new invoice
    assert "credited by " + credit_number in await page.locator(f"tr[data-invoice='{number}']").inner_text()
    assert "cancels " + number in await page.locator(f"tr[data-invoice='{credit_number}']").inner_text()
    assert (await world.api.get(f"/api/v1/sessions/{world.sessions[0]}/invoice")).json()["invoice_number"] == \
        new_number
    # 18.04 - 5.24 + 5.24: the re-issue prices the same session the same way
    assert "18.04 EUR gross (15.15 EUR net, 5 documents)" in await page.inner_text("#invoice-totals")
    await page.select_option("select[name=state]", "credited")
    await page.click("#history-filter button[type=submit]")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(number)
    await page.goto(f"/history/invoices?charger={CHARGER}")
    assert await page.locator(f"tr[data-invoice='{number}'] summary").count() == 0  # credited: no second credit
    await shot(page, "console-invoices")
    async with page.expect_download() as info:
        await page.click("#invoices-csv")
    lines = _rows((await (await info.value).path()).read_text(encoding="utf-8"))  # type: ignore[union-attr]
    by_number = {line["number"]: line for line in lines}
    assert len(lines) == 5 and by_number[credit_number]["total_gross"] == "-5.24"
    assert by_number[credit_number]["credit_note_for"] == number and by_number[number]["credited_by"] == credit_number
    assert sum(Decimal(line["total_gross"]) for line in lines) == Decimal("18.04")
    assert by_number[new_number]["id_tag"] == TAGS[0]
    await page.context.close()


async def test_the_monthly_table_per_site(world: World):
    page = await world.page()
    await page.goto("/history/monthly")
    month = datetime.now(ZONE).strftime("%Y-%m")
    row = page.locator(f"section[data-site='{SITE}'] tr[data-month='{month}']")
    cells = [c.strip() for c in await row.locator("td").all_inner_texts()]
    # 3 sessions, 35 kWh; 18.04 EUR gross whether or not the re-issue test ran first (credit -5.24, new +5.24)
    assert cells[1] == "3" and cells[2] == "35.00 kWh" and cells[3] == "18.04 EUR", cells
    await shot(page, "console-monthly")
    await page.goto("/history/monthly?year=20x6")
    assert "year: '20x6' is not a year" in await page.inner_text("#filter-errors")
    await page.context.close()


async def test_a_viewer_reads_and_exports_but_cannot_credit(world: World):
    page = await world.page(VIEWER)
    await page.goto(f"/history/invoices?charger={CHARGER}")
    await expect(page.locator("#history-invoices tbody tr").first).to_be_visible()
    assert await page.locator("form.credit-form").count() == 0
    assert "read-only access" in await page.inner_text("#history-invoices")
    csv_answer = await page.context.request.get(f"/history/invoices.csv?charger={CHARGER}")
    assert csv_answer.status == 200 and csv_answer.headers["content-type"].startswith("text/csv")
    csrf = await page.get_attribute("meta[name=csrf-token]", "content")
    number = world.invoices[world.sessions[2]]
    refused = await page.context.request.post(f"/history/invoices/{number}/credit",
                                              form={"csrf_token": csrf or "", "reason": "x"})
    assert refused.status == 403
    bad = await page.context.request.get("/history/sessions.csv?to=yesterday")
    assert bad.status == 422 and "to date: 'yesterday' is not a date" in await bad.text()
    for path, message in (("/history/sessions?page=%C2%B2", "page: '²' is not a page number"),
                          ("/history/invoices?number=a%00b", "number: must not contain NUL characters"),
                          ("/history/monthly?year=%C2%B2", "year: '²' is not a year")):
        answer = await page.context.request.get(path)
        assert answer.status == 422 and message in html.unescape(await answer.text()), (path, answer.status)
    await page.context.close()
