"""Rebuild all derived state (sessions, readings, connector status) from the raw OCPP log.

Part of ingest (frame → adapter → commit), so the store itself needs nothing of ``ocpp``: each logged call is
run through the adapter of the subprotocol it arrived on (``ocpp_messages.protocol``).

Each logged inbound CALL is run through the same protocol core as live traffic, with the answer we
logged back then (so transaction ids and id-tag verdicts are those the charger received). Running it
twice gives the same result: derived tables are cleared first and every write is keyed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, select, update

from ..domain import model
from ..ocpp import versions
from ..ocpp.adapter import CallRejected, Environment, NeedSession, NeedStoredSampleTimes
from ..ocpp.framing import CALL, CALLRESULT
from ..ocpp.v201 import core as v201_core
from ..sessions.machine import ChargingSession
from ..store import charging_tables, firmware_tables, reads, schema, writes
from ..store.writer import Unit, write_units

DERIVED_TABLES = (schema.meter_readings, schema.status_events, schema.security_events, schema.connectors,
                  schema.sessions, schema.evse_connectors, schema.device_variables, schema.device_reports,
                  charging_tables.charging_reports, firmware_tables.firmware_status_events)


@dataclass
class ReplayReport:
    messages: int = 0
    calls_applied: int = 0
    sessions: int = 0


def replay(engine: Engine, chunk: int = 5000, progress: Callable[[int], None] | None = None) -> ReplayReport:
    """``progress`` hears the count of messages read so far after each chunk (the CLI's progress bar)."""
    report = ReplayReport()
    states: dict[str, model.ChargerState] = {}
    sessions: dict[int, ChargingSession] = {}
    waiting: dict[tuple[str, str], Any] = {}
    m, k = schema.ocpp_messages, schema.connectors
    with engine.begin() as connection:
        # A connector's rating is configuration, not derived: keep it, and let the core see it as live.
        ratings = connection.execute(select(k.c.charger_id, k.c.connector_id, k.c.max_power_w)
                                     .where(k.c.max_power_w.is_not(None))).all()
        for charger_id, connector_id, rating in ratings:
            states.setdefault(charger_id, model.ChargerState(charger_id)).connector_ratings_w[connector_id] = rating
        for table in DERIVED_TABLES:
            connection.execute(delete(table))
        last_id = 0
        while True:
            rows = connection.execute(select(m).where(m.c.id > last_id).order_by(m.c.id).limit(chunk)).all()
            if not rows:
                break
            last_id = rows[-1].id
            for row in rows:
                report.messages += 1
                key = (row.charger_id, row.message_id)
                if row.direction == "in" and row.message_type == CALL:
                    waiting[key] = row
                elif row.direction == "out" and key in waiting:
                    inbound = waiting.pop(key)
                    if row.message_type == CALLRESULT:
                        _apply(connection, inbound, json.loads(row.payload)[2], states, sessions, report)
            if progress is not None:
                progress(report.messages)
        for charger_id, connector_id, rating in ratings:
            connection.execute(update(k).where(k.c.charger_id == charger_id, k.c.connector_id == connector_id)
                               .values(max_power_w=rating))
    report.sessions = len(sessions)
    return report


def _apply(connection: Any, inbound: Any, reply: dict[str, Any], states: dict[str, model.ChargerState],
           sessions: dict[int, ChargingSession], report: ReplayReport) -> None:
    _, _, action, payload = json.loads(inbound.payload)
    charger_id = inbound.charger_id
    adapter = versions.adapter_for(inbound.protocol)
    state = states.setdefault(charger_id, model.ChargerState(charger_id))
    fetched = None
    stored: frozenset[Any] = frozenset()
    for need in adapter.lookups(action, payload, state):  # the replay's state already holds every key
        if isinstance(need, NeedSession):
            transaction_id = need.transaction_id if need.start_key is None else state.start_keys.get(need.start_key)
            fetched = sessions.get(transaction_id) if transaction_id is not None else None
        elif isinstance(need, NeedStoredSampleTimes):
            stored = reads.stored_sample_times(connection, need.transaction_id, list(need.times))
    env = Environment(
        now=inbound.at,
        id_tag_info=lambda _tag: _logged_decision(reply),
        allocate_transaction_id=lambda: _logged_transaction_id(reply),
        fetched_session=fetched,
        stored_sample_times=stored,
    )
    try:
        outcome = adapter.handle(action, payload, state, env)
    except CallRejected:
        return
    assert outcome.state is not None
    unit = Unit()
    writes.stage_outcome(unit, charger_id, outcome, state, inbound.at)
    write_units(connection, writes.STATEMENTS, [unit])
    states[charger_id] = outcome.state
    for change in outcome.changes:
        if isinstance(change, model.SessionChanged):
            sessions[change.session.transaction_id] = change.session
    report.calls_applied += 1


def _logged_decision(reply: dict[str, Any]) -> dict[str, Any]:
    """What the card was answered in the logged reply: 1.6 idTagInfo, or 2.0.1 idTokenInfo read back."""
    if "idTagInfo" in reply:
        return dict(reply["idTagInfo"])
    if "idTokenInfo" in reply:
        return v201_core.decision_of(reply["idTokenInfo"])
    return {"status": "Accepted"}


def _logged_transaction_id(reply: dict[str, Any]) -> int:
    """The id the charger was given: 1.6 StartTransaction.conf transactionId, or the 2.0.1 reply's customData."""
    if "transactionId" in reply:
        return int(reply["transactionId"])
    return int(reply["customData"]["sessionId"])
