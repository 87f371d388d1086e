"""Issue 10: no single frame closes a charger's connection, and every bad value gets a precise CALLERROR once.

Each test sends the exact input from the issue over a real WebSocket (raw frames: a well-behaved client library
would refuse to produce them), on SQLite and PostgreSQL, and then proves the connection still works.
"""

import asyncio
import json
import logging

import httpx
import pytest
from sqlalchemy import select
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from chargewatch.runtime import Chargewatch
from chargewatch.store import schema
from chargewatch.store.registry import register_charger
from conftest import make_options
from helpers import connect, http_url, ocpp_url


@pytest.fixture
async def sqlite_server(sqlite_url):
    """For what never reaches the store (framing, handshake, metrics, logs): one engine is enough."""
    app = Chargewatch(make_options(sqlite_url, accept_unknown=True))
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


class RawCharger:
    """A charger that sends exactly the text it is given and reads the answer to it."""

    def __init__(self, websocket):
        self.websocket = websocket

    async def exchange(self, frame: str) -> list:
        await self.websocket.send(frame)
        return json.loads(await asyncio.wait_for(self.websocket.recv(), 15))

    async def still_open(self) -> None:
        reply = await self.exchange('[2,"alive","Heartbeat",{}]')
        assert reply[:2] == [3, "alive"], reply


async def raw(app, charger_id):
    return RawCharger(await ws_connect(f"{ocpp_url(app)}/{charger_id}", subprotocols=["ocpp1.6"], max_size=None))


def inbound_rows(app, charger_id):
    m = schema.ocpp_messages
    with app.engine.connect() as connection:
        return connection.execute(select(m.c.direction, m.c.message_id, m.c.action, m.c.payload)
                                  .where(m.c.charger_id == charger_id).order_by(m.c.id)).all()


# ------------------------------------------------------------------ item 1: deep nesting


@pytest.mark.parametrize("frame", [
    "[" * 100_000,
    '[2,"deep","DataTransfer",{"vendorId":"x","data":' + '{"a":' * 5_000 + "1" + "}" * 5_000 + "}]",
], ids=["brackets", "datatransfer"])
async def test_deeply_nested_json_is_a_formation_violation_and_the_connection_stays(sqlite_server, frame):
    cp = await raw(sqlite_server, "CP-DEEP")
    reply = await cp.exchange(frame)
    assert reply[0] == 4 and reply[2] == "FormationViolation"
    await cp.still_open()
    await cp.websocket.close()


async def test_nesting_deeper_than_any_ocpp_payload_is_refused_even_when_json_can_parse_it(sqlite_server):
    cp = await raw(sqlite_server, "CP-DEEP-64")
    reply = await cp.exchange('[2,"d64","DataTransfer",{"vendorId":"x","extra":' + "[" * 64 + "]" * 64 + "}]")
    assert reply[:3] == [4, "d64", "FormationViolation"]
    await cp.still_open()
    await cp.websocket.close()


# ------------------------------------------------------------------ item 2: lone surrogates


async def test_lone_surrogate_as_message_id_is_refused_with_the_unknown_id(sqlite_server):
    cp = await raw(sqlite_server, "CP-SURR-ID")
    reply = await cp.exchange('[2,"\\ud800","Heartbeat",{}]')
    assert reply[:3] == [4, "-1", "FormationViolation"]
    await cp.still_open()
    await cp.websocket.close()


@pytest.mark.parametrize("action, payload", [
    ("Authorize", '{"idTag":"\\ud800"}'),
    ("BootNotification", '{"chargePointVendor":"ACME","chargePointModel":"\\ud800"}'),
], ids=["idTag", "model"])
async def test_lone_surrogate_in_a_payload_string_is_a_property_constraint_violation(server, action, payload):
    cp = await raw(server, "CP-SURR")
    reply = await cp.exchange(f'[2,"s1","{action}",{payload}]')
    assert reply[:3] == [4, "s1", "PropertyConstraintViolation"]
    await cp.still_open()
    await cp.websocket.close()


# ------------------------------------------------------------------ item 3: numbers the database can't hold


