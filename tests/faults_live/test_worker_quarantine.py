"""Issue 10 item 4: an incident the store refuses never stops the fault worker for the fleet. It is quarantined
(logged once with its identity, counted in /metrics) and the other chargers' incidents are still stored."""

from __future__ import annotations

import logging

from chargewatch.sim.client import ChargePointConnection
from chargewatch.store import faults as fault_store
from faults_live.live import api, eventually, fast_config, incidents
from helpers import ocpp_url


async def _ground_failure(app, charger_id: str) -> ChargePointConnection:
    cp = await ChargePointConnection.open(ocpp_url(app), charger_id)
    await cp.call("BootNotification", {"chargePointVendor": "Test", "chargePointModel": "Q-1"})
    await cp.call("StatusNotification", {"connectorId": 1, "errorCode": "GroundFailure", "status": "Faulted"})
    return cp


async def test_an_unstorable_incident_is_quarantined_and_the_rest_of_the_fleet_gets_its_incidents(
        sqlite_url, start_server, monkeypatch, caplog):
    real_save = fault_store.save_incidents

    def save_incidents(connection, items, now):
        if any(item.charger_id == "QBAD-1" for item in items):
            raise ValueError("value out of range for the incidents table")
        return real_save(connection, items, now)

    monkeypatch.setattr(fault_store, "save_incidents", save_incidents)
    app = await start_server(sqlite_url, fast_config())
    caplog.set_level(logging.ERROR, logger="chargewatch.workers.faults")
    chargers = [await _ground_failure(app, charger_id) for charger_id in ("QOK-1", "QBAD-1", "QOK-2")]
    try:
        stored = await eventually(lambda: _chargers_with_incidents(app, {"QOK-1", "QOK-2"}), timeout=15)
        assert stored == {"QOK-1", "QOK-2"}
        late = await _ground_failure(app, "QOK-3")  # the worker still runs after the quarantine
        chargers.append(late)
        assert await eventually(lambda: _chargers_with_incidents(app, {"QOK-3"}), timeout=15) == {"QOK-3"}
    finally:
        for cp in chargers:
            await cp.close()
    assert "QBAD-1" not in {item["charger_id"] for item in await incidents(app)}
    quarantined = [r for r in caplog.records if "quarantined" in r.getMessage()]
    assert len(quarantined) == 1 and "QBAD-1" in quarantined[0].getMessage()
    assert not [r for r in caplog.records if "cycle failed" in r.getMessage()]
    metrics = (await api(app).get("/metrics")).text
    assert 'chargewatch_worker_quarantined_total{worker="faults"} 1.0' in metrics


async def _chargers_with_incidents(app, wanted: set[str]) -> set[str]:
    found = {item["charger_id"] for item in await incidents(app)} & wanted
    return found if found == wanted else set()
