"""A healthy fleet is quiet: 0 alerts and 0 incidents above info (issue 17, item 14).

Nine charge points run for 75 minutes of virtual time against the production detection rules
(heartbeat 300 s, alert delay 3 min, reconnect grace 2 min, 15-minute windows): eight speak scripted
raw OCPP-J frames, one is the ``ocpp`` PyPI library's charge point. It runs once with 1.6 chargers and once with
2.0.1 stations (one body). Everything they do is normal in
the field: full EVs, plug-and-leave, operator RemoteStops, a nightly Reset after a TriggerMessage
BootNotification, late heartbeats, 8-24 s reconnect blips every few minutes, an offline-queue flush
whose older StatusNotification arrives after a newer one, and a 10 s EVCommunicationError.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from chargewatch.domain.events import IncidentAlert, IncidentEscalated
from faults_live.live import Recorder, api, fast_config, incidents
from faults_live.peers import RawCharger, Timeline, VirtualClock
from helpers import ocpp_url
from peers.chargers import LibraryCharger, versions

MINUTE = 60.0
END = 75 * MINUTE


def field_config(webhook: Any) -> dict[str, Any]:
    """Production detection rules; only the worker's real-time loop runs fast."""
    config = fast_config(webhook)
    config.update(tick_seconds=0.05, state_save_seconds=0.5, probe_timeout=0.3, detection={})
    return config


