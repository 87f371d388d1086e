"""The `chargewatch` command, in-process and as the demo a newcomer runs."""

import os
import subprocess
import sys
import time

import httpx
from sqlalchemy import create_engine, select

from chargewatch.cli import main
from chargewatch.store import schema
from chargewatch.store.database import normalise_url
from helpers import free_port


def test_chargers_add_registers_with_a_hashed_password(sqlite_url, capsys):
    assert main(["chargers", "add", "CP-CLI", "--password", "cli-secret-pw", "--timezone", "Europe/Berlin",
                 "--db", sqlite_url]) == 0
    assert main(["chargers", "list", "--db", sqlite_url]) == 0
    assert "CP-CLI\tregistered\tEurope/Berlin" in capsys.readouterr().out
    engine = create_engine(normalise_url(sqlite_url))
    with engine.connect() as connection:
        stored = connection.execute(select(schema.chargers.c.password_hash)).scalar()
    assert stored.startswith("$argon2")


def test_chargers_add_rejects_an_unknown_time_zone(sqlite_url, capsys):
    assert main(["chargers", "add", "CP-X", "--timezone", "Europe/Atlantis", "--db", sqlite_url]) == 2
    assert "timezone" in capsys.readouterr().err


def test_id_tags_add_and_replay_on_an_empty_log(sqlite_url, capsys):
    assert main(["id-tags", "add", "RFID-9", "--status", "Blocked", "--db", sqlite_url]) == 0
    assert main(["replay", "--db", sqlite_url]) == 0
    assert "replayed 0 messages" in capsys.readouterr().out


def test_demo_shows_sessions_with_energy_within_30_seconds(tmp_path):
    http_port, ocpp_port = free_port(), free_port()
    env = {**os.environ, "CHARGEWATCH_DB": f"sqlite:///{tmp_path}/demo.db"}
    demo = subprocess.Popen([sys.executable, "-m", "chargewatch.cli", "demo", "--chargers", "5",
                             "--http-port", str(http_port), "--ocpp-port", str(ocpp_port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        energetic = []
        while time.monotonic() < deadline and not energetic:
            time.sleep(1)
            try:
                items = httpx.get(f"http://127.0.0.1:{http_port}/api/v1/sessions").json()["items"]
            except httpx.HTTPError:
                continue
            energetic = [s for s in items if s["energy_wh"] > 0]
        assert energetic, "no session with energy within 30 s"
    finally:
        demo.terminate()
        demo.wait(10)
