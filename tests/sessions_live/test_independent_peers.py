"""The meter shapes driven by independent OCPP 1.6 implementations: the `ocpp` PyPI library's ChargePoint and the
npm `ocpp-rpc` client in strict mode (it validates our answers against the OCPP 1.6 JSON schemas)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import ChargePoint, call
from websockets.asyncio.client import connect as ws_connect

from helpers import ocpp_url
from sessions_live.live import add_shape_tags, assert_shape
from sessions_live.shapes import PEER_SHAPES, Shape, as_json, drive

PEER_DIR = Path(__file__).resolve().parents[1] / "peers" / "ocpp_rpc"
BY_NAME = {s.name: s for s in PEER_SHAPES}


class LibraryConnection:
    """Adapts a websockets client connection to the interface the ocpp library expects."""

    def __init__(self, websocket: Any):
        self._ws = websocket

    async def recv(self) -> str:
        return await self._ws.recv()

    async def send(self, message: str) -> None:
        await self._ws.send(message)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


async def _library_drive(server: Any, shape: Shape) -> list[int]:
    async with ws_connect(f"{ocpp_url(server)}/{shape.charger_id}", subprotocols=["ocpp1.6"]) as ws:
        cp = ChargePoint(shape.charger_id, LibraryConnection(ws))
        listener = asyncio.create_task(cp.start())

        async def send(action: str, payload: dict[str, Any]) -> dict[str, Any]:
            # The library builds (and validates against its 1.6 schemas) the CALL from its own dataclass.
            message = getattr(call, action)(**{_snake(k): v for k, v in payload.items()})
            reply = await cp.call(message)
            return {"transactionId": getattr(reply, "transaction_id", None)}

        try:
            return await drive(shape, send)
        finally:
            listener.cancel()


@pytest.mark.parametrize("name", list(BY_NAME))
async def test_the_ocpp_library_charge_point_gets_the_right_session_numbers(server, name):
    shape = BY_NAME[name]
    add_shape_tags(server)
    transaction_ids = await _library_drive(server, shape)
    await assert_shape(server, shape, transaction_ids)


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is required in CI for the ocpp-rpc peer (.ci/run installs nodejs)")
        pytest.skip("node is not installed: the ocpp-rpc peer cannot run")
    if not (PEER_DIR / "node_modules" / "ocpp-rpc").is_dir():
        if os.environ.get("CI"):
            pytest.fail("ocpp-rpc is not installed: `make install` runs npm ci in tests/peers/ocpp_rpc")
        pytest.skip("ocpp-rpc is not installed (run `make install`)")
    return node


async def test_the_strict_ocpp_rpc_client_gets_the_right_session_numbers_for_every_shape(server, tmp_path):
    node = _node()
    add_shape_tags(server)
    shapes_file = tmp_path / "shapes.json"
    shapes_file.write_text(as_json(PEER_SHAPES))
    process = await asyncio.create_subprocess_exec(
        node, str(PEER_DIR / "run_shapes.js"), ocpp_url(server), str(shapes_file),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode == 0, f"ocpp-rpc peer failed: {stderr.decode()[-3000:]}"
    result = json.loads(stdout)
    assert sorted(result) == sorted(BY_NAME)
    for name, transaction_ids in result.items():
        await assert_shape(server, BY_NAME[name], transaction_ids)
