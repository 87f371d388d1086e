"""Ingest without sockets: frames fed to gateway.ingest with a real database (SQLite and PostgreSQL); the reply,
the stored rows and the published events are checked. The transport over real WebSockets: test_ocpp_server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from chargewatch.domain.events import BusEvent, SessionStopped
from chargewatch.domain.model import ChargerState
from chargewatch.gateway.events import EventBus
from chargewatch.gateway.ingest import Ingest, Outstanding, Peer
from chargewatch.gateway.metrics import GatewayMetrics
from chargewatch.ocpp import v16, v201
from chargewatch.ocpp.framing import CallResult
from chargewatch.store import schema, writes
from chargewatch.store.database import create_db_engine, migrate
from chargewatch.store.registry import put_id_tag, register_charger
from chargewatch.store.writer import GroupCommitWriter
from helpers import T0, boot, meter, ts


@dataclass
class Rig:
    engine: Engine
    writer: GroupCommitWriter
    ingest: Ingest
    events: list[BusEvent] = field(default_factory=list)
    admitted: list[str] = field(default_factory=list)
    sent: int = 0

    async def send(self, peer: Peer, action: str, payload: dict[str, Any]) -> list[Any]:
        self.sent += 1
        reply = await self.ingest.receive(peer, json.dumps([2, f"m{self.sent}", action, payload]), T0)
        assert reply is not None
        return json.loads(reply)

    def kinds(self) -> list[str]:
        return [event.kind for event in self.events]

    def messages(self) -> list[tuple[str, int | None, str | None, str]]:
        m = schema.ocpp_messages
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(  # type: ignore[misc]
                select(m.c.direction, m.c.message_type, m.c.action, m.c.payload).order_by(m.c.id))]

    def session(self, transaction_id: int) -> dict[str, Any]:
        s = schema.sessions
        with self.engine.connect() as connection:
            return dict(connection.execute(select(s).where(s.c.transaction_id == transaction_id)).one()._mapping)


@pytest.fixture
async def rig(db_url: str) -> AsyncIterator[Rig]:
    migrate(db_url)
    engine = create_db_engine(db_url)
    with engine.begin() as connection:
        register_charger(connection, "CP-1", password=None, timezone="UTC", tariff_id=None, now=T0)
        put_id_tag(connection, {"id_tag": "TAG-1", "status": "Accepted", "expiry_date": None,
                                "parent_id_tag": None, "description": None})
    bus = EventBus()
    writer = GroupCommitWriter(engine, writes.STATEMENTS)
    ingest = Ingest(engine, writer, bus, GatewayMetrics(), node_id="node-1", heartbeat_interval=120)
    rig = Rig(engine, writer, ingest)
    bus.listen(rig.events.append)

    async def admitted(peer: Peer) -> None:
        rig.admitted.append(peer.charger_id)

    ingest.on_admitted = admitted
    ingest.id_tags.refresh()
    writer.start()
    try:
        yield rig
    finally:
        await writer.stop()
        engine.dispose()


def peer(rig: Rig, charger_id: str = "CP-1", adapter: Any = v16.ADAPTER, **kwargs: Any) -> Peer:
    return Peer(charger_id, rig.ingest.load_state(charger_id), adapter, **kwargs)


async def test_a_1_6_session_is_committed_then_answered_then_published(rig: Rig) -> None:
    cp = peer(rig)
    assert (await rig.send(cp, "BootNotification", boot()))[2]["interval"] == 120
    assert (await rig.send(cp, "Authorize", {"idTag": "TAG-1"}))[2]["idTagInfo"]["status"] == "Accepted"
    start = await rig.send(cp, "StartTransaction", {"connectorId": 1, "idTag": "TAG-1", "meterStart": 100_000,
                                                    "timestamp": ts(0)})
    tx = start[2]["transactionId"]
    assert rig.session(tx)["status"] == "active" and cp.state.active[1].transaction_id == tx
    await rig.send(cp, "MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": meter(104_000, 20, 11_000)})
    stop = await rig.send(cp, "StopTransaction", {"transactionId": tx, "meterStop": 107_500, "timestamp": ts(40),
                                                  "reason": "EVDisconnected"})
    assert stop[:2] == [3, "m5"]
    stored = rig.session(tx)
    assert (stored["energy_wh"], stored["status"], stored["stop_reason"]) == (7_500, "completed", "EVDisconnected")
    assert not cp.state.active
    # Every frame in and every answer out is in the raw log, answers as sent.
    log = rig.messages()
    actions = ("BootNotification", "Authorize", "StartTransaction", "MeterValues", "StopTransaction")
    assert [(d, t, a) for d, t, a, _ in log] == [(d, t, a) for a in actions for d, t in (("in", 2), ("out", 3))]
    assert json.loads(log[-1][3]) == stop
    assert rig.kinds() == [
        "charger.seen", "charger.booted", "charger.seen", "authorization", "charger.seen", "authorization",
        "session.started", "charger.seen", "session.updated", "charger.seen", "session.stopped"]
    stopped = rig.events[-1]
    assert isinstance(stopped, SessionStopped)
    assert (stopped.transaction_id, stopped.energy_wh, stopped.evidence.action) == (tx, 7_500, "StopTransaction")
    assert rig.admitted == []


async def test_a_2_0_1_ended_transaction_is_answered_with_its_total_cost(rig: Rig) -> None:
    priced: list[int] = []

    def total_cost(transaction_id: int) -> Decimal:
        priced.append(transaction_id)
        assert rig.session(transaction_id)["status"] == "completed"  # priced from the committed session
        return Decimal("4.20")

    rig.ingest.total_cost = total_cost
    cs = peer(rig, adapter=v201.ADAPTER)
    await rig.send(cs, "BootNotification", {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}})
    begin = {"timestamp": ts(0), "sampledValue": [{"value": 10.0, "context": "Transaction.Begin",
                                                   "measurand": "Energy.Active.Import.Register",
                                                   "unitOfMeasure": {"unit": "kWh"}}]}
    end = {"timestamp": ts(30), "sampledValue": [{"value": 17.5, "context": "Transaction.End",
                                                  "measurand": "Energy.Active.Import.Register",
                                                  "unitOfMeasure": {"unit": "kWh"}}]}
    started = await rig.send(cs, "TransactionEvent", {
        "eventType": "Started", "timestamp": ts(0), "triggerReason": "Authorized", "seqNo": 0,
        "transactionInfo": {"transactionId": "TX-9"}, "evse": {"id": 1, "connectorId": 1},
        "idToken": {"idToken": "TAG-1", "type": "ISO14443"}, "meterValue": [begin]})
    assert started[2]["idTokenInfo"]["status"] == "Accepted" and "totalCost" not in started[2]
    ended = await rig.send(cs, "TransactionEvent", {
        "eventType": "Ended", "timestamp": ts(30), "triggerReason": "EVCommunicationLost", "seqNo": 1,
        "transactionInfo": {"transactionId": "TX-9", "stoppedReason": "EVDisconnected"}, "meterValue": [end]})
    assert ended[2]["totalCost"] == 4.2 and len(priced) == 1
    assert rig.session(priced[0])["energy_wh"] == 7_500
    out = [json.loads(payload) for direction, _, action, payload in rig.messages()
           if direction == "out" and action == "TransactionEvent"]
    assert out[-1] == ended  # the answer is logged as sent, with the cost, once
    assert len(out) == 2
    assert rig.kinds()[-1] == "session.stopped"


async def test_storage_down_answers_internal_error_and_changes_nothing(rig: Rig) -> None:
    cp = peer(rig)
    await rig.send(cp, "BootNotification", boot())
    await rig.writer.stop()  # the commit path is gone: nothing can be made durable
    before = len(rig.events)
    reply = await rig.send(cp, "StartTransaction", {"connectorId": 1, "idTag": "TAG-1", "meterStart": 0,
                                                    "timestamp": ts(0)})
    assert reply[:3] == [4, "m2", "InternalError"]
    assert not cp.state.active  # the state is adopted only after a commit
    assert [e.kind for e in rig.events[before:]] == ["charger.seen"]
    with rig.engine.connect() as connection:
        assert connection.execute(select(schema.sessions)).first() is None
    rig.writer.start()


async def test_errors_are_spelled_in_the_charger_s_version(rig: Rig) -> None:
    for adapter, spelling in ((v16.ADAPTER, "FormationViolation"), (v201.ADAPTER, "FormatViolation")):
        reply = await rig.ingest.receive(peer(rig, adapter=adapter), '[2, "x", "Heartbeat"', T0)
        assert reply is not None and json.loads(reply)[2] == spelling
    cp = peer(rig)
    wrong = await rig.send(cp, "StartTransaction", {"connectorId": "one", "idTag": "TAG-1", "meterStart": 0,
                                                    "timestamp": ts(0)})
    assert wrong[0] == 4 and wrong[2] == "TypeConstraintViolation" and not cp.state.active


async def test_an_answer_to_our_call_is_logged_and_handed_to_the_waiting_call(rig: Rig) -> None:
    cp = peer(rig)
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    cp.pending["c1"] = Outstanding("Reset", future)
    assert await rig.ingest.receive(cp, '[3, "c1", {"status": "Accepted"}]', T0) is None
    answer = future.result()
    assert isinstance(answer, CallResult) and answer.payload == {"status": "Accepted"}
    assert rig.messages() == [("in", 3, "Reset", '[3, "c1", {"status": "Accepted"}]')]


async def test_an_unknown_charger_becomes_one_with_its_first_boot(rig: Rig) -> None:
    newcomer = Peer("NEW-1", ChargerState("NEW-1"), v16.ADAPTER, provisional=True)
    await rig.send(newcomer, "Heartbeat", {})  # no data: stays a guest, and is not "seen"
    assert rig.admitted == [] and newcomer.provisional and rig.kinds() == []
    await rig.send(newcomer, "BootNotification", boot())
    assert rig.admitted == ["NEW-1"] and not newcomer.provisional
    with rig.engine.connect() as connection:
        row = connection.execute(select(schema.chargers).where(schema.chargers.c.id == "NEW-1")).one()
    assert row.registered is False


async def test_a_bug_in_validation_still_answers_internal_error_and_keeps_serving(rig: Rig) -> None:
    # The 1.6 security-extension schemas once failed to compile: the call raised in validation and the charger
    # got no answer at all. Any such bug is answered InternalError (and logged); the next call is served.
    class BrokenValidation:
        def __init__(self, adapter: Any) -> None:
            self._adapter = adapter

        def __getattr__(self, name: str) -> Any:
            return getattr(self._adapter, name)

        def lookups(self, action: str, payload: dict[str, Any], state: ChargerState) -> Any:
            if action == "SecurityEventNotification":
                raise KeyError("schema $id")
            return self._adapter.lookups(action, payload, state)

    cp = peer(rig, adapter=BrokenValidation(v16.ADAPTER))
    broken = await rig.send(cp, "SecurityEventNotification", {"type": "TamperDetectionActivated",
                                                              "timestamp": ts(0)})
    assert broken[:3] == [4, "m1", "InternalError"]
    assert (await rig.send(cp, "Heartbeat", {}))[0] == 3
    security = "SecurityEventNotification"
    assert [row[:3] for row in rig.messages()] == [("in", 2, security), ("out", 4, security),
                                                   ("in", 2, "Heartbeat"), ("out", 3, "Heartbeat")]
