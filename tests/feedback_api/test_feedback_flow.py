"""Issue 5, done when: simulated sessions on real chargers, feedback through the real HTTP API, and the
analytics answer with hand-computed CSAT/NPS per station and the planted complaint ranked first."""

from __future__ import annotations

import asyncio
import csv
import io

from chargewatch.domain.events import FaultReported

from .charging import rate

CABLE_COMPLAINTS = [
    (2, 3, "The cable was way too short for my car."),
    (1, 0, "Kabel zu kurz, musste umparken."),
    (2, 5, "Das Ladekabel reicht nicht bis zur Buchse."),
    (3, 7, "Cable too short again, and a bit expensive."),
    (5, 10, "Fast and easy."),
    (4, 9, ""),
]


async def test_feedback_on_simulated_sessions_feeds_station_analytics(server, api, plug):
    faults: list[FaultReported] = []
    server.bus.listen(lambda event: faults.append(event) if isinstance(event, FaultReported) else None)
    station_a, station_b, station_c = await plug(server, "CP-A"), await plug(server, "CP-B"), await plug(server, "CP-C")

    for overall, recommend, comment in CABLE_COMPLAINTS:
        tx = await station_a.charge()
        assert (await rate(api, tx, overall=overall, would_recommend=recommend, comment=comment)).status_code == 201

    b_sessions = [await station_b.charge(error_code="EVCommunicationError" if i == 0 else None) for i in range(4)]
    for tx, (overall, recommend, comment) in zip(b_sessions, [(5, 10, ""), (4, 8, "Great"), (4, None, ""),
                                                              (2, 6, "Charger broken, had to restart it twice")],
                                                 strict=True):
        body = {"overall": overall, "comment": comment, **({"would_recommend": recommend} if recommend else {})}
        assert (await rate(api, tx, **body)).status_code == 201

    fast = await station_c.charge(energy_wh=20_000, power_w=50_000)
    slow = await station_c.charge(energy_wh=5_000, power_w=22_000, idle_minutes=45, error_code="GroundFailure")
    for tx, recommend in ((fast, 9), (slow, 10)):
        assert (await rate(api, tx, overall=5, would_recommend=recommend, ease_of_use=4)).status_code == 201
    for charger in (station_a, station_b, station_c):
        await charger.cp.close()

    stations = {row["station_id"]: row for row in (await api.get("/api/v1/feedback/analytics/stations")).json()}
    # CP-A: ratings 2,1,2,3,5,4 -> 2 of 6 satisfied; recommend 3,0,5,7,10,9 -> 2 promoters, 3 detractors of 6.
    assert stations["CP-A"]["feedback_count"] == 6 and stations["CP-A"]["satisfied"] == 2
    assert round(stations["CP-A"]["csat_percent"], 2) == 33.33
    assert (stations["CP-A"]["promoters"], stations["CP-A"]["passives"], stations["CP-A"]["detractors"]) == (2, 1, 3)
    assert round(stations["CP-A"]["nps"], 2) == -16.67
    # CP-B: ratings 5,4,4,2 -> 3 of 4; recommend 10,8,6 (one unanswered) -> 1 promoter, 1 detractor of 3.
    assert stations["CP-B"]["csat_percent"] == 75.0 and stations["CP-B"]["nps"] == 0.0
    assert stations["CP-B"]["nps_count"] == 3
    assert stations["CP-C"]["csat_percent"] == 100.0 and stations["CP-C"]["nps"] == 100.0

    topics = (await api.get("/api/v1/feedback/analytics/topics", params={"station": "CP-A"})).json()
    assert topics[0]["topic_id"] == "cable_too_short" and topics[0]["mentions"] == 4
    assert topics[0]["label"] == "Cable too short"
    german = (await api.get("/api/v1/feedback/analytics/topics", params={"station": "CP-A", "lang": "de"})).json()
    assert german[0]["label"] == "Kabel zu kurz"

    connectors = (await api.get("/api/v1/feedback/analytics/connectors")).json()
    assert {(c["charger_id"], c["connector_id"], c["feedback_count"]) for c in connectors} == {
        ("CP-A", 1, 6), ("CP-B", 1, 4), ("CP-C", 1, 2)}
    weekly = (await api.get("/api/v1/feedback/analytics/weekly", params={"station": "CP-A"})).json()
    assert sum(week["feedback_count"] for week in weekly) == 6

    assert [(e.charger_id, e.transaction_id, e.category) for e in faults] == [
        ("CP-B", b_sessions[3], "broken")]
    for _ in range(100):  # the faults worker turns the report into an incident in the background
        incidents = (await api.get("/api/v1/incidents")).json()["items"]
        reported = [i for i in incidents if i["kind"] == "driver_report"]
        if reported:
            break
        await asyncio.sleep(0.05)
    assert [(i["charger_id"], i["code"], i["session_id"]) for i in reported] == [("CP-B", "broken", str(b_sessions[3]))]

    # Each feedback keeps the telemetry facts of its session, so analysis can explain a rating.
    detail = (await api.get(f"/api/v1/feedback/sessions/{slow}")).json()
    facts = detail["facts"]
    assert facts["energy_wh"] == 5_000
    assert facts["avg_power_w"] == 10_000  # 5 kWh in the 30 minutes the car drew power; idle time excluded
    assert facts["peak_power_w"] == 22_000
    assert facts["connector_rating_w"] == 50_000  # no configured rating: the most this connector delivered
    assert facts["idle_seconds"] == 45 * 60
    assert facts["incident_codes"] == ["GroundFailure"]
    assert facts["stop_reason"] == "EVDisconnected"
    assert facts["price"] is None  # not billed
    assert set(detail["flags"]) == {"slow", "long_idle", "had_incident", "incident:GroundFailure"}
    assert (await api.get(f"/api/v1/feedback/sessions/{fast}")).json()["facts"]["incident_codes"] == []

    priorities = {p["station_id"]: p for p in (await api.get("/api/v1/feedback/analytics/priorities")).json()}
    assert [priorities[s]["sessions"] for s in ("CP-A", "CP-B", "CP-C")] == [6, 4, 2]
    assert priorities["CP-B"]["incidents"] == 1 and priorities["CP-B"]["top_fault"] == "EVCommunicationError"
    assert priorities["CP-C"]["top_fault"] == "GroundFailure" and priorities["CP-C"]["currency"] == "EUR"
    assert priorities["CP-A"]["top_topic"] == "cable_too_short" and priorities["CP-A"]["revenue_at_risk"] == "0.00"
    assert sorted(p["rank"] for p in priorities.values()) == [1, 2, 3]

    drops = (await api.get("/api/v1/feedback/analytics/drops")).json()
    assert drops["network"]["status"] == "insufficient_data" and drops["network"]["recent_count"] == 12
    found = (await api.get("/api/v1/feedback/analytics/insights")).json()
    assert found["insights"] == []  # twelve ratings are too few to claim anything
    slow_sessions = next(c for c in found["comparisons"] if c["flag"] == "slow")
    assert (slow_sessions["with_count"], slow_sessions["without_count"]) == (1, 11)

    rows = list(csv.DictReader(io.StringIO((await api.get("/api/v1/feedback/export.csv")).text)))
    assert len(rows) == 12
    assert next(row for row in rows if row["session_id"] == str(slow))["incident_codes"] == "GroundFailure"


