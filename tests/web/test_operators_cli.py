"""`chargewatch operators add`: the account a new installation logs in with."""

from __future__ import annotations

import io

from chargewatch.api.auth import OperatorAuth, Role
from chargewatch.cli import main
from chargewatch.store.database import create_single_use_engine


def test_operators_add_creates_an_account_that_can_log_in(sqlite_url, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    assert main(["operators", "add", "ada", "--role", "admin", "--password-stdin", "--db", sqlite_url]) == 0
    assert "operator ada: admin" in capsys.readouterr().out
    engine = create_single_use_engine(sqlite_url)
    auth = OperatorAuth(engine, b"secret", clock=lambda: None)  # type: ignore[arg-type, return-value]
    operator = auth.authenticate("ada", "a-long-password")
    assert operator is not None and operator.role is Role.ADMIN
    assert auth.authenticate("ada", "wrong-password") is None
    engine.dispose()


def test_operators_add_refuses_a_short_password(sqlite_url, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["operators", "add", "ada", "--password-stdin", "--db", sqlite_url]) == 2
    assert "password: at least 10 characters" in capsys.readouterr().err
