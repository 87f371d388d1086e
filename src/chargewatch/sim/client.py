"""A minimal OCPP-J charge-point side connection (1.6 or 2.0.1 framing is the same): send CALLs one at a time,
answer the server's CALLs."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

Handler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


class OcppError(Exception):
    def __init__(self, code: str, description: str):
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


class ChargePointConnection:
    def __init__(self, websocket: ClientConnection, handler: Handler | None = None,
                 on_latency: Callable[[str, float], None] | None = None):
        self.websocket = websocket
        self._handler = handler
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._lock = asyncio.Lock()
        self._on_latency = on_latency
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, charger_id: str, *, password: str | None = None, handler: Handler | None = None,
                   on_latency: Callable[[str, float], None] | None = None, open_timeout: float = 10,
                   subprotocol: str = "ocpp1.6") -> ChargePointConnection:
        headers = {}
        if password is not None:
            token = base64.b64encode(f"{charger_id}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        websocket = await connect(f"{url.rstrip('/')}/{charger_id}", subprotocols=[subprotocol],  # type: ignore[list-item]
                                  additional_headers=headers, open_timeout=open_timeout, compression=None,
                                  ping_interval=None, max_queue=4)
        return cls(websocket, handler, on_latency)

    async def call(self, action: str, payload: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        async with self._lock:  # OCPP-J: one outstanding CALL per direction
            message_id = str(next(self._ids))
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._pending[message_id] = future
            started = time.perf_counter()
            try:
                await self.websocket.send(json.dumps([2, message_id, action, payload]))
                result = await asyncio.wait_for(future, timeout)
            finally:
                self._pending.pop(message_id, None)
            if self._on_latency is not None:
                self._on_latency(action, time.perf_counter() - started)
            return result

    async def _read(self) -> None:
        try:
            async for text in self.websocket:
                frame = json.loads(text)
                if frame[0] == 2:
                    asyncio.create_task(self._answer(frame[1], frame[2], frame[3]))
                    continue
                future = self._pending.get(frame[1])
                if future is None or future.done():
                    continue
                if frame[0] == 3:
                    future.set_result(frame[2])
                else:
                    future.set_exception(OcppError(frame[2], frame[3]))
        except ConnectionClosed:
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection closed"))

    async def _answer(self, message_id: str, action: str, payload: dict[str, Any]) -> None:
        if self._handler is None:
            reply: list[Any] = [4, message_id, "NotImplemented", f"{action} not handled", {}]
        else:
            try:
                reply = [3, message_id, await self._handler(action, payload)]
            except Exception as exc:  # noqa: BLE001 - a simulator must keep running
                reply = [4, message_id, "InternalError", str(exc), {}]
        try:
            await self.websocket.send(json.dumps(reply))
        except ConnectionClosed:
            pass

    async def close(self) -> None:
        await self.websocket.close()
        self._reader.cancel()
