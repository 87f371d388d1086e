"""Ingest: one charger's frame in, the committed reply out. No sockets here; the transport moves the bytes.

Per inbound frame: framing parses it → the charger's adapter validates the CALL and declares the stored facts
it needs (``Adapter.lookups``) → those are fetched → the adapter decides reply + neutral changes → the
changes and both raw frames are committed through the group-commit writer → only then is the reply returned
to be sent, and what changed is published on the bus. If the commit fails the charger gets InternalError and
keeps the message for a retry, so nothing acknowledged is ever lost. A CALLRESULT/CALLERROR answering one of
our CALLs is logged and handed to the call waiting for it (:attr:`Peer.pending`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from ..domain import events, model
from ..ocpp import credentials, framing, versions
from ..ocpp.adapter import Adapter, CallRejected, Environment, Lookup, NeedStartKey, NeedStoredSampleTimes
from ..ocpp.framing import Call, CallError, CallResult, ErrorCode, FrameError
from ..sessions.machine import ChargingSession
from ..store import reads, schema, writes
from ..store.ids import TransactionIdAllocator
from ..store.upsert import insert_ignoring_duplicates
from ..store.writer import GroupCommitWriter, Unit
from .events import EventBus
from .metrics import GatewayMetrics

log = logging.getLogger(__name__)

Answer = CallResult | CallError


@dataclass
class Outstanding:
    """One of our CALLs waiting for the charger's answer."""

    action: str
    future: asyncio.Future[Answer]


@dataclass
class Peer:
    """One connected charger as ingest knows it: its state, the adapter of its OCPP version, our open CALLs."""

    charger_id: str
    state: model.ChargerState
    adapter: Adapter = versions.DEFAULT
    provisional: bool = False  # unknown, admitted by --accept-unknown: a charger only once it boots
    loaded: bool = True  # False: the database was down at connect; the state is loaded before the next call
    pending: dict[str, Outstanding] = field(default_factory=dict)


