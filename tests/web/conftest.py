"""What the dashboard tests share: operator accounts, a logged-in HTTP client, and a headless Chromium.

The browser tests drive Debian's Chromium through Playwright (never a downloaded browser). Without
/usr/bin/chromium they are skipped, except in CI, where a missing browser is a failure.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from argon2 import PasswordHasher

from chargewatch.api import auth
from chargewatch.api.auth import put_operator
from chargewatch.runtime import Chargewatch
from conftest import make_options

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ADMIN = ("ada", "admin-password-1")
VIEWER = ("vic", "viewer-password-1")


async def eventually(check: Any, timeout: float = 15.0) -> Any:
    """Await ``check()`` until it gives something truthy (a page updating live, a worker catching up)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def shot(page: Any, name: str) -> None:
    """A full-page screenshot of what the test sees, kept in artifacts/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def add_operators(app: Chargewatch) -> None:
    with app.engine.begin() as connection:
        put_operator(connection, *ADMIN, "admin", datetime.now(UTC))
        put_operator(connection, *VIEWER, "viewer", datetime.now(UTC))


async def logged_in(app: Chargewatch, who: tuple[str, str]) -> httpx.AsyncClient:
    """An HTTP client holding an operator session, as a browser would after the login form."""
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.http_port}")
    await client.get("/login")
    response = await client.post("/login", data={"username": who[0], "password": who[1], "next": "/",
                                                 "csrf_token": client.cookies["cw_login_csrf"]})
    assert response.status_code == 303, response.text
    return client


def csrf_of(html: str) -> str:
    marker = '<meta name="csrf-token" content="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


def require_chromium() -> None:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is required in CI (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); browser tests skipped")


@pytest.fixture(autouse=True, scope="module")
def fast_password_hashing() -> Iterator[None]:
    """Argon2 with small costs: the same code path, without 64 MiB and three passes per test login."""
    with pytest.MonkeyPatch.context() as patch:
        fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        patch.setattr(auth, "_hasher", fast)
        patch.setattr(auth, "_DUMMY_HASH", fast.hash("dummy"))
        yield


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Chargewatch]:
    """One server on SQLite per module, with an admin and a viewer account (the auth rules do not depend on
    the engine; the tests that touch the operator tables on both engines use the ``server`` fixture)."""
    cw = Chargewatch(make_options(f"sqlite:///{tmp_path_factory.mktemp('auth')}/chargewatch.db",
                                  accept_unknown=True))
    await cw.start()
    add_operators(cw)
    try:
        yield cw
    finally:
        await cw.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def admin_client(app: Chargewatch) -> AsyncIterator[httpx.AsyncClient]:
    client = await logged_in(app, ADMIN)
    yield client
    await client.aclose()
