"""Commands across gateway nodes: when a charger is connected to another node, the command travels
through the shared database's ``commands`` table and that node sends it.

Several nodes share one PostgreSQL database behind a load balancer; a charger holds one WebSocket to one
node (``chargers.node_id``). Polling the table keeps this engine-agnostic (no LISTEN/NOTIFY needed) and
costs one indexed query per poll interval per node.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from ..ocpp import credentials
from ..store import schema

log = logging.getLogger(__name__)

FINAL_STATES = ("answered", "error", "timeout", "offline")
Send = Callable[[str, str, dict[str, Any], float], Awaitable[Any]]


class CommandRelay:
    def __init__(self, engine: Engine, node_id: str, now: Callable[[], datetime], poll_interval: float = 0.2):
        self._engine = engine
        self._node_id = node_id
        self._now = now
        self._poll = poll_interval
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ the asking node

    def owner_node(self, charger_id: str) -> str | None:
        """The other node this charger is connected to, if any."""
        c = schema.chargers
        with self._engine.connect() as connection:
            row = connection.execute(select(c.c.connected, c.c.node_id).where(c.c.id == charger_id)).first()
        if row is None or not row.connected or row.node_id in (None, self._node_id):
            return None
        return str(row.node_id)

    async def forward(self, charger_id: str, node_id: str, action: str, payload: dict[str, Any],
                      timeout: float) -> tuple[str, dict[str, Any] | None]:
        """Queue the command for ``node_id`` and wait for its outcome: (status, response-or-error)."""
        cmd = schema.commands

        def enqueue() -> int:
            with self._engine.begin() as connection:
                return int(connection.execute(insert(cmd).values(
                    charger_id=charger_id, action=action, payload=payload, status="queued", node_id=node_id,
                    timeout_s=timeout, requested_by=f"relay:{self._node_id}", requested_at=self._now(),
                ).returning(cmd.c.id)).scalar_one())

        def outcome(command_id: int) -> tuple[str, Any]:
            with self._engine.connect() as connection:
                row = connection.execute(select(cmd.c.status, cmd.c.response).where(cmd.c.id == command_id)).one()
            return row.status, row.response

        def give_up(command_id: int) -> bool:
            """Withdraw a command the other node never picked up, so it is not sent late."""
            with self._engine.begin() as connection:
                result = connection.execute(update(cmd).where(cmd.c.id == command_id, cmd.c.status == "queued")
                                            .values(status="timeout", completed_at=self._now(),
                                                    payload=credentials.redact_call(action, payload)))
            return result.rowcount == 1

        command_id = await asyncio.to_thread(enqueue)
        deadline = asyncio.get_running_loop().time() + timeout + 2 * self._poll + 1
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(self._poll)
            status, response = await asyncio.to_thread(outcome, command_id)
            if status in FINAL_STATES:
                return status, response
        if await asyncio.to_thread(give_up, command_id):
            return "timeout", None
        status, response = await asyncio.to_thread(outcome, command_id)
        return (status, response) if status in FINAL_STATES else ("timeout", None)

    # ------------------------------------------------------------------ the node holding the charger

    def start(self, send: Send) -> None:
        self._task = asyncio.get_running_loop().create_task(self._serve(send), name="command-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _claim(self) -> list[dict[str, Any]]:
        cmd = schema.commands
        claimed = []
        with self._engine.begin() as connection:
            rows = connection.execute(select(cmd).where(cmd.c.node_id == self._node_id, cmd.c.status == "queued")
                                      .order_by(cmd.c.id).limit(100)).all()
            for row in rows:
                taken = connection.execute(update(cmd).where(cmd.c.id == row.id, cmd.c.status == "queued")
                                           .values(status="sending"))
                if taken.rowcount == 1:
                    claimed.append(dict(row._mapping))
        return claimed

    def _finish(self, command_id: int, status: str, response: Any, payload: dict[str, Any] | None = None) -> None:
        cmd = schema.commands
        values: dict[str, Any] = {"status": status, "response": response, "completed_at": self._now()}
        if payload is not None:
            values["payload"] = payload
        with self._engine.begin() as connection:
            connection.execute(update(cmd).where(cmd.c.id == command_id).values(**values))

    async def _serve(self, send: Send) -> None:
        while True:
            try:
                for row in await asyncio.to_thread(self._claim):
                    asyncio.create_task(self._execute(send, row))
            except Exception:  # noqa: BLE001 - keep relaying when the database blips
                log.warning("command relay poll failed", exc_info=True)
            await asyncio.sleep(self._poll)

    async def _execute(self, send: Send, row: dict[str, Any]) -> None:
        result = await send(row["charger_id"], row["action"], row["payload"], row["timeout_s"] or 30.0)
        # A password travels in the row only until the node holding the charger has sent it.
        redacted = credentials.redact_call(row["action"], row["payload"] or {})
        await asyncio.to_thread(self._finish, row["id"], result.status,
                                result.response if result.response is not None else result.error,
                                redacted if redacted is not row["payload"] else None)
