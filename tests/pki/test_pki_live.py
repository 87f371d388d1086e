"""Charger certificates over real WebSockets, for OCPP 1.6 (security whitepaper) and 2.0.1, on SQLite and
PostgreSQL: the signing flow from the operator's renew to CertificateSigned verified by the charger, refused CSRs,
install / list / delete with the charger's answers recorded."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509

from chargewatch.api.auth import put_operator
from chargewatch.gateway.transport import utcnow
from chargewatch.pki.authority import init_authority
from chargewatch.runtime import Chargewatch
from conftest import make_options
from pki.peers import CertCharger, make_csr, own_hash_data

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def ca_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "ca"
    init_authority(directory, "Test CPO CA", utcnow())
    return directory


@pytest.fixture
async def pki_server(db_url: str, ca_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Chargewatch]:
    monkeypatch.setenv("CHARGEWATCH_CA_DIR", str(ca_dir))
    app = Chargewatch(make_options(db_url, accept_unknown=True, command_timeout=5.0))
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


async def _charger(server: Chargewatch, version: str, **kw: Any) -> CertCharger:
    charger = CertCharger(f"ws://127.0.0.1:{server.ocpp_port}/ocpp", f"PKI-{uuid.uuid4().hex[:6]}", version, **kw)
    await charger.connect()
    await charger.boot()
    for _ in range(100):  # the gateway holds the charger's link once the handshake is through
        if charger.charger_id in server.gateway.links:
            break
        await asyncio.sleep(0.02)
    return charger


async def _operator(server: Chargewatch) -> httpx.AsyncClient:
    """A client logged in as an admin operator, as a browser after the login form."""
    with server.engine.begin() as connection:
        put_operator(connection, "pki-admin", "admin-password-1", "admin", utcnow())
    client = httpx.AsyncClient(base_url=server.http_base, timeout=20)
    await client.get("/login")
    response = await client.post("/login", data={"username": "pki-admin", "password": "admin-password-1",
                                                 "next": "/", "csrf_token": client.cookies["cw_login_csrf"]})
    assert response.status_code == 303, response.text
    return client


def _ca_pem(ca_dir: Path) -> str:
    return (ca_dir / "ca.pem").read_text()


async def _api(server: Chargewatch) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.http_base, timeout=20)


async def _install_ca(api: httpx.AsyncClient, charger: CertCharger, ca_dir: Path) -> dict[str, Any]:
    response = await api.post(f"/api/v1/chargers/{charger.charger_id}/certificates",
                              json={"certificate_type": "CSMSRootCertificate", "certificate": _ca_pem(ca_dir)})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_renew_signs_the_chargers_csr_and_it_verifies_the_chain(pki_server: Chargewatch, ca_dir: Path,
                                                                       ocpp_version: str) -> None:
    charger = await _charger(pki_server, ocpp_version)
    try:
        async with await _api(pki_server) as api:
            await _install_ca(api, charger, ca_dir)  # the charger trusts our CA first (as deployed)
            response = await api.post(f"/api/v1/chargers/{charger.charger_id}/certificates/renew", json={})
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["status"] == "answered" and body["response"]["status"] == "Accepted"
            assert body["sent_action"] == ("TriggerMessage" if charger.v201 else "ExtendedTriggerMessage")
            await asyncio.wait_for(charger.signed.wait(), 10)
            await pki_server.app.state.pki.idle()
            assert charger.signing_answers == ["Accepted"]
            assert charger.chain_problems == []
            assert charger.own_certificate is not None
            ca = x509.load_pem_x509_certificate(_ca_pem(ca_dir).encode())
            charger.own_certificate.verify_directly_issued_by(ca)
            listed = (await api.get(f"/api/v1/chargers/{charger.charger_id}/certificates")).json()
        request = listed["requests"][0]
        assert request["status"] == "delivered", request
        assert request["serial_number"] == f"{charger.own_certificate.serial_number:x}"
        own = [c for c in listed["items"] if c["source"] == "signed"]
        assert [c["certificate_type"] for c in own] == ["ChargingStationCertificate"]
        assert own[0]["serial_number"] == request["serial_number"]
        assert f"CN={charger.charger_id}" in own[0]["subject"]
        browser = await _operator(pki_server)  # the charger page shows it, with the renew button
        try:
            page = await browser.get(f"/stations/{charger.charger_id}")
        finally:
            await browser.aclose()
        assert page.status_code == 200, page.text
        section = page.text.split('id="station-certificates"', 1)[1].split("</section>", 1)[0]
        assert "ChargingStationCertificate" in section and request["serial_number"][:16] in section
        assert "delivered" in section
        assert f"/api/v1/chargers/{charger.charger_id}/certificates/renew" in section
    finally:
        await charger.close()


async def test_a_csr_with_another_cn_is_rejected_with_its_reason(pki_server: Chargewatch, ca_dir: Path,
                                                                 ocpp_version: str) -> None:
    charger = await _charger(pki_server, ocpp_version, csr_name="SOMEONE-ELSE")
    try:
        assert await charger.sign_certificate() == "Rejected"
        await pki_server.app.state.pki.idle()
        await asyncio.sleep(0.2)  # nothing may follow a rejection
        assert charger.signed_chains == []
        async with await _api(pki_server) as api:
            listed = (await api.get(f"/api/v1/chargers/{charger.charger_id}/certificates")).json()
        request = listed["requests"][0]
        assert request["status"] == "rejected"
        assert "commonName 'SOMEONE-ELSE' is not the charger's identity" in request["reason"]
        assert listed["items"] == []
    finally:
        await charger.close()


async def test_install_list_and_delete_follow_the_chargers_answers(pki_server: Chargewatch, ca_dir: Path,
                                                                   ocpp_version: str) -> None:
    charger = await _charger(pki_server, ocpp_version)
    other_root = init_authority(ca_dir.parent / "maker", "Maker Root", utcnow())[0].read_text()
    try:
        async with await _api(pki_server) as api:
            installed = await _install_ca(api, charger, ca_dir)
            assert installed["response"]["status"] == "Accepted"
            assert [c["source"] for c in installed["certificates"]] == ["installed"]
            response = await api.post(f"/api/v1/chargers/{charger.charger_id}/certificates", json={
                "certificate_type": "ManufacturerRootCertificate", "certificate": other_root})
            assert response.json()["response"]["status"] == "Accepted"
            ours = {c["certificate_type"]: c for c in response.json()["certificates"]}
            # the charger names them with its own code: the hashes agree with ours
            for kind, certificates in charger.installed.items():
                expected = own_hash_data(certificates[0])
                row = ours[kind]
                assert {"hashAlgorithm": row["hash_algorithm"], "issuerNameHash": row["issuer_name_hash"],
                        "issuerKeyHash": row["issuer_key_hash"], "serialNumber": row["serial_number"]} == expected
            # the charger loses the manufacturer root behind our back; a refresh notices
            charger.installed["ManufacturerRootCertificate"].clear()
            refreshed = (await api.post(f"/api/v1/chargers/{charger.charger_id}/certificates/refresh",
                                        json={})).json()
            assert refreshed["status"] == "answered"
            present = {c["certificate_type"]: c for c in refreshed["certificates"]}
            assert set(present) == {"CSMSRootCertificate"}
            assert present["CSMSRootCertificate"]["reported_at"] is not None
            assert present["CSMSRootCertificate"]["source"] == "installed"  # still known as ours
            deleted = await api.delete(
                f"/api/v1/chargers/{charger.charger_id}/certificates/{present['CSMSRootCertificate']['id']}")
            assert deleted.status_code == 200, deleted.text
            assert deleted.json()["response"]["status"] == "Accepted"
            assert deleted.json()["certificates"] == []
            assert charger.installed["CSMSRootCertificate"] == []
            history = (await api.get(f"/api/v1/chargers/{charger.charger_id}/certificates",
                                     params={"include_deleted": "true"})).json()["items"]
            assert sorted(c["deleted_at"] is not None for c in history) == [True, True]
            missing = await api.delete(f"/api/v1/chargers/{charger.charger_id}/certificates/999999")
            assert missing.status_code == 404
            bad = await api.post(f"/api/v1/chargers/{charger.charger_id}/certificates",
                                 json={"certificate_type": "CSMSRootCertificate", "certificate": "not a PEM"})
            assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "certificate"
    finally:
        await charger.close()


async def test_sign_certificate_frame_of_the_issue_is_handled_not_refused(pki_server: Chargewatch,
                                                                           ocpp_version: str) -> None:
    """Regression (issue 14, bug 1): a charger's SignCertificate was answered
    ``[4,"…","NotSupported","SignCertificate is sent by a central system, not to it",{}]``."""
    charger = await _charger(pki_server, ocpp_version)
    try:
        csr, _ = make_csr(charger.charger_id)
        payload: dict[str, Any] = {"csr": csr}
        if charger.v201:
            payload["certificateType"] = "ChargingStationCertificate"
        frame = json.dumps([2, "sign-1", "SignCertificate", payload])
        assert json.loads(frame)[2] == "SignCertificate"
        await charger._ws.send(frame)  # type: ignore[union-attr]
        await asyncio.wait_for(charger.signed.wait(), 10)  # the CertificateSigned that followed
        await pki_server.app.state.pki.idle()
        async with await _api(pki_server) as api:
            messages = (await api.get(f"/api/v1/chargers/{charger.charger_id}/messages")).json()
        answer = next(json.loads(m["payload"]) for m in messages
                      if m["direction"] == "out" and m["message_id"] == "sign-1")
        assert answer == [3, "sign-1", {"status": "Accepted"}]
        assert "NotSupported" not in json.dumps([m["payload"] for m in messages])
    finally:
        await charger.close()


async def test_without_a_ca_the_request_is_rejected(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CHARGEWATCH_CA_DIR", "CHARGEWATCH_CA_CERT", "CHARGEWATCH_CA_KEY"):
        monkeypatch.delenv(name, raising=False)
    server = Chargewatch(make_options(db_url, accept_unknown=True, command_timeout=5.0))
    await server.start()
    charger = await _charger(server, "ocpp2.0.1")
    try:
        assert await charger.sign_certificate() == "Rejected"
        await server.app.state.pki.idle()
        async with await _api(server) as api:
            listed = (await api.get(f"/api/v1/chargers/{charger.charger_id}/certificates")).json()
            authority = (await api.get("/api/v1/certificate-authority")).json()
        assert listed["requests"][0]["reason"] == "no operator CA is configured (chargewatch ca init)"
        assert authority == {"configured": False, "available": False, "subject": None, "common_name": None,
                             "not_after": None, "problem": None}
    finally:
        await charger.close()
        await server.stop()


async def test_15118_certificate_services_get_a_clear_refusal(pki_server: Chargewatch) -> None:
    charger = await _charger(pki_server, "ocpp2.0.1")
    try:
        from ocpp.v201 import call as call201

        answer = await charger._cp.call(call201.Get15118EVCertificate(
            iso15118_schema_version="urn:iso:15118:2:2013:MsgDef", action="Install", exi_request="AAAA"),
            suppress=False)
        assert answer.status == "Failed"
        assert answer.status_info["reason_code"] == "NotSupported"
        status = await charger._cp.call(call201.GetCertificateStatus(ocsp_request_data={
            "hash_algorithm": "SHA256", "issuer_name_hash": "a" * 64, "issuer_key_hash": "b" * 64,
            "serial_number": "1", "responder_url": "http://127.0.0.1/ocsp"}), suppress=False)
        assert status.status == "Failed"
    finally:
        await charger.close()


async def test_cli_lists_and_renews_through_the_api(pki_server: Chargewatch, ca_dir: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from chargewatch.cli import main

    charger = await _charger(pki_server, "ocpp1.6")
    api = ["--api", pki_server.http_base]
    try:
        (ca_dir / "root.pem").write_text(_ca_pem(ca_dir))
        code = await asyncio.to_thread(main, ["certificates", "install", charger.charger_id,
                                              str(ca_dir / "root.pem"), *api])
        assert code == 0
        assert await asyncio.to_thread(main, ["certificates", "renew", charger.charger_id, *api]) == 0
        await asyncio.wait_for(charger.signed.wait(), 10)
        await pki_server.app.state.pki.idle()
        capsys.readouterr()
        assert await asyncio.to_thread(main, ["certificates", "list", charger.charger_id, *api]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert {c["source"] for c in listed["items"]} == {"installed", "signed"}
        assert listed["requests"][0]["status"] == "delivered"
        assert await asyncio.to_thread(main, ["ca", "show", "--dir", str(ca_dir)]) == 0
        shown = capsys.readouterr().out
        assert "Test CPO CA" in shown and "PRIVATE" not in shown
    finally:
        await charger.close()


async def test_answers_to_certificate_commands_sent_otherwise_are_recorded_too(pki_server: Chargewatch,
                                                                                ca_dir: Path) -> None:
    """A GetInstalledCertificateIds sent by other code (the generic command API) updates the charger's list too."""
    charger = await _charger(pki_server, "ocpp1.6")
    try:
        async with await _api(pki_server) as api:
            await _install_ca(api, charger, ca_dir)
            charger.installed["CSMSRootCertificate"].clear()
            result = await pki_server.gateway.call(charger.charger_id, "GetInstalledCertificateIds",
                                                   {"certificateType": "CentralSystemRootCertificate"})
            assert result.response == {"status": "NotFound"}
            await pki_server.app.state.pki.idle()
            listed = (await api.get(f"/api/v1/chargers/{charger.charger_id}/certificates")).json()
        assert listed["items"] == []
    finally:
        await charger.close()
