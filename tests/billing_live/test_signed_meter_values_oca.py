"""Signed meter values in the OCA application note's shape for OCPP 1.6, end to end over a real WebSocket.

"Signed Meter Values in OCPP 1.6" (OCA): the sampledValue of format SignedData holds a JSON object, as
a string, with signedMeterData (base64 of the OCMF document), signingMethod, encodingMethod and an
optional publicKey. Sent once by the `ocpp` PyPI library as the charge point and once as scripted raw
frames; on SQLite and PostgreSQL. A key the charger sends is compared with the registered one.
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import json
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

import httpx
from ocpp.v16 import ChargePoint, call
from pypdf import PdfReader
from websockets.asyncio.client import connect as ws_connect

from billing_live.live_billing import ensure_tariff, wait_for_bill
from chargewatch.sim.ocmf import OcmfSigner
from helpers import T0, ocpp_url, ts

METER_START, METER_STOP = 2_000_000, 2_007_400
STOP_AT = 45  # minutes after T0


class LibraryConnection:
    """Adapts a websockets client connection to the interface the ocpp library expects."""

    def __init__(self, websocket: Any) -> None:
        self._ws = websocket

    async def recv(self) -> str:
        return await self._ws.recv()

    async def send(self, message: str) -> None:
        await self._ws.send(message)


def signed(signer: OcmfSigner, register_wh: int, minutes: float, transaction: str) -> dict[str, str]:
    moment = datetime.fromisoformat(ts(minutes).replace("Z", "+00:00"))
    return signer.signed_value(register_wh=register_wh, at=moment, transaction=transaction, id_tag="OCA-TAG")


async def prepare(api: httpx.AsyncClient, charger_id: str, key: str | None) -> None:
    await ensure_tariff(api)
    assert (await api.put("/api/v1/tariff-assignments", json={"tariff_id": "TOU-IDLE"})).status_code == 200
    assert (await api.put("/api/v1/id-tags/OCA-TAG", json={"id_tag": "OCA-TAG", "status": "Accepted"})).status_code \
        == 200
    response = await api.post("/api/v1/chargers", json={"id": charger_id, "timezone": "Europe/Berlin"})
    assert response.status_code in (200, 201), response.text
    if key is not None:
        response = await api.put(f"/api/v1/chargers/{charger_id}/ocmf-key", json={"public_key": key})
        assert response.status_code == 200, response.text


async def session_from_library(server: Any, charger_id: str, signer: OcmfSigner) -> int:
    """The `ocpp` library's charge point: start, a Transaction.Begin signed value, stop with the signed end."""
    async with ws_connect(f"{ocpp_url(server)}/{charger_id}", subprotocols=["ocpp1.6"]) as ws:
        cp = ChargePoint(charger_id, LibraryConnection(ws))
        listener = asyncio.create_task(cp.start())
        try:
            await cp.call(call.BootNotification(charge_point_model="EICH-22", charge_point_vendor="mobilityhouse"))
            start = await cp.call(call.StartTransaction(connector_id=1, id_tag="OCA-TAG", meter_start=METER_START,
                                                        timestamp=ts(0)))
            tx = start.transaction_id
            await cp.call(call.MeterValues(connector_id=1, transaction_id=tx, meter_value=[
                {"timestamp": ts(0), "sampledValue": [signed(signer, METER_START, 0, "B")]}]))
            await cp.call(call.MeterValues(connector_id=1, transaction_id=tx, meter_value=[
                {"timestamp": ts(30), "sampledValue": [
                    {"value": str(METER_STOP), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                    {"value": "14800", "measurand": "Power.Active.Import", "unit": "W"}]}]))
            await cp.call(call.StopTransaction(
                meter_stop=METER_STOP, timestamp=ts(STOP_AT), transaction_id=tx, reason="EVDisconnected",
                id_tag="OCA-TAG", transaction_data=[
                    {"timestamp": ts(STOP_AT), "sampledValue": [signed(signer, METER_STOP, STOP_AT, "E")]}]))
        finally:
            listener.cancel()
    return int(tx)


async def session_from_raw_frames(server: Any, charger_id: str, signer: OcmfSigner) -> int:
    """The same session as scripted OCPP-J frames, the signed values in StartTransaction's follow-up and the stop."""
    ids = itertools.count(1)

    async def call_raw(ws: Any, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        message_id = f"raw-{next(ids)}"
        await ws.send(json.dumps([2, message_id, action, payload]))
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if frame[0] == 2:  # a call from the server (e.g. GetConfiguration): answer it empty
                await ws.send(json.dumps([4, frame[1], "NotSupported", "", {}]))
                continue
            assert frame[:2] == [3, message_id], frame
            return dict(frame[2])

    async with ws_connect(f"{ocpp_url(server)}/{charger_id}", subprotocols=["ocpp1.6"]) as ws:
        await call_raw(ws, "BootNotification", {"chargePointVendor": "RAW", "chargePointModel": "EICH-RAW"})
        start = await call_raw(ws, "StartTransaction", {"connectorId": 1, "idTag": "OCA-TAG",
                                                        "meterStart": METER_START, "timestamp": ts(0)})
        tx = int(start["transactionId"])
        await call_raw(ws, "MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [
            {"timestamp": ts(0), "sampledValue": [signed(signer, METER_START, 0, "B")]}]})
        await call_raw(ws, "MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [
            {"timestamp": ts(30), "sampledValue": [
                {"value": str(METER_STOP), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]})
        await call_raw(ws, "StopTransaction", {
            "transactionId": tx, "idTag": "OCA-TAG", "meterStop": METER_STOP, "timestamp": ts(STOP_AT),
            "reason": "EVDisconnected",
            "transactionData": [{"timestamp": ts(STOP_AT), "sampledValue": [signed(signer, METER_STOP, STOP_AT,
                                                                                     "E")]}]})
    return tx


async def test_an_oca_signed_session_from_the_ocpp_library_is_valid_and_its_invoice_carries_the_signed_data(
        server, api):
    signer = OcmfSigner(shape="OCA", send_public_key=True)
    await prepare(api, "OCA-LIB-1", signer.public_key_hex)
    tx = await session_from_library(server, "OCA-LIB-1", signer)
    bill = await wait_for_bill(api, tx)
    assert (bill["status"], bill["meter_verification"]) == ("issued", "VALID"), bill["reason"]
    section = bill["invoice"]["signed_data"]
    assert section["verdict"] == "VALID" and section["public_key"] == signer.public_key_hex
    assert [d["shape"] for d in section["documents"]] == ["OCA", "OCA"]
    assert all(d["ocmf"].startswith("OCMF|") for d in section["documents"])
    cdr = (await api.get(f"/api/v1/cdrs/{bill['cdr_id']}")).json()
    # The CDR's signed_data carries the charger's signedMeterData verbatim (already base64 of the document).
    assert [v["signed_data"] for v in cdr["signed_data"]["signed_values"]] == [
        json.loads(d["as_sent"])["signedMeterData"] for d in section["documents"]]
    assert base64.b64decode(cdr["signed_data"]["public_key"]).hex() == signer.public_key_hex


async def test_an_oca_signed_session_from_raw_frames_is_valid_and_its_pdf_shows_the_documents(server, api):
    signer = OcmfSigner(shape="OCA")
    await prepare(api, "OCA-RAW-1", signer.public_key_hex)
    tx = await session_from_raw_frames(server, "OCA-RAW-1", signer)
    bill = await wait_for_bill(api, tx)
    assert (bill["status"], bill["meter_verification"]) == ("issued", "VALID"), bill["reason"]
    pdf = await api.get(f"/api/v1/invoices/{bill['invoice_number']}.pdf")
    assert pdf.status_code == 200
    text = "".join("".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf.content)).pages)
    for document in bill["invoice"]["signed_data"]["documents"]:
        assert "".join(document["ocmf"].split()) in text
    assert signer.public_key_hex.upper() in text


