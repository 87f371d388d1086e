"""One login throttle (issue 10, item 10): HTTP Basic on /api and the login form count together, per account and
client address, with a backoff that always ends (never a lock-out), kept in the database so every server on it
backs off together. The servers' clock is held still, so a backoff ends only when a test moves it on."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from chargewatch.api.auth import FREE_ATTEMPTS, backoff
from chargewatch.runtime import Chargewatch
from conftest import make_options
from web.conftest import ADMIN, add_operators

T0 = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _hold_clock(app: Chargewatch) -> list[datetime]:
    now = [T0]
    app.gateway.now = lambda: now[0]
    return now


def _client(app: Chargewatch, address: str = "127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.http_port}",
                             transport=httpx.AsyncHTTPTransport(local_address=address))


async def _wrong_basic(api: httpx.AsyncClient, times: int) -> list[int]:
    return [(await api.get("/api/v1/sessions", headers=_basic(ADMIN[0], "wrong-password"))).status_code
            for _ in range(times)]


async def _form_login(api: httpx.AsyncClient, password: str) -> httpx.Response:
    await api.get("/login")
    return await api.post("/login", data={"username": ADMIN[0], "password": password, "next": "/",
                                          "csrf_token": api.cookies["cw_login_csrf"]})


def test_the_backoff_starts_after_the_free_attempts_doubles_and_is_capped():
    assert [backoff(n, 5).total_seconds() for n in (1, 5, 6, 7, 8, 12)] == [0, 0, 1, 2, 4, 64]
    assert backoff(10_000, 5) == timedelta(minutes=5)


async def test_forty_wrong_basic_passwords_then_the_right_one_is_refused_until_the_backoff_ends(server):
    """The issue's probe: 40 wrong passwords over HTTP Basic, then the right one — was 200, now 429."""
    add_operators(server)
    now = _hold_clock(server)
    async with _client(server) as api:
        statuses = await _wrong_basic(api, 40)
        right = await api.get("/api/v1/sessions", headers=_basic(*ADMIN))
        assert statuses == [401] * (FREE_ATTEMPTS + 1) + [429] * (40 - FREE_ATTEMPTS - 1)
        assert right.status_code == 429 and right.headers["retry-after"] == "1"
        assert right.headers["content-type"] == "application/problem+json"
        now[0] += timedelta(seconds=1)
        assert (await api.get("/api/v1/sessions", headers=_basic(*ADMIN))).status_code == 200


async def test_a_backoff_holds_only_that_address_so_the_account_is_never_locked_out(server):
    add_operators(server)
    _hold_clock(server)
    async with _client(server, "127.0.0.1") as attacker, _client(server, "127.0.0.2") as operator:
        assert (await _wrong_basic(attacker, 10))[-1] == 429
        assert (await operator.get("/api/v1/sessions", headers=_basic(*ADMIN))).status_code == 200
        assert (await _form_login(operator, ADMIN[1])).status_code == 303


async def test_the_login_form_and_http_basic_share_one_count(server):
    add_operators(server)
    _hold_clock(server)
    async with _client(server) as api:
        for _ in range(FREE_ATTEMPTS + 1):
            assert (await _form_login(api, "wrong-password")).status_code == 401
        refused = await api.get("/api/v1/sessions", headers=_basic(*ADMIN))
        form = await _form_login(api, ADMIN[1])
    assert refused.status_code == 429
    assert form.status_code == 429 and "Try again in" in form.text and "cw_session" not in api.cookies


async def test_two_servers_on_one_database_back_off_together(db_url):
    first = Chargewatch(make_options(db_url))
    second = Chargewatch(make_options(db_url))
    await first.start()
    await second.start()
    try:
        add_operators(first)
        _hold_clock(first)
        _hold_clock(second)
        async with _client(first) as one, _client(second) as other:
            assert await _wrong_basic(one, FREE_ATTEMPTS + 1) == [401] * (FREE_ATTEMPTS + 1)
            assert (await other.get("/api/v1/sessions", headers=_basic(*ADMIN))).status_code == 429
    finally:
        await second.stop()
        await first.stop()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_right_password_clears_the_count_for_that_address(server):
    add_operators(server)
    _hold_clock(server)
    async with _client(server) as api:
        for _ in range(3):
            assert await _wrong_basic(api, FREE_ATTEMPTS) == [401] * FREE_ATTEMPTS
            assert (await api.get("/api/v1/sessions", headers=_basic(*ADMIN))).status_code == 200
