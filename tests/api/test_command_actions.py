"""Every Central System → charger action of OCPP 1.6 (core, every profile, the security extension) and every
CSMS → station action of 2.0.1 is accepted by the command API, from the adapters' own lists; a payload that breaks
the official schema is a 422 naming the field, and nothing is sent. Over a real WebSocket with the `ocpp` library's
charge points."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from chargewatch.api.models import COMMAND_ACTIONS
from chargewatch.ocpp import v16
from chargewatch.ocpp.v201 import commands as v201_commands
from chargewatch.store import schema
from helpers import http_url, ocpp_url
from peers.chargers import LibraryCharger


async def test_the_api_offers_every_central_system_action_of_both_versions(server):
    async with httpx.AsyncClient(base_url=http_url(server)) as client:
        document = (await client.get("/openapi.json")).json()
    offered = set(document["components"]["schemas"]["CommandIn"]["properties"]["action"]["enum"])
    assert offered == set(COMMAND_ACTIONS)
    assert v16.CENTRAL_ACTIONS <= offered and v201_commands.CSMS_ACTIONS <= offered and "DataTransfer" in offered
    assert {"ReserveNow", "SendLocalList", "SetChargingProfile", "GetDiagnostics", "UpdateFirmware",
            "ExtendedTriggerMessage", "InstallCertificate", "SignedUpdateFirmware"} <= offered  # each 1.6 profile


INVALID_16 = [
    ("Reset", {"type": "Warm"}, "payload.type"),
    ("ReserveNow", {"connectorId": 1, "idTag": "TAG", "reservationId": 7}, "payload.expiryDate"),
    ("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": {
            "chargingRateUnit": "kW", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11.0}]}}},
     "payload.csChargingProfiles.chargingSchedule.chargingRateUnit"),
    ("SendLocalList", {"listVersion": "one", "updateType": "Full"}, "payload.listVersion"),
]


@pytest.mark.parametrize(("action", "payload", "field"), INVALID_16, ids=[case[0] for case in INVALID_16])
async def test_a_16_payload_breaking_the_schema_is_a_422_naming_the_field_and_is_not_sent(
        server, action, payload, field):
    cp = LibraryCharger(ocpp_url(server), f"CMD16-{action}")
    await cp.connect()
    try:
        await cp.boot()
        async with httpx.AsyncClient(base_url=http_url(server), timeout=20) as client:
            response = await client.post(f"/api/v1/chargers/CMD16-{action}/commands",
                                         json={"action": action, "payload": payload})
    finally:
        await cp.close()
    assert response.status_code == 422, response.text
    problem = response.json()
    assert [error["field"] for error in problem["errors"]] == [field], problem
    assert action in problem["detail"]
    assert not [name for name, _ in cp.received if name == action]
    with server.engine.connect() as connection:
        sent = connection.execute(select(schema.ocpp_messages.c.id).where(
            schema.ocpp_messages.c.action == action, schema.ocpp_messages.c.direction == "out")).all()
    assert sent == []


async def test_a_201_payload_breaking_the_schema_names_the_field(server):
    cp = LibraryCharger(ocpp_url(server), "CMD201", version="ocpp2.0.1")
    await cp.connect()
    try:
        await cp.boot()
        async with httpx.AsyncClient(base_url=http_url(server), timeout=20) as client:
            response = await client.post("/api/v1/chargers/CMD201/commands", json={
                "action": "SetChargingProfile", "payload": {"evseId": 1}})
    finally:
        await cp.close()
    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["payload.chargingProfile"]


async def test_profile_actions_beyond_core_are_sent_to_a_16_charger(server):
    cp = LibraryCharger(ocpp_url(server), "CMD16-LOCAL")
    await cp.connect()
    try:
        await cp.boot()
        async with httpx.AsyncClient(base_url=http_url(server), timeout=20) as client:
            for action, payload in [("GetLocalListVersion", {}),
                                    ("CancelReservation", {"reservationId": 3}),
                                    ("ExtendedTriggerMessage", {"requestedMessage": "Heartbeat"})]:
                response = await client.post("/api/v1/chargers/CMD16-LOCAL/commands",
                                             json={"action": action, "payload": payload, "timeout": 10})
                assert response.status_code == 200, response.text
                assert response.json()["status"] in ("answered", "error")  # the library charger answers each
    finally:
        await cp.close()
    assert [name for name, _ in cp.received] == ["GetLocalListVersion", "CancelReservation", "ExtendedTriggerMessage"]


async def test_a_charger_to_central_system_action_is_refused_by_name(server):
    async with httpx.AsyncClient(base_url=http_url(server)) as client:
        response = await client.post("/api/v1/chargers/ANY/commands", json={"action": "BootNotification"})
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["action"]
