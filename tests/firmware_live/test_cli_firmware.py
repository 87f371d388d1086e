"""`chargewatch firmware campaign|status` and `chargewatch diagnostics get|list` against a running server."""

from __future__ import annotations

import asyncio
import hashlib

from chargewatch.cli import main
from chargewatch.runtime import Chargewatch
from conftest import make_options
from firmware_live.peers import DIAGNOSTICS_FILE, FirmwareCharger
from helpers import http_url, ocpp_url


async def test_an_operator_runs_a_campaign_and_gets_diagnostics_from_the_cli(sqlite_url, capsys):
    app = Chargewatch(make_options(sqlite_url, accept_unknown=True, command_timeout=5.0))
    await app.start()
    one = FirmwareCharger(ocpp_url(app), "CLI-FW1", version="ocpp1.6")
    two = FirmwareCharger(ocpp_url(app), "CLI-FW2", version="ocpp2.0.1")
    try:
        for cp in (one, two):
            await cp.connect()
            await cp.boot()
        api = ["--api", http_url(app)]
        assert await asyncio.to_thread(main, [
            "firmware", "campaign", "--charger", "CLI-FW1", "--charger", "CLI-FW2", "--location",
            "https://fw.example/2.0.bin", "--retrieve-at", "2026-12-03T02:00:00Z", "--name", "cli run", *api]) == 0
        assert '"total": 2' in capsys.readouterr().out
        [(_, sent)] = two.requests("UpdateFirmware")
        await one.firmware_status("Installed")
        await two.firmware_status("InstallationFailed", sent["requestId"])
        assert await asyncio.to_thread(main, ["firmware", "status", *api]) == 0
        out = capsys.readouterr().out
        assert "cli run\t2 chargers: 0 pending, 0 downloading, 0 installing, 1 installed (0 confirmed), 1 failed" in out
        assert await asyncio.to_thread(main, ["firmware", "status", "1", *api]) == 0
        out = capsys.readouterr().out
        assert "CLI-FW2\tfailed\tInstallationFailed\tInstallationFailed" in out
        assert await asyncio.to_thread(main, ["firmware", "status", "99", *api]) == 1

        assert await asyncio.to_thread(main, ["diagnostics", "get", "CLI-FW1", *api]) == 0
        out = capsys.readouterr().out
        location = next(line.split('"')[3] for line in out.splitlines() if '"location"' in line)
        content = b"diagnostics from the CLI test"
        assert (await one.upload(location, content, DIAGNOSTICS_FILE, multipart=False)).status_code == 201
        assert await asyncio.to_thread(main, ["diagnostics", "list", "CLI-FW1", *api]) == 0
        assert hashlib.sha256(content).hexdigest() in capsys.readouterr().out
        assert await asyncio.to_thread(main, ["diagnostics", "get", "NOPE", *api]) == 1
    finally:
        for cp in (one, two):
            await cp.close()
        await app.stop()