@pytest.mark.parametrize("action, payload, code", [
    ("MeterValues", '{"connectorId":1,"transactionId":100000000000000000000,'
                    '"meterValue":[{"timestamp":"2026-11-02T09:00:00Z","sampledValue":[{"value":"1"}]}]}',
     "PropertyConstraintViolation"),
    ("StopTransaction", '{"transactionId":100000000000000000000,"meterStop":1,"timestamp":"2026-11-02T09:00:00Z"}',
     "PropertyConstraintViolation"),
    ("StartTransaction", '{"connectorId":1,"idTag":"T","meterStart":100000000000000000000,'
                         '"timestamp":"2026-11-02T09:00:00Z"}', "PropertyConstraintViolation"),
    ("MeterValues", '{"connectorId":1,"transactionId":true,'
                    '"meterValue":[{"timestamp":"2026-11-02T09:00:00Z","sampledValue":[{"value":"1"}]}]}',
     "TypeConstraintViolation"),
    ("StopTransaction", '{"transactionId":true,"meterStop":1,"timestamp":"2026-11-02T09:00:00Z"}',
     "TypeConstraintViolation"),
], ids=["meter-tx-1e20", "stop-tx-1e20", "start-meter-1e20", "meter-tx-true", "stop-tx-true"])
async def test_numbers_the_database_cannot_hold_are_refused_before_any_lookup(server, action, payload, code):
    cp = await raw(server, "CP-BIG")
    reply = await cp.exchange(f'[2,"n1","{action}",{payload}]')
    assert reply[:3] == [4, "n1", code]
    await cp.still_open()
    await cp.websocket.close()


@pytest.mark.parametrize("payload", [
    '{"connectorId":4294967296,"errorCode":"NoError","status":"Available"}',
    '{"connectorId":-9223372036854775809,"errorCode":"NoError","status":"Available"}',
], ids=["connector-2^32", "below-int64"])
async def test_integers_beyond_their_column_are_a_property_constraint_violation(server, payload):
    cp = await raw(server, "CP-WIDE")
    reply = await cp.exchange(f'[2,"w1","StatusNotification",{payload}]')
    assert reply[:3] == [4, "w1", "PropertyConstraintViolation"]
    await cp.still_open()
    await cp.websocket.close()


# ------------------------------------------------------------------ item 4: a float is not an integer


@pytest.mark.parametrize("connector", ["1e308", "1.0"])
async def test_a_float_where_the_schema_says_integer_is_a_type_constraint_violation(server, connector):
    cp = await raw(server, "CP-FLOAT")
    reply = await cp.exchange(
        f'[2,"f1","StatusNotification",{{"connectorId":{connector},"errorCode":"NoError","status":"Faulted"}}]')
    assert reply[:3] == [4, "f1", "TypeConstraintViolation"]
    await cp.still_open()
    await cp.websocket.close()
    with server.engine.connect() as connection:
        stored = connection.execute(select(schema.connectors).where(schema.connectors.c.charger_id == "CP-FLOAT")).all()
    assert stored == []


# ------------------------------------------------------------------ item 5: schema-valid, not storable


@pytest.mark.parametrize("frame, code", [
    ('[2,"b1","StartTransaction",{"connectorId":1,"idTag":"T","meterStart":9223372036854775808,'
     '"timestamp":"2026-11-02T09:00:00Z"}]', "PropertyConstraintViolation"),
    ('[2,"b1","Authorize",{"idTag":"A\\u0000B"}]', "PropertyConstraintViolation"),
    ('[2,"b1","StatusNotification",{"connectorId":1,"errorCode":"OtherError","status":"Faulted",'
     '"info":"bad\\u0000info"}]', "PropertyConstraintViolation"),
    ('[2,"b1","' + "A" * 200 + '",{}]', "NotImplemented"),
    ('[2,"b1","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2026-11-02T09:00:00Z",'
     '"sampledValue":[{"value":"1e20"}]}]}]', "PropertyConstraintViolation"),
], ids=["int-2^63", "nul-idtag", "nul-info", "long-action", "reading-1e20"])
async def test_values_the_store_cannot_hold_get_a_precise_callerror_every_time(server, frame, code):
    cp = await raw(server, "CP-STORE")
    first = await cp.exchange(frame)
    again = await cp.exchange(frame)
    assert first[:3] == [4, "b1", code] and again[:3] == [4, "b1", code]
    await cp.still_open()
    await cp.websocket.close()
    assert [r.direction for r in inbound_rows(server, "CP-STORE")][:4] == ["in", "out", "in", "out"]


async def test_broken_json_with_a_nul_character_is_a_formation_violation_and_logged(server):
    cp = await raw(server, "CP-NUL")
    reply = await cp.exchange('[2,"z1","Heartbeat",{}\x00]')
    assert reply[:3] == [4, "-1", "FormationViolation"]
    await cp.still_open()
    await cp.websocket.close()
    stored = [r.payload for r in inbound_rows(server, "CP-NUL") if r.direction == "in"]
    assert stored[0] == '[2,"z1","Heartbeat",{}\\u0000]'


# ------------------------------------------------------------------ item 7: metric labels


