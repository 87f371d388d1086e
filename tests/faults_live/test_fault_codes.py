"""A connector fault with its code is one outage incident with that code, whichever version reports it: a 1.6
Faulted StatusNotification with the errorCode, or a 2.0.1 NotifyEvent (component/variable) beside the EVSE's Faulted
status (the `ocpp` library's charge points); the return to Available resolves it."""

from __future__ import annotations

import pytest

from faults_live.live import eventually, fast_config, incidents
from helpers import ocpp_url
from peers.chargers import LibraryCharger


@pytest.mark.parametrize("code", ["GroundFailure", "OverCurrentFailure", "PowerMeterFailure", "UnderVoltage",
                                  "OverVoltage"])
async def test_a_fault_is_one_outage_incident_with_its_code(sqlite_url, ocpp_version, code, start_server):
    # 2.0.1 Under/OverVoltage: a NotifyEvent on a variable that does not itself fault the EVSE, then the Faulted
    # status (no code) takes the connector out of service: still one incident, an outage from then on.
    app = await start_server(sqlite_url, fast_config(detection={"reconnect_grace": 60}))
    cp = LibraryCharger(ocpp_url(app), "CODE-1", ocpp_version)
    await cp.connect()
    await cp.boot(connectors=1)
    await cp.status(1, "Faulted", code, vendorErrorCode="E-42", info="as the charger says")
    opened = await eventually(lambda: incidents(app, status="open"), timeout=20)
    await cp.status(1, "Available")
    resolved = await eventually(lambda: incidents(app, status="resolved"), timeout=20)
    assert [(i["kind"], i["code"], i["vendor_error_code"]) for i in opened] == [("connector_error", code, "E-42")]
    assert [(i["code"], i["outage"]) for i in resolved] == [(code, True)]
    assert [i["number"] for i in resolved] == [opened[0]["number"]]
    assert await incidents(app) == resolved, "exactly one incident for the fault"
    await cp.close()
