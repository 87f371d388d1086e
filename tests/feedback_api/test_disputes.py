"""A driver disputes an already issued invoice in their feedback; the operator decides it credit-first through the
real API (a real charger, billing worker and database, SQLite and PostgreSQL): rejected with a reason the driver
reads on the session page and by e-mail, or accepted with a credit note and a reissued invoice (gap-free numbers),
or with a credit note only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from chargewatch.runtime import Chargewatch
from faults_live.live import eventually
from helpers import http_url
from web.conftest import ADMIN, add_operators, logged_in

from .charging import plug_in, rate, token_of
from .mail import mailbox_fixture, priced_charger, running, use_mail  # noqa: F401 - the mailbox fixture

CHARGER = "CP-DISPUTE"
DISPUTE = "Zweimal abgebucht für eine Ladung!"


@pytest.fixture
async def server(db_url, mailbox, monkeypatch) -> AsyncIterator[Chargewatch]:
    use_mail(monkeypatch, mailbox[1])
    async with running(db_url) as app:
        yield app


@pytest.fixture
async def api(server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=http_url(server), timeout=10) as client:
        await priced_charger(client, CHARGER, "FLAT-DISPUTE")
        yield client


async def invoiced_and_disputed(server, api, charger, email: str) -> tuple[int, str, dict]:
    tx = await charger.charge(energy_wh=10_000)

    async def issued():
        bill = await api.get(f"/api/v1/sessions/{tx}/invoice")
        return bill.json() if bill.status_code == 200 and bill.json()["status"] == "issued" else None

    number = (await eventually(issued))["invoice_number"]
    assert (await rate(api, tx, overall=1, comment=DISPUTE, contact={"email": email})).status_code == 201

    async def recorded():
        found = (await api.get("/api/v1/billing/disputes", params={"status": "open"})).json()["items"]
        return next((d for d in found if d["transaction_id"] == tx), None)

    return tx, number, await eventually(recorded)


async def test_a_dispute_of_an_issued_invoice_is_rejected_or_credited_and_the_driver_told(server, api, mailbox):
    box, _ = mailbox
    charger = await plug_in(server, CHARGER, "ocpp1.6")

    # 1. Disputed after the invoice was issued: recorded against it, shown to the operator and the driver.
    tx, number, dispute = await invoiced_and_disputed(server, api, charger, "erin@example.net")
    assert (dispute["invoice_number"], dispute["status"], dispute["text"]) == (number, "open", DISPUTE)
    token = await token_of(api, tx)
    assert (await api.get(f"/api/v1/driver/{token}/billing-dispute")).json()["dispute"]["status"] == "open"
    add_operators(server)
    console = await logged_in(server, ADMIN)
    try:
        page = (await console.get("/support")).text
        assert f'data-dispute="{dispute["id"]}"' in page and DISPUTE in page
    finally:
        await console.aclose()
    api.auth = ADMIN  # operators exist now: the API wants one

    # 2. Rejected with a reason: the invoice stands, the driver reads why (page and e-mail).
    reason = "The second charge was a pre-authorisation of your card and was released the next day."
    rejected = await api.post(f"/api/v1/billing/disputes/{dispute['id']}/reject", json={"reason": reason})
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["decided_by"], rejected.json()["credit_note"]) == (
        "rejected", "ada", None)
    assert (await api.get(f"/api/v1/sessions/{tx}/invoice")).json()["invoice_number"] == number
    mail = box.parsed(-1)
    assert str(mail["To"]) == "erin@example.net" and number in str(mail["Subject"]) and reason in mail.get_content()
    assert str(mail["Reply-To"]).startswith(f"support+{tx}-")
    driver_page = (await api.get(f"/s/{token}")).text
    assert 'data-status="rejected"' in driver_page and reason in driver_page
    again = await api.post(f"/api/v1/billing/disputes/{dispute['id']}/accept", json={"reason": "changed mind"})
    assert again.status_code == 409

    # 3. Accepted with a correction: a credit note and a reissued invoice for the stated 5 kWh.
    tx2, number2, dispute2 = await invoiced_and_disputed(server, api, charger, "erin@example.net")
    accepted = await api.post(f"/api/v1/billing/disputes/{dispute2['id']}/accept",
                              json={"reason": "The meter counted the energy twice", "energy_wh": 5_000})
    assert accepted.status_code == 200, accepted.text
    decided = accepted.json()
    assert decided["status"] == "accepted" and decided["credit_note"] and decided["reissued_invoice"]
    bill = (await api.get(f"/api/v1/sessions/{tx2}/invoice")).json()
    assert bill["invoice_number"] == decided["reissued_invoice"]
    assert Decimal(str(bill["invoice"]["total_gross"])) == Decimal("1.79")  # 5 kWh x 0.30 + 19 % VAT
    credit = (await api.get(f"/api/v1/invoices/{decided['credit_note']}")).json()
    assert (credit["type"], credit["credit_note_for"]) == ("credit_note", number2)
    mail = box.parsed(-1)
    assert "corrected" in str(mail["Subject"]) and decided["reissued_invoice"] in mail.get_content()
    page = (await api.get(f"/s/{await token_of(api, tx2)}", params={"lang": "de"})).text
    assert 'data-status="accepted"' in page and f"Gutschrift {decided['credit_note']}" in page

    # 4. Accepted as a full refund: a credit note only; the session waits in billing review.
    tx3, number3, dispute3 = await invoiced_and_disputed(server, api, charger, "erin@example.net")
    refunded = await api.post(f"/api/v1/billing/disputes/{dispute3['id']}/accept",
                              json={"reason": "Charged twice: refunded", "reissue": False})
    assert refunded.status_code == 200 and refunded.json()["reissued_invoice"] is None
    assert (await api.get(f"/api/v1/sessions/{tx3}/invoice")).json()["status"] == "needs_review"
    await charger.cp.close()

    # Gap-free numbering across invoices, credit notes and reissues.
    listed = (await api.get("/api/v1/invoices", params={"limit": 500})).json()
    assert [i["sequence"] for i in listed] == list(range(1, len(listed) + 1)) and len(listed) == 6
    assert (await api.get("/api/v1/billing/disputes", params={"status": "open"})).json()["total"] == 0
    assert (await api.post("/api/v1/billing/disputes/999999/reject", json={"reason": "x"})).status_code == 404
