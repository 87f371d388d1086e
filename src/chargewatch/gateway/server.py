"""The OCPP-J WebSocket server: moves frames between sockets, the protocol core and the store.

Per inbound CALL: parse → core decides reply + changes → changes and both raw frames committed (group
commit) → only then the reply is sent. If the commit fails the charger gets InternalError and keeps the
message for a retry, so nothing acknowledged is ever lost.
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from sqlalchemy import Engine, update
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..domain import model
from ..ocpp import framing, v16, versions
from ..ocpp.adapter import Adapter, CallRejected, Environment, Lookup, NeedStartKey, NeedStoredSampleTimes
from ..ocpp.framing import Call, CallError, CallResult, ErrorCode, FrameError
from ..sessions.machine import ChargingSession
from ..store import reads, schema, writes
from ..store.ids import TransactionIdAllocator
from ..store.upsert import insert_ignoring_duplicates
from ..store.writer import GroupCommitWriter, Unit
from .auth import PasswordCheck, basic_credentials
from .events import Event, EventBus
from .metrics import GatewayMetrics
from .relay import CommandRelay

log = logging.getLogger(__name__)

# One endpoint, one adapter per subprotocol; the first the charger offers that we speak wins.
SUBPROTOCOLS = list(versions.ADAPTERS)
PATH_PREFIX = "/ocpp/"
MAX_CHARGER_ID = 64
# Charger records remembered for handshakes during a database outage (a reconnect storm then still gets in).
MAX_REMEMBERED_CHARGERS = 100_000


class _RedactCredentials(logging.Filter):
    """``-v`` logs every handshake header; a charger's ``Authorization: Basic …`` is its password."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (isinstance(args, tuple) and len(args) == 2 and isinstance(args[0], str)
                and args[0].lower() in ("authorization", "proxy-authorization")):
            record.args = (args[0], "[redacted]")
        return True


logging.getLogger("websockets.server").addFilter(_RedactCredentials())


def charger_id_from_path(path: str) -> str | None:
    """The charge point identity of ``/ocpp/{id}``, or None if it is not one we accept.

    Refused even with --accept-unknown: ``.``/``..`` and separators (they name paths in logs, files and URLs),
    control, format and unassigned characters (NUL, newlines, U+202E), and undecodable percent-escapes.
    """
    if not path.startswith(PATH_PREFIX):
        return None
    charger_id = unquote(path[len(PATH_PREFIX):].split("?", 1)[0], errors="replace")
    if not charger_id or len(charger_id) > MAX_CHARGER_ID or charger_id in (".", ".."):
        return None
    for ch in charger_id:
        if ch in "/\\\ufffd" or unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp"):
            return None
    return charger_id


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class GatewayConfig:
    accept_unknown: bool = False
    heartbeat_interval: int = 300
    max_frame_bytes: int = 256 * 1024
    command_timeout: float = 30.0
    ping_interval: float | None = 60.0
    node_id: str = "node-1"
    # A charger without a password connecting again is let in only if its live connection fails a ping this fast.
    replace_probe_timeout: float = 5.0


@dataclass
class CommandResult:
    status: str  # answered | error | timeout | offline
    response: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    sent_action: str | None = None  # the action the charger received, when the adapter rendered another


@dataclass
class ChargerLink:
    """One live charger connection."""

    charger_id: str
    websocket: ServerConnection
    state: model.ChargerState
    adapter: Adapter = v16.ADAPTER
    pending: dict[str, asyncio.Future[framing.Message]] = field(default_factory=dict)
    outbound: asyncio.Lock = field(default_factory=asyncio.Lock)
    provisional: bool = False  # unknown, admitted by --accept-unknown: a charger only once it boots
    loaded: bool = True  # False: the database was down at connect; the state is loaded before the next call


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


