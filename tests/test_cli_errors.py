"""Issue 15 item 12: the `chargewatch` command never answers a user error with a traceback. Each case runs the real
command in its own process (as an operator types it, no terminal) and checks the exit code, that the message says
what is wrong, and that no traceback reached stderr."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from chargewatch import cli
from chargewatch.cli_errors import UserError
from chargewatch.runtime import Chargewatch
from helpers import connect, free_port, http_url


def run(*args: str, stdin: str = "", env: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, "-m", "chargewatch.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})
    return done.returncode, done.stdout, done.stderr


async def run_async(*args: str) -> tuple[int, str, str]:
    """The command against a server running on this test's event loop (a blocking call would stall it)."""
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "chargewatch.cli", *args,
                                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                   stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def assert_refused(result: tuple[int, str, str], *words: str, code: int = 2) -> None:
    status, out, err = result
    assert "Traceback" not in err + out, err
    assert status == code, (status, out, err)
    for word in words:
        assert word in err, (word, err)


def test_a_charger_registered_again_is_updated_not_a_traceback(sqlite_url: str) -> None:
    assert run("chargers", "add", "CP-1", "--db", sqlite_url)[0] == 0
    status, out, err = run("chargers", "add", "CP-1", "--timezone", "Europe/Berlin", "--db", sqlite_url)
    assert status == 0 and "Traceback" not in err and out.startswith("updated CP-1 (timezone Europe/Berlin")
    assert f"database {sqlite_url} (--db)" in err, "the command says which database it used"


@pytest.mark.parametrize(("args", "words"), [
    (["chargers", "add", "CP/1"], ["argument id", "no slash"]),
    (["chargers", "add", "C" * 65], ["argument id", "1 to 64 characters"]),
    (["chargers", "add", "CP-T", "--tariff", "NO-SUCH"], ["no tariff 'NO-SUCH'"]),
    (["chargers", "add", "CP-T", "--timezone", "Mars/Olympus"], ["timezone", "IANA"]),
    (["id-tags", "add", "T-1", "--expiry", "tomorrow"], ["--expiry", "'tomorrow' is not a date"]),
    (["id-tags", "add", "T-1", "--expiry", "2026-12-31T23:59"], ["--expiry", "needs a UTC offset"]),
    (["id-tags", "add", "A" * 32], ["argument id_tag", "1 to 20 characters", "got 32"]),
    (["tariffs", "assign", "T-1", "--charger", "NO-SUCH"], ["charger 'NO-SUCH' does not exist"]),
    (["migrate", "--db", "nonsense://x"], ["not a database URL"]),
], ids=["slash", "long-id", "unknown-tariff", "time-zone", "expiry-word", "expiry-naive", "long-tag",
        "assign-unknown-charger", "bad-db-url"])
def test_invalid_input_is_a_usage_error_naming_it(sqlite_url: str, args: list[str], words: list[str]) -> None:
    assert_refused(run(*args, "--db", sqlite_url) if "--db" not in args else run(*args), *words)


def test_a_short_charger_password_is_refused(sqlite_url: str) -> None:
    assert_refused(run("chargers", "add", "CP-P", "--password-stdin", "--db", sqlite_url, stdin="short\n"),
                   "password", "8 to 64 characters")


def test_operators_add_without_a_terminal_says_to_use_password_stdin(sqlite_url: str) -> None:
    assert_refused(run("operators", "add", "dana", "--db", sqlite_url), "no terminal", "--password-stdin")


@pytest.mark.parametrize(("payload", "words"), [
    ("{bad", ["argument payload", "not JSON", "quote it for the shell"]),
    ("[1, 2]", ["argument payload", "a JSON object"]),
])
def test_command_refuses_a_payload_that_is_no_json_object(payload: str, words: list[str]) -> None:
    assert_refused(run("command", "CP-1", "Reset", payload), *words)


def test_command_lists_its_actions_and_refuses_others() -> None:
    status, out, _ = run("command", "--help")
    assert status == 0 and "RemoteStartTransaction" in out and "GetBaseReport" in out
    assert_refused(run("command", "CP-1", "Reboot"), "invalid choice: 'Reboot'", "Reset")


def test_an_unreachable_api_is_one_line_naming_it() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for args in (["incidents", "list"], ["uptime", "--year", "2026", "--month", "11"], ["command", "CP-1", "Reset"]):
        assert_refused(run(*args, "--api", url), f"cannot reach the chargewatch API at {url}", code=1)


