"""Transport: the OCPP-J WebSocket server. It moves bytes; what a frame means is :mod:`.ingest`'s business.

Here: the socket, the HTTP handshake (path, Basic auth, the charger record, one live connection per charger),
the subprotocol negotiation that picks the OCPP adapter per connection, the live :class:`ChargerLink` of each
charger, presence (connected/disconnected), and our outbound CALLs (one outstanding at a time per charger,
relayed through the database when the charger is connected to another node). Every inbound frame goes to
:meth:`Ingest.receive`, whose reply (committed before it is returned) is sent back as it is.
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
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
from websockets.typing import Subprotocol

from ..domain import model
from ..domain.events import ChargerConnected, ChargerDisconnected, CommandAnswered
from ..ocpp import framing, v16, versions
from ..ocpp.framing import Call, CallError, CallResult
from ..store import reads, schema, writes
from ..store.passwords import PasswordCheck
from ..store.writer import GroupCommitWriter, Unit
from .auth import basic_credentials
from .events import EventBus
from .ingest import Answer, Ingest, Outstanding, Peer
from .metrics import GatewayMetrics
from .relay import CommandRelay

log = logging.getLogger(__name__)

# One endpoint, one adapter per subprotocol; the first the charger offers that we speak wins.
SUBPROTOCOLS = [Subprotocol(version) for version in versions.ADAPTERS]
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


@dataclass(kw_only=True)
class ChargerLink(Peer):
    """One live charger connection: the charger as ingest knows it, plus its socket."""

    websocket: ServerConnection
    outbound: asyncio.Lock = field(default_factory=asyncio.Lock)  # one outstanding CALL at a time


class Gateway:
    def __init__(self, engine: Engine, config: GatewayConfig, bus: EventBus | None = None,
                 metrics: GatewayMetrics | None = None):
        self.engine = engine
        self.config = config
        self.bus = bus or EventBus()
        self.metrics = metrics or GatewayMetrics()
        self.writer = GroupCommitWriter(engine, writes.STATEMENTS, on_commit=self.metrics.on_commit)
        self.ingest = Ingest(engine, self.writer, self.bus, self.metrics, node_id=config.node_id,
                             heartbeat_interval=config.heartbeat_interval, on_admitted=self._admitted)
        self.transaction_ids = self.ingest.transaction_ids
        self.id_tags = self.ingest.id_tags
        self.links: dict[str, ChargerLink] = {}
        self._passwords = PasswordCheck()
        self._remembered: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._server: Server | None = None
        self.now: Callable[[], datetime] = utcnow
        self.relay = CommandRelay(engine, config.node_id, lambda: self.now())

    @property
    def total_cost(self) -> Callable[[int], Decimal | None] | None:
        """Final cost (incl. VAT, as invoiced) of a completed session, or None; set by the billing worker."""
        return self.ingest.total_cost

    @total_cost.setter
    def total_cost(self, price: Callable[[int], Decimal | None] | None) -> None:
        self.ingest.total_cost = price

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str, port: int) -> int:
        self.writer.start()
        await asyncio.to_thread(self.id_tags.refresh)
        await asyncio.to_thread(self._mark_all_disconnected)
        self._server = await serve(
            self._handle,
            host,
            port,
            subprotocols=SUBPROTOCOLS,
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
            state = await asyncio.to_thread(self.ingest.load_state, charger_id)
            known = await asyncio.to_thread(self._charger_record, charger_id) is not None
        except Exception as exc:  # noqa: BLE001 - database down: its calls get InternalError until it is back
            log.warning("cannot load state of %s yet (%s)", charger_id, exc)
            state, loaded = model.ChargerState(charger_id, self.config.heartbeat_interval), False
            known = charger_id in self._remembered
        previous = self.links.get(charger_id)
        if previous is not None:  # the charger reconnected before we noticed the old socket died
            await previous.websocket.close(1000, "replaced by a new connection")
        link = ChargerLink(charger_id=charger_id, state=state, adapter=adapter, provisional=not known, loaded=loaded,
                           websocket=websocket)
        self.links[charger_id] = link
        self.metrics.connected.set(len(self.links))
        if not link.provisional:
            await self._set_connected(charger_id, True, adapter.version)
        try:
            async for frame in websocket:
                try:
                    reply = await self.ingest.receive(link, frame, self.now())
                    if reply is not None:
                        await websocket.send(reply)
                except ConnectionClosed:
                    raise
                except Exception:  # noqa: BLE001 - a bug on one frame must not end the charger's connection
                    log.exception("frame from %s could not be handled", charger_id)
        except ConnectionClosed:
            pass
        finally:
            for outstanding in link.pending.values():
                if not outstanding.future.done():
                    outstanding.future.cancel()
            if self.links.get(charger_id) is link:
                del self.links[charger_id]
                self.metrics.connected.set(len(self.links))
                if not link.provisional:
                    await self._set_connected(charger_id, False)

    async def _admitted(self, peer: Peer) -> None:
        """--accept-unknown: ingest made the connection a charger (its first valid BootNotification)."""
        self._remember(peer.charger_id, {"id": peer.charger_id, "password_hash": None})
        await self._set_connected(peer.charger_id, True, peer.adapter.version)

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
        self.bus.publish((ChargerConnected if connected else ChargerDisconnected)(charger_id, now))

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
        self.bus.publish(CommandAnswered(charger_id, action, payload, result.status, result.response, self.now()))
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
        rendered = link.adapter.render(action, payload, link.state)
        action, payload = rendered.action, rendered.payload
        async with link.outbound:
            message_id = str(uuid.uuid4())
            text = framing.serialize(Call(message_id, action, payload))
            future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
            await self.ingest.log_outbound(link, self.now(), text, message_id, action)
            link.pending[message_id] = Outstanding(action, future)
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


def _select_subprotocol(connection: ServerConnection, subprotocols: Sequence[Subprotocol]) -> Subprotocol | None:
    for offered in subprotocols:
        if offered in SUBPROTOCOLS:
            return offered
    return None

