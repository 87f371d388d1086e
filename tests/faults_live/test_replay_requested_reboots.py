"""Replaying the raw log gives the detector the reboots chargewatch asked for, as the live ``command.answered``
did (issue 17 item 8): a TriggerMessage BootNotification and a Hard Reset, each accepted, are no boot loop live
and none when the log is replayed; the same log without our CALLs is one (the signal really comes from the log)."""

from __future__ import annotations

import asyncio
from typing import Any

from chargewatch.faults.detection import FaultConfig, FaultDetector, Opened
from chargewatch.faults.incidents import IncidentKind
from chargewatch.gateway.fault_log import replay_log
from chargewatch.store.faults import logged_frames
from faults_live.live import api, incidents
from faults_live.peers import RawCharger, VirtualClock
from helpers import ocpp_url


async def _command(app: Any, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    response = await api(app).post("/api/v1/chargers/RESET-9/commands", json={"action": action, "payload": payload})
    response.raise_for_status()
    return dict(response.json())


async def _three_boots_two_of_them_asked_for(app: Any) -> None:
    cp = RawCharger(ocpp_url(app), "RESET-9", VirtualClock())
    await cp.connect()  # boot 1: the charger's own
    await cp.status(1, "Available")
    answer = await _command(app, "TriggerMessage", {"requestedMessage": "BootNotification"})
    assert answer["status"] == "answered" and answer["response"]["status"] == "Accepted", answer
    await cp.call("BootNotification", {"chargePointVendor": "Alfen BV", "chargePointModel": "NG920-61"})  # boot 2
    answer = await _command(app, "Reset", {"type": "Hard"})
    assert answer["status"] == "answered" and answer["response"]["status"] == "Accepted", answer
    await cp.close()
    await cp.connect()  # boot 3, after the Hard Reset
    await cp.status(1, "Available")
    await cp.close()


def _boot_loops(events: list[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, Opened) and e.incident.kind is IncidentKind.BOOT_LOOP]


async def test_replayed_log_with_trigger_boot_and_hard_reset_opens_no_boot_loop(db_url, start_server):
    app = await start_server(db_url, {"tick_seconds": 0.05, "state_save_seconds": 0.2, "detection": {}})
    await _three_boots_two_of_them_asked_for(app)
    await app.app.state.faults.flush()
    assert not [i for i in await incidents(app) if i["kind"] == "boot_loop"]  # live

    with app.engine.connect() as connection:
        frames = await asyncio.to_thread(logged_frames, connection)
    assert sum(f.frame.count('"BootNotification"') for f in frames if f.direction == "in") >= 3
    end = frames[-1].at
    assert _boot_loops(replay_log(frames, FaultDetector(FaultConfig()), until=end)) == []

    # The control: without the outbound CALLs (what chargewatch asked for), the same three boots are a loop.
    charger_only = [f for f in frames if f.direction == "in"]
    assert len(_boot_loops(replay_log(charger_only, FaultDetector(FaultConfig()), until=end))) == 1
