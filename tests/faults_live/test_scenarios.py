"""The other scripted fault scenarios against a running server: each produces exactly the expected
incident, one alert (not one per symptom), and recovery resolves it with evidence — for a 1.6 charger and for the
same script in OCPP 2.0.1 words (the `scripted` fixture)."""

from __future__ import annotations

import asyncio

import pytest

from chargewatch.sim.scenarios import (
    ScenarioTiming,
    ScriptedCharger,
    ScriptedStation201,
    boot_loop,
    charger_goes_silent,
    flapping_connection,
    stalled_session,
)
from faults_live.live import eventually, fast_config, incident, incidents
from helpers import ocpp_url


@pytest.fixture(params=[ScriptedCharger, ScriptedStation201], ids=["ocpp1.6", "ocpp2.0.1"])
def scripted(request: pytest.FixtureRequest) -> type[ScriptedCharger]:
    return request.param


async def _resolved(app, kind):
    async def check():
        found = await incidents(app, kind=kind)
        return found if found and all(i["status"] == "resolved" for i in found) else None

    return await eventually(check)


async def test_charger_going_silent_is_offline_until_it_speaks_again(sqlite_url, scripted, start_server, webhook):
    app = await start_server(sqlite_url, fast_config(webhook), heartbeat_interval=1)
    cp = scripted(ocpp_url(app), "SILENT-1", timing=ScenarioTiming(silence=2.5, settle=0.5))
    await charger_goes_silent(cp)
    [offline] = await _resolved(app, "charger_offline")
    assert [i["kind"] for i in await incidents(app)] == ["charger_offline"]
    detail = await incident(app, offline["number"])
    assert detail["evidence"][0]["source"] == "Silence"
    assert detail["evidence"][0]["data"]["heartbeat_interval_s"] == 1
    assert detail["resolution"]["source"] == "Message"
    assert detail["outage"] is True and detail["resolved_at"] > detail["first_seen"]
    await eventually(lambda: asyncio.sleep(0, result=len(webhook.received) >= 2))
    assert [h.payload["type"] for h in webhook.received] == ["incident.alert", "incident.resolved"]
    for hook in webhook.received:
        hook.verify()


async def test_stalled_session_opens_and_resolves_when_energy_flows(sqlite_url, scripted, start_server, webhook):
    # The scenario's charger leaves at its end; a long reconnect grace keeps that (correct) offline incident out of
    # the way however late the check runs on a busy machine.
    app = await start_server(sqlite_url, fast_config(webhook, detection={"reconnect_grace": 60}))
    cp = scripted(ocpp_url(app), "STALL-1", timing=ScenarioTiming(meter_interval=0.2, stall=1.6, settle=0.2,
                                                                        speedup=60))
    transaction_id = await stalled_session(cp)
    [stalled] = await _resolved(app, "stalled_session")
    assert [i["kind"] for i in await incidents(app)] == ["stalled_session"]
    detail = await incident(app, stalled["number"])
    assert detail["session_id"] == str(transaction_id) and detail["severity"] == "warning"
    assert detail["evidence"][0]["source"] == "NoEnergyFlow"
    assert detail["resolution"]["source"] == "MeterValues" and detail["resolution"]["data"]["power_w"] == 7000
    assert detail["session"]["transaction_id"] == transaction_id and detail["session"]["meter_readings"]
    await eventually(lambda: asyncio.sleep(0, result=len(webhook.received) >= 2))
    assert [h.payload["type"] for h in webhook.received] == ["incident.alert", "incident.resolved"]


async def test_boot_loop_is_one_incident_and_not_also_flapping(sqlite_url, scripted, start_server, webhook, mailbox):
    app = await start_server(sqlite_url, fast_config(webhook, mailbox))
    cp = scripted(ocpp_url(app), "LOOP-1", timing=ScenarioTiming(boots=4, boot_gap=0.3, settle=2.3))
    await boot_loop(cp)
    [loop] = await _resolved(app, "boot_loop")
    assert [i["kind"] for i in await incidents(app)] == ["boot_loop"]
    detail = await incident(app, loop["number"])
    assert detail["severity"] == "fault" and detail["outage"] is True
    assert detail["evidence"][0]["source"] == "BootNotification"
    assert detail["resolution"]["source"] == "StableUptime"
    await eventually(lambda: asyncio.sleep(0, result=len(mailbox.messages) >= 2))
    assert ["alert" in m["Subject"] for m in mailbox.messages] == [True, False]
    assert [h.payload["type"] for h in webhook.received] == ["incident.alert", "incident.resolved"]


async def test_flapping_connection_is_one_incident_not_ten(sqlite_url, scripted, start_server, webhook):
    # Generous windows: ten reconnects must fit in one flap window even on a loaded CI machine.
    app = await start_server(sqlite_url, fast_config(webhook, detection={"reconnect_grace": 4.0, "flap_window": 6.0}))
    cp = scripted(ocpp_url(app), "FLAP-1", timing=ScenarioTiming(flaps=10, flap_gap=0.05, settle=6.5))
    await flapping_connection(cp)
    [flapping] = await _resolved(app, "connection_flapping")
    assert [i["kind"] for i in await incidents(app)] == ["connection_flapping"], "no offline incident either"
    detail = await incident(app, flapping["number"])
    assert detail["occurrences"] == 8  # disconnects 3..10 of the window joined the incident
    assert detail["resolution"]["source"] == "StableConnection"
    await eventually(lambda: asyncio.sleep(0, result=len(webhook.received) >= 2))
    assert [h.payload["type"] for h in webhook.received] == ["incident.alert", "incident.resolved"]
    for hook in webhook.received:
        hook.verify()
