"""Each field fault pattern raises exactly one incident with one alert (issue 17, items 8-17).

One fleet of raw-frame charge points on a virtual clock against the production detection rules; every
charger plays one pattern. The test runs once with 1.6 chargers and once with 2.0.1 stations (one body, the same
expectations but where the protocols differ) and prints the detection latency of each (fault start → alert).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from chargewatch.domain.events import IncidentAlert
from chargewatch.store import billing as billing_store
from chargewatch.store import feedback as feedback_store
from chargewatch.store import schema
from faults_live.live import Recorder, api, eventually, incidents
from faults_live.peers import START, RawCharger, Timeline, VirtualClock
from faults_live.test_healthy_fleet import field_config, heartbeats
from helpers import ocpp_url
from peers.chargers import versions
from web.conftest import ADMIN, add_operators, logged_in

END = 40 * 60.0
TRIP_RULE = {"name": "inoperative-after-repeat-trips", "kind": "connector_error", "code": "OverCurrentFailure",
             "action": "SetInoperative", "after": 1, "min_occurrences": 3}
PATTERNS = {  # charger (or site) → (incident kind, virtual second the fault began)
    "TRIP-1": ("connector_error", 120.0),
    "FROZEN-1": ("frozen_meter", 240.0),
    "HUNG-1": ("charger_offline", 600.0),
    "S1": ("site_offline", 600.0),
    "PREP-1": ("failed_start", 120.0),
    "CARD-1": ("failed_start", 110.0),
    "GF-1": ("connector_error", 300.0),
    "LOOP-1": ("boot_loop", 100.0),
}


def seconds(iso: str) -> float:
    return (datetime.fromisoformat(iso) - START).total_seconds()


# The connector the trip rule takes out of service, as each version's ChangeAvailability names it.
INOPERATIVE = {"ocpp1.6": {"connectorId": 1, "type": "Inoperative"},
               "ocpp2.0.1": {"operationalStatus": "Inoperative", "evse": {"id": 1}}}
# Who names the fault code: 1.6's StatusNotification carries the vendorId; 2.0.1's NotifyEvent has none, the
# techCode belongs to the reporting component and variable (the RCD tripped), which the incident shows instead.
FAULT_VENDOR = {"ocpp1.6": "Alfen BV", "ocpp2.0.1": "RCD.Tripped"}


@versions()
async def test_each_fault_pattern_is_one_incident_with_one_alert(db_url, ocpp_version, start_server, webhook):
    config = field_config(webhook)
    config.update(probe_timeout=0.1, remediation={"enabled": True, "rules": [TRIP_RULE]})
    clock = VirtualClock(step=timedelta(seconds=10))
    app = await start_server(db_url, config, clock=clock)
    recorder = Recorder(app)
    url = ocpp_url(app)
    names = ("TRIP-1", "FROZEN-1", "HUNG-1", "SITE-A1", "SITE-A2", "SITE-A3", "PREP-1", "CARD-1", "GF-1", "LOOP-1")
    cps = {name: RawCharger(url, name, clock, ocpp_version) for name in names}
    line = Timeline(clock)
    for cp in cps.values():
        await cp.connect()
        await cp.status(0, "Available")
        await cp.status(1, "Available")
    for name in ("SITE-A1", "SITE-A2", "SITE-A3"):
        (await api(app).put(f"/api/v1/chargers/{name}/site", json={"site_id": "S1"})).raise_for_status()

    # 13: OverCurrentFailure trips six times in two minutes, recovering after 8 s each time.
    trip = cps["TRIP-1"]
    for k in range(6):
        line.at(120 + 20 * k, lambda: trip.status(1, "Faulted", "OverCurrentFailure", vendorErrorCode="OC-2"))
        line.at(128 + 20 * k, lambda: trip.status(1, "Available"))
    heartbeats(line, trip, 300)

    # 15: the register freezes at 240 s while the charger keeps reporting 7.2 kW and the SoC climbs.
    frozen, frozen_tx, register = cps["FROZEN-1"], [0], [1_000_000]

    async def frozen_start() -> None:
        await frozen.status(1, "Preparing")
        frozen_tx[0] = await frozen.start(1, register[0])
        await frozen.status(1, "Charging")
    line.at(60, frozen_start)
    for minute in range(2, 21):
        def sample(minute: int = minute) -> Any:
            if minute <= 4:
                register[0] += 120  # 7.2 kW for one minute
            return frozen.meter(1, frozen_tx[0], register[0], 7200.0, soc=30 + minute)
        line.at(60 * minute, sample)
    line.at(1230, lambda: frozen.status(1, "SuspendedEV"))
    line.at(1240, lambda: frozen.stop(frozen_tx[0], register[0], "Local", "DEMO-TAG-1"))
    line.at(1245, lambda: frozen.status(1, "Available"))
    heartbeats(line, frozen, 300)

    # 16: a hung controller from 600 s: the socket stays open, nothing is sent or answered; back at 1500 s.
    hung = cps["HUNG-1"]
    line.at(300, hung.heartbeat)
    line.at(600, hung.heartbeat)

    async def hang() -> None:
        hung.hung = True

    async def unhang() -> None:
        hung.hung = False
        await hung.heartbeat()
    line.at(601, hang)
    line.at(1500, unhang)
    line.at(1800, hung.heartbeat)
    line.at(2100, hung.heartbeat)

    # 17: the three chargers of site S1 drop off within 6 s (the site's router) and return at 1200 s.
    for n, name in enumerate(("SITE-A1", "SITE-A2", "SITE-A3")):
        cp = cps[name]

        async def back(cp: RawCharger = cp) -> None:
            await cp.connect()
            await cp.status(1, "Available")
        line.at(600 + 3 * n, cp.close)
        line.at(1200 + n, back)
        heartbeats(line, cp, 300, skip=(600, 1200))

    # 17: a car plugged in that never starts (stuck Preparing), until the driver leaves at 900 s.
    prep = cps["PREP-1"]
    line.at(120, lambda: prep.status(1, "Preparing"))
    line.at(900, lambda: prep.status(1, "Available"))
    heartbeats(line, prep, 300)

    # 17: three rejected card reads while connector 2 is in Preparing (Authorize names no connector).
    card = cps["CARD-1"]
    line.at(100, lambda: card.status(2, "Preparing"))
    for k in range(3):
        line.at(110 + 20 * k, lambda: card.authorize("UNKNOWN-TAG-9"))
    line.at(380, lambda: card.status(2, "Available"))
    heartbeats(line, card, 300)

    # 10 + 12: a ground fault during a session, with the vendor's code and info.
    gf, gf_tx, gf_register = cps["GF-1"], [0], [500_000]

    async def gf_start() -> None:
        await gf.status(1, "Preparing")
        gf_tx[0] = await gf.start(1, gf_register[0])
        await gf.status(1, "Charging")
    line.at(60, gf_start)
    line.at(180, lambda: gf.meter(1, gf_tx[0], gf_register[0] + 200, 11_000.0))
    line.at(300, lambda: gf.status(1, "Faulted", "GroundFailure", info="RCD trip 30mA DC", vendorId="Alfen BV",
                                   vendorErrorCode="E0803"))
    line.at(305, lambda: gf.stop(gf_tx[0], gf_register[0] + 220, "Other"))
    line.at(600, lambda: gf.status(1, "Available"))
    heartbeats(line, gf, 300)

    # 8: three reboots nobody asked for in 200 s are still a boot loop.
    loop = cps["LOOP-1"]

    async def reboot() -> None:
        await loop.close()
        await loop.connect()
        await loop.status(1, "Available")
    for t in (100, 200, 300):
        line.at(t, reboot)
    heartbeats(line, loop, 300, start=300)

    await line.run(END)

    async def settled() -> list[dict[str, Any]]:
        found = await incidents(app)
        return found if all(i["status"] == "resolved" or i["kind"] == "frozen_meter" for i in found) else []
    everything = await eventually(settled)

    top = [i for i in everything if i["parent_id"] is None]
    by_subject: dict[str, list[dict[str, Any]]] = {}
    for item in top:
        by_subject.setdefault(item["charger_id"], []).append(item)
    alerts = [e.to_json() for e in recorder.events if isinstance(e, IncidentAlert)]
    alerts_by_subject: dict[str, list[dict[str, Any]]] = {}
    for alert in alerts:
        alerts_by_subject.setdefault(alert["charger_id"], []).append(alert)
    print("\npattern     incident          alert after fault start (virtual s)")
    for subject, (kind, began) in PATTERNS.items():
        latency = [seconds(a["at"]) - began for a in alerts_by_subject.get(subject, [])]
        print(f"{subject:<11} {kind:<17} {latency}")
    assert {s: [i["kind"] for i in items] for s, items in by_subject.items()} == {
        subject: [kind] for subject, (kind, _) in PATTERNS.items()}
    assert {s: len(items) for s, items in alerts_by_subject.items()} == dict.fromkeys(PATTERNS, 1)
    assert sorted(h.payload["incident"]["charger_id"] for h in webhook.of_type("incident.alert")) == sorted(PATTERNS)

    # 13: one escalating incident, alerted on the second trip, connector taken out of service by the rule.
    [tripped] = by_subject["TRIP-1"]
    assert seconds(alerts_by_subject["TRIP-1"][0]["at"]) == 140
    detail = (await api(app).get(f"/api/v1/incidents/{tripped['number']}")).json()
    assert max(e["data"].get("trips", 1) for e in detail["evidence"]) == 6
    assert ("ChangeAvailability", INOPERATIVE[ocpp_version]) in trip.received

    # 15: flagged on the session and held for billing review.
    [frozen_incident] = by_subject["FROZEN-1"]
    assert frozen_incident["session_id"] == str(frozen_tx[0]) and frozen_incident["severity"] == "fault"
    with app.engine.connect() as connection:
        flags = connection.execute(select(schema.sessions.c.flags)
                                   .where(schema.sessions.c.transaction_id == frozen_tx[0])).scalar_one()
        bill = billing_store.bill_of(connection, frozen_tx[0])
    assert "frozen_meter" in flags
    assert bill is not None and bill["status"] == "needs_review" and "frozen meter" in bill["reason"]

    # 16: opened by the unanswered probe, well before two heartbeat intervals plus the alert delay (780 s).
    [offline] = by_subject["HUNG-1"]
    detail = (await api(app).get(f"/api/v1/incidents/{offline['number']}")).json()
    assert detail["evidence"][0]["source"] == "ProbeUnanswered" and detail["outage"] is True
    assert seconds(alerts_by_subject["HUNG-1"][0]["at"]) - 600 < 600
    assert detail["evidence"][0]["data"]["trigger"] == "timeout"  # TriggerMessage Heartbeat went unanswered

    # 17: one site incident with the chargers as members; their own outage records point to it.
    [site] = by_subject["S1"]
    assert site["members"] == ["SITE-A1", "SITE-A2", "SITE-A3"]
    members = [i for i in everything if i["parent_id"] == site["id"]]
    assert sorted(i["charger_id"] for i in members) == ["SITE-A1", "SITE-A2", "SITE-A3"]
    assert all(i["kind"] == "charger_offline" and i["outage"] for i in members)
    site_hook = next(h for h in webhook.of_type("incident.alert") if h.payload["incident"]["charger_id"] == "S1")
    assert seconds(site_hook.payload["drivers_affected_since"]) == 600 and site_hook.payload["next_action"]

    # 17: stuck Preparing resolved by Available; rejected cards on the connector in Preparing.
    [stuck] = by_subject["PREP-1"]
    assert stuck["code"] == "NoSessionAfterPlugIn" and seconds(stuck["resolved_at"]) == 900
    [cards] = by_subject["CARD-1"]
    assert (cards["connector_id"], cards["code"], cards["severity"]) == (2, "Authorize.Invalid", "fault")

    # 10 + 12: the ground fault belongs to its session; the vendor's words are in the list and searchable.
    [ground] = by_subject["GF-1"]
    assert ground["session_id"] == str(gf_tx[0]) and ground["severity"] == "critical"
    assert (ground["vendor_id"], ground["vendor_error_code"], ground["info"]) == (FAULT_VENDOR[ocpp_version], "E0803",
                                                                                 "RCD trip 30mA DC")
    found = (await api(app).get("/api/v1/incidents", params={"q": "e0803"})).json()["items"]
    assert [i["number"] for i in found] == [ground["number"]]
    session = (await api(app).get(f"/api/v1/sessions/{gf_tx[0]}")).json()
    driver = (await api(app).get(session["driver_path"], params={"lang": "de"})).text
    assert "Ladevorgang mit Störung beendet" in driver and "✓ Ladevorgang beendet" not in driver
    token = session["driver_path"].rsplit("/", 1)[-1]
    guidance = (await api(app).get(f"/api/v1/driver/{token}/guidance", params={"lang": "de"})).json()
    assert [item["key"] for item in guidance["items"]] == ["GroundFailure"]
    with app.engine.connect() as connection:
        facts = feedback_store.session_facts(connection, feedback_store.session_row(connection, gf_tx[0]))
    assert "GroundFailure" in facts.incident_codes
    with app.engine.connect() as connection:
        frozen_facts = feedback_store.session_facts(connection, feedback_store.session_row(connection, frozen_tx[0]))
    assert "frozen_meter" in frozen_facts.incident_codes
    gf_hook = next(h for h in webhook.of_type("incident.alert") if h.payload["incident"]["charger_id"] == "GF-1")
    assert "E0803" in gf_hook.payload["guidance"]["title"] and "RCD trip 30mA DC" in gf_hook.payload["guidance"][
        "technical"]

    # The operator's incident list shows the vendor's words and finds the incident by them; the session page
    # shows the incident of its session.
    add_operators(app)
    operator = await logged_in(app, ADMIN)
    try:
        page = (await operator.get("/incidents", params={"q": "E0803"})).text
        assert f"{FAULT_VENDOR[ocpp_version]} E0803" in page and "RCD trip 30mA DC" in page and "Boot loop" not in page
        session_page = (await operator.get(f"/sessions/{gf_tx[0]}")).text
        assert "GroundFailure" in session_page and f'data-incident="{ground["number"]}"' in session_page
    finally:
        await operator.aclose()
    for cp in cps.values():
        await cp.close()
