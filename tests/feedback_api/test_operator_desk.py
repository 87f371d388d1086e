"""The operator's side: replies e-mailed through a real SMTP server, handled flags, contact deletion
(and exports that never hold an address), surveys with validation naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from chargewatch.runtime import Chargewatch
from chargewatch.store.feedback_tables import feedback_contacts
from helpers import http_url

from .charging import rate, stored_counts, token_of
from .mail import mailbox_fixture, running, use_mail  # noqa: F401 - the mailbox fixture


@pytest.fixture
async def mailing_server(sqlite_url, mailbox, monkeypatch) -> AsyncIterator[Chargewatch]:
    use_mail(monkeypatch, mailbox[1], support=False, SMTP_FROM="feedback@operator.example")
    async with running(sqlite_url) as app:
        yield app


async def test_a_reply_is_stored_and_mailed_to_the_driver(mailing_server, mailbox, plug):
    box, _ = mailbox
    charger = await plug(mailing_server, "CP-MAIL")
    with_address, anonymous = await charger.charge(), await charger.charge()
    await charger.cp.close()
    async with httpx.AsyncClient(base_url=http_url(mailing_server)) as api:
        await rate(api, with_address, overall=2, comment="Cable too short", contact={"email": "Driver@Example.COM"})
        await rate(api, anonymous, overall=3)
        answer = await api.post(f"/api/v1/feedback/sessions/{with_address}/reply",
                                json={"text": "Thanks! A longer cable is ordered.", "by": "ops-anna"})
        assert answer.status_code == 200 and answer.json()["email"] == "sent"
        assert (await api.post(f"/api/v1/feedback/sessions/{anonymous}/reply",
                               json={"text": "Thanks"})).json()["email"] == "no_address"
        detail = (await api.get(f"/api/v1/feedback/sessions/{with_address}")).json()
        driver_view = (await api.get(f"/api/v1/feedback/{await token_of(api, with_address)}")).json()

    assert [m["To"] for m in box.messages] == ["Driver@example.com"]
    mail = box.messages[0]
    assert mail["From"] == "feedback@operator.example"
    assert "A longer cable is ordered." in mail.get_payload() and "> Cable too short" in mail.get_payload()
    assert detail["reply"] == "Thanks! A longer cable is ordered." and detail["replied_by"] == "ops-anna"
    assert detail["reply_emailed_at"] is not None and detail["has_contact"]
    assert driver_view["submission"]["reply"] == "Thanks! A longer cable is ordered."


async def test_without_smtp_a_reply_is_stored_and_not_mailed(sqlite_server, sqlite_api, plug):
    charger = await plug(sqlite_server, "CP-NOMAIL")
    tx = await charger.charge()
    await charger.cp.close()
    await rate(sqlite_api, tx, overall=1, contact={"email": "d@example.org"})
    answer = await sqlite_api.post(f"/api/v1/feedback/sessions/{tx}/reply", json={"text": "Sorry!"})
    assert answer.json()["email"] == "not_configured"
    assert (await sqlite_api.post("/api/v1/feedback/sessions/424242/reply", json={"text": "x"})).status_code == 404


async def test_operators_filter_and_mark_feedback_handled(sqlite_server, sqlite_api, plug):
    charger = await plug(sqlite_server, "CP-DESK")
    sessions = [await charger.charge() for _ in range(3)]
    await charger.cp.close()
    for tx, overall in zip(sessions, (1, 4, 2), strict=True):
        await rate(sqlite_api, tx, overall=overall, comment="Kabel zu kurz" if overall < 3 else "")
    marked = await sqlite_api.put(f"/api/v1/feedback/sessions/{sessions[0]}/handled", json={"by": "ops-ben"})
    assert marked.json()["handled"] and marked.json()["handled_by"] == "ops-ben"

    low = (await sqlite_api.get("/api/v1/feedback", params={"station": "CP-DESK", "max_rating": 2})).json()
    assert low["total"] == 2 and [item["transaction_id"] for item in low["items"]] == [sessions[2], sessions[0]]
    assert low["items"][0]["topics"] == ["cable_too_short"]
    open_items = (await sqlite_api.get("/api/v1/feedback", params={"handled": False})).json()
    assert {item["transaction_id"] for item in open_items["items"]} == {sessions[1], sessions[2]}
    page = (await sqlite_api.get("/api/v1/feedback", params={"limit": 1, "offset": 1})).json()
    assert page["total"] == 3 and [item["transaction_id"] for item in page["items"]] == [sessions[1]]
    naive = await sqlite_api.get("/api/v1/feedback", params={"since": "2026-11-01T00:00:00"})
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "since"


async def test_contact_data_is_deletable_and_never_exported(server, api, plug):
    charger = await plug(server, "CP-PRIV")
    first, second, third, fourth = [await charger.charge() for _ in range(4)]
    await charger.cp.close()
    await rate(api, first, overall=4, contact={"email": "erin@example.net"})
    await rate(api, second, overall=2, contact={"email": "erin@example.net"}, comment="payment failed")
    await rate(api, third, overall=5, contact={"email": "frank@example.net"})
    await rate(api, fourth, overall=3, contact={"email": "gina@example.com"})

    export = (await api.get("/api/v1/feedback/export.csv")).text
    assert "@" not in export and export.count("\n") == 5

    # the driver withdraws their own address with the link token; the operator deletes another's
    assert (await api.delete(f"/api/v1/feedback/{await token_of(api, fourth)}/contact")).status_code == 204

    assert (await api.delete(f"/api/v1/feedback/sessions/{third}/contact")).status_code == 204
    assert (await api.delete(f"/api/v1/feedback/sessions/{third}/contact")).status_code == 404
    erased = await api.post("/api/v1/feedback/contacts/erase", json={"email": "ERIN@example.net"})
    assert erased.json() == {"deleted": 2}
    with server.engine.connect() as connection:
        assert connection.execute(select(feedback_contacts)).all() == []
    assert stored_counts(server) == (4, 0)  # the ratings stay, anonymous
    assert not (await api.get(f"/api/v1/feedback/sessions/{first}")).json()["has_contact"]


SURVEY = {
    "id": "cold-check",
    "name": "Winter check",
    "languages": ["en", "de"],
    "target": {"kind": "station_group", "charger_ids": ["CP-COLD"]},
    "questions": [
        {"id": "overall", "kind": "rating", "prompt": {"en": "Overall?", "de": "Insgesamt?"}},
        {"id": "cold", "kind": "single_choice", "required": True,
         "prompt": {"en": "Did it work in the cold?", "de": "Hat es bei Kälte funktioniert?"},
         "options": [{"id": "yes", "label": {"en": "Yes", "de": "Ja"}},
                     {"id": "no", "label": {"en": "No", "de": "Nein"}}]},
    ],
}


async def test_surveys_are_validated_targeted_and_answered(sqlite_server, sqlite_api, plug):
    api = sqlite_api
    broken = {**SURVEY, "questions": [{**SURVEY["questions"][1], "kind": "dropdown"}]}
    refused = await api.post("/api/v1/feedback/surveys", json=broken)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "questions[0].kind"
    reserved = await api.post("/api/v1/feedback/surveys", json={**SURVEY, "id": "default"})
    assert reserved.json()["errors"] == [{"field": "id", "reason": "'default' is the built-in survey's id"}]
    assert (await api.post("/api/v1/feedback/surveys", json=SURVEY)).status_code == 201
    assert (await api.post("/api/v1/feedback/surveys", json=SURVEY)).status_code == 409
    mismatch = await api.put("/api/v1/feedback/surveys/other", json=SURVEY)
    assert mismatch.status_code == 422 and mismatch.json()["errors"][0]["field"] == "id"

    cold, elsewhere = await plug(sqlite_server, "CP-COLD"), await plug(sqlite_server, "CP-WARM")
    tx, other = await cold.charge(), await elsewhere.charge()
    await cold.cp.close()
    await elsewhere.cp.close()
    token = await token_of(api, tx)
    form = (await api.get(f"/api/v1/feedback/{token}", params={"lang": "de"})).json()["survey"]
    assert form["id"] == "cold-check"
    assert form["questions"][1]["prompt"] == "Hat es bei Kälte funktioniert?"
    assert form["questions"][1]["answered_as"] == "answers" and form["questions"][1]["options"][1]["label"] == "Nein"
    other_form = (await api.get(f"/api/v1/feedback/{await token_of(api, other)}")).json()["survey"]
    assert other_form["id"] == "default"

    missing = await api.put(f"/api/v1/feedback/{token}", json={"overall": 4})
    assert missing.status_code == 422
    assert missing.json()["errors"] == [{"field": "answers.cold", "reason": "is required"}]
    answered = await api.put(f"/api/v1/feedback/{token}", json={"overall": 4, "answers": {"cold": "no"}})
    assert answered.status_code == 201 and answered.json()["submission"]["survey_id"] == "cold-check"
    responses = (await api.get("/api/v1/feedback", params={"survey_id": "cold-check"})).json()
    assert [item["answers"] for item in responses["items"]] == [{"cold": "no"}]

    assert [s["id"] for s in (await api.get("/api/v1/feedback/surveys")).json()] == ["cold-check"]
    replaced = await api.put("/api/v1/feedback/surveys/cold-check", json={**SURVEY, "name": "Winter check 2"})
    assert replaced.status_code == 200 and replaced.json()["name"] == "Winter check 2"
    assert (await api.delete("/api/v1/feedback/surveys/cold-check")).status_code == 204
    assert (await api.get("/api/v1/feedback/surveys/cold-check")).status_code == 404
