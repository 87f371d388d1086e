"""The gateway over a real WebSocket connection, on SQLite and PostgreSQL."""

import asyncio
import json

import httpx
import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chargewatch.sim.client import OcppError
from chargewatch.store import schema
from chargewatch.store.registry import put_id_tag, register_charger
from helpers import boot, connect, http_url, meter, ocpp_url, ts


def register(app, charger_id, password=None, timezone="Europe/Berlin"):
    with app.engine.begin() as connection:
        register_charger(connection, charger_id, password=password, timezone=timezone, tariff_id=None,
                         now=app.gateway.now())


def add_tag(app, tag, status="Accepted"):
    with app.engine.begin() as connection:
        put_id_tag(connection, {"id_tag": tag, "status": status, "expiry_date": None, "parent_id_tag": None,
                                "description": None})
    app.gateway.id_tags.refresh()


async def raw_exchange(app, charger_id, frame: str) -> list:
    async with ws_connect(f"{ocpp_url(app)}/{charger_id}", subprotocols=["ocpp1.6"]) as ws:
        await ws.send(frame)
        return json.loads(await asyncio.wait_for(ws.recv(), 5))


async def test_full_session_is_stored_with_energy_and_times(server):
    add_tag(server, "TAG-1")
    cp = await connect(server, "CP-1")
    assert (await cp.call("BootNotification", boot()))["status"] == "Accepted"
    assert (await cp.call("Authorize", {"idTag": "TAG-1"}))["idTagInfo"]["status"] == "Accepted"
    start = await cp.call("StartTransaction", {"connectorId": 1, "idTag": "TAG-1", "meterStart": 100_000,
                                               "timestamp": ts(0)})
    tx = start["transactionId"]
    await cp.call("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": meter(104_000, 20, 12_000)})
    await cp.call("StopTransaction", {"transactionId": tx, "meterStop": 107_500, "timestamp": ts(40),
                                      "reason": "EVDisconnected"})
    await cp.close()
    async with httpx.AsyncClient(base_url=http_url(server)) as api:
        session = (await api.get(f"/api/v1/sessions/{tx}")).json()
    assert session["energy_wh"] == 7_500
    assert session["started_at"] == "2026-11-02T09:00:00Z" and session["stopped_at"] == "2026-11-02T09:40:00Z"
    assert session["stop_reason"] == "EVDisconnected" and session["status"] == "completed"
    assert [r["value"] for r in session["meter_readings"]] == ["104000.0000", "12000.0000"] or \
        [r["value"] for r in session["meter_readings"]] == ["104000", "12000"]


async def test_every_frame_is_kept_in_the_raw_log(server):
    cp = await connect(server, "CP-LOG")
    await cp.call("Heartbeat", {})
    await cp.close()
    m = schema.ocpp_messages
    with server.engine.connect() as connection:
        rows = connection.execute(select(m.c.direction, m.c.message_type, m.c.action)
                                  .where(m.c.charger_id == "CP-LOG").order_by(m.c.id)).all()
    assert [tuple(r) for r in rows] == [("in", 2, "Heartbeat"), ("out", 3, "Heartbeat")]


async def test_resent_transaction_messages_are_idempotent(server):
    cp = await connect(server, "CP-DUP")
    start_payload = {"connectorId": 1, "idTag": "X", "meterStart": 0, "timestamp": ts(0)}
    first = await cp.call("StartTransaction", start_payload)
    again = await cp.call("StartTransaction", start_payload)
    tx = first["transactionId"]
    assert again["transactionId"] == tx
    values = {"connectorId": 1, "transactionId": tx, "meterValue": meter(2_000, 10)}
    await cp.call("MeterValues", values)
    await cp.call("MeterValues", values)
    stop = {"transactionId": tx, "meterStop": 3_000, "timestamp": ts(20)}
    await cp.call("StopTransaction", stop)
    await cp.call("StopTransaction", stop)
    await cp.close()
    with server.engine.connect() as connection:
        sessions = connection.execute(select(schema.sessions).where(schema.sessions.c.charger_id == "CP-DUP")).all()
        readings = connection.execute(select(func.count()).select_from(schema.meter_readings)
                                      .where(schema.meter_readings.c.charger_id == "CP-DUP")).scalar()
    assert len(sessions) == 1 and sessions[0].energy_wh == 3_000
    assert readings == 1


