"""TLS on the OCPP port (issue 14): security profile 2 (TLS + Basic auth) and 3 (mutual TLS, the client
certificate's CN is the charge point id, chaining to the operator CA), each charger's profile recorded, downgrades
refused, and the certificate reloaded for new connections (what SIGHUP triggers). A throwaway CA is made in the test;
chargers are the `ocpp` library's over `websockets` on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidMessage, InvalidStatus

from chargewatch.gateway.tls import TlsConfig
from chargewatch.runtime import Chargewatch
from chargewatch.store.registry import register_charger
from conftest import make_options
from gateway.throwaway_pki import Issued, client_context, issue, make_ca
from helpers import http_url
from peers.chargers import LibraryCharger

PASSWORD = "tls-password-0123"


class Pki:
    def __init__(self, directory: Path):
        self.directory = directory
        self.ca = make_ca()
        self.ca_file, _ = self.ca.write(directory, "ca")
        self.server = issue(self.ca, "localhost", server=True)
        self.cert_file, self.key_file = self.server.write(directory, "server")

    def client(self, common_name: str, ca: Issued | None = None) -> tuple[str, str]:
        return issue(ca or self.ca, common_name).write(self.directory, f"client-{common_name}-{id(ca)}")

    def context(self, client: tuple[str, str] | None = None) -> ssl.SSLContext:
        return client_context(self.ca_file, client)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


@pytest.fixture
async def tls_app(db_url: str, pki: Pki):
    app = Chargewatch(make_options(db_url, tls=TlsConfig(pki.cert_file, pki.key_file, pki.ca_file)))
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


def wss(app: Chargewatch) -> str:
    return f"wss://127.0.0.1:{app.ocpp_port}/ocpp"


def register(app: Chargewatch, charger_id: str, password: str | None = PASSWORD) -> None:
    with app.engine.begin() as connection:
        register_charger(connection, charger_id, password=password, timezone="UTC", tariff_id=None,
                         now=app.gateway.now())


async def security(app: Chargewatch, charger_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=http_url(app)) as client:
        response = await client.get(f"/api/v1/chargers/{charger_id}/security")
    response.raise_for_status()
    return response.json()


async def handshake(url: str, charger_id: str, context: ssl.SSLContext | None, password: str | None = None,
                    version: str = "ocpp1.6") -> tuple[int, str]:
    """(HTTP status, body) of a handshake; 101 when let in."""
    headers = {}
    if password is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{charger_id}:{password}".encode()).decode()
    try:
        async with ws_connect(f"{url}/{charger_id}", subprotocols=[version],  # type: ignore[list-item]
                              additional_headers=headers, **({"ssl": context} if context else {})):
            return 101, ""
    except InvalidStatus as refused:
        return refused.response.status_code, refused.response.body.decode()


async def test_profile_2_tls_with_basic_auth(tls_app, pki, ocpp_version):
    register(tls_app, "TLS-P2")
    cp = LibraryCharger(wss(tls_app), "TLS-P2", version=ocpp_version, password=PASSWORD, ssl=pki.context())
    await cp.connect()
    try:
        reply = await cp.boot()
        assert reply.status == "Accepted"
        state = await security(tls_app, "TLS-P2")
        assert (state["security_profile"], state["connected_profile"]) == (2, 2)
    finally:
        await cp.close()
    assert (await handshake(wss(tls_app), "TLS-P2", pki.context(), "wrong-password-000"))[0] == 401
    assert (await handshake(wss(tls_app), "TLS-P2", pki.context()))[0] == 401  # TLS is no password


async def test_profile_3_client_certificate_whose_cn_is_the_charger(tls_app, pki, ocpp_version):
    register(tls_app, "TLS-P3", password=None)
    cp = LibraryCharger(wss(tls_app), "TLS-P3", version=ocpp_version, ssl=pki.context(pki.client("TLS-P3")))
    await cp.connect()
    try:
        assert (await cp.boot()).status == "Accepted"
        assert (await security(tls_app, "TLS-P3"))["security_profile"] == 3
    finally:
        await cp.close()


async def test_wrong_cn_foreign_ca_and_missing_client_certificate_are_refused(tls_app, pki):
    register(tls_app, "TLS-CN", password=None)
    status, body = await handshake(wss(tls_app), "TLS-CN", pki.context(pki.client("SOMEONE-ELSE")))
    assert status == 403 and "issued to 'SOMEONE-ELSE'" in body, body
    # The TLS handshake itself fails (with TLS 1.3 the client learns it only as the connection drops).
    with pytest.raises((ssl.SSLError, ConnectionError, OSError, InvalidMessage)):
        await handshake(wss(tls_app), "TLS-CN", pki.context(pki.client("TLS-CN", ca=make_ca("Rogue CA"))))
    async with httpx.AsyncClient(base_url=http_url(tls_app)) as client:  # the operator wants profile 3
        assert (await client.put("/api/v1/chargers/TLS-CN/security", json={"min_profile": 3})).status_code == 200
    status, body = await handshake(wss(tls_app), "TLS-CN", pki.context())
    assert status == 403 and "profile 3" in body, body
    assert (await handshake(wss(tls_app), "TLS-CN", pki.context(pki.client("TLS-CN"))))[0] == 101


async def test_a_charger_seen_on_profile_3_is_refused_on_profile_2_and_on_plain_ws(tls_app, pki, db_url):
    register(tls_app, "TLS-DOWN")
    assert (await handshake(wss(tls_app), "TLS-DOWN", pki.context(), PASSWORD))[0] == 101  # profile 2 first
    assert (await handshake(wss(tls_app), "TLS-DOWN", pki.context(pki.client("TLS-DOWN"))))[0] == 101
    state = await security(tls_app, "TLS-DOWN")
    assert (state["security_profile"], state["highest_profile"], state["required_profile"]) == (3, 3, 3)
    status, body = await handshake(wss(tls_app), "TLS-DOWN", pki.context(), PASSWORD)  # right password, profile 2
    assert status == 403 and "downgrade" in body, body
    plain = Chargewatch(make_options(db_url, node_id="plain-node"))  # a ws:// listener on the same database
    await plain.start()
    try:
        status, body = await handshake(f"ws://127.0.0.1:{plain.ocpp_port}/ocpp", "TLS-DOWN", None, PASSWORD)
        assert status == 403 and "security profile 1 refused" in body, body
    finally:
        await plain.stop()


def served_certificate(context: ssl.SSLContext, port: int) -> x509.Certificate:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


async def test_reload_serves_the_new_certificate_to_new_connections(tls_app, pki):
    import asyncio

    context = pki.context()
    first = await asyncio.to_thread(served_certificate, context, tls_app.ocpp_port)
    assert first.serial_number == pki.server.certificate.serial_number
    renewed = issue(pki.ca, "localhost", server=True)
    renewed.write(pki.directory, "server")  # the files are replaced in place, as certbot or an operator does
    assert tls_app.gateway.reload_tls() is True  # what SIGHUP calls in `chargewatch serve`
    second = await asyncio.to_thread(served_certificate, context, tls_app.ocpp_port)
    assert second.serial_number == renewed.certificate.serial_number != first.serial_number
    Path(pki.key_file).write_text("not a key")
    assert tls_app.gateway.reload_tls() is False  # refused: the renewed certificate keeps being served
    third = await asyncio.to_thread(served_certificate, context, tls_app.ocpp_port)
    assert third.serial_number == renewed.certificate.serial_number
    register(tls_app, "TLS-AFTER")
    assert (await handshake(wss(tls_app), "TLS-AFTER", context, PASSWORD))[0] == 101


def test_serve_takes_the_tls_files_from_the_environment_and_reloads_them_on_sighup(tmp_path, pki):
    """`chargewatch serve` as an operator runs it: wss:// from $CHARGEWATCH_TLS_*, kill -HUP after a renewal."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from helpers import free_port

    port = free_port()
    env = {**os.environ, "CHARGEWATCH_TLS_CERT": pki.cert_file, "CHARGEWATCH_TLS_KEY": pki.key_file,
           "CHARGEWATCH_DB": f"sqlite:///{tmp_path}/serve.db"}
    output = tmp_path / "serve.log"  # a file, not a pipe: nobody drains a pipe while the test waits
    with output.open("w") as log:
        serve = subprocess.Popen([sys.executable, "-m", "chargewatch.cli", "serve", "--ocpp-port", str(port),
                                  "--http-port", str(free_port())], env=env, stdout=log, stderr=subprocess.STDOUT,
                                 cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while "chargewatch: OCPP" not in output.read_text():
            assert serve.poll() is None and time.monotonic() < deadline, output.read_text()
            time.sleep(0.1)
        assert f"OCPP wss://127.0.0.1:{port}/ocpp/" in output.read_text()
        context = pki.context()
        assert served_certificate(context, port).serial_number == pki.server.certificate.serial_number
        renewed = issue(pki.ca, "localhost", server=True)
        renewed.write(pki.directory, "server")
        serve.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while served_certificate(context, port).serial_number != renewed.certificate.serial_number:
            assert time.monotonic() < deadline, "SIGHUP did not reload the certificate"
            time.sleep(0.1)
        assert serve.poll() is None  # SIGHUP reloads; it does not end the server
    finally:
        serve.terminate()
        serve.wait(20)
