"""The chargers admin pages in a real headless Chromium (issue 15 item 4): the list with its filters and paging, add,
edit time zone and tariff, password reset, delete; the configuration keys read from and changed on `ocpp` library
charge points (1.6: Get/ChangeConfiguration; 2.0.1: GetBaseReport → NotifyReport, SetVariables) over a real
WebSocket; the raw message log filtered, paged and paired. Screenshots: console-chargers, console-charger-log.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from ocpp.v16 import call_result as result16
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from playwright.async_api import async_playwright, expect
from sqlalchemy import insert, select

from chargewatch.runtime import Chargewatch
from chargewatch.store import schema
from conftest import make_options
from peers.chargers import LibraryCharger
from web.conftest import (
    ADMIN,
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWER,
    add_operators,
    logged_in,
    require_chromium,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

LIB16, LIB201 = "CW-LIB16", "CW-LIB201"
FLEET = 28  # registered, never connected: with the two library chargers, 30 → two pages of 25
TARIFF = {"country_code": "DE", "party_id": "CWC", "id": "ADMIN-AC", "currency": "EUR",
          "elements": [{"price_components": [{"type": "ENERGY", "price": 0.42, "vat": 19.0, "step_size": 1}]}]}


class Configuration:
    """A 1.6 charger's configuration keys, kept as a charger keeps them (ChangeConfiguration changes them)."""

    def __init__(self) -> None:
        self.keys: dict[str, tuple[str, bool]] = {"HeartbeatInterval": ("300", False),
                                                  "MeterValueSampleInterval": ("60", False),
                                                  "NumberOfConnectors": ("2", True)}

    def get(self, **payload: Any) -> Any:
        wanted = payload.get("key") or list(self.keys)
        return result16.GetConfiguration(
            configuration_key=[{"key": k, "readonly": self.keys[k][1], "value": self.keys[k][0]}
                               for k in wanted if k in self.keys],
            unknown_key=[k for k in wanted if k not in self.keys] or None)

    def change(self, key: str, value: str) -> Any:
        if key == "Boom":
            raise RuntimeError("the charger's firmware fell over")  # the library answers CALLERROR InternalError
        if key not in self.keys:
            return result16.ChangeConfiguration(status="NotSupported")
        if self.keys[key][1]:
            return result16.ChangeConfiguration(status="Rejected")
        self.keys[key] = (value, False)
        return result16.ChangeConfiguration(status="Accepted")


@dataclass
class Site:
    app: Chargewatch
    lib16: LibraryCharger
    lib201: LibraryCharger
    configuration: Configuration
    browser: Any
    base: str

    async def page(self, who: tuple[str, str] = ADMIN, **context: Any) -> Any:
        ctx = await self.browser.new_context(base_url=self.base, viewport={"width": 1440, "height": 900}, **context)
        ctx.set_default_timeout(8000)
        page = await ctx.new_page()
        await page.goto("/login")
        await page.fill("#username", who[0])
        await page.fill("#password", who[1])
        await page.click("button[type=submit]")
        await page.wait_for_url(re.compile(r"/(\?.*)?$"))
        return page

    def charger(self, charger_id: str) -> Any:
        with self.app.engine.connect() as connection:
            return connection.execute(select(schema.chargers).where(schema.chargers.c.id == charger_id)).first()


