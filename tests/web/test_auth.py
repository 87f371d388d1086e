"""Operator login: who may see the dashboard and the operator API, CSRF on every change, viewer is read-only."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime

import httpx
import pytest

from chargewatch.api.auth import AccountError, put_operator
from chargewatch.runtime import Chargewatch
from chargewatch.store.database import create_single_use_engine, migrate
from conftest import make_options
from web.conftest import ADMIN, VIEWER, add_operators, csrf_of, logged_in

shared_server = pytest.mark.asyncio(loop_scope="module")  # the tests on the module's `app`


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@shared_server
async def test_pages_send_a_visitor_without_a_session_to_the_login_form(app):
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.http_port}") as client:
        response = await client.get("/stations/CP-1?tab=x")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=%2Fstations%2FCP-1%3Ftab%3Dx"
        assert (await client.get("/login")).status_code == 200


async def test_an_operator_logs_in_sees_the_dashboard_and_logs_out(server):
    add_operators(server)
    client = await logged_in(server, ADMIN)
    page = await client.get("/")
    assert page.status_code == 200 and "Overview" in page.text and "ada" in page.text
    cookie = client.cookies["cw_session"]
    assert "HttpOnly" in (await _login_response(server, ADMIN)).headers["set-cookie"]
    logout = await client.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert logout.status_code == 303
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.http_port}",
                                 cookies={"cw_session": cookie}) as stale:
        assert (await stale.get("/")).status_code == 303, "a logged-out session must not open pages again"
    await client.aclose()


async def _login_response(app: Chargewatch, who: tuple[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.http_port}") as client:
        await client.get("/login")
        return await client.post("/login", data={"username": who[0], "password": who[1], "next": "/",
                                                 "csrf_token": client.cookies["cw_login_csrf"]})


@shared_server
async def test_a_wrong_password_opens_no_session(app):
    response = await _login_response(app, (ADMIN[0], "not-the-password"))
    assert response.status_code == 401 and "Wrong name or password" in response.text
    assert "cw_session" not in response.headers.get("set-cookie", "")
    unknown = await _login_response(app, ("nobody", "whatever-password"))
    assert unknown.status_code == 401 and "Wrong name or password" in unknown.text


@shared_server
async def test_the_login_form_needs_its_own_csrf_token(app):
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.http_port}") as client:
        response = await client.post("/login", data={"username": ADMIN[0], "password": ADMIN[1]})
        assert response.status_code == 401 and "cw_session" not in response.headers.get("set-cookie", "")


@shared_server
async def test_after_login_the_redirect_stays_on_this_site(app):
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.http_port}") as client:
        await client.get("/login")
        for target, expected in (("//evil.example/x", "/"), ("https://evil.example/", "/"),
                                 ("/incidents?status=open", "/incidents?status=open")):
            response = await client.post("/login", data={
                "username": ADMIN[0], "password": ADMIN[1], "next": target,
                "csrf_token": client.cookies["cw_login_csrf"]})
            assert response.headers["location"] == expected
            await client.get("/login")


async def test_the_operator_api_needs_a_login_once_an_operator_account_exists(server):
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.http_port}") as anonymous:
        assert (await anonymous.get("/api/v1/chargers")).status_code == 200, "no account yet: open as before"
        add_operators(server)
        assert (await anonymous.get("/api/v1/chargers")).status_code == 401
        assert (await anonymous.get("/api/v1/chargers", headers=_basic(*ADMIN))).status_code == 200
        assert (await anonymous.get("/api/v1/chargers", headers=_basic(ADMIN[0], "wrong"))).status_code == 401
        for public in ("/healthz", "/metrics", "/openapi.json", "/s/1-AAAAAAAAAAAAAAAAAAAAAA",
                       "/static/chargewatch.css"):
            assert (await anonymous.get(public)).status_code in (200, 404), public
            assert (await anonymous.get(public)).status_code != 401
    client = await logged_in(server, ADMIN)
    assert (await client.get("/api/v1/chargers")).status_code == 200
    await client.aclose()


@shared_server
async def test_a_change_from_the_browser_needs_the_pages_csrf_token(admin_client):
    body = {"id": "CP-NEW", "timezone": "Europe/Berlin"}
    refused = await admin_client.post("/api/v1/chargers", json=body)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    wrong = await admin_client.post("/api/v1/chargers", json=body, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    token = csrf_of((await admin_client.get("/")).text)
    accepted = await admin_client.post("/api/v1/chargers", json=body, headers={"X-CSRF-Token": token})
    assert accepted.status_code == 201


@shared_server
async def test_a_viewer_reads_everything_and_changes_nothing(app):
    viewer = await logged_in(app, VIEWER)
    page = await viewer.get("/")
    assert page.status_code == 200 and "viewer" in page.text
    assert (await viewer.get("/api/v1/sessions")).status_code == 200
    refused = await viewer.post("/api/v1/chargers", json={"id": "CP-V"}, headers={"X-CSRF-Token": csrf_of(page.text)})
    assert refused.status_code == 403 and "read-only" in refused.json()["detail"]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.http_port}") as machine:
        assert (await machine.post("/api/v1/chargers", json={"id": "CP-V"},
                                   headers=_basic(*VIEWER))).status_code == 403
    await viewer.aclose()


@shared_server
async def test_a_new_password_ends_the_accounts_open_sessions(app):
    with app.engine.begin() as connection:
        put_operator(connection, "pat", "first-password", "admin", datetime.now(UTC))
    client = await logged_in(app, ("pat", "first-password"))
    assert (await client.get("/")).status_code == 200
    with app.engine.begin() as connection:
        put_operator(connection, "pat", "a-brand-new-password", "admin", datetime.now(UTC))
    assert (await client.get("/")).status_code == 303
    await client.aclose()


async def test_api_login_off_leaves_the_operator_api_open_but_not_the_pages(sqlite_url, monkeypatch):
    monkeypatch.setenv("CHARGEWATCH_API_LOGIN", "off")
    app = Chargewatch(make_options(sqlite_url))
    await app.start()
    try:
        add_operators(app)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.http_port}") as anonymous:
            assert (await anonymous.get("/api/v1/chargers")).status_code == 200
            assert (await anonymous.get("/")).status_code == 303
    finally:
        await app.stop()


@pytest.mark.parametrize("bad", [("", "long-enough-pw", "admin"), ("ok", "short", "admin"),
                                 ("ok", "long-enough-pw", "root")])
def test_accounts_need_a_name_a_long_password_and_a_known_role(sqlite_url, bad):
    migrate(sqlite_url)
    engine = create_single_use_engine(sqlite_url)
    with pytest.raises(AccountError), engine.begin() as connection:
        put_operator(connection, *bad, datetime.now(UTC))
    engine.dispose()


async def test_an_incident_is_acknowledged_in_the_name_of_the_logged_in_operator(server):
    from helpers import boot, connect

    add_operators(server)
    cp = await connect(server, "CP-WHO")
    await cp.call("BootNotification", boot())
    await cp.call("StatusNotification", {"connectorId": 1, "status": "Faulted", "errorCode": "GroundFailure"})
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.http_port}", headers=_basic(*ADMIN)) as api:
        for _ in range(100):
            items = (await api.get("/api/v1/incidents", params={"charger_id": "CP-WHO"})).json()["items"]
            if items:
                break
            await asyncio.sleep(0.1)
        number = items[0]["number"]
        acknowledged = await api.post(f"/api/v1/incidents/{number}/acknowledge", json={"by": "somebody-else"})
    await cp.close()
    assert acknowledged.status_code == 200 and acknowledged.json()["acknowledged_by"] == ADMIN[0]
