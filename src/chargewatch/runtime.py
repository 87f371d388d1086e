"""Wire the parts together and run them in one event loop: OCPP gateway + HTTP API."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import uvicorn

from .api.app import Services, create_app
from .api.auth import bind_refusal
from .gateway.events import EventBus
from .gateway.transport import Gateway, GatewayConfig
from .store.database import create_db_engine, database_url, migrate
from .store.secrets import instance_secret
from .workers import installers

log = logging.getLogger(__name__)


@dataclass
class ServerOptions:
    db: str | None = None
    host: str = "127.0.0.1"
    ocpp_port: int = 9000
    http_port: int = 8080
    gateway: GatewayConfig = field(default_factory=GatewayConfig)


class UnsafeBind(RuntimeError):
    """The server would listen beyond loopback with nobody able to log in (the message says what to do)."""


class Chargewatch:
    """A running chargewatch: start() binds the ports (0 = pick free ones), stop() shuts down cleanly."""

    def __init__(self, options: ServerOptions):
        self.options = options
        self.url = database_url(options.db)
        migrate(self.url)
        self.engine = create_db_engine(self.url)
        self.bus = EventBus()
        self.gateway = Gateway(self.engine, options.gateway, self.bus)
        self.services = Services(self.engine, self.gateway, self.bus, instance_secret(self.engine))
        self.app = create_app(self.services)
        self.ocpp_port = 0
        self.http_port = 0
        self._http: uvicorn.Server | None = None
        self._http_task: asyncio.Task[None] | None = None
        self._starting: list[Callable[[], Awaitable[None]]] = []
        self._stopping: list[Callable[[], Awaitable[None]]] = []
        for install in installers():
            install(self)

    def on_start(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run ``hook`` once the ports are bound (in registration order)."""
        self._starting.append(hook)

    def on_stop(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run ``hook`` at shutdown, before the gateway and database close (in reverse order)."""
        self._stopping.append(hook)

    @property
    def http_base(self) -> str:
        return f"http://{self.options.host}:{self.http_port}"

    async def start(self) -> None:
        refusal = bind_refusal(self.engine, self.options.host)
        if refusal is not None:
            raise UnsafeBind(refusal)
        # The HTTP socket is bound here, not by uvicorn, which calls sys.exit() when a port is taken: a busy port
        # is then an OSError naming the address, for the CLI to say so (and the OCPP port is not left bound).
        http_socket = _listen(self.options.host, self.options.http_port)
        try:
            self.ocpp_port = await self.gateway.start(self.options.host, self.options.ocpp_port)
        except BaseException:
            http_socket.close()
            raise
        config = uvicorn.Config(self.app, host=self.options.host, port=self.options.http_port, log_level="warning",
                                lifespan="off", timeout_graceful_shutdown=2)
        self._http = uvicorn.Server(config)
        self._http_task = asyncio.create_task(self._http.serve(sockets=[http_socket]))
        while not self._http.started:
            if self._http_task.done():
                await self.gateway.stop()
                self._http_task.result()
                raise RuntimeError("HTTP server did not start")
            await asyncio.sleep(0.01)
        self.http_port = self._http.servers[0].sockets[0].getsockname()[1]
        for hook in self._starting:
            await hook()

    async def stop(self) -> None:
        for hook in reversed(self._stopping):
            await hook()
        if self._http is not None and self._http_task is not None:
            self._http.should_exit = True
            await self._http_task
        await self.gateway.stop()
        self.engine.dispose()

    async def serve_forever(self) -> None:
        await self.start()
        log.info("OCPP on ws://%s:%d/ocpp/{id}, HTTP on http://%s:%d", self.options.host, self.ocpp_port,
                 self.options.host, self.http_port)
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0: any free port), as uvicorn would bind it."""
    family = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    try:
        listener = socket.create_server((host, port), family=family, backlog=2048)
    except OSError as error:
        reason = os.strerror(error.errno).lower() if error.errno else str(error)
        raise OSError(error.errno, f"cannot listen on {host}:{port} for HTTP: {reason}") from None
    listener.set_inheritable(True)
    return listener