async def test_invented_action_names_are_counted_as_unknown_not_as_labels(sqlite_server):
    cp = await raw(sqlite_server, "CP-LABELS")
    for i in range(300):
        await cp.websocket.send(f'[2,"l{i}","Invented{i}",{{}}]')
    for _ in range(300):
        await asyncio.wait_for(cp.websocket.recv(), 15)
    await cp.websocket.close()
    async with httpx.AsyncClient(base_url=http_url(sqlite_server)) as client:
        body = (await client.get("/metrics")).text
    assert "Invented" not in body
    assert 'chargewatch_ocpp_messages_total{action="unknown",direction="in"} 300.0' in body


# ------------------------------------------------------------------ item 11: charger ids


@pytest.mark.parametrize("charger_id", ["..", ".", "%2E%2E", "CP%00X", "CP%01X", "CP%7FX", "CP%0AX", "%E2%80%AE"])
async def test_charger_ids_that_are_paths_or_control_characters_are_refused_even_with_accept_unknown(
        sqlite_server, charger_id):
    with pytest.raises(InvalidStatus) as refused:
        await ws_connect(f"{ocpp_url(sqlite_server)}/{charger_id}", subprotocols=["ocpp1.6"])
    assert refused.value.response.status_code == 400
    with sqlite_server.engine.connect() as connection:
        assert connection.execute(select(schema.chargers.c.id)).scalars().all() == []


async def test_a_second_connection_without_a_password_does_not_evict_the_first(sqlite_server):
    first = await connect(sqlite_server, "CP-TWICE")
    await first.call("Heartbeat", {})
    with pytest.raises(InvalidStatus) as refused:
        await connect(sqlite_server, "CP-TWICE")
    assert refused.value.response.status_code == 409
    assert "currentTime" in await first.call("Heartbeat", {})
    await first.close()


async def test_a_charger_with_a_password_reconnecting_replaces_its_old_connection(sqlite_server):
    with sqlite_server.engine.begin() as connection:
        register_charger(connection, "CP-PW", password="s3cret-password", timezone="UTC", tariff_id=None,
                         now=sqlite_server.gateway.now())
    first = await connect(sqlite_server, "CP-PW", password="s3cret-password")
    await first.call("Heartbeat", {})
    second = await connect(sqlite_server, "CP-PW", password="s3cret-password")
    assert "currentTime" in await second.call("Heartbeat", {})
    await asyncio.wait_for(first.websocket.wait_closed(), 10)
    assert first.websocket.close_code == 1000
    await second.close()


async def test_a_dead_first_connection_does_not_block_the_reconnect(sqlite_server):
    first = await raw(sqlite_server, "CP-HALF-OPEN")
    await first.still_open()
    first.websocket.transport.pause_reading()  # the old socket stops answering pings, as a dead link does
    sqlite_server.gateway.config.replace_probe_timeout = 0.5
    second = await connect(sqlite_server, "CP-HALF-OPEN")
    assert "currentTime" in await second.call("Heartbeat", {})
    await second.close()
    first.websocket.transport.abort()


# ------------------------------------------------------------------ item 12: secrets out of logs


async def test_verbose_logging_does_not_show_the_chargers_basic_credentials(sqlite_server, caplog):
    with sqlite_server.engine.begin() as connection:
        register_charger(connection, "CP-LOGPW", password="s3cret-password", timezone="UTC", tariff_id=None,
                         now=sqlite_server.gateway.now())
    with caplog.at_level(logging.DEBUG):
        cp = await connect(sqlite_server, "CP-LOGPW", password="s3cret-password")
        await cp.call("Heartbeat", {})
        await cp.close()
    # The test's own client logs what it sends (websockets.client); the sqlite_server's side is what operators see.
    text = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("websockets.client"))
    assert "< GET /ocpp/CP-LOGPW" in text  # the handshake is logged …
    assert "Q1AtTE9HUFc6czNjcmV0LXBhc3N3b3Jk" not in text and "s3cret" not in text  # … without the secret
    assert "< Authorization: [redacted]" in text


async def test_an_unknown_charger_reporting_status_before_it_boots_is_stored_not_refused_forever(server):
    cp = await raw(server, "CP-NO-BOOT")
    frame = '[2,"s1","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Available"}]'
    assert (await cp.exchange(frame))[:2] == [3, "s1"]
    await cp.websocket.close()
    with server.engine.connect() as connection:
        stored = connection.execute(select(schema.connectors.c.status)
                                    .where(schema.connectors.c.charger_id == "CP-NO-BOOT")).scalars().all()
    assert stored == ["Available"]
