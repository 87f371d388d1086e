"""Raw OCPP log retention in the running server: a background task prunes ``ocpp_messages`` older than the
retention, exporting what it deletes (store/retention.py says how), in bounded batches that leave ingest alone.

Settings (environment):

- ``CHARGEWATCH_RAW_LOG_RETENTION_DAYS`` — keep this many days of the raw log (a decimal number: ``0.5`` is twelve
  hours). Unset or 0: keep everything, as before.
- ``CHARGEWATCH_RAW_LOG_EXPORT_DIR`` — where the pruned rows go, one gzip JSON-lines file per UTC day (default
  ``raw-log-export`` in the working directory); ``off`` deletes without exporting.
- ``CHARGEWATCH_RAW_LOG_PRUNE_INTERVAL`` — seconds between prune rounds (default 300).
- ``CHARGEWATCH_RAW_LOG_PRUNE_BATCH`` — rows per batch, one short transaction each (default 1000).

Each round runs batches until one finds nothing more to prune, pausing between them so the gateway's group commits
go first; it runs in a thread (the event loop keeps serving chargers). Counted in
``chargewatch_raw_log_pruned_total``; a failing round is logged and retried next interval.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import Counter
from sqlalchemy import Engine

from ..store.retention import prune_batch

if TYPE_CHECKING:
    from ..runtime import Chargewatch

log = logging.getLogger(__name__)

DEFAULT_EXPORT_DIR = "raw-log-export"


@dataclass(frozen=True)
class RetentionSettings:
    retention: timedelta | None = None  # None: keep everything
    export_dir: Path | None = Path(DEFAULT_EXPORT_DIR)
    interval: float = 300.0
    batch: int = 1000
    pause: float = 0.05  # seconds between batches: ingest's commits go first


from ..settings import SettingError  # noqa: E402 - kept importable from here


def _number(env: Mapping[str, str], name: str, default: str) -> Decimal:
    raw = env.get(name, default).strip() or default
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise SettingError(f"{name}={raw!r}: not a number") from None
    if not value.is_finite() or value < 0:
        raise SettingError(f"{name}={raw!r}: must be 0 or more")
    return value


def settings_from_env(env: Mapping[str, str]) -> RetentionSettings:
    days = _number(env, "CHARGEWATCH_RAW_LOG_RETENTION_DAYS", "0")
    export = env.get("CHARGEWATCH_RAW_LOG_EXPORT_DIR", DEFAULT_EXPORT_DIR).strip() or DEFAULT_EXPORT_DIR
    batch = int(_number(env, "CHARGEWATCH_RAW_LOG_PRUNE_BATCH", "1000"))
    interval = float(_number(env, "CHARGEWATCH_RAW_LOG_PRUNE_INTERVAL", "300"))
    if batch < 1 or interval <= 0:
        raise SettingError("CHARGEWATCH_RAW_LOG_PRUNE_BATCH and _INTERVAL must be more than 0")
    return RetentionSettings(retention=timedelta(days=float(days)) if days > 0 else None,
                             export_dir=None if export.lower() == "off" else Path(export),
                             interval=interval, batch=batch)


class RawLogPruner:
    """Prune rounds on the server's loop; the database work of each batch in a worker thread."""

    def __init__(self, engine: Engine, settings: RetentionSettings, clock: Callable[[], datetime],
                 counter: Counter | None = None):
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.counter = counter
        self._task: asyncio.Task[None] | None = None

    async def prune_once(self) -> int:
        """One round: batches until the log holds nothing older than the retention; the rows deleted."""
        assert self.settings.retention is not None
        cutoff = self.clock() - self.settings.retention
        total = 0
        while True:
            result = await asyncio.to_thread(prune_batch, self.engine, cutoff, self.settings.export_dir,
                                             self.settings.batch)
            total += result.deleted
            if self.counter is not None and result.deleted:
                self.counter.inc(result.deleted)
            if not result.more:
                return total
            await asyncio.sleep(self.settings.pause)

    async def _run(self) -> None:
        while True:
            try:
                deleted = await self.prune_once()
                if deleted:
                    log.info("raw OCPP log: pruned %d messages older than %s%s", deleted, self.settings.retention,
                             f", exported to {self.settings.export_dir}" if self.settings.export_dir else "")
            except Exception:  # noqa: BLE001 - a round that fails (database away, disk full) is retried next time
                log.exception("raw OCPP log prune failed; retrying in %.0f s", self.settings.interval)
            await asyncio.sleep(self.settings.interval)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="raw-log-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


def install(cw: Chargewatch) -> None:
    settings = settings_from_env(os.environ)
    if settings.retention is None:
        return
    counter = Counter("chargewatch_raw_log_pruned", "raw OCPP log rows deleted by retention",
                      registry=cw.gateway.metrics.registry)
    pruner = RawLogPruner(cw.engine, settings, cw.gateway.now, counter)
    cw.app.state.raw_log_pruner = pruner
    cw.on_start(pruner.start)
    cw.on_stop(pruner.stop)
