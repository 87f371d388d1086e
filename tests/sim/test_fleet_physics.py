"""The simulated fleet (the demo's chargers) is physically plausible: the energy of a session is its power times
the time it charged — the scenario's clock is fast, the physics is not."""

from __future__ import annotations

from dataclasses import replace

import httpx

from chargewatch.sim.charger import DEMO_ID_TAGS, SimulatedCharger
from chargewatch.sim.fleet import SCENARIOS
from chargewatch.store.registry import put_id_tag
from helpers import http_url, ocpp_url


async def test_a_demo_session_delivers_its_power_times_its_charging_time(server):
    with server.engine.begin() as connection:
        put_id_tag(connection, {"id_tag": DEMO_ID_TAGS[0], "status": "Accepted", "expiry_date": None,
                                "parent_id_tag": None, "description": None})
    server.gateway.id_tags.refresh()
    behaviour = replace(SCENARIOS["demo"], meter_interval=1.0, charge_time=(6.0, 6.0), idle_time=(1.0, 1.0),
                        fault_probability=0.0, id_tags=DEMO_ID_TAGS[:1])
    charger = SimulatedCharger(ocpp_url(server), "PHYS-1", connectors=1, behaviour=behaviour)
    await charger.connect()
    await charger.boot()
    tx = await charger.charge_once(1)
    assert charger.connection is not None
    await charger.connection.close()
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        session = (await api.get(f"/api/v1/sessions/{tx}")).json()
    ceiling_wh = session["max_power_w"] * session["duration_seconds"] / 3600
    print(f"demo session: {session['energy_wh']} Wh in {session['duration_seconds']} s, max "
          f"{session['max_power_w']} W (ceiling {ceiling_wh:.0f} Wh)")
    assert 20_000 <= session["max_power_w"] <= 22_000
    assert 0 < session["energy_wh"] <= ceiling_wh + 1
    # ~6 s at ~21 kW is ~35 Wh: far from the 60x (2 kWh) the old simulator put on the meter
    assert session["energy_wh"] >= 0.5 * session["max_power_w"] * 5 / 3600
