"""Tariffs as data: created, versioned and assigned through the API; bad tariffs refused with the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from billing_live.live_billing import (
    TOU_IDLE_TARIFF,
    idle_and_stop,
    register_berlin_charger,
    start_evening_session,
    wait_for_bill,
)
from chargewatch.store.billing import assigned_tariff
from helpers import connect

pytestmark = pytest.mark.asyncio(loop_scope="module")


def tariff(tariff_id: str, day_price: float = 0.30, **extra: Any) -> dict[str, Any]:
    body = {**copy.deepcopy(TOU_IDLE_TARIFF), "id": tariff_id, **extra}
    body["elements"][0]["price_components"][0]["price"] = day_price
    return body


async def test_an_invalid_tariff_is_refused_with_the_field_and_reason_and_nothing_is_stored(shared_api):
    bad = tariff("BAD-VAT")
    bad["elements"][1]["price_components"][0]["vat"] = 119
    response = await shared_api.post("/api/v1/tariffs", json=bad)
    assert response.status_code == 422
    assert response.json()["errors"][0] == {"field": "elements[1].price_components[0].vat",
                                            "reason": "must be a percentage between 0 and 100, got 119."}
    assert (await shared_api.get("/api/v1/tariffs/BAD-VAT")).status_code == 404
    assert "BAD-VAT" not in [t["id"] for t in (await shared_api.get("/api/v1/tariffs")).json()["items"]]


async def test_a_tariff_that_is_not_json_is_refused_at_the_root(shared_api):
    response = await shared_api.post("/api/v1/tariffs", content=b"{not json", headers={"content-type":
                                                                                       "application/json"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "$"


async def test_a_tariff_whose_id_differs_from_the_path_is_refused(shared_api):
    response = await shared_api.put("/api/v1/tariffs/OTHER", json=tariff("MISMATCH"))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "id"


async def test_creating_an_existing_tariff_conflicts(shared_api):
    assert (await shared_api.post("/api/v1/tariffs", json=tariff("TWICE"))).status_code == 201
    assert (await shared_api.post("/api/v1/tariffs", json=tariff("TWICE"))).status_code == 409


async def test_every_update_is_a_new_version_and_old_versions_are_kept(shared_api):
    assert (await shared_api.post("/api/v1/tariffs", json=tariff("VERSIONED"))).status_code == 201
    assert (await shared_api.put("/api/v1/tariffs/VERSIONED", json=tariff("VERSIONED", 0.35))).status_code == 200
    detail = (await shared_api.get("/api/v1/tariffs/VERSIONED")).json()
    assert detail["current_version"] == 2
    assert [v["tariff"]["elements"][0]["price_components"][0]["price"] for v in detail["versions"]] == [0.3, 0.35]
    listed = {t["id"]: t["current_version"] for t in (await shared_api.get("/api/v1/tariffs")).json()["items"]}
    assert listed["VERSIONED"] == 2


async def test_a_session_is_priced_with_the_version_in_force_when_it_started(shared_server, shared_api):
    assert (await shared_api.post("/api/v1/tariffs", json=tariff("DATED"))).status_code == 201  # from now on
    for body in (tariff("DATED", 0.40, start_date_time="2026-11-01T00:00:00Z"),
                 tariff("DATED", 0.90, start_date_time="2027-01-01T00:00:00Z")):
        assert (await shared_api.put("/api/v1/tariffs/DATED", json=body)).status_code == 200
    await register_berlin_charger(shared_api, "BER-DATED", "DATED")
    cp = await connect(shared_server, "BER-DATED")
    tx = await start_evening_session(cp)
    await idle_and_stop(cp, tx)
    await cp.close()
    bill = await wait_for_bill(shared_api, tx)
    assert (bill["tariff_id"], bill["tariff_version"]) == ("DATED", 2)
    # 5.5 kWh x 0.40 (day) + 5.5 kWh x 0.20 (night) + 0.5 h x 2.40 (parking) = 4.50 net
    assert bill["invoice"]["total_net"] == "4.50"


async def test_the_most_specific_assignment_wins_connector_then_charger_then_default(shared_server, shared_api):
    for tariff_id in ("BASE", "SITE", "FAST"):
        assert (await shared_api.post("/api/v1/tariffs", json=tariff(tariff_id))).status_code == 201
    await shared_api.post("/api/v1/chargers", json={"id": "CP-A", "timezone": "Europe/Berlin"})
    for body in ({"tariff_id": "BASE"}, {"tariff_id": "SITE", "charger_id": "CP-A"},
                 {"tariff_id": "FAST", "charger_id": "CP-A", "connector_id": 2}):
        assert (await shared_api.put("/api/v1/tariff-assignments", json=body)).status_code == 200
    assignments = {(a["scope"], a["charger_id"], a["connector_id"]): a["tariff_id"]
                   for a in (await shared_api.get("/api/v1/tariff-assignments")).json()}
    assert assignments[("default", None, None)] == "BASE"
    assert assignments[("charger", "CP-A", None)] == "SITE"
    assert assignments[("connector", "CP-A", 2)] == "FAST"
    assert (await shared_api.get("/api/v1/chargers/CP-A")).json()["tariff_id"] == "SITE"
    with shared_server.engine.connect() as connection:
        assert [assigned_tariff(connection, "CP-A", n) for n in (1, 2)] == ["SITE", "FAST"]
        assert assigned_tariff(connection, "CP-ELSEWHERE", 1) == "BASE"
    unknown = await shared_api.put("/api/v1/tariff-assignments", json={"tariff_id": "NOPE"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "tariff_id"


async def test_the_openapi_document_describes_the_billing_api(shared_api):
    paths = (await shared_api.get("/openapi.json")).json()["paths"]
    for path in ("/api/v1/tariffs", "/api/v1/tariffs/{tariff_id}", "/api/v1/tariff-assignments",
                 "/api/v1/chargers/{charger_id}/ocmf-key", "/api/v1/sessions/{transaction_id}/cost",
                 "/api/v1/driver/{token}/cost", "/api/v1/sessions/{transaction_id}/invoice", "/api/v1/invoices",
                 "/api/v1/invoices/{number}", "/api/v1/invoices/{number}.pdf", "/api/v1/invoices/{number}/credit",
                 "/api/v1/cdrs", "/api/v1/cdrs/{cdr_id}", "/api/v1/reviews",
                 "/api/v1/reviews/{transaction_id}/resolve"):
        assert path in paths, path