def _report(lib: LibraryCharger) -> Any:
    """GetBaseReport answered Accepted, then the report as a station sends it (NotifyReport, one part)."""

    def answer(**payload: Any) -> Any:
        return result201.GetBaseReport(status="Accepted")

    async def after(**payload: Any) -> None:
        await lib.send(call201.NotifyReport(
            request_id=payload["request_id"], generated_at=datetime.now(UTC).isoformat(), seq_no=0, tbc=False,
            report_data=[
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
                 "variable_attribute": [{"type": "Actual", "value": "300", "mutability": "ReadWrite"}],
                 "variable_characteristics": {"data_type": "integer", "supports_monitoring": False}},
                {"component": {"name": "ChargingStation"}, "variable": {"name": "Model"},
                 "variable_attribute": [{"type": "Actual", "value": "LIB-201", "mutability": "ReadOnly"}],
                 "variable_characteristics": {"data_type": "string", "supports_monitoring": False}}]))

    return {"_on_action": answer, "_after_action": after, "_skip_schema_validation": False}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    require_chromium()
    app = Chargewatch(make_options(f"sqlite:///{tmp_path_factory.mktemp('admin')}/chargewatch.db",
                                   accept_unknown=False, command_timeout=5.0))
    add_operators(app)
    await app.start()
    base = f"http://127.0.0.1:{app.http_port}"
    async with httpx.AsyncClient(base_url=base, auth=ADMIN, timeout=10) as api:
        assert (await api.post("/api/v1/tariffs", json=TARIFF)).status_code == 201
        for charger_id, zone in ((LIB16, "Asia/Tokyo"), (LIB201, "Europe/Berlin")):
            made = await api.post("/api/v1/chargers", json={"id": charger_id, "timezone": zone})
            assert made.status_code == 201, made.text
    now = datetime.now(UTC)
    with app.engine.begin() as connection:
        connection.execute(insert(schema.chargers), [
            {"id": f"CW-FLEET-{n:02d}", "registered": True, "timezone": "Europe/Berlin", "connected": False,
             "heartbeat_interval": 300, "created_at": now, "vendor": "Alpitronic" if n % 2 else "ABB",
             "model": "HYC50" if n % 2 else "Terra AC", "firmware_version": "1.2.0" if n % 3 else "1.3.1",
             "site_id": "DEPOT" if n < 10 else "MALL", "last_seen_at": None if n % 4 == 0 else now - timedelta(days=n)}
            for n in range(FLEET)])
        connection.execute(insert(schema.connectors), [
            {"charger_id": "CW-FLEET-05", "connector_id": 1, "status": "Faulted", "error_code": "GroundFailure",
             "status_at": now}])
    url = f"ws://127.0.0.1:{app.ocpp_port}/ocpp"
    configuration = Configuration()
    lib16, lib201 = LibraryCharger(url, LIB16), LibraryCharger(url, LIB201, version="ocpp2.0.1")
    for lib in (lib16, lib201):
        await lib.connect()
        await lib.boot(connectors=2)
    lib16._cp.route_map["GetConfiguration"]["_on_action"] = configuration.get
    lib16._cp.route_map["ChangeConfiguration"]["_on_action"] = configuration.change
    lib201._cp.route_map["GetBaseReport"] = _report(lib201)
    site = Site(app, lib16, lib201, configuration, None, base)
    async with async_playwright() as playwright:
        site.browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield site
        finally:
            await site.browser.close()
            for lib in (lib16, lib201):
                await lib.close()
            await app.stop()


async def _listed(page: Any) -> list[str]:
    return [await row.get_attribute("data-charger") for row in await page.locator("#charger-list tbody tr").all()]


async def test_list_filters_pages_and_refuses_a_bad_filter(site: Site) -> None:
    page = await site.page()
    await page.click("nav.nav >> text=Chargers")
    await expect(page.locator("h1")).to_have_text("Chargers")
    assert await page.locator(".sub").first.inner_text() == f"{FLEET + 2} chargers match · times in each " \
                                                            "station's time zone"
    first = await _listed(page)
    assert len(first) == 25 and first == sorted(first) and first[0] == "CW-FLEET-00"
    await page.click("a[rel=next]")
    assert await _listed(page) == [f"CW-FLEET-{n}" for n in range(25, FLEET)] + [LIB16, LIB201]
    row = page.locator(f"tr[data-charger='{LIB16}']")
    assert await row.locator(".chip").inner_text() == "online"
    assert re.search(r"\d\d:\d\d:\d\d JST", await row.locator("td").nth(9).inner_text())  # Tokyo's time
    await page.click("a[rel=prev]")

    await page.select_option("select[name=status]", "online")
    await page.click("#charger-filters button[type=submit]")
    assert await _listed(page) == [LIB16, LIB201]
    await page.goto("/chargers?status=faulted")
    assert await _listed(page) == ["CW-FLEET-05"]
    await page.goto("/chargers")
    await page.select_option("select[name=site]", "DEPOT")
    await page.select_option("select[name=model]", "HYC50")
    await page.select_option("select[name=firmware]", "1.3.1")
    await page.click("#charger-filters button[type=submit]")
    expected = [f"CW-FLEET-{n:02d}" for n in range(10) if n % 2 and n % 3 == 0]
    assert await _listed(page) == expected, expected
    assert "site=DEPOT" in page.url and await page.locator("select[name=site]").input_value() == "DEPOT"
    await page.goto("/chargers?seen=never")
    assert await _listed(page) == [f"CW-FLEET-{n:02d}" for n in range(FLEET) if n % 4 == 0]
    await page.goto("/chargers?seen=24h")
    assert await _listed(page) == [LIB16, LIB201]  # CW-FLEET-01 was seen a day ago: just outside
    await page.goto("/chargers?seen=7d")
    assert await _listed(page) == [f"CW-FLEET-{n:02d}" for n in range(1, 7) if n % 4] + [LIB16, LIB201]
    await page.fill("input[name=q]", "terra")
    await page.click("#charger-filters button[type=submit]")
    assert set(await _listed(page)) == {f"CW-FLEET-{n:02d}" for n in range(0, 7, 2) if n % 4}
    await page.fill("input[name=q]", "50%_")  # LIKE wildcards are searched as text
    await page.click("#charger-filters button[type=submit]")
    assert await _listed(page) == [] and "No charger matches this filter" in await page.inner_text("#charger-list")

    response = await page.goto("/chargers?status=bogus&page=x")
    assert response.status == 422
    await expect(page.locator("#page-error")).to_contain_text("status 'bogus': choose one of online, offline")
    await page.goto("/chargers")
    await shot(page, "console-chargers")
    await page.context.close()


