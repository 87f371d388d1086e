"""Retention of the raw OCPP log (``ocpp_messages``): rows older than the retention are written to a day file and then
deleted, a bounded batch per transaction, oldest first.

- **Bounded batches.** One batch reads the ``batch`` oldest rows by primary key (no index on ``at`` is needed, and
  none is added to the hottest table of ingest), keeps the leading ones older than the cutoff, exports and deletes
  them by id in one short transaction. The gateway's group commits interleave between batches, so SQLite's single
  writer is held for milliseconds, not for the whole prune.
- **Export before delete.** Each pruned row is one JSON line (``id, charger_id, at, direction, message_type,
  message_id, action, protocol, node_id, payload``) appended to ``ocpp-messages-YYYY-MM-DD.jsonl.gz`` (the UTC day
  of ``at``) in the export directory, flushed to disk before the DELETE commits. A gzip file appended to is a
  series of gzip members, which ``gzip``/``zcat`` read as one stream. A crash between the two writes exports the
  batch again next time: lines carry the row ``id`` to deduplicate by. No directory: rows are deleted unexported.
- **Oldest first, by id.** Ids rise with logging order; the prune stops at the first row within the retention, so
  a late-logged older row waits for the next batch past it rather than being deleted out of order.

The derived tables (sessions, readings, invoices…) are kept: after a prune, `chargewatch replay` could rebuild only
what the remaining log holds, so each prune records its cutoff (``settings.raw_log_pruned_before``) and the replay
command refuses to run over a pruned log without ``--allow-loss``.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select

from . import schema
from .upsert import upsert

EXPORT_PATTERN = "ocpp-messages-{day}.jsonl.gz"
PRUNED_KEY = "raw_log_pruned_before"


@dataclass(frozen=True)
class PruneBatch:
    deleted: int
    files: tuple[Path, ...] = ()
    more: bool = False  # another batch may find rows to prune: this one stopped at its size, not at a kept row


def _line(row: Any) -> str:
    return json.dumps({"id": row.id, "charger_id": row.charger_id, "at": row.at.isoformat(),
                       "direction": row.direction, "message_type": row.message_type, "message_id": row.message_id,
                       "action": row.action, "protocol": row.protocol, "node_id": row.node_id,
                       "payload": row.payload}, ensure_ascii=False, separators=(",", ":"))


def _export(rows: list[Any], directory: Path) -> tuple[Path, ...]:
    directory.mkdir(parents=True, exist_ok=True)
    by_day: dict[str, list[str]] = {}
    for row in rows:
        by_day.setdefault(row.at.date().isoformat(), []).append(_line(row))
    written = []
    for day, lines in sorted(by_day.items()):
        path = directory / EXPORT_PATTERN.format(day=day)
        with open(path, "ab") as raw:
            with gzip.GzipFile(fileobj=raw, mode="ab") as archive:
                archive.write(("\n".join(lines) + "\n").encode())
            raw.flush()
            os.fsync(raw.fileno())
        written.append(path)
    return tuple(written)


def prune_batch(engine: Engine, cutoff: datetime, export_dir: Path | None, batch: int = 1000) -> PruneBatch:
    """Export and delete up to ``batch`` of the oldest raw-log rows logged before ``cutoff``."""
    m = schema.ocpp_messages
    with engine.begin() as connection:
        rows = connection.execute(select(m).order_by(m.c.id).limit(batch)).all()
        prunable: list[Any] = []
        kept_at = None
        for row in rows:
            if row.at >= cutoff:
                kept_at = row.at
                break
            prunable.append(row)
        if not prunable:
            return PruneBatch(0)
        files = _export(prunable, export_dir) if export_dir is not None else ()
        connection.execute(delete(m).where(m.c.id.in_([row.id for row in prunable])))
        upsert(connection, schema.settings, {"key": PRUNED_KEY, "value": cutoff.isoformat()}, ["key"])
    return PruneBatch(len(prunable), files, more=kept_at is None and len(rows) == batch)


def prunable_count(connection: Connection, cutoff: datetime) -> int:
    """How many rows are older than the cutoff (an estimate of the work, for a progress bar)."""
    m = schema.ocpp_messages
    return int(connection.execute(select(func.count()).select_from(m).where(m.c.at < cutoff)).scalar_one())


def pruned_before(connection: Connection) -> datetime | None:
    """The cutoff of the latest prune (kept in ``settings``), or None if the raw log was never pruned: then a
    replay from it would lose the sessions older than that."""
    value = connection.execute(select(schema.settings.c.value).where(schema.settings.c.key == PRUNED_KEY)).scalar()
    return datetime.fromisoformat(value) if value else None
