"""The operator console tells the truth, in a real headless Chromium (issue 15 items 1, 2, 3, 9, 10).

One server for the module; a scripted charger in Berlin (CW-BERLIN) answers each command as the test wants
(Rejected, Unlocked, a CALLERROR, no answer at all), and CW-OFF is registered but never connects.
Screenshots go to artifacts/screenshots/ (console-overview, console-charger, …).
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import async_playwright, expect
from sqlalchemy import insert

from chargewatch.api import pages
from chargewatch.runtime import Chargewatch
from chargewatch.sim.charger import DEMO_ID_TAGS
from chargewatch.sim.client import ChargePointConnection
from chargewatch.store.billing_tables import invoices
from chargewatch.store.registry import put_id_tag
from conftest import make_options
from web.conftest import ADMIN, CHROMIUM, CHROMIUM_ARGS, add_operators, eventually, require_chromium, shot

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

BERLIN, OFFLINE = "CW-BERLIN", "CW-OFF"
TARIFF = {
    "country_code": "DE", "party_id": "CWC", "id": "CONSOLE-AC", "currency": "EUR",
    "elements": [{"price_components": [{"type": "ENERGY", "price": 0.39, "vat": 19.0, "step_size": 1},
                                       {"type": "FLAT", "price": 0.50, "vat": 19.0, "step_size": 1}]}],
}


def iso(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Answers:
    """What the scripted charger answers to the CSMS's calls."""

    def __init__(self) -> None:
        self.received: list[str] = []

    async def __call__(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.received.append(action)
        if action == "Reset":
            return {"status": "Rejected"}
        if action == "UnlockConnector":
            return {"status": "Unlocked"}
        if action == "ChangeAvailability":
            await asyncio.sleep(2.5)  # past the 1 s the test gives: a timeout
            return {"status": "Accepted"}
        raise RuntimeError(f"{action} is not supported here")  # answered as CALLERROR InternalError


@dataclass
class Site:
    app: Chargewatch
    api: httpx.AsyncClient
    charger: ChargePointConnection
    answers: Answers
    browser: Any
    base: str

    async def page(self, **context: Any) -> Any:
        ctx = await self.browser.new_context(base_url=self.base, **({"viewport": {"width": 1366, "height": 900}}
                                                                    | context))
        page = await ctx.new_page()
        await page.goto("/")
        await page.fill("#username", ADMIN[0])
        await page.fill("#password", ADMIN[1])
        await page.click("button[type=submit]")
        await page.wait_for_url(re.compile(r"/(\?.*)?$"))

        async def accept(dialog: Any) -> None:
            await dialog.accept()

        page.on("dialog", accept)
        return page

    async def status(self, connector: int, status: str, error: str = "NoError") -> None:
        await self.charger.call("StatusNotification", {"connectorId": connector, "errorCode": error,
                                                       "status": status, "timestamp": iso()})

    async def start(self, connector: int, meter_start: int = 1_000_000, at: datetime | None = None) -> int:
        await self.status(connector, "Preparing")
        started = await self.charger.call("StartTransaction", {
            "connectorId": connector, "idTag": DEMO_ID_TAGS[0], "meterStart": meter_start, "timestamp": iso(at)})
        await self.status(connector, "Charging")
        return int(started["transactionId"])

    async def meter(self, tx: int, connector: int, register_wh: int, power_w: int,
                    at: datetime | None = None) -> None:
        await self.charger.call("MeterValues", {"connectorId": connector, "transactionId": tx, "meterValue": [
            {"timestamp": iso(at), "sampledValue": [
                {"value": str(register_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"}]}]})

    async def stop(self, tx: int, connector: int, meter_stop: int, at: datetime | None = None) -> None:
        await self.charger.call("StopTransaction", {"transactionId": tx, "meterStop": meter_stop,
                                                    "timestamp": iso(at), "reason": "EVDisconnected"})
        await self.status(connector, "Available")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    require_chromium()
    app = Chargewatch(make_options(f"sqlite:///{tmp_path_factory.mktemp('console')}/chargewatch.db",
                                   accept_unknown=True, command_timeout=5.0))
    with app.engine.begin() as connection:
        for tag in DEMO_ID_TAGS:
            put_id_tag(connection, {"id_tag": tag, "status": "Accepted", "expiry_date": None,
                                    "parent_id_tag": None, "description": "demo driver"})
    add_operators(app)
    await app.start()
    base = f"http://127.0.0.1:{app.http_port}"
    api = httpx.AsyncClient(base_url=base, auth=ADMIN, timeout=10)
    assert (await api.post("/api/v1/tariffs", json=TARIFF)).status_code == 201
    assert (await api.put("/api/v1/tariff-assignments", json={"tariff_id": TARIFF["id"]})).status_code == 200
    for charger_id in (BERLIN, OFFLINE):
        made = await api.post("/api/v1/chargers", json={"id": charger_id, "timezone": "Europe/Berlin"})
        assert made.status_code == 201, made.text
    answers = Answers()
    charger = await ChargePointConnection.open(f"ws://127.0.0.1:{app.ocpp_port}/ocpp", BERLIN, handler=answers)
    await charger.call("BootNotification", {"chargePointVendor": "Alpitronic", "chargePointModel": "HYC50"})
    site = Site(app, api, charger, answers, None, base)
    for connector in (1, 2, 3, 4):
        await site.status(connector, "Available")
    async with async_playwright() as playwright:
        site.browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield site
        finally:
            await site.browser.close()
            await charger.close()
            await api.aclose()
            await app.stop()


async def _toast(page: Any, text: str, bad: bool) -> None:
    toast = page.locator("#toast")
    await expect(toast).to_have_text(text)
    assert ("bad" in (await toast.get_attribute("class") or "")) is bad


async def test_every_action_shows_what_the_charger_answered(site: Site):
    page = await site.page()
    await page.goto(f"/stations/{BERLIN}")
    await page.get_by_role("button", name="Soft reset").click()
    await _toast(page, "Soft reset: the charger answered Rejected", bad=True)
    row = page.locator("#station-connectors tbody tr").first
    await row.get_by_role("button", name="Unlock").click()
    await _toast(page, "Unlock connector 1: the charger answered Unlocked", bad=False)
    await page.get_by_role("button", name="Refresh status").click()
    await expect(page.locator("#toast")).to_contain_text("Refresh status failed: the charger answered InternalError")
    # No answer in time: the Disable button of connector 2, with a 1 s timeout instead of 30 s.
    disable = page.locator("#station-connectors tbody tr").nth(1).get_by_role("button", name="Disable")
    await disable.evaluate("b => b.dataset.body = JSON.stringify(Object.assign(JSON.parse(b.dataset.body), "
                           "{timeout: 1}))")
    await disable.click()
    await _toast(page, "Disable connector 2: no answer from the charger in time (timeout)", bad=True)
    assert site.answers.received[:3] == ["Reset", "UnlockConnector", "TriggerMessage"]
    await shot(page, "console-charger-action")

    await page.goto(f"/stations/{OFFLINE}")
    await page.get_by_role("button", name="Hard reset").click()
    await _toast(page, "Hard reset not sent: the charger is offline", bad=True)
    assert "sent" not in (await page.inner_text("#toast")).replace("not sent", "")
    await page.context.close()


async def test_times_are_in_the_station_zone_and_the_operator_can_switch_to_theirs(site: Site):
    page = await site.page(timezone_id="America/New_York")
    await page.goto(f"/stations/{BERLIN}")
    assert "the station's time zone (Europe/Berlin)" in await page.inner_text("#zone-label")
    facts = page.locator("#station-connectors dl.facts")
    last_seen = await facts.locator("dt:has-text('Last seen') + dd").inner_text()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T", last_seen), last_seen
    berlin_hour = int(last_seen[11:13])
    await shot(page, "console-charger")
    await page.click("#zone-toggle")
    await expect(page.locator("#zone-label")).to_contain_text("your time zone (America/New_York)")
    mine = await facts.locator("dt:has-text('Last seen') + dd").inner_text()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d E[SD]T", mine), mine
    assert (berlin_hour - int(mine[11:13])) % 24 == 6, (last_seen, mine)
    # "Today" on the overview is the operator's day: since midnight in New York.
    await page.goto("/")
    today = await page.inner_text("#today")
    midnight = datetime.combine(datetime.now(ZoneInfo("America/New_York")).date(), time())
    assert f"since {midnight:%Y-%m-%d} 00:00:00 E" in today, today
    assert "00:00 America/New_York" in await page.inner_text('#kpis')
    await page.context.close()


async def test_revenue_today_totals_every_invoice_of_the_operators_day(site: Site):
    """601 SEK documents issued in the operator's day (UTC+14 here) and one a minute before its midnight."""
    zone = ZoneInfo("Pacific/Kiritimati")
    now = datetime.now(UTC)
    midnight = datetime.combine(now.astimezone(zone).date(), time(), tzinfo=zone).astimezone(UTC)
    rng = random.Random(15)
    expected = Decimal(0)
    rows = []
    for n in range(602):
        gross = Decimal(rng.randint(1, 99_999)) / 100
        at = midnight - timedelta(minutes=1) if n == 0 else midnight + (now - midnight) * rng.random()
        if n:
            expected += gross
        rows.append({"number": f"SEK-{n:05d}", "operator_id": "SEK", "sequence": n + 1, "kind": "invoice",
                     "transaction_id": 900_000 + n, "charger_id": BERLIN, "credit_note_for": None,
                     "cdr_id": f"SEK{n}", "currency": "SEK", "total_net": gross, "total_vat": Decimal(0),
                     "total_gross": gross, "meter_verification": "VALID", "reason": None, "issued_at": at,
                     "body": "{}"})
    with site.app.engine.begin() as connection:
        connection.execute(insert(invoices), rows)
    page = await site.page(timezone_id="Pacific/Kiritimati")
    await page.goto("/")
    revenue = await page.inner_text('[data-kpi="revenue"]')
    assert f"{expected:.2f} SEK" in revenue.splitlines(), (revenue, expected)
    count = await page.inner_text('[data-kpi="revenue-count"]')
    assert int(re.search(r"(\d+) invoices", count).group(1)) >= 601, count  # type: ignore[union-attr]
    await page.context.close()


async def test_the_overview_shows_the_fleet_at_a_glance(site: Site, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(pages, "ACTIVE_PAGE", 2)
    now = datetime.now(UTC)
    running = []
    for connector in (1, 2, 3):
        tx = await site.start(connector, at=now - timedelta(minutes=30))
        await site.meter(tx, connector, 1_002_000, 7_000 + connector * 1000, at=now - timedelta(minutes=10))
        running.append(tx)
    rated = await site.start(4, at=now - timedelta(minutes=50))
    await site.stop(rated, 4, 1_004_000, at=now - timedelta(minutes=40))
    token = (await site.api.get(f"/api/v1/sessions/{rated}")).json()["driver_path"].removeprefix("/s/")
    assert (await site.api.put(f"/api/v1/feedback/{token}", json={"overall": 2})).is_success
    await site.status(4, "Faulted", "GroundFailure")

    async def fault_open() -> bool:
        counts = (await site.api.get("/api/v1/incident-counts")).json()
        return counts["by_severity"]["fault"] + counts["by_severity"]["critical"] >= 1

    await eventually(fault_open)

    page = await site.page()
    await page.goto("/")
    # Small samples are labelled, never "CSAT 0 %, NPS −100".
    assert await page.inner_text('[data-kpi="csat"]') == "1 rating"
    nps = await page.inner_text('[data-kpi="nps"]')
    assert "CSAT of 1 rating" in nps and "0 NPS answers" in nps and "%" not in nps and "-100" not in nps
    # Every derived figure explains itself on hover.
    for kpi in ("power", "energy", "revenue", "incidents", "uptime", "csat", "nps"):
        title = await page.get_attribute(f'[data-kpi="{kpi}"]', "title")
        assert title and len(title) > 20, (kpi, title)
    severities = {await c.get_attribute("data-severity"): int((await c.inner_text()).split()[0])
                  for c in await page.locator("[data-severity]").all()}
    assert set(severities) == {"critical", "fault", "warning", "info"}
    assert severities["fault"] + severities["critical"] >= 1
    assert "%" in await page.inner_text('[data-kpi="uptime"]')
    assert OFFLINE in await page.inner_text("#attention")
    # Fleet power today: three sessions of 8, 9 and 10 kW, held 15 minutes after their reading.
    fleet = await page.evaluate("""() => { const c = Chart.getChart('fleet-power'); const canvas = c.canvas;
        return {max: Math.max(...c.data.datasets[0].data.map(p => p.y)), min: c.scales.x.min,
                from: Number(canvas.dataset.from), to: Number(canvas.dataset.to), axisMax: c.scales.x.max}; }""")
    assert fleet["max"] == pytest.approx(27.0) and fleet["min"] == fleet["from"] and fleet["axisMax"] == fleet["to"]
    # The active sessions are paged.
    await expect(page.locator("#active-sessions tr[data-tx]")).to_have_count(2)
    assert await page.inner_text("#active-range") == "1–2 of 3"
    await shot(page, "console-overview")
    await page.click("#active-sessions a[rel=next]")
    await expect(page.locator("#active-sessions tr[data-tx]")).to_have_count(1)
    # Big numbers stay on one line, on a desktop and a phone.
    for width in (1366, 390):
        await page.set_viewport_size({"width": width, "height": 900})
        wrapped = await page.evaluate("""() => [...document.querySelectorAll('.kpi .value')].filter(el => {
            const line = parseFloat(getComputedStyle(el).lineHeight) || parseFloat(getComputedStyle(el).fontSize) * 1.3;
            const wraps = el.innerHTML.indexOf('<br>') < 0 && el.getBoundingClientRect().height > line * 1.5;
            return wraps || el.scrollWidth > el.clientWidth + 1; })
            .map(el => el.dataset.kpi)""")
        assert wrapped == [], (width, wrapped)
    await shot(page, "console-overview-phone")
    for tx, connector in zip(running, (1, 2, 3), strict=True):
        await site.stop(tx, connector, 1_003_000)
    await site.status(4, "Available")
    await page.context.close()


async def test_the_session_chart_spans_the_session(site: Site):
    now = datetime.now(UTC).replace(microsecond=0)
    started, stopped = now - timedelta(minutes=40), now - timedelta(minutes=5)
    tx = await site.start(1, meter_start=2_000_000, at=started)
    await site.meter(tx, 1, 2_003_000, 11_000, at=now - timedelta(minutes=20))
    await site.stop(tx, 1, 2_006_000, at=stopped)
    page = await site.page()
    await page.goto(f"/sessions/{tx}")
    axis = await page.evaluate("() => { const x = Chart.getChart('session-chart').scales.x; "
                               "return [x.min, x.max]; }")
    assert axis == [started.timestamp() * 1000, stopped.timestamp() * 1000]
    await page.context.close()


async def test_german_formats_and_the_required_feedback_question_first(site: Site):
    tx = await site.start(2, meter_start=3_000_000)
    await site.meter(tx, 2, 3_005_000, 11_000)
    await site.stop(tx, 2, 3_010_000)

    async def billed() -> bool:
        return (await site.api.get(f"/api/v1/sessions/{tx}/invoice")).status_code == 200

    await eventually(billed)
    page = await site.page(locale="de-DE", timezone_id="Europe/Berlin")
    await page.goto("/")
    revenue = await page.inner_text('[data-kpi="revenue"]')
    assert re.search(r"^\d{1,3}(\.\d{3})*,\d\d\xa0€$", revenue, re.M), revenue  # e.g. "5,24 €"
    assert re.fullmatch(r"\d+,\d\d kWh", await page.inner_text('[data-kpi="energy"]'))
    await page.goto(f"/sessions/{tx}")
    assert await page.inner_text("#session-cost") == "5,24\xa0€"  # (10 kWh × 0,39 + 0,50) × 1,19
    started = await page.inner_text("#session-facts dt:has-text('Started') + dd")
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4}, \d\d:\d\d:\d\d MES?Z", started), started

    path = (await site.api.get(f"/api/v1/sessions/{tx}")).json()["driver_path"]
    driver = await page.context.new_page()
    await driver.goto(path)
    form = driver.locator("#feedback-form")
    await form.wait_for()
    first = form.locator("fieldset[data-question]").first
    assert await first.get_attribute("data-required") == "1", "the required question comes first"
    await form.locator("button[type=submit]").click()
    beside = first.locator("[data-error-for]")
    await expect(beside).to_have_text("Bitte wählen Sie eine Bewertung.")
    # Beside its prompt, or (a long prompt on a narrow page) right under it, above the stars it is about.
    box, prompt = await beside.bounding_box(), await first.locator("label").first.bounding_box()
    stars = await first.locator(".stars").bounding_box()
    assert box and prompt and stars
    assert prompt["y"] - 5 <= box["y"] and box["y"] + box["height"] <= stars["y"] + 2, (box, prompt, stars)
    await shot(driver, "console-driver-feedback-error")
    await page.context.close()


async def test_a_remote_action_on_an_incident_shows_the_chargers_answer(site: Site):
    await site.status(3, "Faulted", "OverCurrentFailure")

    async def opened() -> list[dict[str, Any]]:
        items = (await site.api.get("/api/v1/incidents", params={"charger_id": BERLIN, "status": "open"})).json()
        return [i for i in items["items"] if (i["code"], i["connector_id"]) == ("OverCurrentFailure", 3)]

    number = (await eventually(opened))[0]["number"]
    page = await site.page()
    await page.goto(f"/stations/{BERLIN}")
    row = page.locator(f'#station-incidents tr[data-incident="{number}"]')
    await row.locator("summary", has_text="Remote action").click()
    await row.get_by_role("button", name="Soft reset").click()
    await _toast(page, "Soft reset: the charger answered Rejected", bad=True)
    actions = (await site.api.get(f"/api/v1/incidents/{number}")).json()["actions"]
    assert [(a["status"], a["response"]) for a in actions][-1] == ("answered", {"status": "Rejected"})
    await site.status(3, "Available")
    await page.context.close()
