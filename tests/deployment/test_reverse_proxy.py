"""The HAProxy configuration of docs/OPERATIONS.md, run for real in front of chargewatch (TLS terminated by HAProxy,
as for OCPP security profile 2): a charger's WebSocket upgrade, its subprotocol and its Basic credentials pass through,
and the operator API reached through the proxy needs a login even on a fresh install bound to loopback.

HAProxy is Debian's `haproxy` (``.ci/run`` installs it); the test skips without it outside CI."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import re
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from chargewatch.runtime import Chargewatch
from chargewatch.store.database import create_single_use_engine, migrate
from chargewatch.store.registry import register_charger
from conftest import make_options
from helpers import free_port

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "OPERATIONS.md"
HAPROXY = shutil.which("haproxy")


def _guide_config(ocpp_port: int, http_port: int, listen: int, pem: Path) -> str:
    """The guide's HAProxy example with this test's addresses in place of the operator's."""
    text = GUIDE.read_text(encoding="utf-8")
    config = re.search(r"```haproxy\n(.*?)```", text, re.S)
    assert config is not None, "docs/OPERATIONS.md lost its HAProxy example"
    body = config.group(1)
    assert "bind :443 ssl crt /etc/haproxy/csms.example.com.pem" in body
    body = body.replace("bind :443 ssl crt /etc/haproxy/csms.example.com.pem", f"bind 127.0.0.1:{listen} ssl crt {pem}")
    body = body.replace("server node1 127.0.0.1:9000", f"server node1 127.0.0.1:{ocpp_port}")
    body = body.replace("server node1 127.0.0.1:8080", f"server node1 127.0.0.1:{http_port}")
    return body


def _throwaway_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: HAProxy's PEM (certificate + key) and the CA file clients trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "csms.test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress")
                                                                             .ip_address("127.0.0.1"))]), False)
                   .sign(key, hashes.SHA256()))
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    (directory / "haproxy.pem").write_bytes(cert_pem + key_pem)
    (directory / "ca.pem").write_bytes(cert_pem)
    return directory / "haproxy.pem", directory / "ca.pem"


@pytest.fixture
async def proxied(sqlite_url: str, tmp_path: Path) -> AsyncIterator[tuple[Chargewatch, int, ssl.SSLContext]]:
    if HAPROXY is None:
        if os.environ.get("CI"):
            pytest.fail("haproxy is required in CI (apt-get install haproxy)")
        pytest.skip("haproxy not installed (apt-get install haproxy)")
    migrate(sqlite_url)
    engine = create_single_use_engine(sqlite_url)
    with engine.begin() as connection:
        register_charger(connection, "CP-PROXY", password="proxy-secret-0123", timezone="Europe/Berlin",
                         tariff_id=None, now=dt.datetime.now(dt.UTC))
    engine.dispose()
    app = Chargewatch(make_options(sqlite_url))
    await app.start()
    pem, ca = _throwaway_certificate(tmp_path)
    listen = free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(_guide_config(app.ocpp_port, app.http_port, listen, pem))
    check = subprocess.run([HAPROXY, "-c", "-f", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    proxy = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    trust = ssl.create_default_context(cafile=str(ca))
    try:
        for _ in range(100):  # until HAProxy listens
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", listen)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        yield app, listen, trust
    finally:
        proxy.terminate()
        proxy.wait(10)
        await app.stop()


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_a_charger_connects_through_the_guide_s_haproxy_with_tls_its_subprotocol_and_its_password(proxied):
    app, listen, trust = proxied
    url = f"wss://127.0.0.1:{listen}/ocpp/CP-PROXY"
    async with connect(url, ssl=trust, subprotocols=["ocpp2.0.1", "ocpp1.6"],  # type: ignore[list-item]
                       additional_headers=_basic("CP-PROXY", "proxy-secret-0123")) as charger:
        assert charger.subprotocol == "ocpp2.0.1", "the subprotocol came back through the proxy"
        await charger.send(json.dumps([2, "1", "BootNotification", {
            "reason": "PowerUp", "chargingStation": {"vendorName": "Proxy", "model": "P-1"}}]))
        answer = json.loads(await asyncio.wait_for(charger.recv(), 10))
        assert answer[:2] == [3, "1"] and answer[2]["status"] == "Accepted"
        assert "CP-PROXY" in app.gateway.links
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, ssl=trust, subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                           additional_headers=_basic("CP-PROXY", "wrong-password-000")):
            pass
    assert refused.value.response.status_code == 401, "the charger's credentials reach chargewatch unchanged"


async def test_the_operator_api_through_the_guide_s_haproxy_needs_a_login_on_a_fresh_loopback_install(proxied):
    app, listen, trust = proxied
    async with httpx.AsyncClient(verify=trust) as client:
        through_proxy = await client.get(f"https://127.0.0.1:{listen}/api/v1/sessions")
        health = await client.get(f"https://127.0.0.1:{listen}/healthz")
        direct = await client.get(f"http://127.0.0.1:{app.http_port}/api/v1/sessions")
    assert through_proxy.status_code == 401, "HAProxy's option forwardfor marks the request as from beyond loopback"
    assert health.status_code == 200
    assert direct.status_code == 200, "from this machine, without a proxy, the fresh install stays open as documented"