@pytest.mark.parametrize(
    "frame, code",
    [
        ("this is not json", "FormationViolation"),
        ('[2, "m1", "NoSuchAction", {}]', "NotImplemented"),
        ('[2, "m1", "Reset", {"type": "Soft"}]', "NotSupported"),
        ('[2, "m1", "BootNotification", {"chargePointVendor": "x"}]', "ProtocolError"),
        ('[2, "m1", "StatusNotification", {"connectorId": "1", "errorCode": "NoError", "status": "Available"}]',
         "TypeConstraintViolation"),
        ('[2, "m1", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"}]',
         "PropertyConstraintViolation"),
        ('[2, "m1", "MeterValues", {"connectorId": 1, "meterValue": []}]', "OccurenceConstraintViolation"),
        ('[7, "m1", "Heartbeat", {}]', "FormationViolation"),
    ],
)
async def test_bad_frames_get_the_right_callerror_and_the_connection_stays_open(server, frame, code):
    async with ws_connect(f"{ocpp_url(server)}/CP-BAD", subprotocols=["ocpp1.6"]) as ws:
        await ws.send(frame)
        reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert reply[0] == 4 and reply[2] == code
        await ws.send('[2, "ok", "Heartbeat", {}]')
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))[:2] == [3, "ok"]
    with server.engine.connect() as connection:
        logged = connection.execute(select(schema.ocpp_messages.c.payload).where(
            schema.ocpp_messages.c.charger_id == "CP-BAD", schema.ocpp_messages.c.direction == "in")).scalars().all()
    assert frame in logged


async def test_oversized_frame_closes_with_1009_and_others_are_undisturbed(server):
    healthy = await connect(server, "CP-HEALTHY")
    async with ws_connect(f"{ocpp_url(server)}/CP-HUGE", subprotocols=["ocpp1.6"], max_size=None) as ws:
        await ws.send('[2, "big", "DataTransfer", {"vendorId": "x", "data": "' + "x" * 300_000 + '"}]')
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd.code == 1009
    assert "currentTime" in await healthy.call("Heartbeat", {})
    await healthy.close()


async def test_unsupported_ocpp_version_is_refused_at_the_upgrade(server):
    # Was: 101, then close 1002. The compliance test case (issue 14, bug 3) wants the upgrade itself refused;
    # tests/gateway/test_subprotocol_refusal.py has the raw frames.
    with pytest.raises(InvalidStatus) as refused:
        await ws_connect(f"{ocpp_url(server)}/CP-V2", subprotocols=["ocpp2.0"])
    assert refused.value.response.status_code == 400


async def test_unknown_charger_is_refused_without_accept_unknown(db_url):
    from chargewatch.runtime import Chargewatch
    from conftest import make_options

    app = Chargewatch(make_options(db_url, accept_unknown=False))
    await app.start()
    try:
        with pytest.raises(InvalidStatus) as refused:
            await connect(app, "STRANGER")
        assert refused.value.response.status_code == 404
        register(app, "KNOWN", password="s3cret-password")
        with pytest.raises(InvalidStatus) as no_auth:
            await connect(app, "KNOWN")
        assert no_auth.value.response.status_code == 401
        with pytest.raises(InvalidStatus) as wrong:
            await connect(app, "KNOWN", password="wrong-password")
        assert wrong.value.response.status_code == 401
        cp = await connect(app, "KNOWN", password="s3cret-password")
        assert (await cp.call("BootNotification", boot()))["status"] == "Accepted"
        await cp.close()
        with app.engine.connect() as connection:
            stored = connection.execute(select(schema.chargers.c.password_hash)
                                        .where(schema.chargers.c.id == "KNOWN")).scalar()
        assert stored.startswith("$argon2") and "s3cret" not in stored
    finally:
        await app.stop()


