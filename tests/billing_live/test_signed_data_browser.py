"""A driver opens the page of a signed session in headless Chromium: the signed data, its QR codes, the file."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from playwright.async_api import async_playwright

from billing_live.live_billing import wait_for_bill
from billing_live.test_signed_meter_values_oca import prepare, session_from_raw_frames
from chargewatch.sim.ocmf import OcmfSigner
from helpers import http_url
from web.conftest import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, require_chromium

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_driver_sees_the_signed_data_and_downloads_the_transparency_software_file(server, api, db_url):
    require_chromium()
    signer = OcmfSigner(shape="OCA", send_public_key=True)
    await prepare(api, "OCA-BROWSER-1", signer.public_key_hex)
    tx = await session_from_raw_frames(server, "OCA-BROWSER-1", signer)
    bill = await wait_for_bill(api, tx)
    driver_path = (await api.get(f"/api/v1/sessions/{tx}")).json()["driver_path"]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(base_url=http_url(server), accept_downloads=True,
                                          viewport={"width": 420, "height": 900})
            await page.goto(f"{driver_path}?lang=de")
            section = page.locator("#driver-signed-data")
            assert "VALID" in await page.inner_text("#signed-verdict")
            assert "".join((await page.inner_text("#signed-public-key")).split()) == signer.public_key_hex.upper()
            shown = [await d.inner_text() for d in await page.locator(".signed-document").all()]
            assert ["".join(s.split()) for s in shown] == [
                "".join(d["ocmf"].split()) for d in bill["invoice"]["signed_data"]["documents"]]
            assert await section.locator(".qr svg").count() == 2
            assert await section.locator(".qr svg").first.is_visible()
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await section.screenshot(path=str(SCREENSHOTS / "driver-signed-data.png"))
            async with page.expect_download() as download_info:
                await page.click("#signed-data-link")
            download = await download_info.value
            values = ET.parse(await download.path()).getroot().findall("value")
            assert len(values) == 2 and all(v.findtext("signedData", "").startswith("OCMF|") for v in values)
        finally:
            await browser.close()
