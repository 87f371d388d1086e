"""Issue 14 bug 2: changing a charger's Basic auth password (1.6 ChangeConfiguration AuthorizationKey, 2.0.1
SetVariables SecurityCtrlr.BasicAuthPassword) no longer locks it out. Once the charger accepts, the new password is
pending: the old one works until the first connection with the new one, and not after. The password is nowhere in
clear text: not in the raw OCPP log, the commands table, the API answers. Driven by the `ocpp` library's
ChargePoints over a real WebSocket, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from ocpp.v16 import call_result as result16
from sqlalchemy import select
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from chargewatch.ocpp import credentials
from chargewatch.store import schema
from chargewatch.store.registry import register_charger
from conftest import make_options
from helpers import http_url, ocpp_url
from peers.chargers import LibraryCharger

OLD = "old-password-0123"


@pytest.fixture
async def app(db_url):
    from chargewatch.runtime import Chargewatch

    server = Chargewatch(make_options(db_url, command_timeout=10.0))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def register(app: Any, charger_id: str) -> None:
    with app.engine.begin() as connection:
        register_charger(connection, charger_id, password=OLD, timezone="UTC", tariff_id=None, now=app.gateway.now())


async def handshake(app: Any, charger_id: str, password: str, version: str) -> int:
    """The HTTP status of a handshake with this password (101: let in)."""
    token = base64.b64encode(f"{charger_id}:{password}".encode()).decode()
    try:
        async with ws_connect(f"{ocpp_url(app)}/{charger_id}", subprotocols=[version],  # type: ignore[list-item]
                              additional_headers={"Authorization": f"Basic {token}"}):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


def the_new_password(version: str, received: list[tuple[str, dict[str, Any]]]) -> tuple[str, str]:
    """(the password the charger must use now, the secret as it was on the wire), from the frame it received."""
    if version == "ocpp1.6":
        [(action, payload)] = [item for item in received if item[0] == "ChangeConfiguration"]
        assert payload["key"] == "AuthorizationKey"
        value = payload["value"]
        assert len(value) <= 40 and 16 <= len(bytes.fromhex(value)) <= 20  # the whitepaper's hex, 16..20 bytes
        return bytes.fromhex(value).decode(), value
    [(action, payload)] = [item for item in received if item[0] == "SetVariables"]
    [entry] = payload["setVariableData"]
    assert (entry["component"]["name"], entry["variable"]["name"]) == ("SecurityCtrlr", "BasicAuthPassword")
    return entry["attributeValue"], entry["attributeValue"]


def stored_text(app: Any) -> str:
    """Everything the database keeps of OCPP traffic and commands."""
    with app.engine.connect() as connection:
        frames = [row.payload for row in connection.execute(select(schema.ocpp_messages.c.payload))]
        commands = [json.dumps([row.payload, row.response]) for row in connection.execute(
            select(schema.commands.c.payload, schema.commands.c.response))]
    return "\n".join(frames + commands)


async def test_rotating_the_password_keeps_the_old_one_until_the_new_one_is_used(app, ocpp_version):
    charger_id = f"ROT-{ocpp_version[4:]}"
    register(app, charger_id)
    cp = LibraryCharger(ocpp_url(app), charger_id, version=ocpp_version, password=OLD)
    await cp.connect()
    try:
        await cp.boot()
        async with httpx.AsyncClient(base_url=http_url(app), timeout=20) as client:
            answer = await client.post(f"/api/v1/chargers/{charger_id}/security/rotate-password", json={})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            state = (await client.get(f"/api/v1/chargers/{charger_id}/security")).json()
    finally:
        await cp.close()
    assert body["status"] == "answered" and body["accepted"] is True
    assert body["sent_action"] == ("SetVariables" if ocpp_version == "ocpp2.0.1" else "ChangeConfiguration")
    assert state["password_pending"] is True and state["security_profile"] == 1
    new, on_wire = the_new_password(ocpp_version, cp.received)
    assert new not in json.dumps(body) and on_wire not in json.dumps(body)

    assert await handshake(app, charger_id, OLD, ocpp_version) == 101, "the old password works until the new is used"
    assert await handshake(app, charger_id, "guess-" + new, ocpp_version) == 401
    assert await handshake(app, charger_id, new, ocpp_version) == 101, "the charger reconnects with the new one"
    assert await handshake(app, charger_id, OLD, ocpp_version) == 401, "after which the old one is refused"
    assert await handshake(app, charger_id, new, ocpp_version) == 101

    logged = stored_text(app)
    assert new not in logged and on_wire not in logged and on_wire.lower() not in logged
    assert credentials.REDACTED in logged  # the raw log keeps the frame, with the secret as ***
    async with httpx.AsyncClient(base_url=http_url(app), timeout=20) as client:
        state = (await client.get(f"/api/v1/chargers/{charger_id}/security")).json()
    assert state["password_pending"] is False and state["password_changed_at"] is not None


async def test_a_key_set_through_the_command_api_becomes_pending_only_once_accepted(app):
    """The exact 1.6 frame of the compliance test (TC_073): ChangeConfiguration AuthorizationKey with the hex
    encoding of the password; a charger that rejects it keeps its old password only."""
    charger_id = "ROT-CMD"
    register(app, charger_id)
    cp = LibraryCharger(ocpp_url(app), charger_id, password=OLD)
    await cp.connect()
    new = "dk2q0rfu2q0f-2f0rdg"
    value = new.encode().hex().upper()

    def answers(status: str) -> None:  # the library charger's ChangeConfiguration answer from now on
        cp._cp.route_map["ChangeConfiguration"]["_on_action"] = lambda **_: result16.ChangeConfiguration(status=status)

    try:
        await cp.boot()
        async with httpx.AsyncClient(base_url=http_url(app), timeout=20) as client:
            rejected_key = "Rejected-pass-4567"
            answers("Rejected")
            refused = await client.post(f"/api/v1/chargers/{charger_id}/commands", json={
                "action": "ChangeConfiguration",
                "payload": {"key": "AuthorizationKey", "value": rejected_key.encode().hex()}})
            assert refused.json()["response"] == {"status": "Rejected"}
            assert await handshake(app, charger_id, rejected_key, "ocpp1.6") == 401  # not accepted: not pending

            answers("Accepted")
            answer = await client.post(f"/api/v1/chargers/{charger_id}/commands", json={
                "action": "ChangeConfiguration", "payload": {"key": "AuthorizationKey", "value": value}})
            assert answer.json()["status"] == "answered", answer.text
    finally:
        await cp.close()
    assert cp.received[-1] == ("ChangeConfiguration", {"key": "AuthorizationKey", "value": value})
    assert await handshake(app, charger_id, new, "ocpp1.6") == 101
    assert await handshake(app, charger_id, OLD, "ocpp1.6") == 401
    with app.engine.connect() as connection:
        frames = [row.payload for row in connection.execute(
            select(schema.ocpp_messages.c.payload).where(schema.ocpp_messages.c.action == "ChangeConfiguration",
                                                         schema.ocpp_messages.c.direction == "out"))]
    assert len(frames) == 2 and all('"value":"***"' in frame.replace(" ", "") for frame in frames), frames
    logged = stored_text(app)
    assert value not in logged and new not in logged and rejected_key.encode().hex() not in logged


async def test_a_rotation_relayed_to_the_node_holding_the_charger_keeps_no_clear_key(db_url):
    """Node A asks, node B holds the charger: the key travels in the relayed commands row only until B sent it."""
    from chargewatch.runtime import Chargewatch

    node_a = Chargewatch(make_options(db_url, node_id="node-a", command_timeout=10.0))
    node_b = Chargewatch(make_options(db_url, node_id="node-b", command_timeout=10.0))
    await node_a.start()
    await node_b.start()
    try:
        register(node_a, "ROT-RELAY")
        cp = LibraryCharger(ocpp_url(node_b), "ROT-RELAY", password=OLD)
        await cp.connect()
        try:
            await cp.boot()
            async with httpx.AsyncClient(base_url=http_url(node_a), timeout=30) as client:
                body = (await client.post("/api/v1/chargers/ROT-RELAY/security/rotate-password", json={})).json()
        finally:
            await cp.close()
        assert body["status"] == "answered" and body["accepted"] is True, body
        new, on_wire = the_new_password("ocpp1.6", cp.received)
        logged = stored_text(node_a)
        assert new not in logged and on_wire not in logged
        assert await handshake(node_a, "ROT-RELAY", new, "ocpp1.6") == 101
        assert await handshake(node_b, "ROT-RELAY", OLD, "ocpp1.6") == 401
    finally:
        await node_b.stop()
        await node_a.stop()
