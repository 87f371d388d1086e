"""The operator's live stream (/api/v1/events) over real HTTP: each bus event is sent as its kind and its JSON data,
in the format the dashboard reads; per-message housekeeping (charger.seen) is not streamed."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import httpx

from chargewatch.store.registry import put_id_tag
from helpers import boot, connect, http_url, meter, ts


async def test_a_session_streams_as_kinds_and_json_data(server) -> None:
    with server.engine.begin() as connection:
        put_id_tag(connection, {"id_tag": "TAG-S", "status": "Accepted", "expiry_date": None, "parent_id_tag": None,
                                "description": None})
    server.gateway.id_tags.refresh()
    received: list[tuple[str, dict[str, Any]]] = []
    subscribed = asyncio.Event()

    async def listen() -> None:
        async with httpx.AsyncClient(base_url=http_url(server), timeout=30) as client:
            async with client.stream("GET", "/api/v1/events") as stream:
                kind = None
                async for line in stream.aiter_lines():
                    if line == ": connected":
                        subscribed.set()
                    elif line.startswith("event: "):
                        kind = line.removeprefix("event: ")
                    elif line.startswith("data: ") and kind:
                        received.append((kind, json.loads(line.removeprefix("data: "))))
                        if kind == "session.stopped":
                            return

    listener = asyncio.create_task(listen())
    await asyncio.wait_for(subscribed.wait(), 10)
    cp = await connect(server, "CP-SSE")
    await cp.call("BootNotification", boot())
    start = {"connectorId": 1, "idTag": "TAG-S", "meterStart": 1_000, "timestamp": ts(0)}
    tx = (await cp.call("StartTransaction", start))["transactionId"]
    await cp.call("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": meter(3_000, 10, 7_000)})
    stop = {"transactionId": tx, "meterStop": 4_000, "timestamp": ts(20), "reason": "Local"}
    await cp.call("StopTransaction", stop)
    await asyncio.wait_for(listener, 20)
    await cp.close()

    mine = [(kind, data) for kind, data in received if data.get("charger_id") == "CP-SSE"]
    assert [kind for kind, _ in mine] == ["charger.connected", "charger.booted", "authorization", "session.started",
                                          "session.updated", "session.stopped"]
    for _, data in mine:
        assert datetime.fromisoformat(data.pop("at")).utcoffset() is not None
    connected, booted, authorization, started, _, stopped = (data for _, data in mine)
    assert connected == {"charger_id": "CP-SSE"}
    assert booted["heartbeat_interval"] == 300 and booted["evidence"]["action"] == "BootNotification"
    assert booted["evidence"]["payload"] == boot()
    assert {k: v for k, v in authorization.items() if k != "evidence"} == {
        "charger_id": "CP-SSE", "action": "StartTransaction", "id_tag": "TAG-S", "connector_id": 1,
        "status": "Accepted"}
    assert started["evidence"]["payload"] == start and started["energy_wh"] == 0
    evidence = stopped.pop("evidence")
    assert (evidence["action"], evidence["payload"], set(evidence)) == ("StopTransaction", stop,
                                                                        {"action", "message_id", "payload"})
    assert stopped == {"charger_id": "CP-SSE", "connector_id": 1, "transaction_id": tx, "energy_wh": 3_000,
                       "power_w": 0, "soc": None, "status": "completed", "stop_reason": "Local", "flags": [],
                       "charging_seconds": stopped["charging_seconds"], "idle_seconds": stopped["idle_seconds"]}
    assert list(stopped) == ["charger_id", "connector_id", "transaction_id", "energy_wh", "power_w", "soc", "status",
                             "stop_reason", "flags", "charging_seconds", "idle_seconds"]
    assert "charger.seen" not in [kind for kind, _ in received]