def test_serve_with_its_ports_taken_says_which_and_exits(sqlite_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        free = free_port()
        for ocpp, http in ((busy, free), (free, busy)):
            assert_refused(run("serve", "--db", sqlite_url, "--ocpp-port", str(ocpp), "--http-port", str(http)),
                           f"{busy}", "address already in use", "--http-port", code=1)


def test_every_option_of_every_subcommand_has_help() -> None:
    missing: list[str] = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}")
            elif not isinstance(action, argparse._HelpAction) and not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    walk(cli.build_parser(), "chargewatch")
    assert missing == []


def test_a_subcommand_registered_by_another_module_gets_the_same_handler(monkeypatch, capsys) -> None:
    """Helpers add commands with register(subparsers); main's handler covers them without their own."""
    def register(subparsers: argparse._SubParsersAction) -> None:
        p = subparsers.add_parser("feature", help="a feature's command")
        p.add_argument("--fail", choices=["user", "os", "bug"], help="how it fails")
        p.set_defaults(func=lambda args: (_ for _ in ()).throw(
            {"user": UserError("feature: say what to fix"), "os": PermissionError(13, "Permission denied", "/x"),
             "bug": KeyError("oops")}[args.fail]))

    original = cli.build_parser

    def with_feature() -> argparse.ArgumentParser:
        parser = original()
        register(next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)))
        return parser

    monkeypatch.setattr(cli, "build_parser", with_feature)
    assert cli.main(["feature", "--fail", "user"]) == 2
    assert cli.main(["feature", "--fail", "os"]) == 1
    assert cli.main(["feature", "--fail", "bug"]) == 70
    err = capsys.readouterr().err
    assert "chargewatch: feature: say what to fix" in err and "Permission denied: /x" in err
    assert "this is a bug in chargewatch, run with -v for the traceback" in err and "Traceback" not in err


async def test_incidents_list_says_none_and_uptime_prints_a_table_json_or_csv(server: Chargewatch) -> None:
    cp = await connect(server, "CP-UP")
    await cp.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"})
    await cp.close()
    api = ["--api", http_url(server)]
    status, out, err = await run_async("incidents", "list", *api)
    assert status == 0 and out.strip() == "no incidents (active)" and "HTTP Request" not in err
    status, table, err = await run_async("uptime", "--year", "2026", "--month", "11", *api)
    assert status == 0 and "NEVI uptime 2026-11" in table and "CP-UP" in table and "12 months %" in table
    assert "HTTP Request" not in err, "no httpx INFO lines"
    status, raw, _ = await run_async("uptime", "--year", "2026", "--month", "11", "--json", *api)
    assert status == 0 and [p["charger_id"] for p in json.loads(raw)["ports"]] == ["CP-UP"]
    status, text, _ = await run_async("uptime", "--year", "2026", "--month", "11", "--csv", *api)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert status == 0 and rows and rows[0]["charger_id"] == "CP-UP"


async def test_command_to_an_offline_charger_exits_non_zero_saying_so(server: Chargewatch) -> None:
    status, out, err = await run_async("command", "CP-GONE", "Reset", '{"type": "Soft"}', "--api", http_url(server),
                                       "--timeout", "2")
    assert status == 1 and json.loads(out)["status"] == "offline"
    assert "CP-GONE did not answer: offline" in err and "Traceback" not in err


def test_replay_reports_progress_quietly_when_asked(sqlite_url: str, tmp_path: Path) -> None:
    status, out, err = run("replay", "--quiet", "--db", sqlite_url)
    assert status == 0 and out.startswith("replayed 0 messages") and "Traceback" not in err


@pytest.mark.parametrize(("variable", "value", "words"), [
    ("CHARGEWATCH_LOCAL_LIST_INTERVAL", "ten", ["CHARGEWATCH_LOCAL_LIST_INTERVAL='ten'", "not a number"]),
    ("CHARGEWATCH_UPLOAD_MAX_BYTES", "0", ["CHARGEWATCH_UPLOAD_MAX_BYTES='0'", "more than 0"]),
    ("CHARGEWATCH_FEEDBACK_EDIT_HOURS", "-1", ["CHARGEWATCH_FEEDBACK_EDIT_HOURS='-1'", "at least 0"]),
    ("CHARGEWATCH_MIN_SECURITY_PROFILE", "4", ["CHARGEWATCH_MIN_SECURITY_PROFILE=4", "0, 1, 2 or 3"]),
])
def test_a_malformed_setting_stops_serve_with_the_variable_named_not_a_traceback(sqlite_url, variable, value, words):
    """The settings the server reads at start: one line naming the variable, exit 2 (was a ValueError traceback, or
    for the security floor a crash of every command while the parser was built)."""
    assert_refused(run("serve", "--db", sqlite_url, "--ocpp-port", "0", "--http-port", "0", env={variable: value}),
                   *words)
