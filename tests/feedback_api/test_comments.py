"""Issue 12, understanding comments and faults from feedback, through real chargers and the real HTTP API:
which comments open an incident (cross-checked with the session's telemetry), which go to billing review,
and topic discovery (clusters of untagged comments, promoted to a topic in one click, alerted with drops)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from chargewatch.domain.events import BillingDisputed, BusEvent, FaultReported

from .charging import rate

ROOF = ["Kein Dach, bei Regen nass geworden", "Bitte ein Dach, es regnet ständig rein",
        "Dach fehlt, im Regen laden nervt"]


def _collect(server, kind: type[BusEvent]) -> list[Any]:
    events: list[Any] = []
    server.bus.listen(lambda event: events.append(event) if isinstance(event, kind) else None)
    return events


async def test_only_comments_reporting_a_charger_fault_publish_a_fault_report(server, api, plug):
    faults = _collect(server, FaultReported)
    charger = await plug(server, "CP-F")
    quiet = ["Beleuchtung kaputt seit Wochen", "Funktioniert einwandfrei, keine Störung wie letzte Woche",
             "Cable not too short, price not too high, speed not slow", "Display spiegelt in der Sonne, kaum lesbar"]
    for comment in quiet:
        assert (await rate(api, await charger.charge(), overall=3, comment=comment)).status_code == 201
    interrupted = await charger.charge(reason="EmergencyStop")
    assert (await rate(api, interrupted, overall=1,
                       comment="Charging keeps cutting out after a few minutes")).status_code == 201
    await charger.cp.close()
    assert [(e.transaction_id, e.category) for e in faults] == [(interrupted, "session_interrupted")]
    assert faults[0].corroborated_by == ("stop_reason:EmergencyStop",)
    listed = {item["comment"]: item for item in (await api.get("/api/v1/feedback")).json()["items"]}
    praise = listed["Cable not too short, price not too high, speed not slow"]
    assert (praise["topics"], praise["praised"]) == ([], ["cable_too_short", "price_too_high", "slow_charging"])
    assert listed["Beleuchtung kaputt seit Wochen"]["topics"] == ["lighting"]


async def test_a_billing_dispute_goes_to_billing_review_not_to_an_incident(sqlite_server, sqlite_api, plug):
    faults = _collect(sqlite_server, FaultReported)
    disputes = _collect(sqlite_server, BillingDisputed)
    charger = await plug(sqlite_server, "CP-D")
    tx = await charger.charge()
    assert (await rate(sqlite_api, tx, overall=1, comment="Zweimal abgebucht für eine Ladung!")).status_code == 201
    await charger.cp.close()
    assert faults == []
    assert [(e.transaction_id, e.charger_id) for e in disputes] == [(tx, "CP-D")]


async def test_untagged_comments_cluster_and_a_promoted_cluster_becomes_a_topic(server, api, plug):
    charger = await plug(server, "CP-R")
    for comment in [*ROOF, "Toller Ausblick"]:
        assert (await rate(api, await charger.charge(), overall=2, comment=comment)).status_code == 201
    await charger.cp.close()

    clusters = (await api.get("/api/v1/feedback/analytics/clusters")).json()
    assert [(c["station_id"], c["key"], c["size"]) for c in clusters] == [("CP-R", "dach", 3)]
    assert clusters[0]["examples"] == ROOF
    cluster = clusters[0]

    promoted = await api.post("/api/v1/feedback/topics", json={
        "id": "no_roof", "label": {"en": "No roof", "de": "Kein Dach"}, "phrases": cluster["phrases"],
        "source": cluster["id"]})
    assert promoted.status_code == 201 and promoted.json()["operator"] is True

    assert (await api.get("/api/v1/feedback/analytics/clusters")).json() == []
    topics = (await api.get("/api/v1/feedback/analytics/topics", params={"station": "CP-R"})).json()
    assert [(t["topic_id"], t["mentions"], t["label"]) for t in topics] == [("no_roof", 3, "No roof")]
    listed = {t["id"]: t["operator"] for t in (await api.get("/api/v1/feedback/topics")).json()}
    assert listed["no_roof"] is True and listed["lighting"] is False


async def test_a_promoted_topic_with_a_bad_id_is_refused_naming_the_field(sqlite_server, sqlite_api):
    response = await sqlite_api.post("/api/v1/feedback/topics", json={"id": "Bad Id", "label": {"en": "x"},
                                                                     "phrases": ["roof"]})
    assert response.status_code == 422
    assert "id" in response.text and "Traceback" not in response.text


async def test_a_theme_recurring_over_weeks_is_alerted_with_the_drops(sqlite_server, sqlite_api, plug):
    charger = await plug(sqlite_server, "CP-W")
    comments = [*ROOF, "Kein Dach über der Säule", "Dach wäre schön", "Wieder kein Dach"]
    sessions = [await charger.charge() for _ in comments]
    await charger.cp.close()
    clock = sqlite_server.app.state.feedback.clock
    for index, (tx, comment) in enumerate(zip(sessions, comments, strict=True)):
        # The last three are rated a week after the first three: the theme recurs over two ISO weeks.
        sqlite_server.app.state.feedback.clock = (lambda: clock() + timedelta(weeks=1)) if index >= 3 else clock
        assert (await rate(sqlite_api, tx, overall=2, comment=comment)).status_code == 201
    sqlite_server.app.state.feedback.clock = clock
    await asyncio.sleep(0)
    themes = (await sqlite_api.get("/api/v1/feedback/analytics/drops")).json()["themes"]
    assert [(t["key"], t["comments"], t["stations"]) for t in themes] == [("dach", 6, ["CP-W"])]


FLAT_TARIFF = {
    "country_code": "DE", "party_id": "CWA", "id": "FLAT-DISPUTE", "currency": "EUR",
    "elements": [{"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 19.0, "step_size": 1}]}],
}


async def test_a_disputed_session_not_yet_billed_waits_in_the_billing_review_queue(sqlite_server, sqlite_api,
                                                                                     plug):
    assert (await sqlite_api.post("/api/v1/tariffs", json=FLAT_TARIFF)).status_code == 201
    assert (await sqlite_api.put("/api/v1/tariff-assignments",
                                 json={"tariff_id": "FLAT-DISPUTE", "charger_id": "CP-H"})).status_code == 200
    charger = await plug(sqlite_server, "CP-H")
    tx = await charger.charge(stop=False)
    # What the feedback API publishes for "charged twice" (the driver disputes before the bill is issued).
    sqlite_server.bus.publish(BillingDisputed("CP-H", tx, "Zweimal abgebucht!", datetime(2026, 12, 2, 5, tzinfo=UTC)))
    for _ in range(200):
        reviews = (await sqlite_api.get("/api/v1/reviews")).json()
        if any(r["transaction_id"] == tx for r in reviews):
            break
        await asyncio.sleep(0.05)
    held = next(r for r in reviews if r["transaction_id"] == tx)
    assert held["reason"] == "driver disputes the bill: Zweimal abgebucht!"
    await charger.cp.stop(tx, "Local", id_tag=None, at=charger.clock)
    await charger.cp.close()
    await asyncio.sleep(0.3)  # the billing worker gets the stop; the held session must not be billed
    bill = (await sqlite_api.get(f"/api/v1/sessions/{tx}/invoice")).json()
    assert (bill["status"], bill["invoice"]) == ("needs_review", None)
