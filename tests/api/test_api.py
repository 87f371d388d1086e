"""The HTTP API: sessions with filters and keyset paging, OpenAPI, metrics."""

import httpx

from helpers import connect, http_url, meter, ts


async def _sessions(server, charger, count):
    cp = await connect(server, charger)
    ids = []
    for i in range(count):
        tx = (await cp.call("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0,
                                                 "timestamp": ts(i * 60)}))["transactionId"]
        await cp.call("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": meter(1_000, i * 60 + 10)})
        if i < count - 1:
            await cp.call("StopTransaction", {"transactionId": tx, "meterStop": 2_000, "timestamp": ts(i * 60 + 30)})
        ids.append(tx)
    await cp.close()
    return ids


async def test_sessions_are_filtered_and_paged_newest_first(server):
    a = await _sessions(server, "CP-A", 5)
    b = await _sessions(server, "CP-B", 2)
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        page1 = (await api.get("/api/v1/sessions", params={"charger_id": "CP-A", "limit": 2})).json()
        page2 = (await api.get("/api/v1/sessions", params={"charger_id": "CP-A", "limit": 2,
                                                           "cursor": page1["next_cursor"]})).json()
        page3 = (await api.get("/api/v1/sessions", params={"charger_id": "CP-A", "limit": 2,
                                                           "cursor": page2["next_cursor"]})).json()
        active = (await api.get("/api/v1/sessions", params={"status": "active"})).json()
        bad = await api.get("/api/v1/sessions", params={"status": "sleeping"})
        bad_cursor = await api.get("/api/v1/sessions", params={"cursor": "nonsense"})
    seen = [s["transaction_id"] for p in (page1, page2, page3) for s in p["items"]]
    assert seen == list(reversed(a)) and page3["next_cursor"] is None
    assert {s["transaction_id"] for s in active["items"]} == {a[-1], b[-1]}
    assert bad.status_code == 422 and bad_cursor.status_code == 422
    assert bad_cursor.json()["errors"] == [{"field": "cursor", "reason": "not a cursor returned by this API"}]


async def test_session_detail_has_its_meter_series_and_driver_link(server):
    (tx,) = await _sessions(server, "CP-D", 1)
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        detail = (await api.get(f"/api/v1/sessions/{tx}")).json()
        missing = await api.get("/api/v1/sessions/999999")
    assert [r["measurand"] for r in detail["meter_readings"]] == ["Energy.Active.Import.Register"]
    assert detail["driver_path"].startswith(f"/s/{tx}-")
    assert missing.status_code == 404


async def test_openapi_document_and_metrics_are_served(server):
    await _sessions(server, "CP-M", 1)
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        spec = (await api.get("/openapi.json")).json()
        metrics = (await api.get("/metrics")).text
    assert "/api/v1/sessions" in spec["paths"] and "/api/v1/chargers/{charger_id}/commands" in spec["paths"]
    assert 'chargewatch_ocpp_messages_total{action="StartTransaction",direction="in"} 1.0' in metrics
    assert "chargewatch_commit_seconds_count" in metrics and "chargewatch_connected_chargers" in metrics


async def test_registering_a_charger_validates_the_time_zone(server):
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        bad = await api.post("/api/v1/chargers", json={"id": "CP-TZ", "timezone": "Mars/Olympus"})
        good = await api.post("/api/v1/chargers", json={"id": "CP-TZ", "timezone": "Europe/Berlin",
                                                        "password": "long-enough-secret"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "timezone"
    assert good.status_code == 201 and good.json()["timezone"] == "Europe/Berlin"