async def test_an_oca_value_with_a_key_other_than_the_registered_one_is_a_key_mismatch_held_for_review(
        server, api):
    signer, registered = OcmfSigner(shape="OCA", send_public_key=True), OcmfSigner()
    await prepare(api, "OCA-WRONG-1", registered.public_key_hex)
    tx = await session_from_library(server, "OCA-WRONG-1", signer)
    bill = await wait_for_bill(api, tx)
    assert (bill["status"], bill["meter_verification"], bill["invoice"]) == ("needs_review", "KEY_MISMATCH", None)
    assert "registered key is" in bill["reason"]


async def test_an_oca_value_with_a_key_nobody_registered_is_billed_as_key_unregistered(server, api):
    signer = OcmfSigner(shape="OCA", send_public_key=True)
    await prepare(api, "OCA-NOKEY-1", None)
    tx = await session_from_raw_frames(server, "OCA-NOKEY-1", signer)
    bill = await wait_for_bill(api, tx)
    assert (bill["status"], bill["meter_verification"]) == ("issued", "KEY_UNREGISTERED")
    section = bill["invoice"]["signed_data"]
    assert (section["public_key"], section["public_key_source"]) == (signer.public_key_hex, "sent")
    assert T0.isoformat() in section["documents"][0]["readings"][0]["time"]


