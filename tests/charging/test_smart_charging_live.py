"""Smart charging over real WebSockets, for OCPP 1.6 and 2.0.1 on SQLite and PostgreSQL: the operator's limit
arrives at an `ocpp` library charger (which checks it against the official schema) as a profile of the right shape
and unit, is kept, shows in the composite schedule the charger computes (stored, on the API and the charger page),
and is cleared; invalid profiles are refused naming the field and never sent; a Rejected answer is recorded; a
2.0.1 station's own reports (ReportChargingProfiles, NotifyChargingLimit, ClearedChargingLimit) are kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from chargewatch.api.auth import put_operator
from chargewatch.cli import main as cli_main
from chargewatch.gateway.replay import replay
from chargewatch.store import charging as store_charging
from chargewatch.store import schema
from helpers import http_url, ocpp_url
from peers.smart_chargers import SmartCharger


@asynccontextmanager
async def charger(server: Any, charger_id: str, version: str, **options: Any) -> AsyncIterator[SmartCharger]:
    cp = SmartCharger(ocpp_url(server), charger_id, version, **options)
    await cp.connect()
    try:
        await cp.boot(connectors=2)
        for _ in range(200):  # bounded: the gateway holds the link once the boot is admitted
            if charger_id in server.gateway.links:
                break
            await asyncio.sleep(0.02)
        yield cp
    finally:
        await cp.close()


OPERATOR = ("smart-admin", "smart-password-1")


def add_operator(server: Any) -> httpx.BasicAuth:
    """An operator account (the API and pages then want it): Basic auth for the API."""
    with server.engine.begin() as connection:
        put_operator(connection, *OPERATOR, "admin", datetime.now(UTC))
    return httpx.BasicAuth(*OPERATOR)


async def station_page(server: Any, charger_id: str) -> str:
    """The charger page as the operator sees it, logged in through the form."""
    async with httpx.AsyncClient(base_url=http_url(server), timeout=15) as client:
        await client.get("/login")
        await client.post("/login", data={"username": "smart-admin", "password": "smart-password-1", "next": "/",
                                          "csrf_token": client.cookies["cw_login_csrf"]})
        page = await client.get(f"/stations/{charger_id}")
    assert page.status_code == 200, page.text
    return page.text


def sent(cp: SmartCharger, action: str) -> list[dict[str, Any]]:
    return [payload for name, payload in cp.received if name == action]


def profile_of(cp: SmartCharger) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """The last SetChargingProfile: (connector/EVSE, the profile, its one schedule), whatever the version."""
    payload = sent(cp, "SetChargingProfile")[-1]
    if cp.v201:
        profile = payload["chargingProfile"]
        assert isinstance(profile["chargingSchedule"], list) and len(profile["chargingSchedule"]) == 1
        return payload["evseId"], profile, profile["chargingSchedule"][0]
    return payload["connectorId"], payload["csChargingProfiles"], payload["csChargingProfiles"]["chargingSchedule"]


def profile_id(cp: SmartCharger, profile: dict[str, Any]) -> int:
    return int(profile["id"] if cp.v201 else profile["chargingProfileId"])


async def test_a_connector_limit_arrives_in_watts_shows_in_the_composite_schedule_and_is_cleared(server,
                                                                                                ocpp_version):
    charger_id = f"LIM-{ocpp_version[-3:]}"
    auth = add_operator(server)
    async with httpx.AsyncClient(base_url=http_url(server), timeout=15, auth=auth) as api, \
            charger(server, charger_id, ocpp_version) as cp:
        limited = await api.put(f"/api/v1/chargers/{charger_id}/charging/limit", json={"kw": 11, "connector_id": 1})
        assert limited.status_code == 200, limited.text
        row = limited.json()
        connector, profile, schedule = profile_of(cp)
        assert connector == 1
        assert profile["chargingProfilePurpose"] == "TxDefaultProfile"
        assert (profile["stackLevel"], profile["chargingProfileKind"]) == (1, "Absolute")
        assert profile_id(cp, profile) == row["id"]
        assert schedule["chargingRateUnit"] == "W"
        assert schedule["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 11000}]
        assert (row["active"], row["answer_status"], row["ocpp_version"], row["sent_action"]) == (
            True, "Accepted", ocpp_version, "SetChargingProfile")
        assert row["profile"]["purpose"] == "TxDefault" and row["limit_kw"] in ("11", "11.0000", 11)

        asked = await api.post(f"/api/v1/chargers/{charger_id}/charging/composite-schedule",
                               json={"connector_id": 1, "duration": 3600})
        assert asked.status_code == 200, asked.text
        assert (asked.json()["status"], asked.json()["rate_unit"], asked.json()["periods"]) == (
            "Accepted", "W", [{"start_period": 0, "limit": "11000"}])
        request = sent(cp, "GetCompositeSchedule")[-1]
        assert request == ({"evseId": 1, "duration": 3600} if cp.v201 else {"connectorId": 1, "duration": 3600})
        stored = (await api.get(f"/api/v1/chargers/{charger_id}/charging/composite-schedule")).json()
        assert [(c["connector_id"], c["periods"]) for c in stored] == [(1, [{"start_period": 0, "limit": "11000"}])]
        page = await station_page(server, charger_id)
        assert 'data-composite="1"' in page and "11000 W" in page and f'data-profile="{row["id"]}"' in page
        assert f'data-api="PUT /api/v1/chargers/{charger_id}/charging/limit"' in page  # the operator's buttons

        removed = await api.delete(f"/api/v1/chargers/{charger_id}/charging/limit", params={"connector_id": 1})
        assert removed.status_code == 200, removed.text
        assert [(o["profile_id"], o["answer_status"], o["cleared"]) for o in removed.json()] == [
            (row["id"], "Accepted", True)]
        clear = sent(cp, "ClearChargingProfile")[-1]
        assert clear == ({"chargingProfileId": row["id"]} if cp.v201 else {"id": row["id"]})
        assert cp.held() == []
        again = await api.post(f"/api/v1/chargers/{charger_id}/charging/composite-schedule",
                               json={"connector_id": 1, "duration": 3600, "rate_unit": "W"})
        assert again.json()["periods"] == [{"start_period": 0, "limit": "22000"}]  # the charger's own maximum
        view = (await api.get(f"/api/v1/chargers/{charger_id}/charging")).json()
    assert view["active"] == []
    assert [(p["id"], p["active"], p["cleared_at"] is not None) for p in view["profiles"]] == [(row["id"], False, True)]


async def test_a_charger_taking_only_current_gets_its_limit_in_amps_per_phase(server, ocpp_version):
    charger_id = f"AMP-{ocpp_version[-3:]}"
    units = "A" if ocpp_version == "ocpp2.0.1" else "Current"
    async with httpx.AsyncClient(base_url=http_url(server), timeout=15) as api, \
            charger(server, charger_id, ocpp_version, rate_units=units) as cp:
        limited = await api.put(f"/api/v1/chargers/{charger_id}/charging/limit", json={"kw": 11})
        assert limited.status_code == 200, limited.text
        connector, profile, schedule = profile_of(cp)
    assert connector == 0
    assert profile["chargingProfilePurpose"] == ("ChargingStationMaxProfile" if cp.v201 else "ChargePointMaxProfile")
    # 11 000 W / (230 V × 3 phases) = 15.94 A, rounded down to the one decimal the spec allows
    assert schedule["chargingRateUnit"] == "A"
    assert schedule["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 15.9, "numberPhases": 3}]
    assert "15.9 A per phase" in limited.json()["rendering"] and "230 V" in limited.json()["rendering"]


async def test_a_site_limit_is_split_equally_across_a_mixed_site(server):
    async with httpx.AsyncClient(base_url=http_url(server), timeout=15) as api, \
            charger(server, "SITE-16", "ocpp1.6") as old, charger(server, "SITE-201", "ocpp2.0.1") as new:
        with server.engine.begin() as connection:
            connection.execute(update(schema.chargers).where(schema.chargers.c.id.in_(["SITE-16", "SITE-201"]))
                               .values(site_id="depot"))
        limited = await api.put("/api/v1/sites/depot/charging/limit", json={"kw": 30})
        assert limited.status_code == 200, limited.text
        body = limited.json()
        assert [(c["charger_id"], c["kw"], c["profile"]["answer_status"]) for c in body["chargers"]] == [
            ("SITE-16", "15.0", "Accepted"), ("SITE-201", "15.0", "Accepted")]
        for cp in (old, new):
            connector, profile, schedule = profile_of(cp)
            assert (connector, schedule["chargingSchedulePeriod"]) == (0, [{"startPeriod": 0, "limit": 15000}])
        removed = await api.delete("/api/v1/sites/depot/charging/limit")
        assert sorted((o["charger_id"], o["cleared"]) for o in removed.json()) == [
            ("SITE-16", True), ("SITE-201", True)]
        assert old.held() == [] and new.held() == []
        missing = await api.put("/api/v1/sites/nowhere/charging/limit", json={"kw": 30})
    assert missing.status_code == 404


INVALID = [
    ({"schedule": {"rate_unit": "kW", "periods": [{"start_period": 0, "limit": 10}]}}, "schedule.rate_unit"),
    ({"schedule": {"rate_unit": "W", "periods": [{"start_period": 0, "limit": 10},
                                                 {"start_period": 0, "limit": 5}]}},
     "schedule.periods[1].start_period"),
    ({"schedule": {"rate_unit": "W", "periods": [{"start_period": 60, "limit": 10}]}},
     "schedule.periods[0].start_period"),
    ({"schedule": {"rate_unit": "W", "duration": 600, "periods": [{"start_period": 0, "limit": 10},
                                                                  {"start_period": 600, "limit": 5}]}},
     "schedule.periods[1].start_period"),
    ({"schedule": {"rate_unit": "A", "periods": [{"start_period": 0, "limit": "16.25"}]}}, "schedule.periods[0].limit"),
    ({"schedule": {"rate_unit": "A", "periods": [{"start_period": 0, "limit": 0}]}}, "schedule.periods[0].limit"),
    ({"schedule": {"rate_unit": "A", "periods": [{"start_period": 0, "limit": 16, "number_phases": 4}]}},
     "schedule.periods[0].number_phases"),
    ({"stack_level": -1}, "stack_level"),
    ({"stack_level": 9}, "stack_level"),  # the charger says 8 (2.0.1 ProfileStackLevel, 1.6 ChargeProfileMaxStackLevel)
    ({"purpose": "Tx"}, "transaction_id"),
    ({"purpose": "Tx", "transaction_id": 999}, "transaction_id"),
    ({"kind": "Recurring"}, "recurrency_kind"),
    ({"recurrency_kind": "Daily"}, "recurrency_kind"),
    ({"purpose": "ChargerMax", "connector_id": 1}, "connector_id"),
    ({"purpose": "Max"}, "purpose"),
]


async def test_invalid_profiles_are_refused_naming_the_field_and_never_sent(server, ocpp_version):
    charger_id = f"BAD-{ocpp_version[-3:]}"
    base = {"connector_id": 1, "purpose": "TxDefault", "stack_level": 0, "kind": "Absolute",
            "schedule": {"rate_unit": "W", "periods": [{"start_period": 0, "limit": 7400}]}}
    async with httpx.AsyncClient(base_url=http_url(server), timeout=15) as api, \
            charger(server, charger_id, ocpp_version) as cp:
        if cp.v201:  # the station's device model says how many stack levels it has
            with server.engine.begin() as connection:
                connection.execute(schema.device_variables.insert().values(
                    charger_id=charger_id, component="SmartChargingCtrlr", component_instance="", evse_id=0,
                    connector_id=0, variable="ProfileStackLevel", variable_instance="", attribute_type="Actual",
                    value="8", mutability="ReadOnly", persistent=True, constant=True, request_id=1,
                    reported_at=server.gateway.now()))
        else:  # a 1.6 charger says it in its configuration, once read
            read = await api.post(f"/api/v1/chargers/{charger_id}/commands", json={
                "action": "GetConfiguration", "payload": {"key": ["ChargeProfileMaxStackLevel"]}})
            assert read.json()["response"]["configurationKey"][0]["value"] == "8"
        for change, field in INVALID:
            answer = await api.post(f"/api/v1/chargers/{charger_id}/charging/profiles",
                                    json={"profile": {**base, **change}})
            assert answer.status_code == 422, (change, answer.text)
            assert [e["field"] for e in answer.json()["errors"]] == [field], (change, answer.text)
        valid = await api.post(f"/api/v1/chargers/{charger_id}/charging/profiles", json={"profile": base})
        assert valid.status_code == 200, valid.text
        unknown = await api.post("/api/v1/chargers/NOBODY/charging/profiles", json={"profile": base})
    assert unknown.status_code == 404
    assert len(sent(cp, "SetChargingProfile")) == 1  # only the valid one went out
    assert valid.json()["answer_status"] == "Accepted"


async def test_a_rejected_profile_is_recorded_and_not_in_force(server, ocpp_version):
    charger_id = f"REJ-{ocpp_version[-3:]}"
    async with httpx.AsyncClient(base_url=http_url(server), timeout=15) as api, \
            charger(server, charger_id, ocpp_version, reject_profiles=True) as cp:
        answer = await api.put(f"/api/v1/chargers/{charger_id}/charging/limit", json={"kw": 7.4, "connector_id": 2})
        view = (await api.get(f"/api/v1/chargers/{charger_id}/charging")).json()
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["answer_status"], answer.json()["active"]) == (
        "answered", "Rejected", False)
    assert answer.json()["answer"]["status"] == "Rejected"
    assert view["active"] == [] and [p["answer_status"] for p in view["profiles"]] == ["Rejected"]
    assert len(sent(cp, "SetChargingProfile")) == 1 and cp.held() == []


async def test_a_tx_profile_names_the_running_transaction_in_the_chargers_words(server, ocpp_version):
    charger_id = f"TX-{ocpp_version[-3:]}"
    async with httpx.AsyncClient(base_url=http_url(server), timeout=15) as api, \
            charger(server, charger_id, ocpp_version) as cp:
        await api.put("/api/v1/id-tags/SMART-1", json={"id_tag": "SMART-1"})
        session = await cp.start(1, "SMART-1")
        answer = await api.post(f"/api/v1/chargers/{charger_id}/charging/profiles", json={"profile": {
            "connector_id": 1, "purpose": "Tx", "stack_level": 2, "kind": "Relative", "transaction_id": session,
            "schedule": {"rate_unit": "A", "duration": 3600, "periods": [
                {"start_period": 0, "limit": 16}, {"start_period": 1800, "limit": "10.5", "number_phases": 1}]}}})
        assert answer.status_code == 200, answer.text
        _, profile, schedule = profile_of(cp)
        asked = await api.post(f"/api/v1/chargers/{charger_id}/charging/composite-schedule",
                               json={"connector_id": 1, "duration": 600, "rate_unit": "A"})
        await cp.stop(session)
    assert profile["chargingProfilePurpose"] == "TxProfile"
    assert profile["transactionId"] == (cp.reference(session) if cp.v201 else session)
    assert schedule["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 16},
                                                  {"startPeriod": 1800, "limit": 10.5, "numberPhases": 1}]
    assert asked.json()["periods"] == [{"start_period": 0, "limit": "16"}]


async def test_a_201_station_reports_its_profiles_and_external_limits(server):
    charger_id = "REPORT-201"
    async with httpx.AsyncClient(base_url=http_url(server), timeout=15) as api, \
            charger(server, charger_id, "ocpp2.0.1") as cp:
        await api.put(f"/api/v1/chargers/{charger_id}/charging/limit", json={"kw": 11, "connector_id": 1})
        await api.put(f"/api/v1/chargers/{charger_id}/charging/limit", json={"kw": 50})
        asked = await api.post(f"/api/v1/chargers/{charger_id}/charging/report")
        assert (asked.status_code, asked.json()["answer_status"]) == (200, "Accepted"), asked.text
        await cp.notify_limit(1, "EMS", 4000)
        await cp.cleared_limit(1, "EMS")
        for _ in range(100):  # bounded: the report follows the answer
            view = (await api.get(f"/api/v1/chargers/{charger_id}/charging")).json()
            if sum(r["kind"] == "ReportChargingProfiles" for r in view["reports"]) == 2:
                break
            await asyncio.sleep(0.05)
    reports = sorted(view["reports"], key=lambda r: r["id"])
    kinds = [(r["kind"], r["connector_id"], r["limit_source"]) for r in reports]
    assert ("NotifyChargingLimit", 1, "EMS") in kinds and ("ClearedChargingLimit", 1, "EMS") in kinds
    profiles = [r for r in reports if r["kind"] == "ReportChargingProfiles"]
    assert {r["request_id"] for r in profiles} == {asked.json()["request_id"]}
    assert sorted((r["connector_id"], r["data"][0]["purpose"], r["data"][0]["schedule"]["periods"][0]["limit"])
                  for r in profiles) == [(0, "ChargerMax", "50000"), (1, "TxDefault", "11000")]
    notified = next(r for r in reports if r["kind"] == "NotifyChargingLimit")
    assert notified["grid_critical"] is True and notified["data"][0]["periods"][0]["limit"] == "4000"
    for _ in range(2):  # the reports are derived from the raw log: a replay rebuilds them, twice changes nothing
        await asyncio.to_thread(replay, server.engine)
        with server.engine.connect() as connection:
            rebuilt = store_charging.reports(connection, charger_id)
        assert sorted((r["kind"], r["connector_id"], r["data"]) for r in rebuilt) == sorted(
            (r["kind"], r["connector_id"], r["data"]) for r in reports)


async def test_a_16_charger_has_no_get_charging_profiles(server):
    async with httpx.AsyncClient(base_url=http_url(server), timeout=15) as api, \
            charger(server, "REPORT-16", "ocpp1.6"):
        asked = await api.post("/api/v1/chargers/REPORT-16/charging/report")
    assert asked.status_code == 422 and "GetChargingProfiles" in asked.json()["detail"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_cli_limits_and_clears_through_the_api(server, capsys):
    async with charger(server, "CLI-16", "ocpp1.6") as cp:
        api = ["--api", http_url(server), "--timeout", "10"]
        assert await asyncio.to_thread(cli_main, ["charging", "limit", "CLI-16", "--kw", "3.7", "--connector", "1",
                                                  *api]) == 0
        assert profile_of(cp)[2]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 3700}]
        assert await asyncio.to_thread(cli_main, ["charging", "schedule", "CLI-16", "--connector", "1", *api]) == 0
        assert '"limit": "3700"' in capsys.readouterr().out
        assert await asyncio.to_thread(cli_main, ["charging", "clear", "CLI-16", "--connector", "1", *api]) == 0
        assert cp.held() == []
        assert await asyncio.to_thread(cli_main, ["charging", "limit", "--kw", "3", *api]) == 2


async def test_a_malformed_201_charging_limit_is_refused_naming_the_field_and_the_station_stays(server):
    async with charger(server, "RAW-201", "ocpp2.0.1") as cp:
        refused = await cp.call_raw("NotifyChargingLimit", {"evseId": 1})
        wrong = await cp.call_raw("ReportChargingProfiles", {
            "requestId": 1, "chargingLimitSource": "CSO", "evseId": 1, "chargingProfile": [{"id": 1}]})
        kept = await cp.call_raw("ClearedChargingLimit", {"chargingLimitSource": "SO"})
    assert refused[0] == 4 and refused[2] == "OccurrenceConstraintViolation" and "chargingLimit" in refused[3]
    assert wrong[0] == 4 and "chargingProfile" in refused[3] + wrong[3]
    assert kept == [3, kept[1], {}]  # the same connection answers the next call
    with server.engine.connect() as connection:
        rows = store_charging.reports(connection, "RAW-201")
    assert [(r["kind"], r["connector_id"], r["limit_source"]) for r in rows] == [("ClearedChargingLimit", 0, "SO")]
