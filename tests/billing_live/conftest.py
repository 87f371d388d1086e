"""Fixtures of the live billing tests: an HTTP client on the running server, and one SQLite server per module.

The drivers' cards the sessions start with are in the id-tag directory (Accepted): a start the server refuses
is held for billing review, never invoiced, so a session meant to be billed must be an authorised one.

Behaviour that does not depend on the database engine shares a module's server (tests use their own
charger and tariff ids), which keeps the folder quick; the end-to-end tests run on both engines.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from billing_live.live_billing import accept_driver_cards
from chargewatch.runtime import Chargewatch
from conftest import make_options
from helpers import http_url


@pytest.fixture
def server(server: Chargewatch) -> Chargewatch:
    accept_driver_cards(server)
    return server


@pytest.fixture
async def api(server: Chargewatch) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=http_url(server), timeout=10) as client:
        yield client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Chargewatch]:
    url = f"sqlite:///{tmp_path_factory.mktemp('billing')}/chargewatch.db"
    app = Chargewatch(make_options(url, accept_unknown=True, command_timeout=5.0))
    await app.start()
    accept_driver_cards(app)
    try:
        yield app
    finally:
        await app.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_api(shared_server: Chargewatch) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=http_url(shared_server), timeout=10) as client:
        yield client
