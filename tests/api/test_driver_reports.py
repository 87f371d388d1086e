"""A driver's problem report needs the driver's session token (issue 10, item 11): without it anyone could open
incidents for any charger by its id."""

from __future__ import annotations

import httpx

from helpers import boot, connect, http_url


async def test_a_report_naming_only_a_charger_is_refused_and_opens_no_incident(server):
    """The issue's probe: POST /api/v1/driver/reports with a charger id and no token (it opened an incident)."""
    cp = await connect(server, "CP-REPORTED")
    await cp.call("BootNotification", boot())
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        refused = await api.post("/api/v1/driver/reports", json={"charger_id": "CP-REPORTED", "connector_id": 1,
                                                                 "category": "damaged", "text": "prank"})
        forged = await api.post("/api/v1/driver/reports", json={"token": "1-AAAAAAAAAAAAAAAAAAAAAA",
                                                                "category": "damaged"})
        incidents = (await api.get("/api/v1/incidents", params={"status": "active"})).json()["items"]
    await cp.close()
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "token"
    assert forged.status_code == 422 and forged.json()["errors"] == [
        {"field": "token", "reason": "not a session link of this site"}]
    assert [i for i in incidents if i["kind"] == "driver_report"] == []
