"""The `chargewatch` command, in-process and as the demo a newcomer runs."""

import io
import os
import pty
import subprocess
import sys
import time
from select import select as select_fds

import httpx
from sqlalchemy import create_engine, select

from chargewatch.cli import main
from chargewatch.store import schema
from chargewatch.store.database import normalise_url
from chargewatch.store.passwords import PasswordCheck
from helpers import free_port


def _stored_password(sqlite_url: str) -> str | None:
    engine = create_engine(normalise_url(sqlite_url))
    with engine.connect() as connection:
        stored = connection.execute(select(schema.chargers.c.password_hash)).scalar()
    engine.dispose()
    return stored


def test_chargers_add_registers_with_a_hashed_password_read_from_stdin(sqlite_url, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("cli-secret-pw\n"))
    assert main(["chargers", "add", "CP-CLI", "--password-stdin", "--timezone", "Europe/Berlin",
                 "--db", sqlite_url]) == 0
    assert main(["chargers", "list", "--db", sqlite_url]) == 0
    assert "CP-CLI\tregistered\tEurope/Berlin" in capsys.readouterr().out
    stored = _stored_password(sqlite_url)
    assert stored is not None and stored.startswith("$argon2")
    assert PasswordCheck().verify("CP-CLI", stored, "cli-secret-pw")


def test_chargers_add_refuses_a_password_on_the_command_line(sqlite_url, capsys):
    """Issue 10 item 12: `chargers add --password P` put P in the process list; now it is refused, unechoed."""
    assert main(["chargers", "add", "CP-CLI", "--password", "cli-secret-pw", "--timezone", "Europe/Berlin",
                 "--db", sqlite_url]) == 2
    out = capsys.readouterr()
    assert "--password-stdin" in out.err and "cli-secret-pw" not in out.err + out.out
    assert main(["chargers", "list", "--db", sqlite_url]) == 0
    assert "CP-CLI" not in capsys.readouterr().out


def test_chargers_add_password_asks_on_the_terminal(sqlite_url):
    """`--password` without a value prompts on the controlling terminal (a real pseudo-terminal here)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal, as in an operator's shell
        os.execv(sys.executable, [sys.executable, "-m", "chargewatch.cli", "chargers", "add", "CP-TTY",
                                  "--password", "--db", sqlite_url])
    output = b""
    deadline = time.monotonic() + 60
    sent = False
    while time.monotonic() < deadline:
        ready, _, _ = select_fds([fd], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        if not sent and b"password for charger CP-TTY" in output:
            os.write(fd, b"tty-secret-pw\n")
            sent = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert sent, output
    assert os.waitstatus_to_exitcode(status) == 0, output
    assert b"tty-secret-pw" not in output, "the terminal must not echo the password"
    stored = _stored_password(sqlite_url)
    assert stored is not None and PasswordCheck().verify("CP-TTY", stored, "tty-secret-pw")


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
        # The demo fleet is mixed: DEMO-00004 speaks OCPP 2.0.1, and its TransactionEvent session shows energy too.
        deadline = time.monotonic() + 30
        v201: list[dict] = []
        while time.monotonic() < deadline and not v201:
            items = httpx.get(f"http://127.0.0.1:{http_port}/api/v1/sessions",
                              params={"charger_id": "DEMO-00004"}).json()["items"]
            v201 = [s for s in items if s["energy_wh"] > 0]
            time.sleep(0 if v201 else 1)
        assert v201, "no 2.0.1 (DEMO-00004) session with energy within a further 30 s"
        charger = httpx.get(f"http://127.0.0.1:{http_port}/api/v1/chargers/DEMO-00004").json()
        assert charger["ocpp_version"] == "ocpp2.0.1"
    finally:
        demo.terminate()
        demo.wait(10)


def test_sites_support_sets_a_helpline_that_the_site_list_shows(sqlite_url, capsys):
    assert main(["sites", "support", "BER-1", "--helpline", "+49 30 1234567", "--hours", "Mon-Fri 08:00-20:00",
                 "--languages", "de,en", "--db", sqlite_url]) == 0
    assert main(["sites", "list", "--db", sqlite_url]) == 0
    assert "BER-1\t+49 30 1234567\tMon-Fri 08:00-20:00\tde,en\tchat" in capsys.readouterr().out


def test_sites_support_refuses_a_helpline_that_is_no_phone_number(sqlite_url, capsys):
    assert main(["sites", "support", "BER-1", "--helpline", "ring us", "--hours", "24/7", "--db", sqlite_url]) == 2
    assert "helpline:" in capsys.readouterr().err