async def test_add_edit_password_and_delete_a_charger(site: Site) -> None:
    page = await site.page()
    await page.goto("/chargers")
    form = page.locator("#charger-add form")
    await form.locator("[name=charger_id]").fill("CW-NEW-1")
    await form.locator("[name=password]").fill("first-secret-1")
    await form.locator("[name=timezone]").fill("America/New_York")
    await form.locator("[name=tariff_id]").select_option(TARIFF["id"])
    await form.locator("button").click()
    await page.wait_for_url(re.compile(r"/chargers/CW-NEW-1\?done=added"))
    await expect(page.locator("#page-done")).to_have_text("Charger added.")
    row = site.charger("CW-NEW-1")
    assert (row.timezone, row.tariff_id) == ("America/New_York", TARIFF["id"])
    assert row.password_hash.startswith("$argon2") and PasswordHasher().verify(row.password_hash, "first-secret-1")
    assert "first-secret-1" not in await page.content()
    await expect(page.locator("#charger-settings dl")).to_contain_text("set (Argon2 hash; never shown)")

    await page.goto("/chargers")  # the same id again, and a zone that is none: said on the page, nothing changes
    await form.locator("[name=charger_id]").fill("CW-NEW-1")
    await form.locator("button").click()
    await expect(page.locator("#page-error")).to_have_text("charger 'CW-NEW-1' exists already (edit it instead)")
    await form.locator("[name=charger_id]").fill("CW NEW")
    await form.locator("button").click()
    await expect(page.locator("#page-error")).to_contain_text("charger id: String should match pattern")
    await form.locator("[name=charger_id]").fill("CW-NEW-2")
    await form.locator("[name=timezone]").fill("Mars/Olympus")
    await form.locator("button").click()
    await expect(page.locator("#page-error")).to_contain_text("'Mars/Olympus' is not an IANA time zone")
    assert site.charger("CW-NEW-2") is None

    await page.goto("/chargers/CW-NEW-1")
    settings = page.locator("form[aria-label=settings]")
    await settings.locator("[name=timezone]").fill("Asia/Tokyo")
    await settings.locator("[name=tariff_id]").select_option("")
    await settings.locator("button").click()
    await expect(page.locator("#page-done")).to_have_text("Settings saved.")
    assert (site.charger("CW-NEW-1").timezone, site.charger("CW-NEW-1").tariff_id) == ("Asia/Tokyo", None)
    await settings.locator("[name=timezone]").fill("Europe/Nowhere")
    await settings.locator("button").click()
    await expect(page.locator("#page-error")).to_contain_text("'Europe/Nowhere' is not an IANA time zone")
    assert site.charger("CW-NEW-1").timezone == "Asia/Tokyo"

    password = page.locator("form[aria-label=password]")
    await password.locator("[name=password]").fill("second-secret-2")
    await password.locator("[name=confirm]").fill("second-secret-3")
    await password.locator("button").click()
    await expect(page.locator("#page-error")).to_have_text("password: the two entries differ")
    await password.locator("[name=password]").fill("second-secret-2")
    await password.locator("[name=confirm]").fill("second-secret-2")
    await password.locator("button").click()
    await expect(page.locator("#page-done")).to_contain_text("New password set")
    assert PasswordHasher().verify(site.charger("CW-NEW-1").password_hash, "second-secret-2")

    await page.goto(f"/chargers/{LIB16}")  # connected: not removed under its feet
    await page.check("#charger-delete [name=sure]")
    await page.click("#charger-delete button")
    await expect(page.locator("#page-error")).to_contain_text("the charger is connected")
    assert site.charger(LIB16) is not None
    await page.goto("/chargers/CW-NEW-1")
    await page.check("#charger-delete [name=sure]")
    await page.click("#charger-delete button")
    await page.wait_for_url(re.compile(r"/chargers\?done=deleted"))
    await expect(page.locator("#page-done")).to_have_text("Charger deleted.")
    assert site.charger("CW-NEW-1") is None
    await page.context.close()


