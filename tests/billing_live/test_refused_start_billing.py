"""A start the server refused is never invoiced silently (issue 17 item 7 follow-up), end to end over OCPP-J:
charged anyway, it waits in the billing review queue with the refused status named; stopped with nothing
delivered, it is ``rejected`` and has no bill at all (SQLite + PostgreSQL; a 1.6 charger and a 2.0.1 station, whose
TransactionEvent Started carries the refused idToken)."""

from __future__ import annotations

import httpx

from billing_live.live_billing import (
    at,
    charge_evening,
    ensure_tariff,
    evening_charger,
    park_and_stop,
    register_berlin_charger,
    wait_for_bill,
)
from chargewatch.runtime import Chargewatch
from chargewatch.store.registry import put_id_tag
from peers.chargers import versions


def block_card(app: Chargewatch, tag: str) -> None:
    with app.engine.begin() as connection:
        put_id_tag(connection, {"id_tag": tag, "status": "Blocked", "expiry_date": None, "parent_id_tag": None,
                                "description": "stolen card"})
    app.gateway.id_tags.refresh()


async def _charge(app: Chargewatch, charger_id: str, version: str, tag: str, delivered_wh: int) -> tuple[int, str]:
    """Start with ``tag`` at 19:00 Berlin, deliver ``delivered_wh`` in 15 minutes, stop; the session id and what
    the start was answered."""
    cp = await evening_charger(app, charger_id, version, register_wh=5_000)
    tx = await cp.start(1, tag, at=at(600), statuses=False, authorize=False)
    if delivered_wh:
        await cp.meter(1, tx, 11_000, register_wh=5_000 + delivered_wh, at=at(615))
    await cp.stop(tx, "Local", id_tag=None, at=at(630))
    await cp.close()
    return tx, cp.answered[tx]


@versions()
async def test_a_blocked_start_that_charged_waits_for_review_naming_the_refusal(
        server, api: httpx.AsyncClient, ocpp_version):
    await ensure_tariff(api)
    await register_berlin_charger(api, "BER-REFUSED")
    block_card(server, "STOLEN-1")
    tx, answered = await _charge(server, "BER-REFUSED", ocpp_version, "STOLEN-1", 2_750)
    assert answered == "Blocked"
    session = (await api.get(f"/api/v1/sessions/{tx}")).json()
    assert (session["status"], session["energy_wh"]) == ("completed", 2_750)
    assert "start_refused" in session["flags"]

    bill = await wait_for_bill(api, tx)
    assert bill["status"] == "needs_review" and bill["invoice"] is None
    assert "StartTransaction answered Blocked" in bill["reason"] and "2750 Wh" in bill["reason"]
    assert tx in [r["transaction_id"] for r in (await api.get("/api/v1/reviews")).json()]
    assert (await api.get("/api/v1/invoices", params={"transaction_id": tx})).json() == []


@versions()
async def test_an_unknown_card_start_stopped_without_energy_is_rejected_and_never_billed(
        server, api: httpx.AsyncClient, ocpp_version):
    await ensure_tariff(api)
    await register_berlin_charger(api, "BER-UNKNOWN")
    await register_berlin_charger(api, "BER-PAID")
    tx, answered = await _charge(server, "BER-UNKNOWN", ocpp_version, "NEVER-SEEN-CARD", 0)
    assert answered == "Invalid"
    session = (await api.get(f"/api/v1/sessions/{tx}")).json()
    assert (session["status"], session["energy_wh"]) == ("rejected", 0)

    # An authorised session after it is invoiced (the worker has run); the refused one has no bill of any kind.
    cp = await evening_charger(server, "BER-PAID", ocpp_version)
    paid = await charge_evening(cp)
    await park_and_stop(cp, paid)
    await cp.close()
    assert (await wait_for_bill(api, paid))["status"] == "issued"
    assert (await api.get(f"/api/v1/sessions/{tx}/invoice")).status_code == 404
    assert tx not in [r["transaction_id"] for r in (await api.get("/api/v1/reviews")).json()]


@versions()
async def test_an_operator_can_bill_a_refused_start_as_measured_after_review(
        server, api: httpx.AsyncClient, ocpp_version):
    await ensure_tariff(api)
    await register_berlin_charger(api, "BER-REVIEWED")
    block_card(server, "STOLEN-2")
    tx, _ = await _charge(server, "BER-REVIEWED", ocpp_version, "STOLEN-2", 2_750)
    assert (await wait_for_bill(api, tx))["status"] == "needs_review"
    resolved = await api.post(f"/api/v1/reviews/{tx}/resolve", json={
        "resolved_by": "ops", "note": "driver identified on CCTV, card was a replacement"})
    assert resolved.status_code == 200, resolved.text
    bill = await wait_for_bill(api, tx)
    assert (bill["status"], bill["resolved_by"]) == ("issued", "ops")
    assert (bill["invoice"]["session"]["energy_kwh"], bill["meter_rule"]) == ("2.75", "as_measured")
