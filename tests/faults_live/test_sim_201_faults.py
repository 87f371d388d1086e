"""The simulated 2.0.1 station's fault scenario (`simulate --ocpp 2.0.1 --scenario faults`): an RCD trip mid-session
is a NotifyEvent with the EVSE Faulted, opening one GroundFailure incident; the cleared NotifyEvent resolves it."""

from __future__ import annotations

from dataclasses import replace

from chargewatch.sim.charger import DEMO_ID_TAGS
from chargewatch.sim.charger201 import SimulatedStation201
from chargewatch.sim.fleet import SCENARIOS
from chargewatch.sim.scenarios import ScenarioTiming, ScriptedStation201, ground_failure_mid_session
from chargewatch.store.registry import put_id_tag
from faults_live.live import eventually, fast_config, incident, incidents
from helpers import ocpp_url


async def test_a_simulated_201_rcd_trip_opens_one_incident_that_its_cleared_notify_event_resolves(db_url, start_server):
    app = await start_server(db_url, fast_config())
    with app.engine.begin() as connection:
        put_id_tag(connection, {"id_tag": DEMO_ID_TAGS[0], "status": "Accepted", "expiry_date": None,
                                "parent_id_tag": None, "description": None})
    app.gateway.id_tags.refresh()
    behaviour = replace(SCENARIOS["faults"], meter_interval=3.0, charge_time=(10.0, 10.0), fault_probability=1.0,
                        id_tags=DEMO_ID_TAGS[:1])
    station = SimulatedStation201(ocpp_url(app), "SIM201-RCD", connectors=1, behaviour=behaviour)
    await station.connect()
    try:
        await station.boot()
        tx = await station.charge_once(1)  # trips at the first sample (~18 Wh in), ends, is reset, clears
        assert tx is not None
        resolved = await eventually(lambda: incidents(app, status="resolved"))
    finally:
        assert station.connection is not None
        await station.connection.close()
    assert [(i["kind"], i["code"], i["connector_id"]) for i in resolved] == [("connector_error", "GroundFailure", 1)]
    assert await incidents(app) == resolved, "exactly one incident for the fault"


async def test_the_scripted_ground_failure_in_201_words_is_one_incident_resolved_by_its_cleared_event(
        sqlite_url, start_server):
    app = await start_server(sqlite_url, fast_config())
    cp = ScriptedStation201(ocpp_url(app), "GF-201", timing=ScenarioTiming(heartbeat=0.5, fault_hold=1.5, settle=0.3))
    session_id = await ground_failure_mid_session(cp)
    [resolved] = await eventually(lambda: incidents(app, status="resolved"))
    assert (resolved["kind"], resolved["code"], resolved["connector_id"]) == ("connector_error", "GroundFailure", 1)
    assert await incidents(app) == [resolved], "exactly one incident for the whole scenario"
    detail = await incident(app, resolved["number"])
    assert detail["evidence"][0]["data"]["action"] == "NotifyEvent"
    assert detail["resolution"]["data"]["payload"]["eventData"][0]["cleared"] is True
    assert cp.references[session_id] == "GF-201-1"
