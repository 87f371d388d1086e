"""The charger-screen guidance ends with the site's helpline when the site has a support record."""

from __future__ import annotations

import json

import httpx

from chargewatch.sim.scenarios import ScriptedCharger
from faults_live.live import eventually, fast_config
from helpers import http_url, ocpp_url

SCREEN = {"enabled": True, "vendor_id": "com.example.display"}

SITE = {"helpline": "+49 30 1234567", "hours": "Mon-Fri 08:00-20:00", "languages": ["de", "en"]}


async def _screens(cp: ScriptedCharger) -> list[dict]:
    return [json.loads(p["data"]) for a, p in cp.received if a == "DataTransfer"]


async def test_the_screen_guidance_ends_with_the_sites_helpline(sqlite_url, start_server):
    app = await start_server(sqlite_url, fast_config(driver_screen=SCREEN))
    async with httpx.AsyncClient(base_url=http_url(app)) as api:
        assert (await api.put("/api/v1/sites/HELP-1/support", json=SITE)).status_code == 201
    cp = ScriptedCharger(ocpp_url(app), "HELP-1")
    await cp.connect()
    await cp.boot(connectors=1)
    await cp.status(1, "Faulted", "ConnectorLockFailure")
    [screen] = await eventually(lambda: _screens(cp))
    assert screen["text"].endswith("Help: +49 30 1234567")
    assert len(screen["text"]) <= 120


async def test_without_a_support_record_the_screen_guidance_is_unchanged(sqlite_url, start_server):
    app = await start_server(sqlite_url, fast_config(driver_screen=SCREEN))
    cp = ScriptedCharger(ocpp_url(app), "HELP-2")
    await cp.connect()
    await cp.boot(connectors=1)
    await cp.status(1, "Faulted", "ConnectorLockFailure")
    [screen] = await eventually(lambda: _screens(cp))
    assert screen["text"] == "Cable lock problem. Re-insert the plug. Cable stuck? Call the hotline."
