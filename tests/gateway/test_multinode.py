"""Several gateway nodes on one database: a command reaches a charger connected to another node."""

import httpx

from chargewatch.runtime import Chargewatch
from conftest import make_options
from gateway.v201_peer import CommandedStation, station
from gateway.v201_peer import boot as boot_201
from helpers import boot, connect, http_url, ocpp_url


async def test_command_is_relayed_to_the_node_holding_the_charger(db_url):
    node_a = Chargewatch(make_options(db_url, accept_unknown=True, node_id="node-a"))
    node_b = Chargewatch(make_options(db_url, accept_unknown=True, node_id="node-b"))
    await node_a.start()
    await node_b.start()
    received = []

    async def charger_side(action, payload):
        received.append((action, payload))
        return {"status": "Unlocked"}

    cp = await connect(node_b, "CP-ON-B", handler=charger_side)
    try:
        await cp.call("BootNotification", boot())
        async with httpx.AsyncClient(base_url=http_url(node_a), timeout=15) as api:
            answer = (await api.post("/api/v1/chargers/CP-ON-B/commands",
                                     json={"action": "UnlockConnector", "payload": {"connectorId": 1},
                                           "timeout": 5})).json()
            nowhere = (await api.post("/api/v1/chargers/CP-NOWHERE/commands",
                                      json={"action": "UnlockConnector", "payload": {"connectorId": 1}})).json()
        assert answer["status"] == "answered" and answer["response"] == {"status": "Unlocked"}
        assert received == [("UnlockConnector", {"connectorId": 1})]
        assert nowhere["status"] == "offline"
    finally:
        await cp.close()
        await node_b.stop()
        await node_a.stop()


async def test_a_relayed_command_times_out_when_the_charger_stays_silent(db_url):
    node_a = Chargewatch(make_options(db_url, accept_unknown=True, node_id="node-a"))
    node_b = Chargewatch(make_options(db_url, accept_unknown=True, node_id="node-b"))
    await node_a.start()
    await node_b.start()

    async def silent(action, payload):
        import asyncio

        await asyncio.sleep(30)

    cp = await connect(node_b, "CP-QUIET", handler=silent)
    try:
        await cp.call("BootNotification", boot())
        result = await node_a.gateway.call("CP-QUIET", "Reset", {"type": "Soft"}, timeout=0.5)
        assert result.status == "timeout"
    finally:
        await cp.close()
        await node_b.stop()
        await node_a.stop()


async def test_a_command_for_a_201_station_on_another_node_is_rendered_there(db_url):
    node_a = Chargewatch(make_options(db_url, accept_unknown=True, node_id="node-a"))
    node_b = Chargewatch(make_options(db_url, accept_unknown=True, node_id="node-b"))
    await node_a.start()
    await node_b.start()
    try:
        async with station(ocpp_url(node_b), "CS-ON-B", cls=CommandedStation) as cp:
            await boot_201(cp)
            reset = await node_a.gateway.call("CS-ON-B", "Reset", {"type": "Hard"}, timeout=5)
            native = await node_a.gateway.call("CS-ON-B", "GetVariables", {"getVariableData": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]}, timeout=5)
            refused = await node_a.gateway.call("CS-ON-B", "GetConfiguration", {}, timeout=5)
        assert reset.status == "answered" and reset.response == {"status": "Accepted"}
        assert native.status == "answered" and native.response["getVariableResult"][0]["attributeValue"] == "300"
        assert refused.status == "error" and "GetBaseReport" in refused.error["description"]
        assert [action for action, _ in cp.received] == ["Reset", "GetVariables"]
        assert cp.received[0][1] == {"type": "Immediate"}
    finally:
        await node_b.stop()
        await node_a.stop()
