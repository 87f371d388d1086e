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
from ..ocpp import credentials, framing, v16, versions
from ..ocpp.adapter import RenderedCommand
from ..ocpp.framing import Call, CallError, CallResult
from ..store import reads, schema, security, writes
from ..store.passwords import PasswordCheck, hash_password
from ..store.writer import GroupCommitWriter, Unit
from .auth import basic_credentials
from .events import EventBus
from .ingest import Answer, Ingest, Outstanding, Peer
from .metrics import GatewayMetrics
from .relay import CommandRelay
from .tls import TlsConfig, TlsServer, peer_common_name

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
    tls: TlsConfig | None = None  # wss:// (security profiles 2 and 3); None: ws:// (profile 1)
    min_security_profile: int = 0  # every charger's floor (1..3); 0: none beyond each charger's own


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
    security_profile: int = 1


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
        self.tls = TlsServer(config.tls) if config.tls is not None else None
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
            ssl=self.tls.context if self.tls is not None else None,
            max_size=self.config.max_frame_bytes,
            max_queue=4,
            compression=None,
            ping_interval=self.config.ping_interval,
            ping_timeout=self.config.ping_interval,
            close_timeout=2,
        )
        self.relay.start(self._call_local)
        return self._server.sockets[0].getsockname()[1]

    def reload_tls(self) -> bool:
        """Load the TLS certificate and key files again (SIGHUP): new connections get them, no restart."""
        return self.tls.reload() if self.tls is not None else False

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
        offered = [item.strip() for header in request.headers.get_all("Sec-WebSocket-Protocol")
                   for item in header.split(",") if item.strip()]
        if not any(item in SUBPROTOCOLS for item in offered):
            # OCPP-J allows a close after the upgrade too; the compliance test wants the upgrade refused.
            return self._refuse(connection, HTTPStatus.BAD_REQUEST, "subprotocol", (
                f"unsupported OCPP version: offered {', '.join(offered) or 'no subprotocol'}; "
                f"this server speaks {', '.join(SUBPROTOCOLS)} (Sec-WebSocket-Protocol)"))
        profile, common_name = self._security_profile(connection)
        if common_name is not None and common_name != charger_id:
            return self._refuse(connection, HTTPStatus.FORBIDDEN, "client_certificate", (
                f"the client certificate is issued to {common_name!r}, not to the charge point {charger_id!r}"))
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
        required = security.required_profile(record, self.config.min_security_profile)
        if profile < required:
            return self._refuse(connection, HTTPStatus.FORBIDDEN, "downgrade", (
                f"security profile {profile} refused: {charger_id} must connect with profile {required} or higher "
                f"(it was seen on it, or is configured for it); downgrades are refused"))
        pending = security.pending_hashes(record)
        if profile < 3 and (record.get("password_hash") or pending):
            refusal = await self._check_password(connection, request, charger_id, record, pending)
            if refusal is not None:
                return refusal
        elif profile < 3 and await self._still_connected(charger_id):
            # Without a password anyone can claim the id: a live charger is not evicted by a newcomer.
            return self._refuse(connection, HTTPStatus.CONFLICT, "already_connected")
        if not record.get("provisional"):
            self._remember(charger_id, record)
            if record.get("security_profile") != profile or (record.get("highest_profile") or 0) < profile:
                await self._record_profile(charger_id, profile)  # before the upgrade: its floor from now on
                record.update(security_profile=profile, highest_profile=max(profile, record.get("highest_profile")
                                                                            or 0))
        return None

    def _security_profile(self, connection: ServerConnection) -> tuple[int, str | None]:
        """(1: ws://, 2: TLS, 3: TLS with a verified client certificate; that certificate's CN)."""
        ssl_object = connection.transport.get_extra_info("ssl_object") if self.tls is not None else None
        common_name = peer_common_name(ssl_object)
        return (3 if common_name is not None else 2 if ssl_object is not None else 1), common_name

    async def _check_password(self, connection: ServerConnection, request: Request, charger_id: str,
                              record: dict[str, Any], pending: list[str]) -> Response | None:
        """Basic auth against the password, or a pending new one (whose first use makes it the password)."""
        given = basic_credentials(request.headers.get("Authorization"))
        current = record.get("password_hash")
        if given is None and not current:
            return None  # no password yet, one pending: the charger may still connect as before
        if given is not None and given[0] == charger_id:
            if current and await asyncio.to_thread(self._passwords.verify, charger_id, current, given[1]):
                return None
            for candidate in pending:
                if await asyncio.to_thread(self._passwords.verify, charger_id, candidate, given[1]):
                    await self._promote(charger_id, record, candidate)
                    return None
        response = self._refuse(connection, HTTPStatus.UNAUTHORIZED, "bad_credentials")
        response.headers["WWW-Authenticate"] = 'Basic realm="chargewatch", charset="UTF-8"'
        return response

    async def _promote(self, charger_id: str, record: dict[str, Any], password_hash: str) -> None:
        """The first connection with the new password: it becomes the password, the old one stops working."""
        def write() -> None:
            with self.engine.begin() as connection:
                security.promote(connection, charger_id, password_hash, self.now())

        try:
            await asyncio.to_thread(write)
        except Exception:  # noqa: BLE001 - it stays pending (both keep working) until the next connection
            log.warning("could not make the new password of %s its password", charger_id, exc_info=True)
            return
        log.info("%s connected with its new password; the old one is no longer accepted", charger_id)
        record.update(password_hash=password_hash, pending_password_hash=None, pending_alt_password_hash=None)

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

    def _refuse(self, connection: ServerConnection, status: HTTPStatus, reason: str,
                detail: str | None = None) -> Response:
        self.metrics.rejected_handshakes.labels(reason).inc()
        return connection.respond(status, f"{status.phrase}\n" + (f"{detail}\n" if detail else ""))

    def _charger_record(self, charger_id: str) -> dict[str, Any] | None:
        """The charger's row with its security record (profiles, pending password), or None."""
        with self.engine.connect() as connection:
            record = reads.charger(connection, charger_id)
            if record is not None:
                record = {**record, **security.security_of(connection, charger_id)}
            return record

    # ------------------------------------------------------------------ connection

    async def _handle(self, websocket: ServerConnection) -> None:
        assert websocket.request is not None
        charger_id = charger_id_from_path(websocket.request.path)
        assert charger_id is not None  # the handshake refused every other path
        profile, _ = self._security_profile(websocket)
        adapter = versions.adapter_for(websocket.subprotocol)  # the handshake refused every other offer
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
                           websocket=websocket, security_profile=profile)
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
        await self._record_profile(peer.charger_id, getattr(peer, "security_profile", 1))

    async def _record_profile(self, charger_id: str, profile: int) -> None:
        """The security profile the charger connects with (and the highest seen: its floor from now on)."""
        def write() -> None:
            with self.engine.begin() as connection:
                security.record_profile(connection, charger_id, profile, self.now())

        try:
            await asyncio.to_thread(write)
        except Exception:  # noqa: BLE001 - recorded at its next connection
            log.warning("could not record the security profile of %s", charger_id)

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
        self.bus.publish(CommandAnswered(charger_id, action, credentials.redact_call(action, payload), result.status,
                                         result.response, self.now()))
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
        passwords = credentials.new_passwords(action, payload)
        # Hashed before it is sent: the charger may reconnect with it right after its answer.
        hashes = [await asyncio.to_thread(hash_password, password) for password in passwords]
        result = await self._send_call(link, rendered, timeout)
        if hashes and result.status == "answered" and credentials.accepted(action, result.response):
            await self._password_accepted(link.charger_id, hashes)
        return result

    async def _password_accepted(self, charger_id: str, hashes: list[str]) -> None:
        """The charger took a new Basic auth password: pending until its first connection with it."""
        def write() -> None:
            with self.engine.begin() as connection:
                security.set_pending(connection, charger_id, hashes, self.now())

        try:
            await asyncio.to_thread(write)
        except Exception:  # noqa: BLE001 - the answer stands; the operator must know the charger is locked out
            log.error("%s accepted a new password that could not be stored: it will be refused with it; rotate "
                      "its password again", charger_id, exc_info=True)
            return
        remembered = self._remembered.get(charger_id)
        if remembered is not None:
            remembered.update(pending_password_hash=hashes[0],
                              pending_alt_password_hash=hashes[1] if len(hashes) > 1 else None)
        log.info("%s accepted a new password; the old one stays valid until it connects with the new one",
                 charger_id)

    async def _send_call(self, link: ChargerLink, rendered: RenderedCommand, timeout: float | None) -> CommandResult:
        action, payload = rendered.action, rendered.payload
        async with link.outbound:
            message_id = str(uuid.uuid4())
            text = framing.serialize(Call(message_id, action, payload))
            future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
            logged = text if not credentials.carries_secret(action, payload) else framing.serialize(
                Call(message_id, action, credentials.redact_call(action, payload)))  # the raw log keeps no password
            await self.ingest.log_outbound(link, self.now(), logged, message_id, action)
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
            return CommandResult("answered", response=credentials.redact_answer(action, answer.payload),
                                 sent_action=rendered.action)
        assert isinstance(answer, CallError)
        return CommandResult("error", error={"code": answer.error_code, "description": answer.description,
                                             "details": answer.details}, sent_action=rendered.action)


def _select_subprotocol(connection: ServerConnection, subprotocols: Sequence[Subprotocol]) -> Subprotocol | None:
    for offered in subprotocols:
        if offered in SUBPROTOCOLS:
            return offered
    return None

