"""OCPP 2.0.1 signed meter values end to end: the `ocpp` library's 2.0.1 ChargePoint sends a Transaction.Begin/End
pair whose sampledValues carry a signedMeterValue (SignedMeterValueType: base64 OCMF document, signingMethod,
encodingMethod, publicKey = base64 of the meter's DER key) over a real WebSocket; billing decodes it with the same
decoder as the 1.6 OCA shape and judges the sent key against the one registered through the API."""

from __future__ import annotations

import base64
from datetime import timedelta

from billing_live.live_billing import ensure_tariff, wait_for_bill
from chargewatch.sim.ocmf import OcmfSigner
from gateway.v201_peer import boot, station, transaction_event
from helpers import T0, ocpp_url, ts

START_KWH, STEP_KWH = 2000.0, 2.5


def _signed(signer: OcmfSigner, kwh: float, minutes: float, context: str) -> dict:
    register_wh = round(kwh * 1000)
    document = signer.sign(register_wh=register_wh, at=T0 + timedelta(minutes=minutes),
                           transaction="B" if context == "Transaction.Begin" else "E", id_tag="SIGNED-201")
    return {"timestamp": ts(minutes), "sampled_value": [{
        "value": kwh, "context": context, "measurand": "Energy.Active.Import.Register",
        "unit_of_measure": {"unit": "Wh", "multiplier": 3},
        "signed_meter_value": {
            "signed_meter_data": base64.b64encode(document.encode()).decode(),
            "signing_method": "ECDSA-secp256r1-SHA256", "encoding_method": "OCMF",
            "public_key": base64.b64encode(bytes.fromhex(signer.public_key_hex)).decode()}}]}


async def _signed_session(server, api, charger_id: str, meter: OcmfSigner, registered: OcmfSigner) -> dict:  # type: ignore[no-untyped-def]
    await ensure_tariff(api)
    await api.put("/api/v1/tariff-assignments", json={"tariff_id": "TOU-IDLE"})
    await api.put("/api/v1/id-tags/SIGNED-201", json={"id_tag": "SIGNED-201", "status": "Accepted"})
    assert (await api.post("/api/v1/chargers", json={"id": charger_id})).status_code == 201
    response = await api.put(f"/api/v1/chargers/{charger_id}/ocmf-key", json={"public_key": registered.public_key_hex})
    assert response.status_code == 200, response.text
    reference = f"{charger_id}-tx"
    async with station(ocpp_url(server), charger_id) as cp:
        await boot(cp)
        await cp.call(transaction_event("Started", 0, 0, reference, trigger="Authorized", id_token="SIGNED-201",
                                        charging_state="Charging",
                                        meter=[_signed(meter, START_KWH, 0, "Transaction.Begin")]))
        end_kwh = START_KWH + STEP_KWH
        await cp.call(transaction_event("Ended", 1, 20, reference, trigger="EVCommunicationLost",
                                        stopped_reason="EVDisconnected",
                                        meter=[_signed(meter, end_kwh, 20, "Transaction.End")]))
    sessions = (await api.get("/api/v1/sessions", params={"charger_id": charger_id})).json()["items"]
    assert [(s["transaction_ref"], s["energy_wh"]) for s in sessions] == [(reference, 2500)]
    return await wait_for_bill(api, sessions[0]["transaction_id"])


async def test_a_201_signed_begin_and_end_pair_verifies_valid_on_the_invoice_and_cdr(server, api):
    meter = OcmfSigner()
    bill = await _signed_session(server, api, "SIGNED-201-OK", meter, registered=meter)
    assert (bill["status"], bill["meter_verification"]) == ("issued", "VALID"), bill.get("reason")
    assert bill["invoice"]["signed_data"]["verdict"] == "VALID"
    cdr = (await api.get(f"/api/v1/cdrs/{bill['cdr_id']}")).json()
    assert [v["nature"] for v in cdr["signed_data"]["signed_values"]] == ["Start", "End"]
    assert all(base64.b64decode(v["signed_data"]).startswith(b"OCMF|") for v in cdr["signed_data"]["signed_values"])


async def test_a_201_signed_pair_whose_sent_key_is_not_the_registered_one_is_a_key_mismatch(server, api):
    bill = await _signed_session(server, api, "SIGNED-201-WRONG", OcmfSigner(), registered=OcmfSigner())
    assert (bill["status"], bill["meter_verification"], bill["invoice"]) == ("needs_review", "KEY_MISMATCH", None)
    assert "registered key" in bill["reason"]
