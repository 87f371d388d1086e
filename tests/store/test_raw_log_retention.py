"""Issue 15 item 13: raw OCPP log retention. Rows older than the retention are exported (gzip JSON lines per UTC
day) and then deleted, oldest first, in bounded batches; the running server does it in the background while chargers
keep being answered; a pruned log is not replayed without --allow-loss. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import gzip
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from chargewatch.runtime import Chargewatch
from chargewatch.store import schema
from chargewatch.store.database import create_single_use_engine, migrate
from chargewatch.store.retention import prune_batch, pruned_before
from chargewatch.workers.retention import SettingError, settings_from_env
from conftest import make_options
from helpers import connect

NOW = datetime.now(UTC).replace(microsecond=0)


def _frame(n: int) -> str:
    return json.dumps([2, f"m{n}", "Heartbeat", {}])


def _log(engine, ats: list[datetime], charger: str = "CP-OLD") -> list[int]:  # type: ignore[no-untyped-def]
    m = schema.ocpp_messages
    with engine.begin() as connection:
        return [connection.execute(insert(m).values(
            charger_id=charger, at=at, direction="in", message_type=2, message_id=f"m{n}", action="Heartbeat",
            payload=_frame(n), protocol="ocpp1.6").returning(m.c.id)).scalar_one() for n, at in enumerate(ats)]


def _ids(engine) -> list[int]:  # type: ignore[no-untyped-def]
    m = schema.ocpp_messages
    with engine.connect() as connection:
        return list(connection.execute(select(m.c.id).order_by(m.c.id)).scalars())


def _exported(directory: Path) -> dict[str, list[dict[str, object]]]:
    return {path.name: [json.loads(line) for line in gzip.open(path, "rt")]
            for path in sorted(directory.glob("*.jsonl.gz"))}


@pytest.fixture
def engine(db_url: str):  # type: ignore[no-untyped-def]
    migrate(db_url)
    engine = create_single_use_engine(db_url)
    yield engine
    engine.dispose()


def test_rows_older_than_the_cutoff_are_exported_per_day_then_deleted(engine, tmp_path: Path) -> None:
    day1, day2 = datetime(2026, 3, 1, 23, 59, tzinfo=UTC), datetime(2026, 3, 2, 0, 1, tzinfo=UTC)
    ids = _log(engine, [day1, day1, day2, NOW - timedelta(hours=1), NOW])
    result = prune_batch(engine, NOW - timedelta(days=1), tmp_path, batch=100)
    assert result.deleted == 3 and not result.more
    assert _ids(engine) == ids[3:], "what is within the retention stays"
    exported = _exported(tmp_path)
    assert list(exported) == ["ocpp-messages-2026-03-01.jsonl.gz", "ocpp-messages-2026-03-02.jsonl.gz"]
    assert [line["id"] for line in exported["ocpp-messages-2026-03-01.jsonl.gz"]] == ids[:2]
    line = exported["ocpp-messages-2026-03-02.jsonl.gz"][0]
    assert (line["charger_id"], line["direction"], line["action"], line["payload"]) == (
        "CP-OLD", "in", "Heartbeat", _frame(2))
    assert datetime.fromisoformat(str(line["at"])) == day2
    with engine.connect() as connection:
        assert pruned_before(connection) == NOW - timedelta(days=1)


def test_batches_are_bounded_and_append_to_the_same_day_file(engine, tmp_path: Path) -> None:
    old = datetime(2026, 1, 5, 12, tzinfo=UTC)
    ids = _log(engine, [old + timedelta(seconds=n) for n in range(7)])
    batches = []
    for _ in range(10):  # bounded
        result = prune_batch(engine, NOW, tmp_path, batch=3)
        batches.append(result.deleted)
        if not result.more:
            break
    assert batches == [3, 3, 1]
    assert [line["id"] for line in _exported(tmp_path)["ocpp-messages-2026-01-05.jsonl.gz"]] == ids
    assert _ids(engine) == []


def test_the_prune_stops_at_the_first_row_within_the_retention(engine, tmp_path: Path) -> None:
    """Oldest first by id: a row logged late with an older time waits rather than being deleted out of order."""
    old, recent = datetime(2026, 1, 1, tzinfo=UTC), NOW
    ids = _log(engine, [old, recent, old])
    assert prune_batch(engine, NOW - timedelta(days=1), tmp_path, batch=10).deleted == 1
    assert _ids(engine) == ids[1:]


def test_without_an_export_directory_rows_are_deleted_only(engine, tmp_path: Path) -> None:
    _log(engine, [datetime(2026, 1, 1, tzinfo=UTC)])
    assert prune_batch(engine, NOW, None).deleted == 1
    assert _ids(engine) == [] and not list(tmp_path.rglob("*.jsonl.gz"))


def test_settings_come_from_the_environment() -> None:
    assert settings_from_env({}).retention is None, "unset: keep everything"
    settings = settings_from_env({"CHARGEWATCH_RAW_LOG_RETENTION_DAYS": "0.5", "CHARGEWATCH_RAW_LOG_EXPORT_DIR": "off",
                                  "CHARGEWATCH_RAW_LOG_PRUNE_BATCH": "200"})
    assert (settings.retention, settings.export_dir, settings.batch) == (timedelta(hours=12), None, 200)
    for bad in ({"CHARGEWATCH_RAW_LOG_RETENTION_DAYS": "a week"}, {"CHARGEWATCH_RAW_LOG_RETENTION_DAYS": "-1"},
                {"CHARGEWATCH_RAW_LOG_PRUNE_BATCH": "0"}):
        with pytest.raises(SettingError):
            settings_from_env(bad)


async def test_the_server_prunes_in_the_background_while_chargers_are_answered(db_url: str, tmp_path: Path,
                                                                               monkeypatch) -> None:
    migrate(db_url)
    engine = create_single_use_engine(db_url)
    old = NOW - timedelta(days=40)
    m = schema.ocpp_messages
    with engine.begin() as connection:
        connection.execute(insert(m), [{"charger_id": "CP-OLD", "at": old + timedelta(seconds=n), "direction": "in",
                                        "message_type": 2, "message_id": f"m{n}", "action": "Heartbeat",
                                        "payload": _frame(n), "protocol": "ocpp1.6"} for n in range(3000)])
    engine.dispose()
    monkeypatch.setenv("CHARGEWATCH_RAW_LOG_RETENTION_DAYS", "30")
    monkeypatch.setenv("CHARGEWATCH_RAW_LOG_EXPORT_DIR", str(tmp_path / "export"))
    monkeypatch.setenv("CHARGEWATCH_RAW_LOG_PRUNE_BATCH", "250")
    monkeypatch.setenv("CHARGEWATCH_RAW_LOG_PRUNE_INTERVAL", "0.2")
    app = Chargewatch(make_options(db_url, accept_unknown=True))
    await app.start()
    try:
        cp = await connect(app, "CP-LIVE")
        slowest = 0.0
        remaining = -1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            began = time.monotonic()
            await cp.call("Heartbeat", {})
            slowest = max(slowest, time.monotonic() - began)
            with app.engine.connect() as connection:
                remaining = connection.execute(select(func.count()).select_from(m).where(m.c.at < NOW)).scalar_one()
            if remaining == 0:
                break
            await asyncio.sleep(0.05)
        await cp.close()
        with app.engine.connect() as connection:
            live = connection.execute(select(func.count()).select_from(m).where(m.c.charger_id == "CP-LIVE")).scalar()
    finally:
        await app.stop()
    assert remaining == 0, "the background prune did not finish within 60 s"
    assert live and live >= 2, "the live charger's messages are kept"
    exported = _exported(tmp_path / "export")
    assert sum(len(lines) for lines in exported.values()) == 3000
    assert slowest < 5, f"a heartbeat waited {slowest:.1f} s during the prune"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "chargewatch.cli", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def test_cli_prunes_with_an_export_and_replay_then_asks_before_losing_history(sqlite_url: str,
                                                                            tmp_path: Path) -> None:
    migrate(sqlite_url)
    engine = create_single_use_engine(sqlite_url)
    _log(engine, [NOW - timedelta(days=10), NOW - timedelta(days=9), NOW])
    engine.dispose()
    assert _cli("replay", "--quiet", "--db", sqlite_url).returncode == 0, "an unpruned log replays"
    done = _cli("raw-log", "prune", "--days", "7", "--export-dir", str(tmp_path / "x"), "--quiet", "--db", sqlite_url)
    assert done.returncode == 0 and done.stdout.startswith("pruned 2 messages logged before"), done.stderr
    assert "2 day file(s)" in done.stdout and len(list((tmp_path / "x").glob("*.jsonl.gz"))) == 2
    refused = _cli("replay", "--quiet", "--db", sqlite_url)
    assert refused.returncode == 2 and "was pruned" in refused.stderr and "--allow-loss" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _cli("replay", "--quiet", "--allow-loss", "--db", sqlite_url).returncode == 0
    unset = _cli("raw-log", "prune", "--db", sqlite_url, env={"CHARGEWATCH_RAW_LOG_RETENTION_DAYS": ""})
    assert unset.returncode == 2 and "--days" in unset.stderr and "Traceback" not in unset.stderr
