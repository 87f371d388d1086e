"""Safe by default (issue 10, item 9): beyond loopback nothing is open without a login, and a server that nobody
could log in to does not start. The servers bind 0.0.0.0 as in the issue; every request goes to 127.0.0.1."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import httpx
import pytest

from chargewatch.api.auth import DEMO_PASSWORD, DEMO_USERNAME, is_loopback_only, put_operator
from chargewatch.gateway.transport import GatewayConfig
from chargewatch.runtime import Chargewatch, ServerOptions, UnsafeBind
from chargewatch.store.database import create_single_use_engine, migrate
from helpers import free_port
from web.conftest import ADMIN


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _everywhere(db_url: str) -> ServerOptions:
    return ServerOptions(db=db_url, host="0.0.0.0", ocpp_port=0, http_port=0,
                         gateway=GatewayConfig(accept_unknown=True))


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True),
                                                ("localhost", True), ("0.0.0.0", False), ("::", False),
                                                ("", False), ("192.0.2.10", False)])
def test_only_loopback_addresses_count_as_loopback(host, loopback):
    assert is_loopback_only(host) is loopback


async def test_serving_beyond_loopback_without_an_operator_account_does_not_start(sqlite_url):
    app = Chargewatch(_everywhere(sqlite_url))
    try:
        with pytest.raises(UnsafeBind, match="chargewatch operators add NAME --role admin"):
            await app.start()
        assert app.ocpp_port == 0 and app.http_port == 0, "nothing may be bound before the refusal"
    finally:
        app.engine.dispose()


def test_serve_host_0000_on_a_fresh_install_exits_with_how_to_create_an_account(tmp_path):
    """`chargewatch serve --host 0.0.0.0` with no operator account: exit 2 and say how to create one."""
    env = {**os.environ, "CHARGEWATCH_DB": f"sqlite:///{tmp_path}/fresh.db"}
    env.pop("CHARGEWATCH_API_LOGIN", None)
    done = subprocess.run([sys.executable, "-m", "chargewatch.cli", "serve", "--host", "0.0.0.0",
                           "--http-port", str(free_port()), "--ocpp-port", str(free_port())],
                          env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "chargewatch operators add NAME --role admin" in done.stderr
    assert "Traceback" not in done.stderr


async def test_beyond_loopback_the_operator_api_needs_a_login_from_the_first_request(db_url):
    """The issue's probe: GET sessions, POST chargers, a command — all 401 without a login, beyond loopback."""
    migrate(db_url)
    engine = create_single_use_engine(db_url)
    with engine.begin() as connection:
        put_operator(connection, *ADMIN, "admin", datetime.now(UTC))
    engine.dispose()
    app = Chargewatch(_everywhere(db_url))
    await app.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.http_port}") as api:
            sessions = await api.get("/api/v1/sessions")
            register = await api.post("/api/v1/chargers", json={"id": "CP-EVIL", "timezone": "UTC"})
            command = await api.post("/api/v1/chargers/CP-1/commands", json={"action": "Reset",
                                                                              "payload": {"type": "Hard"}})
            dashboard = await api.get("/")
            with_login = await api.get("/api/v1/sessions", headers=_basic(*ADMIN))
        assert (sessions.status_code, register.status_code, command.status_code) == (401, 401, 401)
        assert dashboard.status_code == 303 and dashboard.headers["location"].startswith("/login")
        assert with_login.status_code == 200
    finally:
        await app.stop()


def test_the_demo_beyond_loopback_does_not_take_the_well_known_password(tmp_path):
    """`chargewatch demo --host 0.0.0.0`: the admin gets a random password (printed once), the API needs it."""
    http_port, ocpp_port = free_port(), free_port()
    env = {**os.environ, "CHARGEWATCH_DB": f"sqlite:///{tmp_path}/demo.db"}
    env.pop("CHARGEWATCH_API_LOGIN", None)
    demo = subprocess.Popen([sys.executable, "-m", "chargewatch.cli", "demo", "--host", "0.0.0.0", "--chargers", "1",
                             "--http-port", str(http_port), "--ocpp-port", str(ocpp_port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        banner = ""
        deadline = time.monotonic() + 60
        assert demo.stdout is not None
        while time.monotonic() < deadline and "dashboard login:" not in banner:
            line = demo.stdout.readline()
            if not line:
                break
            banner = line if "dashboard login:" in line else banner
        assert "dashboard login:" in banner, "the demo printed no login"
        password = banner.split("dashboard login:", 1)[1].split("/", 1)[1].split()[0]
        assert password != DEMO_PASSWORD
        base = f"http://127.0.0.1:{http_port}"
        assert httpx.get(f"{base}/api/v1/sessions").status_code == 401
        assert httpx.get(f"{base}/api/v1/sessions", headers=_basic(DEMO_USERNAME, DEMO_PASSWORD)).status_code == 401
        assert httpx.get(f"{base}/api/v1/sessions", headers=_basic(DEMO_USERNAME, password)).status_code == 200
    finally:
        demo.terminate()
        demo.wait(10)


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-IP"])
async def test_behind_a_reverse_proxy_the_loopback_server_needs_a_login_even_before_the_first_account(
        sqlite_url, header):
    """A proxy in front of a server bound to 127.0.0.1 makes it reachable from anywhere: a request carrying a
    forwarding header is not from this machine, so the fresh install's loopback exemption does not apply to it."""
    app = Chargewatch(ServerOptions(db=sqlite_url, host="127.0.0.1", ocpp_port=0, http_port=0))
    await app.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.http_port}") as api:
            local = await api.get("/api/v1/sessions")
            value = "for=203.0.113.7" if header == "Forwarded" else "203.0.113.7"
            proxied = await api.get("/api/v1/sessions", headers={header: value})
            command = await api.post("/api/v1/chargers/CP-1/commands", headers={header: value},
                                     json={"action": "Reset", "payload": {"type": "Hard"}})
        assert local.status_code == 200, "no account yet, asked from this machine: open, as documented"
        assert (proxied.status_code, command.status_code) == (401, 401)
        assert proxied.json()["detail"].startswith("operator login required")
    finally:
        await app.stop()
