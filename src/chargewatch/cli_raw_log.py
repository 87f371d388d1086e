"""`chargewatch raw-log prune`: the retention of the running server's background prune, once, now, with progress
(for a first prune of a large log, or a server run without the setting)."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .cli_errors import UserError


def _days(value: str) -> Decimal:
    try:
        days = Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of days") from None
    if not days.is_finite() or days <= 0:
        raise argparse.ArgumentTypeError(f"more than 0 days, got {value}")
    return days


def cmd_prune(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from .cli import _engine
    from .store.retention import prunable_count, prune_batch
    from .workers.retention import SettingError, settings_from_env

    try:
        settings = settings_from_env(os.environ)
    except SettingError as error:
        raise UserError(str(error)) from None
    if args.days is None and settings.retention is None:
        raise UserError("give --days N (or set CHARGEWATCH_RAW_LOG_RETENTION_DAYS)")
    retention = timedelta(days=float(args.days)) if args.days is not None else settings.retention
    assert retention is not None
    export_dir = None if args.no_export else Path(args.export_dir) if args.export_dir else settings.export_dir
    cutoff = datetime.now(UTC) - retention
    engine = _engine(args)
    with engine.connect() as connection:
        total = prunable_count(connection, cutoff)
    files: set[Path] = set()
    deleted = 0
    with Progress(TextColumn("pruning the raw OCPP log"), BarColumn(), MofNCompleteColumn(), transient=True,
                  disable=args.quiet) as progress:
        task = progress.add_task("prune", total=total)
        while True:
            result = prune_batch(engine, cutoff, export_dir, args.batch)
            deleted += result.deleted
            files.update(result.files)
            progress.update(task, completed=deleted)
            if not result.more:
                break
    where = f", exported to {export_dir} ({len(files)} day file(s))" if export_dir is not None else ", not exported"
    print(f"pruned {deleted} messages logged before {cutoff.isoformat(timespec='seconds')}{where}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    raw = sub.add_parser("raw-log", help="the raw OCPP log: retention").add_subparsers(dest="action", required=True)
    p = raw.add_parser("prune", help="export and delete raw OCPP messages older than the retention",
                       description="Delete raw OCPP messages older than --days (default "
                                   "$CHARGEWATCH_RAW_LOG_RETENTION_DAYS), writing each to a gzip JSON-lines file per "
                                   "UTC day first. Sessions, readings and invoices are kept; `replay` can rebuild "
                                   "only what the remaining log holds.")
    p.add_argument("--days", type=_days, help="keep this many days (decimal: 0.5 is 12 hours)")
    export = p.add_mutually_exclusive_group()
    export.add_argument("--export-dir", help="where the day files go (default $CHARGEWATCH_RAW_LOG_EXPORT_DIR or "
                                             "./raw-log-export)")
    export.add_argument("--no-export", action="store_true", help="delete without exporting")
    p.add_argument("--batch", type=int, default=1000, help="rows per transaction (default 1000)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--db", help="database URL (sqlite:///path or postgresql://…); default $CHARGEWATCH_DB, else "
                                "sqlite:///chargewatch.db")
    p.set_defaults(func=cmd_prune)
