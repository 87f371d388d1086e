"""Shared by the live fault tests: fast fault timings, a real webhook receiver, a real SMTP server."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from chargewatch.domain.events import BusEvent, IncidentChanged
from chargewatch.faults.alerts import verify_signature
from chargewatch.runtime import Chargewatch
from conftest import make_options
from helpers import free_port

WEBHOOK_SECRET = "whsec-test-1"


@dataclass
class Hook:
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)

    def verify(self) -> None:
        verify_signature(self.body, self.headers.get("Chargewatch-Signature"), WEBHOOK_SECRET, int(time.time()))


@dataclass
class WebhookReceiver:
    """Records every POST; answers 503 to the first ``fail_first`` ones to exercise retries."""

    url: str = ""
    received: list[Hook] = field(default_factory=list)
    fail_first: int = 0
    calls: int = 0

    def of_type(self, kind: str) -> list[Hook]:
        return [hook for hook in self.received if hook.payload["type"] == kind]


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.calls += 1
            if receiver.calls <= receiver.fail_first:
                self.send_response(503)
            else:
                receiver.received.append(Hook({k: v for k, v in self.headers.items()}, body))
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/chargewatch"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)
    port: int = 0

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


def fast_config(webhook: WebhookReceiver | None = None, mailbox: Mailbox | None = None,
                **overrides: Any) -> dict[str, Any]:
    """Production rules with timings shrunk from minutes to fractions of a second."""
    config: dict[str, Any] = {
        "tick_seconds": 0.1,
        "state_save_seconds": 0.2,
        "detection": {
            "alert_delay": 0.4, "critical_alert_delay": 0.2, "escalate_after": 30, "reconnect_grace": 1.5,
            "offline_recovery_hold": 0.3, "heartbeat_grace_factor": 1.5, "flap_threshold": 3, "flap_window": 2.5,
            "stall_after": 0.8, "boot_loop_count": 3, "boot_loop_window": 2.0, "preparing_timeout": 30,
        },
        "alerts": {"retry": {"max_attempts": 3, "initial_delay": 0.1, "max_delay": 0.2}},
    }
    if webhook is not None:
        config["alerts"]["webhooks"] = [{"url": webhook.url, "secret": WEBHOOK_SECRET}]
    if mailbox is not None:
        config["alerts"]["email"] = {"host": "127.0.0.1", "port": mailbox.port, "starttls": False,
                                     "from": "chargewatch@example.org", "to": ["oncall@example.org"]}
    for section, values in overrides.items():
        if isinstance(values, dict) and isinstance(config.get(section), dict):
            config[section] = {**config[section], **values}
        else:
            config[section] = values
    return config


StartServer = Callable[..., Awaitable[Chargewatch]]


@pytest.fixture
async def start_server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[StartServer]:
    """start(db_url, config, clock=None, **gateway) → a running server with that faults configuration."""
    running: list[Chargewatch] = []

    async def start(db_url: str, config: dict[str, Any], clock: Callable[[], datetime] | None = None,
                    **gateway: Any) -> Chargewatch:
        monkeypatch.setenv("CHARGEWATCH_FAULTS", json.dumps(config))
        options = {"accept_unknown": True, "command_timeout": 3.0, **gateway}
        app = Chargewatch(make_options(db_url, **options))
        if clock is not None:  # before start: the detector's time never runs backwards
            app.gateway.now = clock
        await app.start()
        running.append(app)
        response = await api(app).put("/api/v1/id-tags/DEMO-TAG-1", json={"id_tag": "DEMO-TAG-1"})
        response.raise_for_status()
        return app

    yield start
    for app in reversed(running):
        client = _clients.pop(app.http_port, None)
        if client is not None:
            await client.aclose()
        if app._http is not None and not app._http.should_exit:
            await app.stop()


class Recorder:
    """Collects incident events from the bus (the dashboard channel)."""

    def __init__(self, app: Chargewatch) -> None:
        self.events: list[IncidentChanged] = []
        app.bus.listen(self._on)

    def _on(self, event: BusEvent) -> None:
        if isinstance(event, IncidentChanged):
            self.events.append(event)

    def kinds(self, kind: str | None = None) -> list[str]:
        return [e.kind for e in self.events if kind is None or e.incident.kind == kind]


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 8.0) -> Any:
    """Poll ``check`` until it returns something truthy (its value) or fail with the last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s; last value {value!r}")
        await asyncio.sleep(0.05)


_clients: dict[int, httpx.AsyncClient] = {}


def api(app: Chargewatch) -> httpx.AsyncClient:
    """One HTTP client per server: building a client loads CA certificates, too slow to do per poll."""
    client = _clients.get(app.http_port)
    if client is None:
        # 20 s, not httpx's 5: on a loaded shared machine one SQLite read can wait that long behind the writers.
        client = _clients[app.http_port] = httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.http_port}",
                                                             timeout=20.0)
    return client


async def incidents(app: Chargewatch, **params: Any) -> list[dict[str, Any]]:
    response = await api(app).get("/api/v1/incidents", params={"limit": 500, **params})
    response.raise_for_status()
    return list(response.json()["items"])


async def incident(app: Chargewatch, number: int) -> dict[str, Any]:
    response = await api(app).get(f"/api/v1/incidents/{number}")
    response.raise_for_status()
    return dict(response.json())
