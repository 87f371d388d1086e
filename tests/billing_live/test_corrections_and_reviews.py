"""Live cost, duplicate stops, re-pricing from the raw log, corrections and reviews (engine-neutral: SQLite).

The tests a charger's session drives run with a 1.6 charger and a 2.0.1 station (``ocpp_version``; a charger id of
its own per version on the shared server) and expect the same figures; the duplicate StopTransaction is 1.6's.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from billing_live.live_billing import (
    at,
    charge_evening,
    ensure_tariff,
    evening_charger,
    idle_and_stop,
    named,
    park_and_stop,
    register_berlin_charger,
    start_evening_session,
    wait_for_bill,
)
from chargewatch.billing.settlement import issue_documents
from chargewatch.gateway.replay import replay
from helpers import connect
from peers.chargers import versions

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def reset_session(server, api, charger_id: str, version: str,  # type: ignore[no-untyped-def]
                        *, tariff: bool = True) -> int:
    """10:00-10:45 Berlin; the register falls from 1 005 000 Wh to 500 000 Wh mid-session (not a reboot to 0)."""
    await ensure_tariff(api)
    if tariff:
        await register_berlin_charger(api, charger_id)
    else:
        await api.post("/api/v1/chargers", json={"id": charger_id, "timezone": "Europe/Berlin"})
    cp = await evening_charger(server, charger_id, version)
    tx = await cp.start(1, "TAG-R", at=at(0), statuses=False, authorize=False)
    for register, minutes in ((1_005_000, 15), (500_000, 30)):
        await cp.meter(1, tx, 11_000, register_wh=register, at=at(minutes))
    cp.register_wh = 505_000
    await cp.stop(tx, "Local", id_tag=None, at=at(45))
    await cp.close()
    return tx


@versions()
async def test_live_cost_of_a_running_session_is_priced_up_to_its_latest_reading(shared_server, shared_api,
                                                                                  ocpp_version):
    await ensure_tariff(shared_api)
    charger_id = named("BER-LIVE", ocpp_version)
    await register_berlin_charger(shared_api, charger_id)
    cp = await evening_charger(shared_server, charger_id, ocpp_version)
    tx = await charge_evening(cp)
    running = (await shared_api.get(f"/api/v1/sessions/{tx}/cost")).json()
    # 21:30-22:30 local: 5.5 kWh day + 5.5 kWh night, nothing parked yet.
    assert running["status"] == "running"
    assert running["as_of"].startswith("2026-11-02T21:30:00")
    assert running["total_cost"] == {"excl_vat": "2.7500", "incl_vat": "3.2725"}

    token = (await shared_api.get(f"/api/v1/sessions/{tx}")).json()["driver_path"].rsplit("/", 1)[1]
    assert (await shared_api.get(f"/api/v1/driver/{token}/cost")).json() == running
    assert (await shared_api.get(f"/api/v1/driver/{token}x/cost")).status_code == 404

    await park_and_stop(cp, tx)
    await cp.close()
    await wait_for_bill(shared_api, tx)
    billed = (await shared_api.get(f"/api/v1/sessions/{tx}/cost")).json()
    assert billed["total_cost"] == {"excl_vat": "3.9500", "incl_vat": "4.7005"}
    assert (await shared_api.get(f"/api/v1/driver/{token}/cost")).json() == billed


async def test_a_duplicate_stop_transaction_bills_once(shared_server, shared_api):
    await ensure_tariff(shared_api)
    await register_berlin_charger(shared_api, "BER-DUP")
    cp = await connect(shared_server, "BER-DUP")
    tx = await start_evening_session(cp)
    stop = await idle_and_stop(cp, tx)
    await wait_for_bill(shared_api, tx)
    await cp.call("StopTransaction", stop)  # the charger did not see our answer and retries
    await cp.close()
    biller = shared_server.app.state.billing
    assert await asyncio.to_thread(biller.bill, tx) is None  # a replayed stop event finds the bill
    assert tx not in await asyncio.to_thread(biller.catch_up)  # and so does the catch-up at start
    invoices = (await shared_api.get("/api/v1/invoices", params={"transaction_id": tx})).json()
    cdrs = (await shared_api.get("/api/v1/cdrs", params={"transaction_id": tx})).json()
    assert len(invoices) == 1 and len(cdrs) == 1


@versions()
async def test_re_pricing_from_the_raw_log_gives_the_identical_result(shared_server, shared_api, ocpp_version):
    await ensure_tariff(shared_api)
    charger_id = named("BER-REPLAY", ocpp_version)
    await register_berlin_charger(shared_api, charger_id)
    cp = await evening_charger(shared_server, charger_id, ocpp_version)
    tx = await charge_evening(cp)
    await park_and_stop(cp, tx)
    await cp.close()
    bill = await wait_for_bill(shared_api, tx)
    cdr = json.loads((await shared_api.get(f"/api/v1/cdrs/{bill['cdr_id']}")).text, parse_float=Decimal)

    replay(shared_server.engine)
    biller = shared_server.app.state.billing
    usage, _, pinned, settlement = biller.settle(tx)
    assert pinned.version == bill["tariff_version"]
    _, again = issue_documents(usage, settlement, pinned.tariff, biller.operator, number=cdr["id"],
                               issued_at=shared_server.gateway.now(), issue_date=shared_server.gateway.now().date(),
                               feedback_url=None)
    again = json.loads(json.dumps(again, default=float), parse_float=Decimal)
    for field in ("charging_periods", "total_cost", "total_energy_cost", "total_parking_cost", "total_time_cost",
                  "total_energy", "total_time", "total_parking_time", "start_date_time", "end_date_time"):
        assert again[field] == cdr[field], field


@versions()
async def test_a_register_that_falls_but_not_to_zero_holds_the_session_for_review(shared_server, shared_api,
                                                                                  ocpp_version):
    tx = await reset_session(shared_server, shared_api, named("BER-REVIEW", ocpp_version), ocpp_version)
    bill = await wait_for_bill(shared_api, tx)
    assert bill["status"] == "needs_review" and bill["invoice"] is None
    assert "not a provable reset" in bill["reason"]
    assert tx in [r["transaction_id"] for r in (await shared_api.get("/api/v1/reviews")).json()]
    assert (await shared_api.get(f"/api/v1/sessions/{tx}/cost")).json()["status"] == "needs_review"
    assert (await shared_api.get("/api/v1/invoices", params={"transaction_id": tx})).json() == []

    refused = await shared_api.post(f"/api/v1/reviews/{tx}/resolve", json={"resolved_by": "ops", "note": "look"})
    assert refused.status_code == 409  # the meter still cannot say; the operator must state the energy
    resolved = await shared_api.post(f"/api/v1/reviews/{tx}/resolve", json={
        "resolved_by": "ops", "note": "meter swapped mid-session; 10 kWh per site log", "energy_wh": 10_000})
    assert resolved.status_code == 200, resolved.text
    bill = await wait_for_bill(shared_api, tx)
    assert (bill["status"], bill["meter_rule"], bill["resolved_by"]) == ("issued", "operator_stated", "ops")
    # 10:00-10:45 Berlin is all day rate: 10 kWh x 0.30 = 3.00 net, 19 % VAT
    assert (bill["invoice"]["total_net"], bill["invoice"]["total_gross"]) == ("3.00", "3.57")
    assert tx not in [r["transaction_id"] for r in (await shared_api.get("/api/v1/reviews")).json()]


@versions()
async def test_an_operator_may_waive_a_session_under_review(shared_server, shared_api, ocpp_version):
    tx = await reset_session(shared_server, shared_api, named("BER-WAIVE", ocpp_version), ocpp_version)
    await wait_for_bill(shared_api, tx)
    response = await shared_api.post(f"/api/v1/reviews/{tx}/resolve", json={
        "resolved_by": "ops", "note": "test drive by the installer", "waive": True})
    assert response.json() == {"transaction_id": tx, "status": "waived", "invoice_number": None}
    assert (await shared_api.get(f"/api/v1/sessions/{tx}/invoice")).json()["status"] == "waived"


@versions()
async def test_a_session_without_any_tariff_waits_for_review_and_is_billed_once_one_is_assigned(
        shared_server, shared_api, ocpp_version):
    await ensure_tariff(shared_api)
    charger_id = named("BER-NOTARIFF", ocpp_version)
    await shared_api.post("/api/v1/chargers", json={"id": charger_id, "timezone": "Europe/Berlin"})
    cp = await evening_charger(shared_server, charger_id, ocpp_version)
    tx = await charge_evening(cp)
    await park_and_stop(cp, tx)
    await cp.close()
    bill = await wait_for_bill(shared_api, tx)
    assert bill["status"] == "needs_review" and "no tariff" in bill["reason"]
    await shared_api.put("/api/v1/tariff-assignments", json={"tariff_id": "TOU-IDLE", "charger_id": charger_id})
    resolved = await shared_api.post(f"/api/v1/reviews/{tx}/resolve", json={"resolved_by": "ops",
                                                                           "note": "tariff assigned"})
    assert resolved.status_code == 200, resolved.text
    assert (await wait_for_bill(shared_api, tx))["invoice"]["total_gross"] == "4.70"


@versions()
async def test_a_correction_is_a_credit_note_and_credit_cdr_then_a_new_invoice_never_an_edit(
        shared_server, shared_api, ocpp_version):
    await ensure_tariff(shared_api)
    charger_id = named("BER-CREDIT", ocpp_version)
    await register_berlin_charger(shared_api, charger_id)
    cp = await evening_charger(shared_server, charger_id, ocpp_version)
    tx = await charge_evening(cp)
    await park_and_stop(cp, tx)
    await cp.close()
    original = (await wait_for_bill(shared_api, tx))["invoice"]
    before = (await shared_api.get(f"/api/v1/invoices/{original['number']}")).json()

    response = await shared_api.post(f"/api/v1/invoices/{original['number']}/credit",
                                     json={"reason": "meter figures confirmed by the site log", "energy_wh": 11_000})
    assert response.status_code == 200, response.text
    numbers = response.json()
    credit = (await shared_api.get(f"/api/v1/invoices/{numbers['credit_note']}")).json()
    assert (credit["type"], credit["credit_note_for"]) == ("credit_note", original["number"])
    assert (credit["total_net"], credit["total_vat"], credit["total_gross"]) == ("-3.95", "-0.75", "-4.70")
    assert [line["net"] for line in credit["lines"]] == ["-1.65", "-1.10", "-1.20"]
    credit_cdr = (await shared_api.get(f"/api/v1/cdrs/{credit['cdr_id']}")).json()
    assert (credit_cdr["credit"], credit_cdr["credit_reference_id"]) == (True, original["cdr_id"])
    assert credit_cdr["total_cost"] == {"excl_vat": -3.95, "incl_vat": -4.7005}

    assert (await shared_api.get(f"/api/v1/invoices/{original['number']}")).json() == before  # untouched
    bill = (await shared_api.get(f"/api/v1/sessions/{tx}/invoice")).json()
    assert bill["invoice_number"] == numbers["invoice"] != original["number"]
    assert bill["invoice"]["total_gross"] == "4.70"  # the same meter figures re-issued under a new number
    again = await shared_api.post(f"/api/v1/invoices/{original['number']}/credit", json={"reason": "twice"})
    assert again.status_code == 409
    of_credit = await shared_api.post(f"/api/v1/invoices/{numbers['credit_note']}/credit", json={"reason": "no"})
    assert of_credit.status_code == 409
    credit_pdf = await shared_api.get(f"/api/v1/invoices/{numbers['credit_note']}.pdf")
    assert credit_pdf.content.startswith(b"%PDF-") and f"Credit note {numbers['credit_note']}".encode() in \
        credit_pdf.content
