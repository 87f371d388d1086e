"""Support over HTTP with a real charger session: the driver writes, the operator answers, both are timed."""

import asyncio
import io
import json

import httpx
from pypdf import PdfReader

from helpers import http_url

from .charging import token_of

SITE = {"helpline": "+49 30 1234567", "hours": "Mon-Fri 08:00-20:00", "languages": ["de", "en"]}


async def session_with_token(server, api, plug, charger_id="CP-HELP"):
    charger = await plug(server, charger_id)
    tx = await charger.charge()
    await charger.cp.close()
    return tx, await token_of(api, tx)


async def test_a_site_support_record_is_created_read_and_validated(api):
    created = await api.put("/api/v1/sites/BER-1/support", json=SITE)
    assert created.status_code == 201 and created.json()["helpline"] == "+49 30 1234567"
    assert (await api.put("/api/v1/sites/BER-1/support", json={**SITE, "hours": "24/7"})).status_code == 200
    assert (await api.get("/api/v1/sites/BER-1/support")).json()["hours"] == "24/7"
    wrong = await api.put("/api/v1/sites/BER-1/support", json={**SITE, "helpline": "call us"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "helpline"
    assert (await api.get("/api/v1/sites/NOPE/support")).status_code == 404


async def test_the_driver_sees_the_helpline_of_the_chargers_site_and_a_still_stuck_line(server, api, plug):
    tx, token = await session_with_token(server, api, plug)
    assert (await api.put("/api/v1/sites/CP-HELP/support", json=SITE)).status_code == 201  # no site_id: own id
    view = (await api.get(f"/api/v1/driver/{token}/support", params={"lang": "de"})).json()
    assert view["transaction_id"] == tx and view["conversation"] is None
    assert view["site"]["helpline"] == "+49 30 1234567"
    assert view["still_stuck"].startswith("Immer noch Probleme? Rufen Sie +49 30 1234567 an")


async def test_a_forged_token_is_a_404_and_an_empty_message_a_422(server, api, plug):
    _, token = await session_with_token(server, api, plug)
    assert (await api.get("/api/v1/driver/1-AAAAAAAAAAAAAAAAAAAAAA/support")).status_code == 404
    empty = await api.post(f"/api/v1/driver/{token}/support/messages", json={"body": "   "})
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "body"
    control = await api.post(f"/api/v1/driver/{token}/support/messages", json={"body": "hi\x1b[2J"})
    assert control.status_code == 422


async def test_driver_and_operator_exchange_messages_timed_and_streamed_live(server, api, plug):
    tx, token = await session_with_token(server, api, plug)
    received: list[tuple[str, dict]] = []

    async def listen() -> None:
        async with httpx.AsyncClient(base_url=http_url(server), timeout=30) as stream_client:
            async with stream_client.stream("GET", f"/s/{token}/events") as stream:
                kind = None
                async for line in stream.aiter_lines():
                    if line.startswith("event: "):
                        kind = line.removeprefix("event: ")
                    elif line.startswith("data: ") and kind and kind.startswith("support."):
                        received.append((kind, json.loads(line.removeprefix("data: "))))
                        if kind == "support.message" and received[-1][1]["author"] == "operator":
                            return

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.3)  # let the stream subscribe
    opened = await api.post(f"/api/v1/driver/{token}/support/messages", json={"body": "Cable is stuck"})
    assert opened.status_code == 201
    conversation = opened.json()
    assert (conversation["transaction_id"], conversation["status"]) == (tx, "waiting")
    queue = (await api.get("/api/v1/support/conversations", params={"status": "waiting"})).json()
    assert [c["id"] for c in queue["items"]] == [conversation["id"]]
    answered = await api.post(f"/api/v1/support/conversations/{conversation['id']}/messages",
                              json={"body": "Unlocking it remotely now."})
    assert answered.status_code == 201
    assert answered.json()["status"] == "answered" and answered.json()["first_response_at"] is not None
    await asyncio.wait_for(listener, 20)
    assert [(kind, data["author"]) for kind, data in received] == [("support.message", "driver"),
                                                                   ("support.message", "operator")]
    resolved = await api.post(f"/api/v1/support/conversations/{conversation['id']}/resolve", json={"by": "ops"})
    assert resolved.json()["status"] == "resolved"
    [times] = (await api.get("/api/v1/support/response-times")).json()
    assert (times["station_id"], times["conversations"], times["unresolved"]) == ("CP-HELP", 1, 0)
    assert times["median_first_response_seconds"] >= 0
    driver_view = (await api.get(f"/api/v1/driver/{token}/support")).json()
    assert [m["body"] for m in driver_view["conversation"]["messages"]] == ["Cable is stuck",
                                                                             "Unlocking it remotely now."]
    assert driver_view["conversation"]["links"] == {"incidents": [], "feedback_overall": None}


FLAT_TARIFF = {
    "country_code": "DE", "party_id": "CWS", "id": "FLAT-SUPPORT", "currency": "EUR",
    "elements": [{"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 19.0, "step_size": 1}]}],
}


async def test_the_receipt_pdf_ends_with_the_sites_helpline(sqlite_server, sqlite_api, plug):
    api = sqlite_api
    assert (await api.post("/api/v1/tariffs", json=FLAT_TARIFF)).status_code == 201
    assert (await api.post("/api/v1/chargers", json={"id": "CP-RECEIPT"})).status_code in (200, 201)
    assert (await api.put("/api/v1/tariff-assignments",
                          json={"tariff_id": "FLAT-SUPPORT", "charger_id": "CP-RECEIPT"})).status_code == 200
    assert (await api.put("/api/v1/sites/CP-RECEIPT/support", json=SITE)).status_code == 201
    # The driver's card is known: a start the server refused would wait for billing review, not be invoiced.
    assert (await api.put("/api/v1/id-tags/TAG-1", json={"id_tag": "TAG-1"})).status_code == 200
    charger = await plug(sqlite_server, "CP-RECEIPT")
    tx = await charger.charge(energy_wh=10_000)
    await charger.cp.close()
    for _ in range(300):
        bill = await api.get(f"/api/v1/sessions/{tx}/invoice")
        if bill.status_code == 200:
            break
        await asyncio.sleep(0.05)
    pdf = await api.get(bill.json()["invoice"]["pdf_url"], params={"lang": "de"})
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Immer noch Probleme? Rufen Sie +49 30 1234567 an (Mon-Fri 08:00-20:00)" in " ".join(text.split())


async def test_a_driver_writing_more_than_thirty_messages_a_minute_gets_a_429_with_retry_after(
        sqlite_server, sqlite_api, plug):
    _, token = await session_with_token(sqlite_server, sqlite_api, plug, "CP-CHATTY")
    answers = [await sqlite_api.post(f"/api/v1/driver/{token}/support/messages", json={"body": f"hello {n}"})
               for n in range(31)]
    assert [a.status_code for a in answers[:30]] == [201] * 30
    assert answers[30].status_code == 429 and int(answers[30].headers["Retry-After"]) >= 1
    assert (await sqlite_api.get(f"/api/v1/driver/{token}/support")).status_code == 200  # reading stays open
