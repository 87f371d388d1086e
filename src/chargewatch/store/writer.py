"""Group commit: many chargers' writes in one transaction, each caller answered only after COMMIT.

This is how "ack after commit" stays fast: while one transaction is being committed (fsync), the next
batch accumulates. If a batch fails, each unit is retried alone so one bad write cannot fail the others;
a unit that still fails (database down) raises in its caller, who answers the charger InternalError.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

log = logging.getLogger(__name__)

Apply = Callable[[Connection], Any]


@dataclass
class Unit:
    """One caller's writes: bulk rows per statement key, then an optional function for the rest."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    apply: Apply | None = None

    def add(self, statement_key: str, row: dict[str, Any]) -> None:
        self.rows.setdefault(statement_key, []).append(row)


@dataclass
class _Pending:
    unit: Unit
    future: asyncio.Future[Any]


class GroupCommitWriter:
    """A single writer task feeding one database thread; ``submit`` resolves after the commit."""

    def __init__(
        self,
        engine: Engine,
        statements: dict[str, Callable[[Connection, list[dict[str, Any]]], None]],
        *,
        max_batch: int = 1000,
        on_commit: Callable[[int, float], None] | None = None,
    ):
        self._engine = engine
        self._statements = statements
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        # A thread of its own: commits must never queue behind the short lookups other code sends to the
        # loop's default executor (a reconnect storm fills that with charger lookups). Started lazily.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="group-commit")
        self._on_commit = on_commit

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="group-commit")

    async def stop(self) -> None:
        if self._task is not None:
            await self._queue.put(None)
            await self._task
            self._task = None
            self._executor.shutdown(wait=True)

    async def submit(self, unit: Unit) -> Any:
        if self._task is None or self._task.done():
            raise RuntimeError("writer is not running")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(unit, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            outcomes = await loop.run_in_executor(self._executor, self._commit, [p.unit for p in batch])
            for pending, (ok, value) in zip(batch, outcomes, strict=True):
                if pending.future.done():
                    continue
                if ok:
                    pending.future.set_result(value)
                else:
                    pending.future.set_exception(value)

    def _write(self, connection: Connection, units: list[Unit]) -> list[Any]:
        return write_units(connection, self._statements, units)

    def _commit(self, units: list[Unit]) -> list[tuple[bool, Any]]:
        started = time.perf_counter()
        try:
            with self._engine.begin() as connection:
                values = self._write(connection, units)
            self._report(len(units), started)
            return [(True, value) for value in values]
        except Exception as exc:  # noqa: BLE001 - any failure: fall back to one transaction per unit
            log.warning("batch of %d failed (%s); retrying unit by unit", len(units), exc)
            if len(units) == 1:
                log.warning("write failed: %s", exc)
                return [(False, exc)]
        outcomes: list[tuple[bool, Any]] = []
        for unit in units:
            started = time.perf_counter()
            try:
                with self._engine.begin() as connection:
                    outcomes.append((True, self._write(connection, [unit])[0]))
                self._report(1, started)
            except Exception as exc:  # noqa: BLE001
                log.warning("write failed: %s", exc)
                outcomes.append((False, exc))
        return outcomes

    def _report(self, size: int, started: float) -> None:
        if self._on_commit is not None:
            self._on_commit(size, time.perf_counter() - started)


def write_units(connection: Connection, statements: dict[str, Callable[[Connection, list[dict[str, Any]]], None]],
                units: list[Unit]) -> list[Any]:
    """Run the units' bulk rows (merged per statement), then each unit's ``apply``; returns what those gave."""
    merged: dict[str, list[dict[str, Any]]] = {}
    for unit in units:
        for key, rows in unit.rows.items():
            merged.setdefault(key, []).extend(rows)
    for key, rows in merged.items():
        statements[key](connection, rows)
    return [unit.apply(connection) if unit.apply else None for unit in units]
