"""Shared fixtures: a real database (SQLite file, or a fresh PostgreSQL database) and a running server."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest

from chargewatch.gateway.transport import GatewayConfig
from chargewatch.runtime import Chargewatch, ServerOptions

PG_ADMIN_URL = os.environ.get("CHARGEWATCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def pg_admin() -> str:
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and not reachable at {PG_ADMIN_URL}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL} (set CHARGEWATCH_TEST_PG)")
    return PG_ADMIN_URL


def _pg_database(admin_url: str) -> Iterator[str]:
    name = f"cw_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Every test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/chargewatch.db"
    else:
        yield from _pg_database(request.getfixturevalue("pg_admin"))


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite:///{tmp_path}/chargewatch.db"


@pytest.fixture
def pg_url(pg_admin: str) -> Iterator[str]:
    yield from _pg_database(pg_admin)


def make_options(db_url: str, **gateway: object) -> ServerOptions:
    return ServerOptions(db=db_url, host="127.0.0.1", ocpp_port=0, http_port=0,
                         gateway=GatewayConfig(**gateway))  # type: ignore[arg-type]


@pytest.fixture
async def server(db_url: str) -> AsyncIterator[Chargewatch]:
    """chargewatch serving on free loopback ports, accepting unknown chargers."""
    app = Chargewatch(make_options(db_url, accept_unknown=True, command_timeout=5.0))
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


@pytest.fixture(params=["ocpp1.6", "ocpp2.0.1"])
def ocpp_version(request: pytest.FixtureRequest) -> str:
    """Every test using this runs once with a 1.6 charger and once with a 2.0.1 station (peers/chargers.py)."""
    return str(request.param)
