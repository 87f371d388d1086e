"""A connector's stored status follows the charger's clock: a queued older StatusNotification arriving after a
newer one is kept in the raw log and the status events but does not overwrite the newer status (issue 17).

Raw OCPP-J frames over a plain ``websockets`` client (the shape an Alfen/ABB offline queue flushes), the API and
the connectors table on SQLite and PostgreSQL, and ``chargewatch replay`` of the same log."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from sqlalchemy import select
from websockets.asyncio.client import connect

from chargewatch.cli import main
from chargewatch.store import schema
from helpers import http_url, ocpp_url

CHARGER = "QUEUE-1"
# What the charger sends, in the order it arrives: a live Charging (09:05), then its offline queue flushed with
# the older Preparing (09:01) and Available (09:00), then a newer SuspendedEV (09:06) on connector 1; connector 2
# gets an older Faulted after its newer Available.
FRAMES = [
    [2, "b1", "BootNotification", {"chargePointVendor": "Alfen BV", "chargePointModel": "NG920-61"}],
    [2, "s1", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging",
                                     "timestamp": "2026-11-02T09:05:00Z"}],
    [2, "s2", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Preparing",
                                     "timestamp": "2026-11-02T09:01:00Z"}],
    [2, "s3", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available",
                                     "timestamp": "2026-11-02T09:00:00.000Z"}],
    [2, "s4", "StatusNotification", {"connectorId": 2, "errorCode": "NoError", "status": "Available",
                                     "timestamp": "2026-11-02T09:10:00+00:00"}],
    [2, "s5", "StatusNotification", {"connectorId": 2, "errorCode": "GroundFailure", "status": "Faulted",
                                     "vendorErrorCode": "E17", "timestamp": "2026-11-02T09:09:30Z"}],
]


async def _send(app: Any, frames: list[list[Any]]) -> list[Any]:
    async with connect(f"{ocpp_url(app)}/{CHARGER}", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        answers = []
        for frame in frames:
            await ws.send(json.dumps(frame))
            answers.append(json.loads(await asyncio.wait_for(ws.recv(), 20)))
        return answers


def _connectors(engine: Any) -> dict[int, tuple[str, str]]:
    k = schema.connectors
    with engine.connect() as connection:
        return {r.connector_id: (r.status, r.error_code, r.status_at.isoformat())
                for r in connection.execute(select(k).where(k.c.charger_id == CHARGER))}


def _status_events(engine: Any) -> list[str]:
    e = schema.status_events
    with engine.connect() as connection:
        return [r.status for r in connection.execute(select(e).where(e.c.charger_id == CHARGER).order_by(e.c.id))]


async def _api_connectors(app: Any) -> dict[int, str]:
    async with httpx.AsyncClient(base_url=http_url(app), timeout=10) as api:
        rows = (await api.get("/api/v1/connectors", params={"charger_id": CHARGER})).json()["items"]
    return {row["connector_id"]: row["status"] for row in rows}


async def test_an_older_status_arriving_later_does_not_overwrite_the_newer_one(server):
    answers = await _send(server, FRAMES)
    assert all(a[0] == 3 for a in answers), answers  # each one acknowledged, none refused
    assert await _api_connectors(server) == {1: "Charging", 2: "Available"}
    stored = _connectors(server.engine)
    assert stored[1][:2] == ("Charging", "NoError") and stored[1][2].startswith("2026-11-02T09:05:00")
    assert stored[2][:2] == ("Available", "NoError")
    # every report is kept where history is kept
    assert _status_events(server.engine) == ["Charging", "Preparing", "Available", "Available", "Faulted"]


async def test_a_newer_status_after_the_queued_older_ones_is_applied(server):
    await _send(server, [*FRAMES, [2, "s6", "StatusNotification", {
        "connectorId": 1, "errorCode": "NoError", "status": "SuspendedEV", "timestamp": "2026-11-02T09:06:00Z"}]])
    assert (await _api_connectors(server))[1] == "SuspendedEV"


async def test_the_older_status_is_ignored_across_connections_from_the_stored_status(server):
    """The connection's state is rebuilt from the database: an old report on a new connection changes nothing."""
    await _send(server, FRAMES[:2])
    await _send(server, [FRAMES[2]])
    assert (await _api_connectors(server))[1] == "Charging"


async def test_replay_gives_the_stored_status_of_the_live_run(server, db_url, capsys):
    await _send(server, FRAMES)
    live = _connectors(server.engine)
    assert await asyncio.to_thread(main, ["replay", "--db", db_url]) == 0
    assert "replayed" in capsys.readouterr().out
    assert _connectors(server.engine) == live
    assert live[1][0] == "Charging" and live[2][0] == "Available"