class Gateway:
    def __init__(self, engine: Engine, config: GatewayConfig, bus: EventBus | None = None,
                 metrics: GatewayMetrics | None = None):
        self.engine = engine
        self.config = config
        self.bus = bus or EventBus()
        self.metrics = metrics or GatewayMetrics()
        self.writer = GroupCommitWriter(engine, writes.STATEMENTS, on_commit=self.metrics.on_commit)
        self.transaction_ids = TransactionIdAllocator(engine)
        self.id_tags = IdTagDirectory(engine)
        self.links: dict[str, ChargerLink] = {}
        self._passwords = PasswordCheck()
        self._remembered: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._server: Server | None = None
        self.now: Callable[[], datetime] = utcnow
        # Final cost (incl. VAT, as invoiced) of a completed session, or None; set by the billing worker.
        self.total_cost: Callable[[int], Decimal | None] | None = None
        self.relay = CommandRelay(engine, config.node_id, lambda: self.now())

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str, port: int) -> int:
        self.writer.start()
        await asyncio.to_thread(self.id_tags.refresh)
        await asyncio.to_thread(self._mark_all_disconnected)
        self._server = await serve(
            self._handle,
            host,
            port,
            subprotocols=SUBPROTOCOLS,  # type: ignore[arg-type]
            select_subprotocol=_select_subprotocol,
            process_request=self._process_request,
            max_size=self.config.max_frame_bytes,
            max_queue=4,
            compression=None,
            ping_interval=self.config.ping_interval,
            ping_timeout=self.config.ping_interval,
            close_timeout=2,
        )
        self.relay.start(self._call_local)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        await self.relay.stop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        await self.writer.stop()

    def _mark_all_disconnected(self) -> None:
        chargers = schema.chargers
        with self.engine.begin() as connection:
            connection.execute(
                update(chargers).where(chargers.c.connected.is_(True), chargers.c.node_id == self.config.node_id)
                .values(connected=False)
            )

    # ------------------------------------------------------------------ handshake

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if not request.path.startswith(PATH_PREFIX):
            return self._refuse(connection, HTTPStatus.NOT_FOUND, "path")
        charger_id = charger_id_from_path(request.path)
        if charger_id is None:
            return self._refuse(connection, HTTPStatus.BAD_REQUEST, "charger_id")
        try:
            record = await asyncio.to_thread(self._charger_record, charger_id)
        except Exception as exc:  # noqa: BLE001 - database down: a charger we know still gets in
            record = self._remembered.get(charger_id)
            if record is None:
                log.warning("charger lookup for %s failed (%s); refused with 503", charger_id, exc)
                return self._refuse(connection, HTTPStatus.SERVICE_UNAVAILABLE, "database")
        if record is None:
            if not self.config.accept_unknown:
                return self._refuse(connection, HTTPStatus.NOT_FOUND, "unknown_charger")
            # No row yet: a handshake that never becomes a charger (wrong subprotocol, closed before a valid
            # BootNotification) must leave no ghost charger behind, and no offline incident for it.
            record = {"id": charger_id, "password_hash": None, "provisional": True}
        if record.get("password_hash"):
            credentials = basic_credentials(request.headers.get("Authorization"))
            if (
                credentials is None
                or credentials[0] != charger_id
                or not await asyncio.to_thread(
                    self._passwords.verify, charger_id, record["password_hash"], credentials[1]
                )
            ):
                response = self._refuse(connection, HTTPStatus.UNAUTHORIZED, "bad_credentials")
                response.headers["WWW-Authenticate"] = 'Basic realm="chargewatch", charset="UTF-8"'
                return response
        elif await self._still_connected(charger_id):
            # Without a password anyone can claim the id: a live charger is not evicted by a newcomer.
            return self._refuse(connection, HTTPStatus.CONFLICT, "already_connected")
        if not record.get("provisional"):
            self._remember(charger_id, record)
        return None

    async def _still_connected(self, charger_id: str) -> bool:
        """Whether the charger's current connection (if any) answers a ping; a dead one is replaced."""
        previous = self.links.get(charger_id)
        if previous is None:
            return False
        try:
            pong = await previous.websocket.ping()
            await asyncio.wait_for(pong, self.config.replace_probe_timeout)
        except (TimeoutError, ConnectionClosed):
            return False
        return True

    def _remember(self, charger_id: str, record: dict[str, Any]) -> None:
        self._remembered[charger_id] = record
        self._remembered.move_to_end(charger_id)
        while len(self._remembered) > MAX_REMEMBERED_CHARGERS:
            self._remembered.popitem(last=False)

    def _refuse(self, connection: ServerConnection, status: HTTPStatus, reason: str) -> Response:
        self.metrics.rejected_handshakes.labels(reason).inc()
        return connection.respond(status, f"{status.phrase}\n")

    def _charger_record(self, charger_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            return reads.charger(connection, charger_id)

    def _admit_unknown(self, charger_id: str) -> None:
        with self.engine.begin() as connection:
            insert_ignoring_duplicates(connection, schema.chargers, [{
                "id": charger_id, "registered": False, "timezone": "UTC", "heartbeat_interval":
                self.config.heartbeat_interval, "connected": False, "created_at": self.now(),
            }])

    # ------------------------------------------------------------------ connection

    async def _handle(self, websocket: ServerConnection) -> None:
        assert websocket.request is not None
        charger_id = charger_id_from_path(websocket.request.path)
        assert charger_id is not None  # the handshake refused every other path
        offered = websocket.request.headers.get("Sec-WebSocket-Protocol")
        if websocket.subprotocol is None and offered:
            # OCPP-J 1.6 §3.1.2: an offer we cannot serve ends the connection right after the handshake.
            await websocket.close(1002, f"unsupported OCPP version; this server speaks {', '.join(SUBPROTOCOLS)}")
            return
        adapter = versions.adapter_for(websocket.subprotocol)  # no offer at all: 1.6, as before
        loaded = True
        try:
            state = await asyncio.to_thread(self._load_state, charger_id)
            known = await asyncio.to_thread(self._charger_record, charger_id) is not None
        except Exception as exc:  # noqa: BLE001 - database down: its calls get InternalError until it is back
            log.warning("cannot load state of %s yet (%s)", charger_id, exc)
            state, loaded = model.ChargerState(charger_id, self.config.heartbeat_interval), False
            known = charger_id in self._remembered
        previous = self.links.get(charger_id)
        if previous is not None:  # the charger reconnected before we noticed the old socket died
            await previous.websocket.close(1000, "replaced by a new connection")
        link = ChargerLink(charger_id, websocket, state, adapter, provisional=not known, loaded=loaded)
        self.links[charger_id] = link
        self.metrics.connected.set(len(self.links))
        if not link.provisional:
            await self._set_connected(charger_id, True, adapter.version)
        try:
            async for frame in websocket:
                try:
                    await self._on_frame(link, frame)
                except ConnectionClosed:
                    raise
                except Exception:  # noqa: BLE001 - a bug on one frame must not end the charger's connection
                    log.exception("frame from %s could not be handled", charger_id)
        except ConnectionClosed:
            pass
        finally:
            for future in link.pending.values():
                if not future.done():
                    future.cancel()
            if self.links.get(charger_id) is link:
                del self.links[charger_id]
                self.metrics.connected.set(len(self.links))
                if not link.provisional:
                    await self._set_connected(charger_id, False)

    def _load_state(self, charger_id: str) -> model.ChargerState:
        with self.engine.connect() as connection:
            record = reads.charger(connection, charger_id)
            interval = record["heartbeat_interval"] if record else self.config.heartbeat_interval
            return reads.charger_state(connection, charger_id, interval)

    async def _set_connected(self, charger_id: str, connected: bool, version: str | None = None) -> None:
        now = self.now()
        unit = Unit()
        row: dict[str, Any] = {"_key": charger_id, "connected": connected, "node_id": self.config.node_id,
                               "connected_at" if connected else "disconnected_at": now}
        if version is not None:
            row["ocpp_version"] = version
        unit.add("charger_connected" if connected else "charger_disconnected", row)
        try:
            await self.writer.submit(unit)
        except Exception:  # noqa: BLE001 - presence is advisory; the raw log and heartbeats tell the truth
            log.warning("could not record connection state of %s", charger_id)
        self.bus.publish(Event("charger.connected" if connected else "charger.disconnected",
                               {"charger_id": charger_id, "at": now.isoformat()}))

    async def _on_frame(self, link: ChargerLink, frame: str | bytes) -> None:
        now = self.now()
        text = frame if isinstance(frame, str) else frame.decode("utf-8", errors="replace")
        try:
            message = framing.parse(text)
        except FrameError as exc:
            await self._reply(link, now, text, None, None, self._spelled(link, exc.reply))
            return
        if not link.provisional:
            self.bus.publish(Event("charger.seen", {"charger_id": link.charger_id, "at": now.isoformat()}))
        if isinstance(message, Call):
            self.metrics.messages.labels(self.metrics.action_label(message.action), "in").inc()
            await self._on_call(link, now, text, message)
            return
        # A peer's answer to one of our CALLs.
        future = link.pending.get(message.message_id)
        action = getattr(future, "action", None)
        unit = Unit()
        unit.add("message", writes.message_row(
            link.charger_id, now, "in", text, 3 if isinstance(message, CallResult) else 4,
            message.message_id, action, self.config.node_id, link.adapter.version))
        try:
            await self.writer.submit(unit)
        except Exception:  # noqa: BLE001
            log.warning("could not log answer from %s", link.charger_id)
        if future is not None and not future.done():
            future.set_result(message)

    async def _on_call(self, link: ChargerLink, now: datetime, text: str, call: Call) -> None:
        adapter = link.adapter
        try:
            lookups = adapter.lookups(call.action, call.payload, link.state)  # validates first
        except CallRejected as exc:
            await self._reply(link, now, text, call, None, CallError(
                call.message_id, adapter.spell(exc.error_code), exc.description, exc.details))
            return
        try:
            if not link.loaded:
                link.state = await asyncio.to_thread(self._load_state, link.charger_id)
                link.loaded = True
                lookups = adapter.lookups(call.action, call.payload, link.state)
            fetched, stored = await self._look_up(link, lookups)
        except Exception as exc:  # noqa: BLE001 - database down: the charger keeps the message and retries
            log.warning("lookup for %s from %s failed (%s)", call.action, link.charger_id, exc)
            await self._reply(link, now, text, call, None, CallError(
                call.message_id, ErrorCode.INTERNAL_ERROR, "storage unavailable, retry later", {}))
            return
        env = Environment(
            now=now,
            id_tag_info=lambda tag: self.id_tags.info(tag, now),
            allocate_transaction_id=self.transaction_ids.allocate,
            heartbeat_interval=self.config.heartbeat_interval,
            fetched_session=fetched,
            stored_sample_times=stored,
        )
        try:
            outcome = adapter.handle(call.action, call.payload, link.state, env)
        except CallRejected as exc:
            await self._reply(link, now, text, call, None, CallError(
                call.message_id, adapter.spell(exc.error_code), exc.description, exc.details))
            return
        except Exception:  # noqa: BLE001 - a bug must not kill the connection or lose the frame
            log.exception("handler %s failed for %s", call.action, link.charger_id)
            await self._reply(link, now, text, call, None,
                              CallError(call.message_id, ErrorCode.INTERNAL_ERROR, "internal error", {}))
            return
        # A valid call carrying data (a StatusNotification before any boot) needs the charger row too: its
        # connector rows refer to it, and without it the charger would get InternalError forever.
        if link.provisional and (call.action == "BootNotification" or outcome.changes):
            await self._admit(link)
        reply = CallResult(call.message_id, outcome.reply)
        await self._reply(link, now, text, call, outcome, reply)

    async def _admit(self, link: ChargerLink) -> None:
        """--accept-unknown: the first valid BootNotification (or data call) makes the connection a charger."""
        try:
            await asyncio.to_thread(self._admit_unknown, link.charger_id)
        except Exception:  # noqa: BLE001 - stays provisional; the charger retries its BootNotification
            log.exception("cannot admit %s", link.charger_id)
            return
        link.provisional = False
        self._remember(link.charger_id, {"id": link.charger_id, "password_hash": None})
        await self._set_connected(link.charger_id, True, link.adapter.version)

    async def _look_up(self, link: ChargerLink,
                       lookups: list[Lookup]) -> tuple[ChargingSession | None, frozenset[datetime]]:
        """Fetch what the adapter said this call needs: a stored session key into the state, a session, which
        late sample times are stored already."""
        if not lookups:
            return None, frozenset()
        charger_id = link.charger_id

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
        link.state.start_keys.update(keys)
        return found, stored

    def _spelled(self, link: ChargerLink, error: CallError) -> CallError:
        return CallError(error.message_id, link.adapter.spell(error.error_code), error.description, error.details)

    async def _reply(self, link: ChargerLink, now: datetime, inbound: str, call: Call | None,
                     outcome: model.Outcome | None, reply: CallResult | CallError) -> None:
        """Commit the inbound frame, our answer and the derived changes; then, and only then, answer."""
        charger_id = link.charger_id
        staged = Unit()
        try:
            writes.stage_outcome(staged, charger_id, outcome, link.state, now)
        except writes.Unstorable as exc:  # allowed by the schema, not by a column: refuse it once, precisely
            staged, outcome = Unit(), None
            reply = self._spelled(link, CallError(reply.message_id, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
                                                  str(exc), {"field": exc.column}))
            writes.stage_outcome(staged, charger_id, None, link.state, now)
        out_text = framing.serialize(reply)
        unit = Unit()
        action = call.action if call else None
        protocol = link.adapter.version
        unit.add("message", writes.message_row(charger_id, now, "in", inbound, 2 if call else None,
                                               call.message_id if call else None, action, self.config.node_id,
                                               protocol))
        priced = outcome.cost_for if outcome is not None and self.total_cost is not None else None
        if priced is None:
            unit.add("message", writes.message_row(charger_id, now, "out", out_text,
                                                   3 if isinstance(reply, CallResult) else 4, reply.message_id,
                                                   action, self.config.node_id, protocol))
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
            reply, out_text = await self._with_total_cost(link, now, action, reply, priced)
        if outcome is not None and outcome.state is not None:
            link.state = outcome.state
            assert call is not None
            self._publish(charger_id, call, outcome, now)
        if isinstance(reply, CallError):
            self.metrics.call_errors.labels(reply.error_code).inc()
        self.metrics.messages.labels(self.metrics.action_label(action) if action else "invalid", "out").inc()
        try:
            await link.websocket.send(out_text)
        except ConnectionClosed:
            pass

    async def _with_total_cost(self, link: ChargerLink, now: datetime, action: str | None, reply: CallResult,
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
        unit.add("message", writes.message_row(link.charger_id, now, "out", out_text, 3, reply.message_id, action,
                                               self.config.node_id, link.adapter.version))
        try:
            await self.writer.submit(unit)
        except Exception:  # noqa: BLE001 - the data is committed; only the log of our answer is missing
            log.warning("could not log the answer to %s", link.charger_id)
        return reply, out_text

    def _publish(self, charger_id: str, call: Call, outcome: model.Outcome, now: datetime) -> None:
        """Tell the live views and the fault detector what this (now stored) message changed."""
        evidence = {"action": call.action, "message_id": call.message_id, "payload": call.payload}
        at = now.isoformat()
        decision = _authorization(call, outcome.reply)
        if decision is not None:
            self.bus.publish(Event("authorization", {"charger_id": charger_id, **decision, "at": at,
                                                     "evidence": evidence}))
        for change in outcome.changes:
            if isinstance(change, model.SessionChanged):
                s = change.session
                kind = "session.stopped" if not s.active else (
                    "session.started" if s.last_sample_at is None else "session.updated")
                self.bus.publish(Event(kind, {
                    "charger_id": charger_id, "connector_id": s.connector_id, "transaction_id": s.transaction_id,
                    "energy_wh": s.energy_wh, "power_w": s.power_w, "soc": s.soc, "status": s.status,
                    "stop_reason": s.stop_reason, "flags": list(s.flags), "charging_seconds": s.charging_seconds,
                    "idle_seconds": s.idle_seconds, "at": at, "evidence": evidence,
                }))
            elif isinstance(change, model.ConnectorStatusChanged):
                self.bus.publish(Event("connector.status", {
                    "charger_id": charger_id, "connector_id": change.connector_id, "status": change.status,
                    "error_code": change.error_code, "info": change.info, "vendor_id": change.vendor_id,
                    "vendor_error_code": change.vendor_error_code, "timestamp": change.timestamp.isoformat(),
                    "at": at, "evidence": evidence,
                }))
            elif isinstance(change, model.ChargerBooted):
                self.bus.publish(Event("charger.booted", {
                    "charger_id": charger_id, "at": at, "heartbeat_interval": outcome.reply.get("interval"),
                    "evidence": evidence}))

    # ------------------------------------------------------------------ outbound commands

    async def call(self, charger_id: str, action: str, payload: dict[str, Any],
                   timeout: float | None = None) -> CommandResult:
        """Send a CALL to a connected charger and wait for its answer (one outstanding CALL at a time).

        ``action`` is given in 1.6 words (or the charger's version's own); the charger's adapter renders it,
        and raises ValueError when it cannot be expressed or the payload is invalid."""
        link = self.links.get(charger_id)
        if link is not None:
            result = await self._call_connected(link, action, payload, timeout)
        else:
            record = await asyncio.to_thread(self._charger_record, charger_id)
            if versions.adapter_for((record or {}).get("ocpp_version")) is v16.ADAPTER:
                v16.ADAPTER.render(action, payload, model.ChargerState(charger_id))  # validated before relaying
            # (a 2.0.1 rendering needs the station's live state: the node holding the connection renders it)
            node = await asyncio.to_thread(self.relay.owner_node, charger_id)
            if node is None:
                return CommandResult("offline")
            status, body = await self.relay.forward(charger_id, node, action, payload,
                                                    timeout or self.config.command_timeout)
            result = CommandResult(status, response=body if status == "answered" else None,
                                   error=body if status == "error" else None)
        # Faults must know which reboots it asked for (an accepted Reset is no boot loop, no outage).
        self.bus.publish(Event("command.answered", {
            "charger_id": charger_id, "action": action, "payload": payload, "status": result.status,
            "response": result.response, "at": self.now().isoformat()}))
        return result

    async def _call_local(self, charger_id: str, action: str, payload: dict[str, Any],
                          timeout: float) -> CommandResult:
        """A command relayed from another node: send it if the charger is (still) connected here."""
        link = self.links.get(charger_id)
        if link is None:
            return CommandResult("offline")
        try:
            return await self._call_connected(link, action, payload, timeout)
        except ValueError as exc:  # the charger's adapter cannot express it: the requesting node says why
            return CommandResult("error", error={"code": "NotSupported", "description": str(exc), "details": {}})

    async def _call_connected(self, link: ChargerLink, action: str, payload: dict[str, Any],
                              timeout: float | None) -> CommandResult:
        charger_id = link.charger_id
        rendered = link.adapter.render(action, payload, link.state)
        action, payload = rendered.action, rendered.payload
        async with link.outbound:
            message_id = str(uuid.uuid4())
            text = framing.serialize(Call(message_id, action, payload))
            future: asyncio.Future[framing.Message] = asyncio.get_running_loop().create_future()
            future.action = action  # type: ignore[attr-defined]
            unit = Unit()
            unit.add("message", writes.message_row(charger_id, self.now(), "out", text, 2, message_id, action,
                                                   self.config.node_id, link.adapter.version))
            await self.writer.submit(unit)
            link.pending[message_id] = future
            self.metrics.messages.labels(action, "out").inc()
            try:
                await link.websocket.send(text)
                answer = await asyncio.wait_for(future, timeout or self.config.command_timeout)
            except TimeoutError:
                return CommandResult("timeout", sent_action=rendered.action)
            except (ConnectionClosed, asyncio.CancelledError):
                return CommandResult("offline", sent_action=rendered.action)
            finally:
                link.pending.pop(message_id, None)
        if isinstance(answer, CallResult):
            return CommandResult("answered", response=answer.payload, sent_action=rendered.action)
        assert isinstance(answer, CallError)
        return CommandResult("error", error={"code": answer.error_code, "description": answer.description,
                                             "details": answer.details}, sent_action=rendered.action)


def _select_subprotocol(connection: ServerConnection, subprotocols: list[str]) -> str | None:
    for offered in subprotocols:
        if offered in SUBPROTOCOLS:
            return offered
    return None


def _authorization(call: Call, reply: dict[str, Any]) -> dict[str, Any] | None:
    """The authorization decision a call carried, in neutral words ("StartTransaction" = a start decision)."""
    payload = call.payload
    if call.action in ("Authorize", "StartTransaction") and "idTag" in payload:
        return {"action": call.action, "id_tag": payload.get("idTag"), "connector_id": payload.get("connectorId"),
                "status": reply.get("idTagInfo", {}).get("status")}
    token = payload.get("idToken") if isinstance(payload.get("idToken"), dict) else None
    if token is None or "idTokenInfo" not in reply:
        return None
    starts = call.action == "TransactionEvent" and payload.get("eventType") == "Started"
    return {"action": "StartTransaction" if starts else "Authorize", "id_tag": token.get("idToken"),
            "connector_id": (payload.get("evse") or {}).get("id"), "status": reply["idTokenInfo"].get("status")}