async def test_the_driver_page_of_a_signed_session_shows_the_documents_key_and_how_to_check_them(server, api):
    signer = OcmfSigner(shape="OCA")
    await prepare(api, "OCA-DRV-1", signer.public_key_hex)
    tx = await session_from_raw_frames(server, "OCA-DRV-1", signer)
    bill = await wait_for_bill(api, tx)
    token = (await api.get(f"/api/v1/sessions/{tx}")).json()["driver_path"].rsplit("/", 1)[1]
    page = await api.get(f"/s/{token}", params={"lang": "de"})
    assert page.status_code == 200
    html = page.text
    assert "Signierte Messwerte (Eichrecht)" in html and "<strong>VALID</strong>" in html
    assert signer.public_key_hex.upper() in html and "Transparenzsoftware" in html
    assert html.count("<svg") >= 2  # a QR code per document
    for document in bill["invoice"]["signed_data"]["documents"]:
        assert document["ocmf"].replace('"', "&#34;") in html or document["ocmf"].replace('"', "&quot;") in html


async def test_the_driver_can_download_the_transparency_software_file_and_the_receipt_with_the_signed_data(
        server, api):
    signer = OcmfSigner(shape="OCA")
    await prepare(api, "OCA-DRV-2", signer.public_key_hex)
    tx = await session_from_raw_frames(server, "OCA-DRV-2", signer)
    bill = await wait_for_bill(api, tx)
    token = (await api.get(f"/api/v1/sessions/{tx}")).json()["driver_path"].rsplit("/", 1)[1]
    xml = await api.get(f"/s/{token}/signed-data.xml")
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
    values = ET.fromstring(xml.text).findall("value")
    documents = bill["invoice"]["signed_data"]["documents"]
    assert [v.findtext("signedData") for v in values] == [d["ocmf"] for d in documents]
    assert {v.findtext("publicKey") for v in values} == {signer.public_key_hex.upper()}
    receipt = await api.get(f"/s/{token}/receipt.pdf")
    assert receipt.status_code == 200
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(receipt.content)).pages)
    assert "Signed meter values (Eichrecht)" in text and "Transparenzsoftware" in text


async def test_the_german_invoice_pdf_and_receipt_carry_the_signed_data_section(server, api):
    signer = OcmfSigner(shape="OCA")
    await prepare(api, "OCA-DE-1", signer.public_key_hex)
    tx = await session_from_raw_frames(server, "OCA-DE-1", signer)
    bill = await wait_for_bill(api, tx)
    token = (await api.get(f"/api/v1/sessions/{tx}")).json()["driver_path"].rsplit("/", 1)[1]
    for url in (f"/api/v1/invoices/{bill['invoice_number']}.pdf?lang=de", f"/s/{token}/receipt.pdf?lang=de"):
        pdf = await api.get(url)
        assert pdf.status_code == 200, url
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
        compact = "".join(text.split())
        assert "Signierte Messwerte (Eichrecht)" in text and "So prüfen Sie" in text, url
        assert "synchronisiert" in text and "Transparenzsoftware" in text, url
        assert signer.public_key_hex.upper() in compact, url
        for document in bill["invoice"]["signed_data"]["documents"]:
            assert "".join(document["ocmf"].split()) in compact, url