class IdTagDirectory:
    """All id tags in memory (they are few and read on every Authorize/Start); refreshed on change."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._tags: dict[str, dict[str, Any]] = {}

    def refresh(self) -> None:
        with self._engine.connect() as connection:
            self._tags = reads.id_tags(connection)

    def info(self, id_tag: str, now: datetime) -> dict[str, Any]:
        return reads.id_tag_info(self._tags.get(id_tag), now)


class Ingest:
    def __init__(self, engine: Engine, writer: GroupCommitWriter, bus: EventBus, metrics: GatewayMetrics, *,
                 node_id: str, heartbeat_interval: int,
                 on_admitted: Callable[[Peer], Awaitable[None]] | None = None):
        self.engine = engine
        self.writer = writer
        self.bus = bus
        self.metrics = metrics
        self.node_id = node_id
        self.heartbeat_interval = heartbeat_interval
        self.transaction_ids = TransactionIdAllocator(engine)
        self.id_tags = IdTagDirectory(engine)
        # Told when a provisional charger became a charger (the transport records its presence).
        self.on_admitted = on_admitted
        # Final cost (incl. VAT, as invoiced) of a completed session, or None; set by the billing worker.
        self.total_cost: Callable[[int], Decimal | None] | None = None
        # Whether the operator's CA can sign certificate requests (SignCertificate); set by the PKI worker.
        self.can_sign_certificates: Callable[[], bool] = lambda: False

    def load_state(self, charger_id: str) -> model.ChargerState:
        """The charger's state from the store (blocking: run it in a thread)."""
        with self.engine.connect() as connection:
            record = reads.charger(connection, charger_id)
            interval = record["heartbeat_interval"] if record else self.heartbeat_interval
            return reads.charger_state(connection, charger_id, interval)

    # ------------------------------------------------------------------ frames in

    async def receive(self, peer: Peer, frame: str | bytes, now: datetime) -> str | None:
        """Handle one frame; returns the (committed) reply to send, or None for an answer to one of our CALLs."""
        text = frame if isinstance(frame, str) else frame.decode("utf-8", errors="replace")
        try:
            message = framing.parse(text)
        except FrameError as exc:
            return await self._reply(peer, now, text, None, None, self._spelled(peer, exc.reply))
        if not peer.provisional:
            self.bus.publish(events.ChargerSeen(peer.charger_id, now))
        if isinstance(message, Call):
            self.metrics.messages.labels(self.metrics.action_label(message.action), "in").inc()
            return await self._on_call(peer, now, text, message)
        await self._on_answer(peer, now, text, message)
        return None

    async def _on_answer(self, peer: Peer, now: datetime, text: str, message: Answer) -> None:
        """A charger's answer to one of our CALLs: logged, then handed to the call waiting for it."""
        outstanding = peer.pending.get(message.message_id)
        if isinstance(message, CallResult) and outstanding is not None:  # a write-only password reported anyway
            clean = credentials.redact_answer(outstanding.action, message.payload)
            if clean is not message.payload:
                text = framing.serialize(CallResult(message.message_id, clean or {}))
        unit = Unit()
        unit.add("message", writes.message_row(
            peer.charger_id, now, "in", text, 3 if isinstance(message, CallResult) else 4,
            message.message_id, outstanding.action if outstanding else None, self.node_id, peer.adapter.version))
        try:
            await self.writer.submit(unit)
        except Exception:  # noqa: BLE001
            log.warning("could not log answer from %s", peer.charger_id)
        if outstanding is not None and not outstanding.future.done():
            outstanding.future.set_result(message)

    async def _on_call(self, peer: Peer, now: datetime, text: str, call: Call) -> str:
        adapter = peer.adapter
        try:
            lookups = adapter.lookups(call.action, call.payload, peer.state)  # validates first
        except CallRejected as exc:
            return await self._reply(peer, now, text, call, None, CallError(
                call.message_id, adapter.spell(exc.error_code), exc.description, exc.details))
        except Exception:  # noqa: BLE001 - a bug (a schema that does not compile) still gets the charger an answer
            log.exception("validating %s from %s failed", call.action, peer.charger_id)
            return await self._reply(peer, now, text, call, None,
                                     CallError(call.message_id, ErrorCode.INTERNAL_ERROR, "internal error", {}))
        try:
            if not peer.loaded:
                peer.state = await asyncio.to_thread(self.load_state, peer.charger_id)
                peer.loaded = True
                lookups = adapter.lookups(call.action, call.payload, peer.state)
            fetched, stored = await self._look_up(peer, lookups)
        except Exception as exc:  # noqa: BLE001 - database down: the charger keeps the message and retries
            log.warning("lookup for %s from %s failed (%s)", call.action, peer.charger_id, exc)
            return await self._reply(peer, now, text, call, None, CallError(
                call.message_id, ErrorCode.INTERNAL_ERROR, "storage unavailable, retry later", {}))
        env = Environment(
            now=now,
            id_tag_info=lambda tag: self.id_tags.info(tag, now),
            allocate_transaction_id=self.transaction_ids.allocate,
            heartbeat_interval=self.heartbeat_interval,
            fetched_session=fetched,
            stored_sample_times=stored,
            can_sign_certificates=self.can_sign_certificates() if call.action == "SignCertificate" else False,
        )
        try:
            outcome = adapter.handle(call.action, call.payload, peer.state, env)
        except CallRejected as exc:
            return await self._reply(peer, now, text, call, None, CallError(
                call.message_id, adapter.spell(exc.error_code), exc.description, exc.details))
        except Exception:  # noqa: BLE001 - a bug must not kill the connection or lose the frame
            log.exception("handler %s failed for %s", call.action, peer.charger_id)
            return await self._reply(peer, now, text, call, None,
                                     CallError(call.message_id, ErrorCode.INTERNAL_ERROR, "internal error", {}))
        # A valid call carrying data (a StatusNotification before any boot) needs the charger row too: its
        # connector rows refer to it, and without it the charger would get InternalError forever.
        if peer.provisional and (call.action == "BootNotification" or outcome.changes):
            await self._admit(peer, now)
        return await self._reply(peer, now, text, call, outcome, CallResult(call.message_id, outcome.reply))

    async def _admit(self, peer: Peer, now: datetime) -> None:
        """--accept-unknown: the first valid BootNotification (or data call) makes the connection a charger."""
        try:
            await asyncio.to_thread(self._insert_charger, peer.charger_id, now)
        except Exception:  # noqa: BLE001 - stays provisional; the charger retries its BootNotification
            log.exception("cannot admit %s", peer.charger_id)
            return
        peer.provisional = False
        if self.on_admitted is not None:
            await self.on_admitted(peer)

    def _insert_charger(self, charger_id: str, now: datetime) -> None:
        with self.engine.begin() as connection:
            insert_ignoring_duplicates(connection, schema.chargers, [{
                "id": charger_id, "registered": False, "timezone": "UTC", "heartbeat_interval":
                self.heartbeat_interval, "connected": False, "created_at": now,
            }])

    async def _look_up(self, peer: Peer,
                       lookups: list[Lookup]) -> tuple[ChargingSession | None, frozenset[datetime]]:
        """Fetch what the adapter said this call needs: a stored session key into the state, a session, which
        late sample times are stored already."""
        if not lookups:
            return None, frozenset()
        charger_id = peer.charger_id

        def fetch() -> tuple[dict[str, int], ChargingSession | None, frozenset[datetime]]:
            keys: dict[str, int] = {}
            found: ChargingSession | None = None
            stored: frozenset[datetime] = frozenset()
            with self.engine.connect() as connection:
                for need in lookups:
                    if isinstance(need, NeedStoredSampleTimes):
                        stored = reads.stored_sample_times(connection, need.transaction_id, list(need.times))
                    elif isinstance(need, NeedStartKey):
                        transaction_id = reads.session_by_start_key(connection, charger_id, need.key)
                        if transaction_id is not None:
                            keys[need.key] = transaction_id
                    elif need.transaction_id is not None:
                        found = reads.session(connection, need.transaction_id)
                    elif need.start_key is not None and need.start_key in keys:
                        found = reads.session(connection, keys[need.start_key])
            return keys, found if found is not None and found.charger_id == charger_id else None, stored

        keys, found, stored = await asyncio.to_thread(fetch)
        peer.state.start_keys.update(keys)
        return found, stored

    @staticmethod
    def _spelled(peer: Peer, error: CallError) -> CallError:
        return CallError(error.message_id, peer.adapter.spell(error.error_code), error.description, error.details)

    # ------------------------------------------------------------------ commit, then answer and publish

    async def _reply(self, peer: Peer, now: datetime, inbound: str, call: Call | None,
                     outcome: model.Outcome | None, reply: CallResult | CallError) -> str:
        """Commit the inbound frame, our answer and the derived changes; then, and only then, the answer."""
        charger_id = peer.charger_id
        staged = Unit()
        try:
            writes.stage_outcome(staged, charger_id, outcome, peer.state, now)
        except writes.Unstorable as exc:  # allowed by the schema, not by a column: refuse it once, precisely
            staged, outcome = Unit(), None
            reply = self._spelled(peer, CallError(reply.message_id, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
                                                  str(exc), {"field": exc.column}))
            writes.stage_outcome(staged, charger_id, None, peer.state, now)
        out_text = framing.serialize(reply)
        unit = Unit()
        action = call.action if call else None
        protocol = peer.adapter.version
        unit.add("message", writes.message_row(charger_id, now, "in", inbound, 2 if call else None,
                                               call.message_id if call else None, action, self.node_id, protocol))
        priced = outcome.cost_for if outcome is not None and self.total_cost is not None else None
        if priced is None:
            unit.add("message", writes.message_row(charger_id, now, "out", out_text,
                                                   3 if isinstance(reply, CallResult) else 4, reply.message_id,
                                                   action, self.node_id, protocol))
        for key, rows in staged.rows.items():
            unit.rows.setdefault(key, []).extend(rows)
        unit.apply = staged.apply
        try:
            await self.writer.submit(unit)
        except Exception:  # noqa: BLE001 - not stored, so not acknowledged: the charger will retry
            reply = CallError(reply.message_id, ErrorCode.INTERNAL_ERROR, "storage unavailable, retry later", {})
            out_text = framing.serialize(reply)
            outcome, priced = None, None
        if priced is not None and isinstance(reply, CallResult):
            reply, out_text = await self._with_total_cost(peer, now, action, reply, priced)
        if outcome is not None and outcome.state is not None:
            peer.state = outcome.state
            assert call is not None
            if not peer.provisional:  # a connection that never became a charger has no faults, sessions or views
                self._publish(charger_id, call, outcome, now)
        if isinstance(reply, CallError):
            self.metrics.call_errors.labels(reply.error_code).inc()
        self.metrics.messages.labels(self.metrics.action_label(action) if action else "invalid", "out").inc()
        return out_text

    async def _with_total_cost(self, peer: Peer, now: datetime, action: str | None, reply: CallResult,
                               transaction_id: int) -> tuple[CallResult, str]:
        """Price the (now committed) ended session with the billing engine, then log the answer carrying it."""
        assert self.total_cost is not None
        try:
            cost = await asyncio.to_thread(self.total_cost, transaction_id)
        except Exception:  # noqa: BLE001 - totalCost is optional; the invoice follows as usual
            log.exception("pricing session %d for its TransactionEvent answer failed", transaction_id)
            cost = None
        if cost is not None:
            reply = CallResult(reply.message_id, {**reply.payload, "totalCost": float(cost)})
        out_text = framing.serialize(reply)
        unit = Unit()
        unit.add("message", writes.message_row(peer.charger_id, now, "out", out_text, 3, reply.message_id, action,
                                               self.node_id, peer.adapter.version))
        try:
            await self.writer.submit(unit)
        except Exception:  # noqa: BLE001 - the data is committed; only the log of our answer is missing
            log.warning("could not log the answer to %s", peer.charger_id)
        return reply, out_text

    def _publish(self, charger_id: str, call: Call, outcome: model.Outcome, now: datetime) -> None:
        """Tell the live views and the fault detector what this (now stored) message changed."""
        evidence = events.Evidence(call.action, call.message_id, call.payload)
        decision = _authorization(charger_id, call, outcome.reply, now, evidence)
        if decision is not None:
            self.bus.publish(decision)
        for change in outcome.changes:
            if isinstance(change, model.SessionChanged):
                s = change.session
                kind = events.SessionStopped if not s.active else (
                    events.SessionStarted if s.last_sample_at is None else events.SessionUpdated)
                self.bus.publish(kind(
                    charger_id=charger_id, connector_id=s.connector_id, transaction_id=s.transaction_id,
                    energy_wh=s.energy_wh, power_w=s.power_w, soc=s.soc, status=s.status, stop_reason=s.stop_reason,
                    flags=s.flags, charging_seconds=s.charging_seconds, idle_seconds=s.idle_seconds, at=now,
                    evidence=evidence))
                if kind is events.SessionStarted and s.reservation_id is not None:
                    self.bus.publish(events.ReservationUsed(charger_id, s.reservation_id, s.connector_id, now,
                                                            "session", s.transaction_id))
            elif isinstance(change, model.ConnectorStatusChanged):
                self.bus.publish(events.ConnectorStatus(
                    charger_id=charger_id, connector_id=change.connector_id, status=change.status,
                    error_code=change.error_code, info=change.info, vendor_id=change.vendor_id,
                    vendor_error_code=change.vendor_error_code, timestamp=change.timestamp, at=now,
                    evidence=evidence, errors_reported=change.errors_reported))
            elif isinstance(change, model.SecurityEvent):
                self.bus.publish(events.ChargerSecurityEvent(charger_id, change.event, change.tech_info,
                                                             change.timestamp, now, evidence))
            elif isinstance(change, model.ReservationStatusReported):
                ended = events.ReservationExpired if change.status == "expired" else events.ReservationCancelled
                self.bus.publish(ended(charger_id, change.reservation_id, None, now, "charger"))
            elif isinstance(change, model.ChargerBooted):
                self.bus.publish(events.ChargerBooted(charger_id, now, outcome.reply.get("interval"), evidence))
            elif isinstance(change, model.CertificateSigningRequested):
                self.bus.publish(events.CertificateSigningRequested(
                    charger_id, change.certificate_type, change.csr, change.accepted, change.reason, change.subject,
                    change.at, evidence))
            elif isinstance(change, model.ChargerFirmwareStatus):
                self.bus.publish(events.FirmwareStatusReported(charger_id, change.kind, change.status,
                                                               change.request_id, now, evidence))

    # ------------------------------------------------------------------ frames out

    async def log_outbound(self, peer: Peer, now: datetime, text: str, message_id: str, action: str) -> None:
        """Log one of our CALLs before it is sent (raises when the store is down: the command is not sent)."""
        unit = Unit()
        unit.add("message", writes.message_row(peer.charger_id, now, "out", text, 2, message_id, action,
                                               self.node_id, peer.adapter.version))
        await self.writer.submit(unit)


def _authorization(charger_id: str, call: Call, reply: dict[str, Any], now: datetime,
                   evidence: events.Evidence) -> events.Authorization | None:
    """The authorization decision a call carried, in neutral words ("StartTransaction" = a start decision)."""
    payload = call.payload
    if call.action in ("Authorize", "StartTransaction") and "idTag" in payload:
        return events.Authorization(charger_id, call.action, payload.get("idTag"), payload.get("connectorId"),
                                    reply.get("idTagInfo", {}).get("status"), now, evidence)
    token = payload.get("idToken") if isinstance(payload.get("idToken"), dict) else None
    if token is None or "idTokenInfo" not in reply:
        return None
    starts = call.action == "TransactionEvent" and payload.get("eventType") == "Started"
    return events.Authorization(charger_id, "StartTransaction" if starts else "Authorize", token.get("idToken"),
                                (payload.get("evse") or {}).get("id"), reply["idTokenInfo"].get("status"), now,
                                evidence)
