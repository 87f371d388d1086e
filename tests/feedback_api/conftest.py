"""Fixtures: an HTTP client on the running server, and a SQLite-only server for engine-neutral behaviour."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from chargewatch.gateway.transport import GatewayConfig
from chargewatch.runtime import Chargewatch, ServerOptions
from helpers import http_url

from .charging import Charger, plug_in


def start_options(db_url: str) -> ServerOptions:
    return ServerOptions(db=db_url, host="127.0.0.1", ocpp_port=0, http_port=0,
                         gateway=GatewayConfig(accept_unknown=True, command_timeout=5.0))


@pytest.fixture
async def api(server: Chargewatch) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=http_url(server), timeout=10) as client:
        yield client


@pytest.fixture
async def sqlite_server(sqlite_url: str) -> AsyncIterator[Chargewatch]:
    """For behaviour that does not depend on the database engine: SQLite only, to keep the suite quick."""
    app = Chargewatch(start_options(sqlite_url))
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


@pytest.fixture
async def sqlite_api(sqlite_server: Chargewatch) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=http_url(sqlite_server), timeout=10) as client:
        yield client


Plug = Callable[[Chargewatch, str], Awaitable[Charger]]


@pytest.fixture
def plug(ocpp_version: str) -> Plug:
    """plug(server, charger_id) → a booted charger of the version the test runs for (1.6 and 2.0.1)."""
    return lambda server, charger_id: plug_in(server, charger_id, ocpp_version)
