"""The incident lifecycle from the command line, against a running server's API."""

from __future__ import annotations

import asyncio

from chargewatch.cli import main
from chargewatch.sim.scenarios import ScriptedCharger
from faults_live.live import eventually, fast_config, incident, incidents
from helpers import http_url, ocpp_url


async def test_an_operator_lists_acknowledges_and_resolves_an_incident_from_the_cli(sqlite_url, start_server,
                                                                                       capsys):
    app = await start_server(sqlite_url, fast_config())
    cp = ScriptedCharger(ocpp_url(app), "CLI-1")
    await cp.connect()
    await cp.boot()
    await cp.status(1, "Faulted", "OverVoltage")
    [opened] = await eventually(lambda: incidents(app, status="open"))
    api = ["--api", http_url(app)]

    assert await asyncio.to_thread(main, ["incidents", "list", *api]) == 0
    assert f"#{opened['number']}\topen\t" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["incidents", "ack", str(opened["number"]), "--by", "dana", *api]) == 0
    assert await asyncio.to_thread(main, ["incidents", "ack", str(opened["number"]), *api]) == 1  # already acked
    assert await asyncio.to_thread(main, ["incidents", "resolve", str(opened["number"]), "--note", "replaced fuse",
                                          *api]) == 0
    detail = await incident(app, opened["number"])
    assert detail["status"] == "resolved" and detail["acknowledged_by"] == "dana"
    await cp.close()
