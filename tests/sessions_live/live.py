"""Helpers of the live meter-shape tests: id tags, a shape's sessions from the API."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from chargewatch.runtime import Chargewatch
from chargewatch.store.registry import put_id_tag
from helpers import http_url
from sessions_live.shapes import ID_TAGS, Shape, check


def add_shape_tags(app: Chargewatch) -> None:
    with app.engine.begin() as connection:
        for tag, status in ID_TAGS.items():
            put_id_tag(connection, {"id_tag": tag, "status": status, "expiry_date": None, "parent_id_tag": None,
                                    "description": "meter shapes"})
    app.gateway.id_tags.refresh()


async def sessions_of(app: Chargewatch, charger_id: str) -> list[dict[str, Any]]:
    """The charger's sessions from the API, oldest first, each with its meter readings."""
    async with httpx.AsyncClient(base_url=http_url(app), timeout=10) as api:
        page = (await api.get("/api/v1/sessions", params={"charger_id": charger_id})).json()
        ids = sorted(s["transaction_id"] for s in page["items"])
        return [(await api.get(f"/api/v1/sessions/{tx}")).json() for tx in ids]


async def assert_shape(app: Chargewatch, shape: Shape, transaction_ids: list[int]) -> list[dict[str, Any]]:
    sessions = await sessions_of(app, shape.charger_id)
    assert [s["transaction_id"] for s in sessions] == transaction_ids
    problems = {s["transaction_id"]: check(s, e) for s, e in zip(sessions, shape.sessions, strict=True)}
    assert not any(problems.values()), f"{shape.name} (issue item {shape.issue_item}): {problems}"
    return sessions


async def eventually(probe: Any, timeout: float = 20.0) -> Any:
    """Poll ``probe`` (async, returns a value or None) until it returns something, within ``timeout``."""
    loop = asyncio.get_running_loop()
    until = loop.time() + timeout
    while True:
        value = await probe()
        if value is not None or loop.time() > until:
            return value
        await asyncio.sleep(0.1)