async def test_a_viewer_reads_but_cannot_change(site: Site) -> None:
    page = await site.page(VIEWER)
    await page.goto("/chargers")
    assert await page.locator("#charger-add").count() == 0
    await page.goto(f"/chargers/{LIB16}")
    assert await page.locator("form[aria-label=settings]").count() == 0
    assert "read-only access" in await page.inner_text("#charger-settings")
    await page.context.close()
    client = await logged_in(site.app, VIEWER)
    try:
        html = (await client.get(f"/chargers/{LIB16}")).text
        token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)  # type: ignore[union-attr]
        refused = await client.post(f"/chargers/{LIB16}/settings", data={"csrf_token": token,
                                                                         "timezone": "UTC"})
        assert refused.status_code == 403 and "vic is a viewer: a viewer reads only." in refused.text
        admin = await logged_in(site.app, ADMIN)
        no_token = await admin.post(f"/chargers/{LIB16}/settings", data={"timezone": "UTC"})
        assert no_token.status_code == 403 and "The form expired" in no_token.text
        await admin.aclose()
        assert site.charger(LIB16).timezone == "Asia/Tokyo"
    finally:
        await client.aclose()


async def test_configuration_keys_read_and_changed_on_a_16_charger(site: Site) -> None:
    page = await site.page()
    await page.goto(f"/chargers/{LIB16}")
    await page.get_by_role("button", name="Read from charger").click()
    await expect(page.locator("#charger-answer")).to_have_text(
        "Read the configuration (GetConfiguration): the charger answered")
    keys = page.locator("#configuration-keys")
    assert await keys.locator("tr[data-key=NumberOfConnectors] input").count() == 0  # read-only
    assert "read-only" in await keys.locator("tr[data-key=NumberOfConnectors]").inner_text()
    beat = keys.locator("tr[data-key=HeartbeatInterval]")
    assert await beat.locator("input[name=value]").input_value() == "300"
    await beat.locator("input[name=value]").fill("120")
    await beat.locator("button").click()
    await expect(page.locator("#charger-answer")).to_have_text(
        "Change HeartbeatInterval to '120': the charger answered Accepted")
    assert await keys.locator("tr[data-key=HeartbeatInterval] input[name=value]").input_value() == "120"
    assert site.configuration.keys["HeartbeatInterval"] == ("120", False)
    assert ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "120"}) in site.lib16.received
    await shot(page, "console-charger-config")

    other = page.locator("form[aria-label='set any key']")
    await other.locator("[name=key]").fill("Boom")
    await other.locator("[name=value]").fill("1")
    await other.locator("button").click()
    await expect(page.locator("#charger-answer")).to_contain_text(
        "Change Boom to '1': the charger answered InternalError")
    assert "problem" in (await page.locator("#charger-answer").get_attribute("class") or "")
    await other.locator("[name=key]").fill("NoSuchKey")
    await other.locator("button").click()
    await expect(page.locator("#charger-answer")).to_have_text(
        "Change NoSuchKey to '': the charger answered NotSupported")
    await page.context.close()


async def test_configuration_of_a_201_station_read_by_report_and_set_as_variables(site: Site) -> None:
    page = await site.page()
    await page.goto(f"/chargers/{LIB201}")
    await page.get_by_role("button", name="Read from charger").click()
    await expect(page.locator("#charger-answer")).to_contain_text(
        "Read the configuration (GetBaseReport): the charger answered Accepted")
    sent = [p for a, p in site.lib201.received if a == "GetBaseReport"]
    assert sent and sent[-1]["reportBase"] == "ConfigurationInventory"

    async def reported() -> bool:
        await page.goto(f"/chargers/{LIB201}")
        row = page.locator("#configuration-variables tr[data-key='OCPPCommCtrlr.HeartbeatInterval']")
        return await row.count() == 1

    for _ in range(50):
        if await reported():
            break
        await page.wait_for_timeout(100)
    variables = page.locator("#configuration-variables")
    assert await variables.locator("tr[data-key='ChargingStation.Model'] input").count() == 0  # ReadOnly
    beat = variables.locator("tr[data-key='OCPPCommCtrlr.HeartbeatInterval']")
    await beat.locator("input[name=value]").fill("90")
    await beat.locator("button").click()
    await expect(page.locator("#charger-answer")).to_have_text(
        "Change OCPPCommCtrlr.HeartbeatInterval to '90': the charger answered Accepted")
    assert ("SetVariables", {"setVariableData": [{"attributeValue": "90", "component": {"name": "OCPPCommCtrlr"},
                                                  "variable": {"name": "HeartbeatInterval"}}]}) in site.lib201.received
    await page.context.close()


