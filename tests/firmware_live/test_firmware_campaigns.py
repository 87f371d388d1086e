"""Firmware campaigns over real WebSockets with the `ocpp` library's 1.6 and 2.0.1 charge points, on SQLite and
PostgreSQL: each charger gets its version's request (1.6 UpdateFirmware or SignedUpdateFirmware, 2.0.1
UpdateFirmware with a requestId), its progress reports move it through the campaign, a reboot with the expected
version confirms the install, and a failure (its report, its refusal, no progress in time) is an incident."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx

from chargewatch.runtime import Chargewatch
from chargewatch.store.registry import register_charger
from faults_live.live import eventually
from firmware_live.peers import FirmwareCharger
from helpers import http_url, ocpp_url

FIRMWARE_URL = "https://firmware.example/acme/2.0.0.bin"
RETRIEVE_AT = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
# A placeholder PEM (the charger checks it; chargewatch passes it on as given).
CERTIFICATE = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUfirmware\n-----END CERTIFICATE-----\n"
SIGNATURE = "MEUCIQDfirmwaresignaturebase64=="


async def chargers(app: Chargewatch, *specs: tuple[str, str]) -> list[FirmwareCharger]:
    connected = []
    for charger_id, version in specs:
        cp = FirmwareCharger(ocpp_url(app), charger_id, version=version)
        await cp.connect()
        await cp.boot()
        connected.append(cp)
    return connected


async def campaign(api: httpx.AsyncClient, campaign_id: int) -> dict[str, Any]:
    response = await api.get(f"/api/v1/firmware/campaigns/{campaign_id}")
    assert response.status_code == 200, response.text
    return response.json()


def phases(found: dict[str, Any]) -> dict[str, str]:
    return {t["charger_id"]: t["phase"] for t in found["targets"]}


async def firmware_incidents(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await api.get("/api/v1/incidents", params={"limit": 100})
    assert response.status_code == 200, response.text
    return sorted((i["charger_id"], i["code"]) for i in response.json()["items"] if i["kind"] == "firmware_failed")


async def test_campaign_over_three_chargers_installs_two_and_the_failed_download_is_an_incident(server):
    app = server
    a16, b201, c16 = await chargers(app, ("FW-A16", "ocpp1.6"), ("FW-B201", "ocpp2.0.1"), ("FW-C16", "ocpp1.6"))
    try:
        async with httpx.AsyncClient(base_url=http_url(app), timeout=20) as api:
            response = await api.post("/api/v1/firmware/campaigns", json={
                "name": "ACME 2.0.0", "charger_ids": ["FW-A16", "FW-B201", "FW-C16"], "location": FIRMWARE_URL,
                "retrieve_at": "2026-12-03T02:00:00Z", "retries": 3, "retry_interval": 60,
                "expected_version": "2.0.0"})
            assert response.status_code == 201, response.text
            started = response.json()
            campaign_id, ids = started["id"], {t["charger_id"]: t["id"] for t in started["targets"]}
            assert started["summary"]["total"] == 3 and started["summary"]["sent"] == 3, started["summary"]

            [(action, sent16)] = a16.requests("UpdateFirmware", "SignedUpdateFirmware")
            assert (action, sent16) == ("UpdateFirmware", {"location": FIRMWARE_URL,
                                                           "retrieveDate": "2026-12-03T02:00:00.000Z",
                                                           "retries": 3, "retryInterval": 60})
            [(action, sent201)] = b201.requests("UpdateFirmware")
            assert action == "UpdateFirmware" and sent201 == {
                "requestId": ids["FW-B201"], "retries": 3, "retryInterval": 60,
                "firmware": {"location": FIRMWARE_URL, "retrieveDateTime": "2026-12-03T02:00:00.000Z"}}

            # 1.6 Core reports name no request; 2.0.1 reports carry the requestId.
            await a16.firmware_status("Downloading")
            await b201.firmware_status("Downloading", ids["FW-B201"])
            await c16.firmware_status("Downloading")
            summary = (await campaign(api, campaign_id))["summary"]
            assert (summary["downloading"], summary["sent"]) == (3, 0), summary

            for status in ("Downloaded", "Installing", "Installed"):
                await a16.firmware_status(status)
            await a16.reboot("2.0.0")
            for status in ("Downloaded", "SignatureVerified", "InstallRebooting"):
                await b201.firmware_status(status, ids["FW-B201"])
            await b201.reboot("2.0.0")
            await b201.firmware_status("Installed", ids["FW-B201"])
            await c16.firmware_status("DownloadFailed")

            async def settled() -> dict[str, Any]:
                found = await campaign(api, campaign_id)
                return found if found["summary"]["confirmed"] == 2 else {}

            found = await eventually(settled)
            assert phases(found) == {"FW-A16": "installed", "FW-B201": "installed", "FW-C16": "failed"}
            assert {k: v for k, v in found["summary"].items() if v} == {
                "total": 3, "installed": 2, "failed": 1, "confirmed": 2, "finished": True}
            failed = next(t for t in found["targets"] if t["charger_id"] == "FW-C16")
            assert (failed["reason"], failed["last_status"]) == ("DownloadFailed", "DownloadFailed")
            assert {t["booted_version"] for t in found["targets"] if t["confirmed"]} == {"2.0.0"}

            async def incident() -> list[Any]:
                return await firmware_incidents(api)

            assert await eventually(incident) == [("FW-C16", "DownloadFailed")]

            listed = (await api.get("/api/v1/firmware/campaigns")).json()
            assert listed[0]["id"] == campaign_id and listed[0]["summary"]["failed"] == 1
            history = (await api.get("/api/v1/chargers/FW-B201/firmware")).json()
            assert [s["status"] for s in reversed(history["statuses"])] == [
                "Downloading", "Downloaded", "SignatureVerified", "InstallRebooting", "Installed"]
            assert {s["request_id"] for s in history["statuses"]} == {ids["FW-B201"]}
            charger = (await api.get("/api/v1/chargers/FW-A16")).json()
            assert charger["firmware_version"] == "2.0.0"
    finally:
        for cp in (a16, b201, c16):
            await cp.close()


async def test_signed_campaign_invalid_signature_and_silence_are_incidents_and_an_offline_charger_gets_it_later(
        server):
    app = server
    d16, e201 = await chargers(app, ("FW-D16", "ocpp1.6"), ("FW-E201", "ocpp2.0.1"))
    with app.engine.begin() as connection:  # a charger that is not connected now
        register_charger(connection, "FW-F16", password=None, timezone="UTC", tariff_id=None,
                         now=datetime.now(UTC))
    worker = app.app.state.firmware
    f16 = FirmwareCharger(ocpp_url(app), "FW-F16", version="ocpp1.6")
    try:
        async with httpx.AsyncClient(base_url=http_url(app), timeout=20) as api:
            response = await api.post("/api/v1/firmware/campaigns", json={
                "charger_ids": ["FW-D16", "FW-E201", "FW-F16"], "location": FIRMWARE_URL,
                "retrieve_at": "2026-12-03T02:00:00Z", "install_at": "2026-12-03T03:00:00Z",
                "signing_certificate": CERTIFICATE, "signature": SIGNATURE, "timeout_seconds": 1})
            assert response.status_code == 201, response.text
            started = response.json()
            assert started["signed"] is True
            ids = {t["charger_id"]: t["id"] for t in started["targets"]}
            assert phases(started) == {"FW-D16": "sent", "FW-E201": "sent", "FW-F16": "pending"}

            firmware = {"location": FIRMWARE_URL, "retrieveDateTime": "2026-12-03T02:00:00.000Z",
                        "installDateTime": "2026-12-03T03:00:00.000Z", "signingCertificate": CERTIFICATE,
                        "signature": SIGNATURE}
            assert d16.requests("UpdateFirmware", "SignedUpdateFirmware") == [
                ("SignedUpdateFirmware", {"requestId": ids["FW-D16"], "firmware": firmware})]
            assert e201.requests("UpdateFirmware") == [
                ("UpdateFirmware", {"requestId": ids["FW-E201"], "firmware": firmware})]

            await d16.firmware_status("Downloaded", ids["FW-D16"])
            await d16.firmware_status("InvalidSignature", ids["FW-D16"])
            await e201.firmware_status("Downloading", ids["FW-E201"])

            await f16.connect()  # back online: its update goes out after its boot
            await f16.boot()

            async def sent_to_f() -> list[Any]:
                return f16.requests("SignedUpdateFirmware")

            [(_, to_f)] = await eventually(sent_to_f)
            assert to_f["requestId"] == ids["FW-F16"]
            await f16.firmware_status("Downloading", ids["FW-F16"])
            await f16.firmware_status("Installed", ids["FW-F16"])

            # No word from FW-E201 within the campaign's timeout (one second).
            await asyncio.sleep(1.2)
            await worker.tick()
            found = await campaign(api, started["id"])
            assert phases(found) == {"FW-D16": "failed", "FW-E201": "failed", "FW-F16": "installed"}
            reasons = {t["charger_id"]: t["reason"] for t in found["targets"]}
            assert reasons == {"FW-D16": "InvalidSignature", "FW-E201": "Timeout(downloading)", "FW-F16": None}
            summary = found["summary"]
            assert (summary["installed"], summary["failed"], summary["confirmed"]) == (1, 2, 0), summary

            async def both() -> list[Any]:
                found = await firmware_incidents(api)
                return found if len(found) == 2 else []

            assert await eventually(both) == [("FW-D16", "InvalidSignature"), ("FW-E201", "Timeout(downloading)")]
    finally:
        for cp in (d16, e201, f16):
            await cp.close()


async def test_a_refused_update_fails_at_once_and_a_campaign_needs_its_chargers(server):
    app = server
    station = FirmwareCharger(ocpp_url(app), "FW-G201", version="ocpp2.0.1", refuse_firmware="InvalidCertificate")
    await station.connect()
    await station.boot()
    try:
        async with httpx.AsyncClient(base_url=http_url(app), timeout=20) as api:
            response = await api.post("/api/v1/firmware/campaigns", json={
                "charger_ids": ["FW-G201"], "location": FIRMWARE_URL, "retrieve_at": "2026-12-03T02:00:00Z",
                "signing_certificate": CERTIFICATE, "signature": SIGNATURE})
            assert response.status_code == 201, response.text
            [target] = response.json()["targets"]
            assert (target["phase"], target["reason"]) == ("failed", "InvalidCertificate")

            async def incident() -> list[Any]:
                return await firmware_incidents(api)

            assert await eventually(incident) == [("FW-G201", "InvalidCertificate")]

            for body, field in (
                    ({"charger_ids": ["NOPE"], "location": FIRMWARE_URL, "retrieve_at": "2026-12-03T02:00:00Z"},
                     "charger_ids"),
                    ({"site_id": "nowhere", "location": FIRMWARE_URL, "retrieve_at": "2026-12-03T02:00:00Z"},
                     "site_id"),
                    ({"location": FIRMWARE_URL, "retrieve_at": "2026-12-03T02:00:00Z"}, "charger_ids"),
                    ({"charger_ids": ["FW-G201"], "location": FIRMWARE_URL, "retrieve_at": "2026-12-03T02:00:00Z",
                      "signature": SIGNATURE}, "signature")):
                refused = await api.post("/api/v1/firmware/campaigns", json=body)
                assert refused.status_code == 422, refused.text
                assert refused.json()["errors"][0]["field"] == field
            assert (await api.get("/api/v1/firmware/campaigns/999999")).status_code == 404
    finally:
        await station.close()