async def command(app: Any, charger_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """An operator's command through the HTTP API (it goes out through the gateway)."""
    response = await api(app).post(f"/api/v1/chargers/{charger_id}/commands",
                                   json={"action": action, "payload": payload})
    response.raise_for_status()
    return dict(response.json())


def heartbeats(line: Timeline, cp: RawCharger, period: float, start: float = 0, skip: tuple[float, ...] = ()) -> None:
    async def beat() -> None:
        if cp.ws is not None:
            await cp.heartbeat()

    t = start + period
    while t < END:
        if not any(a <= t < b for a, b in zip(skip[::2], skip[1::2], strict=True)):
            line.at(t, beat)
        t += period


def charging(line: Timeline, cp: RawCharger, tx: list[int], start: float, end: float, power_w: float,
             register: list[int], connector: int = 1) -> None:
    """MeterValues every minute while ``power_w`` flows (the register grows by power x time)."""

    def sample(t: float) -> Any:
        async def step() -> None:
            register[0] += int(power_w * MINUTE / 3600)
            await cp.meter(connector, tx[0], register[0], power_w)
        return step

    line.every(start, end, MINUTE, sample)


@versions()
async def test_healthy_fleet_raises_no_alert_and_no_incident_above_info(db_url, ocpp_version, start_server, webhook):
    clock = VirtualClock(step=timedelta(seconds=10))
    app = await start_server(db_url, field_config(webhook), clock=clock)
    recorder = Recorder(app)
    url = ocpp_url(app)
    names = ("FULL-1", "PLUG-1", "RESET-1", "LATE-1", "BLIP-1", "QUEUE-1", "EVCOMM-1", "IDLE-1")
    cps = {name: RawCharger(url, name, clock, ocpp_version) for name in names}
    line = Timeline(clock)
    for cp in cps.values():
        await cp.connect()
        await cp.status(0, "Available")
        await cp.status(1, "Available")

    # Full EV: 11 kW for 20 min, then SuspendedEV at 0 W for 20 min, then the driver stops.
    full, full_tx, full_reg = cps["FULL-1"], [0], [5_000_000]
    line.at(60, lambda: full.status(1, "Preparing"))

    async def full_start() -> None:
        full_tx[0] = await full.start(1, full_reg[0])
        await full.status(1, "Charging")
    line.at(70, full_start)
    charging(line, full, full_tx, 130, 1330, 11_000, full_reg)
    line.at(1340, lambda: full.status(1, "SuspendedEV"))
    line.every(1400, 2540, MINUTE, lambda t: lambda: full.meter(1, full_tx[0], full_reg[0], 0.0))
    line.at(2560, lambda: full.stop(full_tx[0], full_reg[0], "Local", "DEMO-TAG-1"))
    line.at(2565, lambda: full.status(1, "Finishing"))
    line.at(2600, lambda: full.status(1, "Available"))
    heartbeats(line, full, 300)

    # Plug-and-leave: 7.4 kW for 30 min, EV full, session stopped by the driver's app, cable left for 17 min.
    plug, plug_tx, plug_reg = cps["PLUG-1"], [0], [812_000]
    line.at(120, lambda: plug.status(1, "Preparing"))

    async def plug_start() -> None:
        plug_tx[0] = await plug.start(1, plug_reg[0])
        await plug.status(1, "Charging")
    line.at(125, plug_start)
    charging(line, plug, plug_tx, 185, 1985, 7_400, plug_reg)
    line.at(1990, lambda: plug.status(1, "SuspendedEV"))
    line.at(2400, lambda: plug.stop(plug_tx[0], plug_reg[0], "Local", "DEMO-TAG-1"))
    line.at(2401, lambda: plug.status(1, "Finishing"))
    line.at(3420, lambda: plug.status(1, "Available"))
    heartbeats(line, plug, 300)

    # A TriggerMessage BootNotification, then the nightly Hard Reset: the charger reboots twice in 11 minutes.
    reset = cps["RESET-1"]

    async def trigger_boot() -> None:
        answer = await command(app, "RESET-1", "TriggerMessage", {"requestedMessage": "BootNotification"})
        assert answer["status"] == "answered", answer
        await reset.boot("Triggered")
        await reset.status(0, "Available")
        await reset.status(1, "Available")

    async def nightly_reset() -> None:
        answer = await command(app, "RESET-1", "Reset", {"type": "Hard"})
        assert answer["status"] == "answered", answer
        await reset.close()

    async def back_from_reset() -> None:
        await reset.connect(reason="RemoteReset")
        await reset.status(0, "Available")
        await reset.status(1, "Available")
    line.at(300, trigger_boot)
    line.at(660, nightly_reset)
    line.at(760, back_from_reset)
    heartbeats(line, reset, 300, skip=(660, 760))

    # Late heartbeats: every 390 s (1.3 intervals), once 480 s (past the 450 s probe, which it answers).
    late = cps["LATE-1"]
    for t in (390, 780, 1260, 1650, 2040, 2430, 2820, 3210, 3600, 3990, 4380):
        line.at(t, late.heartbeat)

    # Reconnect blips of 8-24 s every 200 s (no reboot, as a cellular link does).
    blip = cps["BLIP-1"]
    for n, t in enumerate(range(200, int(END) - 200, 200)):
        down = (8, 16, 24)[n % 3]

        async def drop() -> None:
            await blip.close()

        async def back() -> None:
            await blip.connect(boot=False)
            await blip.status(1, "Available")
        line.at(t, drop)
        line.at(t + down, back)
    heartbeats(line, blip, 300, start=10)

    # Offline-queue flush: the session ends while offline; the live Available goes out before the queued
    # Finishing (older charger timestamp) and the queued StopTransaction.
    queue, queue_tx, queue_reg = cps["QUEUE-1"], [0], [2_000_000]

    async def queue_start() -> None:
        await queue.status(1, "Preparing")
        queue_tx[0] = await queue.start(1, queue_reg[0])
        await queue.status(1, "Charging")
    line.at(400, queue_start)
    charging(line, queue, queue_tx, 460, 1500, 11_000, queue_reg)
    line.at(1530, queue.close)

    async def queue_flush() -> None:
        await queue.connect(boot=False)
        await queue.status(1, "Available")
        await queue.status(1, "Finishing", at=-35)
        await queue.stop(queue_tx[0], queue_reg[0], "EVDisconnected", at=-40, offline=True)
    line.at(1590, queue_flush)
    heartbeats(line, queue, 300, skip=(1530, 1590))

    # A 10 s EVCommunicationError in the middle of a session.
    evcomm, ev_tx, ev_reg = cps["EVCOMM-1"], [0], [300_000]

    async def ev_start() -> None:
        await evcomm.status(1, "Preparing")
        ev_tx[0] = await evcomm.start(1, ev_reg[0])
        await evcomm.status(1, "Charging")
    line.at(500, ev_start)
    charging(line, evcomm, ev_tx, 560, 2000, 22_000, ev_reg)
    line.at(1205, lambda: evcomm.status(1, "SuspendedEVSE", "EVCommunicationError", info="CP state F"))
    line.at(1215, lambda: evcomm.status(1, "Charging"))
    line.at(2005, lambda: evcomm.status(1, "SuspendedEV"))  # the EV is full, then it is unplugged
    line.at(2010, lambda: evcomm.stop(ev_tx[0], ev_reg[0], "EVDisconnected"))
    line.at(2011, lambda: evcomm.status(1, "Finishing"))
    line.at(2030, lambda: evcomm.status(1, "Available"))
    heartbeats(line, evcomm, 300)
    heartbeats(line, cps["IDLE-1"], 300)

    # The ocpp library's charge point: two sessions the operator stops remotely (one before any energy).
    library = LibraryCharger(url, "REMOTE-1", ocpp_version, register_wh=40_000, clock=clock)
    await library.connect()
    await library.boot()

    def remote_session(start: float, energy_wh: int) -> None:
        tx = [0]

        async def begin() -> None:
            tx[0] = await library.start(1)

        async def operator_stops() -> None:
            answer = await command(app, "REMOTE-1", "RemoteStopTransaction", {"transactionId": tx[0]})
            assert answer["status"] == "answered", answer
            library.register_wh += energy_wh
            await library.status(1, "Finishing")
            await library.stop(tx[0], "Remote")
            await library.status(1, "Available", at=clock.now + timedelta(seconds=5))
        line.at(start, begin)
        line.at(start + 120, operator_stops)

    remote_session(900, 0)
    remote_session(1800, 2_500)

    line.every(300, END, 300, lambda t: library.heartbeat)

    await line.run(END)
    await asyncio.sleep(0.5)  # the last ticks commit
    await library.close()

    everything = await incidents(app)
    above_info = [(i["charger_id"], i["kind"], i["code"], i["severity"]) for i in everything
                  if i["severity"] != "info"]
    alerts = [e.to_json() for e in recorder.events if isinstance(e, IncidentAlert | IncidentEscalated)]
    print(f"\nhealthy fleet, {END / 60:.0f} virtual minutes: {len(everything)} incidents "
          f"({len(above_info)} above info: {above_info}), {len(alerts)} alerts, {len(webhook.received)} webhooks")
    assert above_info == []
    assert alerts == [] and webhook.received == []
    remote_stops = [action for action, _ in library.received
                    if action in ("RemoteStopTransaction", "RequestStopTransaction")]
    assert len(remote_stops) == 2, library.received
    # The full EV's driver is not told the session "ended unexpectedly".
    session = (await api(app).get(f"/api/v1/sessions/{full_tx[0]}")).json()
    token = session["driver_path"].rsplit("/", 1)[-1]
    assert (await api(app).get(f"/api/v1/driver/{token}/guidance")).json()["ok"] is True
    for cp in cps.values():
        await cp.close()