FLAT_TARIFF = {
    "country_code": "DE", "party_id": "CWA", "id": "FLAT-30", "currency": "EUR",
    "elements": [{"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 19.0, "step_size": 1}]}],
}


async def test_a_billed_sessions_price_is_kept_with_its_feedback(sqlite_server, sqlite_api, plug):
    """Billing is read through its tables only when they exist; here it runs and invoices the session."""
    api = sqlite_api
    assert (await api.post("/api/v1/tariffs", json=FLAT_TARIFF)).status_code == 201
    assert (await api.post("/api/v1/chargers", json={"id": "CP-PAID"})).status_code in (200, 201)
    assigned = await api.put("/api/v1/tariff-assignments", json={"tariff_id": "FLAT-30", "charger_id": "CP-PAID"})
    assert assigned.status_code == 200
    # The driver's card is known: a start the server refused would wait for billing review, not be invoiced.
    assert (await api.put("/api/v1/id-tags/TAG-1", json={"id_tag": "TAG-1"})).status_code == 200
    charger = await plug(sqlite_server, "CP-PAID")
    tx = await charger.charge(energy_wh=10_000)
    await charger.cp.close()
    for _ in range(300):
        bill = await api.get(f"/api/v1/sessions/{tx}/invoice")
        if bill.status_code == 200:
            break
        await asyncio.sleep(0.05)
    gross = bill.json()["invoice"]["total_gross"]  # 10 kWh x 0.30 EUR + 19 % VAT

    assert (await rate(api, tx, overall=2, price_transparency=1)).status_code == 201
    facts = (await api.get(f"/api/v1/feedback/sessions/{tx}")).json()["facts"]
    assert (facts["price"], facts["currency"]) == (gross, "EUR") == ("3.57", "EUR")
    priorities = (await api.get("/api/v1/feedback/analytics/priorities")).json()
    assert [(p["station_id"], p["revenue_at_risk"]) for p in priorities] == [("CP-PAID", "3.57")]
