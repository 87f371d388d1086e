"""Signed meter values: a simulated Eichrecht charger signs begin and end as OCMF; billing verifies them."""

from __future__ import annotations

import base64
from datetime import datetime

import pytest

from billing_live.live_billing import ensure_tariff, wait_for_bill
from chargewatch.sim.charger import Behaviour, SimulatedCharger
from chargewatch.sim.ocmf import OcmfSigner
from helpers import ocpp_url

pytestmark = pytest.mark.asyncio(loop_scope="module")


class TamperedSigner(OcmfSigner):
    """Signs honestly, then the payload is altered on the way (the signature no longer matches)."""

    def sign_payload(self, payload: str) -> str:
        return super().sign_payload(payload).replace('"RV":', '"RV":1', 1)


class OverstatingSigner(OcmfSigner):
    """A valid signature over an end reading 500 Wh above the meterStop the charger reports."""

    def payload(self, *, register_wh: int, at: datetime, transaction: str, id_tag: str) -> str:
        extra = 500 if transaction == "E" else 0
        return super().payload(register_wh=register_wh + extra, at=at, transaction=transaction, id_tag=id_tag)


async def charge(server, api, charger_id: str, signer: OcmfSigner | None, *, register_key: bool = True):  # type: ignore[no-untyped-def]
    """One short session on a simulated charger whose meter signs with `signer`; returns its bill."""
    await ensure_tariff(api)
    await api.put("/api/v1/tariff-assignments", json={"tariff_id": "TOU-IDLE"})
    await api.put("/api/v1/id-tags/EICH-TAG", json={"id_tag": "EICH-TAG", "status": "Accepted"})
    behaviour = Behaviour(meter_interval=0.05, charge_time=(0.3, 0.3), idle_time=(0.1, 0.1), signer=signer,
                          id_tags=("EICH-TAG",))
    charger = SimulatedCharger(ocpp_url(server), charger_id, connectors=1, behaviour=behaviour)
    await charger.connect()
    await charger.boot()
    if signer is not None and register_key:
        response = await api.put(f"/api/v1/chargers/{charger_id}/ocmf-key",
                                 json={"public_key": signer.public_key_hex})
        assert response.status_code == 200, response.text
    tx = await charger.charge_once(1)
    assert charger.connection is not None
    await charger.connection.close()
    assert tx is not None
    return await wait_for_bill(api, tx)


async def test_signed_begin_and_end_readings_are_verified_on_the_invoice_and_cdr(shared_server, shared_api):
    bill = await charge(shared_server, shared_api, "EICH-1", OcmfSigner())
    assert (bill["status"], bill["meter_verification"]) == ("issued", "VALID")
    assert bill["invoice"]["meter_verification"] == "VALID"
    cdr = (await shared_api.get(f"/api/v1/cdrs/{bill['cdr_id']}")).json()
    assert cdr["signed_data"]["encoding_method"] == "OCMF"
    assert [v["nature"] for v in cdr["signed_data"]["signed_values"]] == ["Start", "End"]
    # OCPI 2.2.1 SignedValue.signed_data is base64: here of the OCMF document as the charger sent it.
    assert all(base64.b64decode(v["signed_data"]).startswith(b"OCMF|") for v in cdr["signed_data"]["signed_values"])
    assert "signed meter values: VALID" in cdr["remark"]
    pdf = await shared_api.get(f"/api/v1/invoices/{bill['invoice_number']}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")


async def test_a_tampered_signed_reading_holds_the_session_for_review(shared_server, shared_api):
    bill = await charge(shared_server, shared_api, "EICH-TAMPERED", TamperedSigner())
    assert (bill["status"], bill["meter_verification"], bill["invoice"]) == ("needs_review", "INVALID", None)
    assert "does not match" in bill["reason"]


async def test_signed_and_unsigned_meter_values_that_disagree_hold_the_session_for_review(shared_server, shared_api):
    bill = await charge(shared_server, shared_api, "EICH-OVER", OverstatingSigner())
    assert (bill["status"], bill["meter_verification"]) == ("needs_review", "INVALID")
    assert "signed meter values disagree" in bill["reason"] and "end: signed" in bill["reason"]


async def test_signed_values_without_a_registered_key_are_billed_as_unverified(shared_server, shared_api):
    bill = await charge(shared_server, shared_api, "EICH-NOKEY", OcmfSigner(), register_key=False)
    assert (bill["status"], bill["meter_verification"]) == ("issued", "UNVERIFIED")


async def test_a_public_key_that_is_not_one_is_refused(shared_api):
    await shared_api.post("/api/v1/chargers", json={"id": "EICH-BADKEY"})
    response = await shared_api.put("/api/v1/chargers/EICH-BADKEY/ocmf-key", json={"public_key": "not a key"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "public_key"
    hex_but_no_key = await shared_api.put("/api/v1/chargers/EICH-BADKEY/ocmf-key", json={"public_key": "3059"})
    assert hex_but_no_key.status_code == 422
    missing = await shared_api.put("/api/v1/chargers/NOBODY/ocmf-key",
                                   json={"public_key": OcmfSigner().public_key_hex})
    assert missing.status_code == 404
