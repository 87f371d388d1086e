"""A LocalListConflict a 1.6 charger reports (StatusNotification errorCode) is recorded, shown on the charger's page
and resolved by a Full list (2.0.1's StatusNotification carries no error code). A server of its own: the page needs
an operator account, and with one the API needs a login too."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from chargewatch.api.auth import put_operator
from chargewatch.runtime import Chargewatch
from chargewatch.workers.local_list import LocalListSettings
from conftest import make_options
from faults_live.live import eventually
from locallist.test_local_list_live import _resolved, charger, local_list, push, put_tag


@pytest.fixture
async def server(db_url: str) -> AsyncIterator[Chargewatch]:
    app = Chargewatch(make_options(db_url, accept_unknown=True, command_timeout=5.0))
    app.app.state.local_list.settings = LocalListSettings(interval=0.2, boot_delay=0.2, timeout=5.0)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


@pytest.mark.parametrize("ocpp_version", ["ocpp1.6"])  # 2.0.1's StatusNotification carries no error code
async def test_a_local_list_conflict_status_is_surfaced_and_resolved_by_a_full_list(server, ocpp_version):
    for tag in ("CARD-A", "CARD-B"):
        await put_tag(server, tag)
    cp = await charger(server, "LL-CONFLICT", ocpp_version)
    try:
        assert (await push(server, "LL-CONFLICT")).json()["status"] == "Accepted"
        cp.cards = {}  # the charger lost its list and says so
        await cp.status(0, "Available", "LocalListConflict", info="list differs from the backend")
        await eventually(lambda: asyncio.sleep(0, len(cp.updates) == 2))
        assert cp.list_updates()[1] == ("Full", 2, 2)
        assert set(cp.cards) == {"CARD-A", "CARD-B"}
        state = await eventually(lambda: _resolved(server, "LL-CONFLICT"))
        assert state["conflict_reason"] == "LocalListConflict on connector 0: list differs from the backend"
        assert state["updates"][0]["reason"] == "conflict"
        operator = await _operator(server)
        try:
            page = (await operator.get("/stations/LL-CONFLICT")).text
            section = page[page.index('id="station-local-list"'):]
            assert "Local authorization list" in section and "LocalListConflict" in section
            assert 'data-field="local-list-confirmed">2 · 2 cards' in section
            # the page's "Push full list" button, as dashboard.js sends it
            button = re.search(r'data-api="POST ([^"]+)" data-body=\'([^\']*)\'[^>]*>Push full list<', section)
            assert button is not None
            csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
            assert csrf is not None
            response = await operator.post(button.group(1), content=button.group(2), headers={
                "Content-Type": "application/json", "X-CSRF-Token": csrf.group(1)})
            assert response.status_code == 200 and response.json()["status"] == "Accepted", response.text
        finally:
            await operator.aclose()
        assert cp.list_updates()[2] == ("Full", 3, 2)
    finally:
        await cp.close()


@pytest.mark.parametrize("ocpp_version", ["ocpp1.6"])
async def test_a_conflict_on_a_charger_holding_none_of_our_lists_is_recorded_and_nothing_is_sent(server, ocpp_version):
    """A charger whose list came from another system (or a fuzzed frame) is not taken over unasked: no GetConfiguration,
    no SendLocalList; the conflict is on its page for the operator to decide."""
    await put_tag(server, "CARD-A")
    cp = await charger(server, "LL-FOREIGN", ocpp_version)
    try:
        await cp.status(0, "Available", "LocalListConflict", info="list from the previous backend")

        async def recorded():  # type: ignore[no-untyped-def]
            state = await local_list(server, "LL-FOREIGN")
            return state if state.get("conflict_at") else None

        state = await eventually(recorded)
        assert state["conflict_reason"].startswith("LocalListConflict on connector 0")
        await asyncio.sleep(1.0)  # well past the worker's 0.2 s rounds
        assert [action for action, _ in cp.received] == [], cp.received
        assert cp.updates == []
    finally:
        await cp.close()


async def _operator(app: Chargewatch) -> httpx.AsyncClient:
    """A logged-in operator's browser session."""
    with app.engine.begin() as connection:
        put_operator(connection, "ada", "admin-password-1", "admin", datetime.now(UTC))
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.http_port}", timeout=20)
    await client.get("/login")
    await client.post("/login", data={"username": "ada", "password": "admin-password-1", "next": "/",
                                      "csrf_token": client.cookies["cw_login_csrf"]})
    return client
