"""A connector fault with its code is one outage incident with that code, whichever version reports it: a 1.6
Faulted StatusNotification with the errorCode, or a 2.0.1 NotifyEvent (component/variable) beside the EVSE's Faulted
status (the `ocpp` library's charge points); the return to Available resolves it."""

from __future__ import annotations

import pytest

from faults_live.live import eventually, fast_config, incidents
from helpers import ocpp_url
from peers.chargers import FAULTED_AFTER_NOTIFY, LibraryCharger

# In 2.0.1 these are reported on a variable that does not itself mark the EVSE faulted (see FAULTED_AFTER_NOTIFY).
NOT_FAULTING_201 = frozenset({"UnderVoltage", "OverVoltage"})


@pytest.mark.parametrize("code", ["GroundFailure", "OverCurrentFailure", "PowerMeterFailure", "UnderVoltage",
                                  "OverVoltage"])
async def test_a_fault_is_one_outage_incident_with_its_code(sqlite_url, ocpp_version, code, start_server, request):
    if ocpp_version == "ocpp2.0.1" and code in NOT_FAULTING_201:
        request.applymarker(pytest.mark.xfail(strict=True, reason=FAULTED_AFTER_NOTIFY))
    app = await start_server(sqlite_url, fast_config())
    cp = LibraryCharger(ocpp_url(app), "CODE-1", ocpp_version)
    await cp.connect()
    await cp.boot(connectors=1)
    await cp.status(1, "Faulted", code, vendorErrorCode="E-42", info="as the charger says")
    opened = await eventually(lambda: incidents(app, status="open"))
    await cp.status(1, "Available")
    resolved = await eventually(lambda: incidents(app, status="resolved"))
    await cp.close()
    assert [(i["kind"], i["code"], i["outage"], i["vendor_error_code"]) for i in opened] == [
        ("connector_error", code, True, "E-42")]
    assert [i["number"] for i in resolved] == [opened[0]["number"]]
    assert await incidents(app) == resolved, "exactly one incident for the fault"