async def test_commands_reach_the_charger_and_return_its_answer(server):
    async def charger_side(action, payload):
        return {"status": "Accepted"} if action == "Reset" else {"status": "Rejected"}

    cp = await connect(server, "CP-CMD", handler=charger_side)
    await cp.call("BootNotification", boot())
    async with httpx.AsyncClient(base_url=http_url(server), timeout=10) as api:
        answered = (await api.post("/api/v1/chargers/CP-CMD/commands",
                                   json={"action": "Reset", "payload": {"type": "Soft"}})).json()
        invalid = await api.post("/api/v1/chargers/CP-CMD/commands", json={"action": "Reset", "payload": {}})
        offline = (await api.post("/api/v1/chargers/NOBODY/commands",
                                  json={"action": "Reset", "payload": {"type": "Hard"}})).json()
    assert answered["status"] == "answered" and answered["response"] == {"status": "Accepted"}
    assert invalid.status_code == 422
    assert offline["status"] == "offline"
    await cp.close()


async def test_command_times_out_when_the_charger_never_answers(server):
    async def silent(action, payload):
        await asyncio.sleep(60)

    cp = await connect(server, "CP-SILENT", handler=silent)
    # The handshake completes before the gateway holds the link (it loads the state first): wait for it, bounded.
    for _ in range(200):
        if "CP-SILENT" in server.gateway.links:
            break
        await asyncio.sleep(0.025)
    async with httpx.AsyncClient(base_url=http_url(server), timeout=10) as api:
        result = (await api.post("/api/v1/chargers/CP-SILENT/commands",
                                 json={"action": "UnlockConnector", "payload": {"connectorId": 1},
                                       "timeout": 0.5})).json()
    assert result["status"] == "timeout"
    await cp.close()


async def test_authorize_rejects_blocked_and_unknown_tags(server):
    add_tag(server, "BLOCKED", status="Blocked")
    cp = await connect(server, "CP-AUTH")
    assert (await cp.call("Authorize", {"idTag": "BLOCKED"}))["idTagInfo"]["status"] == "Blocked"
    assert (await cp.call("Authorize", {"idTag": "NEVER-SEEN"}))["idTagInfo"]["status"] == "Invalid"
    await cp.close()


async def test_a_callerror_from_the_server_raises_in_the_client(server):
    cp = await connect(server, "CP-ERR")
    with pytest.raises(OcppError) as caught:
        await cp.call("StatusNotification", {"connectorId": 1})
    assert caught.value.code == "ProtocolError"
    await cp.close()


async def test_a_signed_reading_beside_the_plain_one_of_the_same_instant_is_kept(server):
    cp = await connect(server, "CP-SIGNED")
    tx = (await cp.call("StartTransaction", {"connectorId": 1, "idTag": "X", "meterStart": 0,
                                             "timestamp": ts(0)}))["transactionId"]
    await cp.call("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [{
        "timestamp": ts(5), "sampledValue": [
            {"value": "1500", "context": "Sample.Periodic"},
            {"value": "OCMF|{\"RD\":[]}|{\"SD\":\"00\"}", "format": "SignedData", "context": "Sample.Periodic"},
        ]}]})
    await cp.close()
    m = schema.meter_readings
    with server.engine.connect() as connection:
        rows = connection.execute(select(m.c.format, m.c.signed_data).where(m.c.transaction_id == tx)
                                  .order_by(m.c.format)).all()
    assert [r.format for r in rows] == ["Raw", "SignedData"]
    assert rows[1].signed_data.startswith("OCMF|")
