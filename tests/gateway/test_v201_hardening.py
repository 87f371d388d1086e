"""Issue 10 item 3 for OCPP 2.0.1: every value bound for the database is range-checked after schema validation and
before any lookup, and refused with the 2.0.1 CALLERROR spelling; the connection stays open, nothing is stored,
and the next valid frame works. Raw frames (a client library would refuse to write them), SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import connect as ws_connect

from chargewatch.store import schema
from helpers import ocpp_url

_BEGIN = '{"timestamp":"2026-11-02T09:00:00Z","sampledValue":[{"value":2000,"context":"Transaction.Begin",' \
         '"measurand":"Energy.Active.Import.Register","unitOfMeasure":{"unit":"Wh","multiplier":3}}]}'


def _event(seq_no: str = "0", transaction_id: str = '"TX-H1"', evse: str = '{"id":1,"connectorId":1}',
           meter: str = _BEGIN, extra: str = "") -> str:
    return ('{"eventType":"Started","timestamp":"2026-11-02T09:00:00Z","triggerReason":"Authorized",'
            f'"seqNo":{seq_no},"transactionInfo":{{"transactionId":{transaction_id}}},"evse":{evse},'
            f'"meterValue":[{meter}]{extra}}}')


def _status(evse_id: str = "1", connector_id: str = "1") -> str:
    return (f'{{"timestamp":"2026-11-02T09:00:00Z","connectorStatus":"Available","evseId":{evse_id},'
            f'"connectorId":{connector_id}}}')


def _report(seq_no: str = "0", request_id: str = "7") -> str:
    return (f'{{"requestId":{request_id},"generatedAt":"2026-11-02T09:00:00Z","seqNo":{seq_no},"tbc":false,'
            '"reportData":[{"component":{"name":"EVSE","evse":{"id":1}},"variable":{"name":"Power"},'
            '"variableAttribute":[{"type":"MaxSet","value":"22000"}]}]}')


_DEEP = '"customData":{"vendorId":"x","d":' + '{"a":' * 40 + "1" + "}" * 40 + "}"

# (action, payload text, the 2.0.1 CALLERROR code)
CASES = [
    ("StatusNotification", _status(evse_id="100000000000000000000"), "PropertyConstraintViolation"),
    ("StatusNotification", _status(evse_id="2147483648"), "PropertyConstraintViolation"),
    ("StatusNotification", _status(evse_id="1e20"), "TypeConstraintViolation"),
    ("StatusNotification", _status(connector_id="true"), "TypeConstraintViolation"),
    ("TransactionEvent", _event(seq_no="100000000000000000000"), "PropertyConstraintViolation"),
    ("TransactionEvent", _event(seq_no="1099511627776"), "PropertyConstraintViolation"),
    ("TransactionEvent", _event(seq_no="true"), "TypeConstraintViolation"),
    ("TransactionEvent", _event(evse='{"id":100000000000000000000}'), "PropertyConstraintViolation"),
    ("TransactionEvent", _event(evse='{"id":1e20}'), "TypeConstraintViolation"),
    ("TransactionEvent", _event(transaction_id='"TX\\u0000NUL"'), "PropertyConstraintViolation"),
    ("TransactionEvent", _event(transaction_id='"TX\\ud800"'), "PropertyConstraintViolation"),
    ("TransactionEvent", _event(transaction_id='"' + "T" * 37 + '"'), "PropertyConstraintViolation"),
    ("TransactionEvent", _event(transaction_id="true"), "TypeConstraintViolation"),
    ("TransactionEvent", _event(extra="," + _DEEP), "FormatViolation"),
    ("TransactionEvent", _event(extra=',"idToken":{"idToken":"A\\u0000B","type":"ISO14443"}'),
     "PropertyConstraintViolation"),
    ("TransactionEvent", _event(meter='{"timestamp":"2026-11-02T09:00:00Z","sampledValue":[{"value":1,'
                                      '"unitOfMeasure":{"unit":"Wh","multiplier":900000}}]}'),
     "PropertyConstraintViolation"),
    ("TransactionEvent", _event(meter='{"timestamp":"2026-11-02T09:00:00Z","sampledValue":[{"value":1e300}]}'),
     "PropertyConstraintViolation"),
    ("MeterValues", '{"evseId":4294967296,"meterValue":[{"timestamp":"2026-11-02T09:00:00Z",'
                    '"sampledValue":[{"value":1}]}]}', "PropertyConstraintViolation"),
    ("NotifyReport", _report(seq_no="100000000000000000000"), "PropertyConstraintViolation"),
    ("NotifyReport", _report(seq_no="true"), "TypeConstraintViolation"),
    ("NotifyReport", _report(request_id="2147483648"), "PropertyConstraintViolation"),
]
IDS = ["status-evse-1e20-int", "status-evse-2^31", "status-evse-1e20-float", "status-connector-true",
       "tx-seqno-10^20", "tx-seqno-2^40", "tx-seqno-true", "tx-evse-10^20", "tx-evse-1e20-float", "tx-id-nul",
       "tx-id-lone-surrogate", "tx-id-37-chars", "tx-id-true", "tx-deep-customdata", "tx-idtoken-nul",
       "tx-multiplier-900000", "tx-value-1e300", "meter-evse-2^32", "report-seqno-10^20", "report-seqno-true",
       "report-request-2^31"]


def _derived_rows(app, charger_id: str) -> dict[str, int]:
    counts = {}
    with app.engine.connect() as connection:
        for table in (schema.sessions, schema.connectors, schema.status_events, schema.meter_readings,
                      *[t for t in schema.metadata.sorted_tables if t.name in ("device_variables", "evse_connectors")]):
            counts[table.name] = connection.execute(
                select(func.count()).select_from(table).where(table.c.charger_id == charger_id)).scalar_one()
    return counts


@pytest.mark.parametrize("action, payload, code", CASES, ids=IDS)
async def test_a_201_value_no_column_holds_is_refused_with_the_201_spelling_and_nothing_is_stored(
        server, action, payload, code):
    charger_id = "V201-HARD"
    async with ws_connect(f"{ocpp_url(server)}/{charger_id}", subprotocols=["ocpp2.0.1"], max_size=None) as ws:
        async def exchange(frame: str) -> list:
            await ws.send(frame)
            return json.loads(await asyncio.wait_for(ws.recv(), 15))

        first = await exchange(f'[2,"bad-1","{action}",{payload}]')
        again = await exchange(f'[2,"bad-2","{action}",{payload}]')
        assert first[:3] == [4, "bad-1", code], first
        assert again[:3] == [4, "bad-2", code], again  # the same answer every time, not InternalError later
        assert _derived_rows(server, charger_id) == dict.fromkeys(_derived_rows(server, charger_id), 0)
        started = await exchange(f'[2,"ok-1","TransactionEvent",{_event()}]')
        status = await exchange(f'[2,"ok-2","StatusNotification",{_status()}]')
    assert started[:2] == [3, "ok-1"] and isinstance(started[2]["customData"]["sessionId"], int), started
    assert status == [3, "ok-2", {}]
    stored = _derived_rows(server, charger_id)
    assert (stored["sessions"], stored["connectors"]) == (1, 1)
    with server.engine.connect() as connection:
        logged = connection.execute(select(schema.ocpp_messages.c.direction).where(
            schema.ocpp_messages.c.charger_id == charger_id).order_by(schema.ocpp_messages.c.id)).scalars().all()
    assert logged == ["in", "out"] * 4  # both refusals are in the raw log, each with its answer
