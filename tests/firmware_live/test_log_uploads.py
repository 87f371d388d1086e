"""Diagnostics and logs uploaded to chargewatch itself, on SQLite and PostgreSQL: the `ocpp` library's 1.6 charge
point gets GetDiagnostics (or the security extension's GetLog), the 2.0.1 station GetLog, each with an upload URL
of this server; the charger really uploads over HTTP on loopback (PUT of the file, or multipart POST), the file is
stored with its SHA-256 and listed on the charger's page for logged-in operators. A wrong token is 403, a file over
the limit 413."""

from __future__ import annotations

import hashlib
import os

import httpx

from faults_live.live import eventually
from firmware_live.peers import DIAGNOSTICS_FILE, FirmwareCharger
from helpers import http_url, ocpp_url
from web.conftest import ADMIN, add_operators, csrf_of, fast_password_hashing, logged_in

__all__ = ["fast_password_hashing"]  # the fixture makes test logins cheap


async def test_diagnostics_and_logs_are_uploaded_here_stored_with_their_sha256_and_listed(server):
    app = server
    cp16 = FirmwareCharger(ocpp_url(app), "LOG-16", version="ocpp1.6")
    cp201 = FirmwareCharger(ocpp_url(app), "LOG-201", version="ocpp2.0.1")
    for cp in (cp16, cp201):
        await cp.connect()
        await cp.boot()
    diagnostics = os.urandom(3000) + b"diagnostics of LOG-16"
    try:
        async with httpx.AsyncClient(base_url=http_url(app), timeout=20) as api:
            response = await api.post("/api/v1/chargers/LOG-16/logs", json={
                "oldest": "2026-12-01T00:00:00Z", "latest": "2026-12-02T00:00:00Z", "retries": 2})
            assert response.status_code == 201, response.text
            request = response.json()
            location = request["location"]
            assert location.startswith(f"{http_url(app)}/upload/") and location.endswith("/")
            assert (request["sent_action"], request["state"], request["file_name"]) == (
                "GetDiagnostics", "accepted", DIAGNOSTICS_FILE)
            assert cp16.requests("GetDiagnostics") == [("GetDiagnostics", {
                "location": location, "startTime": "2026-12-01T00:00:00.000Z",
                "stopTime": "2026-12-02T00:00:00.000Z", "retries": 2})]

            await cp16.log_status("Uploading")
            uploaded = await cp16.upload(location, diagnostics, DIAGNOSTICS_FILE, multipart=False)
            assert uploaded.status_code == 201, uploaded.text
            assert uploaded.json()["sha256"] == hashlib.sha256(diagnostics).hexdigest()
            await cp16.log_status("Uploaded")

            [listed] = (await api.get("/api/v1/chargers/LOG-16/logs")).json()
            assert (listed["state"], listed["last_status"]) == ("received", "Uploaded")
            [file] = listed["uploads"]
            assert (file["file_name"], file["size"], file["sha256"]) == (
                DIAGNOSTICS_FILE, len(diagnostics), hashlib.sha256(diagnostics).hexdigest())
            assert "token_sha256" not in listed

            wrong = location.replace("/upload/", "/upload/x")
            assert (await cp16.upload(wrong, b"junk", "x.zip", multipart=False)).status_code == 403
            assert (await cp16.upload(wrong, b"junk", "x.zip", multipart=True)).status_code == 403
            app.app.state.firmware.settings.upload_max_bytes = 1024
            assert (await cp16.upload(location, os.urandom(2048), "big.zip", multipart=False)).status_code == 413
            assert (await cp16.upload(location, os.urandom(2048), "big.zip", multipart=True)).status_code == 413
            app.app.state.firmware.settings.upload_max_bytes = 50 * 1024 * 1024
            [listed] = (await api.get("/api/v1/chargers/LOG-16/logs")).json()
            assert len(listed["uploads"]) == 1, "refused uploads store nothing"

            # The 1.6 security extension's GetLog, asked for a security log.
            response = await api.post("/api/v1/chargers/LOG-16/logs", json={"log_type": "SecurityLog"})
            assert response.status_code == 201, response.text
            security = response.json()
            [(_, sent)] = cp16.requests("GetLog")
            assert sent == {"logType": "SecurityLog", "requestId": security["id"],
                            "log": {"remoteLocation": security["location"]}}
            await cp16.log_status("UploadFailure", security["id"])
            states = {r["id"]: r["state"] for r in (await api.get("/api/v1/chargers/LOG-16/logs")).json()}
            assert states[security["id"]] == "failed"

        # Once operators exist, the API needs a login; the charger's upload URL still works (its token is the key).
        add_operators(app)
        client = await logged_in(app, ADMIN)
        try:
            page = await client.get("/stations/LOG-201")
            csrf = csrf_of(page.text)
            response = await client.post("/api/v1/chargers/LOG-201/logs", json={"log_type": "DiagnosticsLog"},
                                         headers={"X-CSRF-Token": csrf})
            assert response.status_code == 201, response.text
            request = response.json()
            [(_, sent)] = cp201.requests("GetLog")
            assert sent == {"logType": "DiagnosticsLog", "requestId": request["id"],
                            "log": {"remoteLocation": request["location"]}}
            station_log = b"2026-12-02T10:00:00Z boot\n" * 50
            await cp201.log_status("Uploading", request["id"])
            uploaded = await cp201.upload(request["location"], station_log, "station.log", multipart=True)
            assert uploaded.status_code == 201, uploaded.text
            await cp201.log_status("Uploaded", request["id"])

            [listed] = (await client.get("/api/v1/chargers/LOG-201/logs")).json()
            [file] = listed["uploads"]
            assert (listed["state"], file["file_name"], file["sha256"]) == (
                "received", "station.log", hashlib.sha256(station_log).hexdigest())

            page = await client.get("/stations/LOG-201")
            assert page.status_code == 200
            assert f'href="/api/v1/logs/uploads/{file["id"]}"' in page.text and "station.log" in page.text
            downloaded = await client.get(f"/api/v1/logs/uploads/{file['id']}")
            assert downloaded.status_code == 200 and downloaded.content == station_log
            assert downloaded.headers["x-content-sha256"] == file["sha256"]

            async with httpx.AsyncClient(base_url=http_url(app), timeout=20) as anonymous:
                assert (await anonymous.get(f"/api/v1/logs/uploads/{file['id']}")).status_code == 401

            page16 = await client.get("/stations/LOG-16")
            assert DIAGNOSTICS_FILE in page16.text

            offline = await client.post("/api/v1/chargers/NOPE/logs", json={}, headers={"X-CSRF-Token": csrf})
            assert offline.status_code == 404
        finally:
            await client.aclose()
    finally:
        for cp in (cp16, cp201):
            await cp.close()


async def test_a_log_request_to_a_charger_that_is_not_connected_is_refused(server):
    app = server
    cp = FirmwareCharger(ocpp_url(app), "LOG-GONE", version="ocpp1.6")
    await cp.connect()
    await cp.boot()
    await cp.close()
    async with httpx.AsyncClient(base_url=http_url(app), timeout=20) as api:
        async def gone() -> bool:
            return "LOG-GONE" not in app.gateway.links

        await eventually(gone)
        response = await api.post("/api/v1/chargers/LOG-GONE/logs", json={})
        assert response.status_code == 409, response.text
        assert response.json()["errors"][0]["field"] == "charger_id"