async def test_raw_message_log_filtered_paged_and_paired(site: Site) -> None:
    for _ in range(55):
        await site.lib16.heartbeat()
    page = await site.page()
    await page.goto(f"/chargers/{LIB16}/log")
    frames = page.locator("#log-frames tbody > tr")
    assert await frames.count() == 50
    first_ids = [await r.get_attribute("id") for r in await frames.all()]
    assert re.search(r"\d\d:\d\d:\d\d JST", await frames.first.locator("td").nth(1).inner_text())
    await page.click("#log-pager a[rel=next]")
    older = [await r.get_attribute("id") for r in await frames.all()]
    assert older and not set(older) & set(first_ids)
    assert int(older[0][1:]) < int(first_ids[-1][1:])

    await page.goto(f"/chargers/{LIB16}/log")
    await page.select_option("select[name=action]", "ChangeConfiguration")
    await page.click("#log-filters button[type=submit]")
    kinds = [await r.get_attribute("data-kind") for r in await frames.all()]
    assert "CALL" in kinds and "CALLRESULT" in kinds and "CALLERROR" in kinds, kinds
    call = page.locator("#log-frames tbody > tr[data-kind=CALL]").first
    assert re.search(r"answered by (CALLRESULT|CALLERROR) #\d+ after \d+ ms", await call.inner_text())
    assert '"key": "' in await call.locator("pre.frame").first.inner_text()  # pretty-printed, indented
    error = page.locator("#log-frames tbody > tr[data-kind=CALLERROR]").first
    assert "answers ChangeConfiguration" in await error.inner_text()
    assert "InternalError" in await error.locator("pre.frame").inner_text()
    message_id = (await error.locator("td").nth(5).inner_text()).strip()
    await page.click(f"#log-frames a:text-is('{message_id}')")
    assert sorted([await r.get_attribute("data-kind") for r in await frames.all()]) == ["CALL", "CALLERROR"]
    await shot(page, "console-charger-log")

    await page.goto(f"/chargers/{LIB16}/log?direction=out&text=heartbeatinterval")
    texts = [await r.inner_text() for r in await frames.all()]
    assert texts and all("→ charger" in t and "HeartbeatInterval" in t for t in texts)
    tokyo = datetime.now(ZoneInfo("Asia/Tokyo"))
    since = (tokyo - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M")
    await page.goto(f"/chargers/{LIB16}/log?action=BootNotification&since={since}")
    assert [await r.get_attribute("data-kind") for r in await frames.all()] == ["CALLRESULT", "CALL"]
    later = (tokyo + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M")
    await page.goto(f"/chargers/{LIB16}/log?since={later}")
    assert await frames.count() == 0  # Tokyo's "now + 10 min": had it been read as UTC, every frame would show
    response = await page.goto(f"/chargers/{LIB16}/log?since=yesterday&direction=in")
    assert response.status == 422
    await expect(page.locator("#page-error")).to_have_text(
        "from 'yesterday': not a date and time (YYYY-MM-DDTHH:MM)")
    response = await page.goto(f"/chargers/{LIB16}/log?since=2026-12-02T10:00&until=2026-12-01T10:00")
    assert response.status == 422
    await expect(page.locator("#page-error")).to_have_text("the time range ends before it starts")
    response = await page.goto(f"/chargers/{LIB16}/log?before=abc")
    assert response.status == 422
    assert (await page.goto("/chargers/NOPE/log")).status == 404
    for odd in ("since=0001-01-01T00:00", "until=2026-13-01T00:00"):  # year 0 once moved to UTC; month 13
        response = await page.goto(f"/chargers/{LIB16}/log?{odd}")
        assert response.status == 422 and "not a date and time" in await page.inner_text("#page-error")
    response = await page.goto(f"/chargers/{LIB16}/log?text=%00&message_id=%00x")
    assert response.status == 422 and "must not contain NUL" in await response.text()  # refused before the page
    assert (await page.goto("/chargers/%00/log")).status == 422  # the problem body, not a 500
    await page.context.close()
