"""WebhookSender against a real HTTP server on 127.0.0.1 that checks the signature."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chargewatch.faults.alerts import RetrySchedule, SignatureError, verify_signature
from chargewatch.faults.catalog import guidance_for
from chargewatch.faults.detection import AlertDue
from chargewatch.faults.incidents import Evidence, IncidentKind, Severity, open_incident
from chargewatch.notify import DeliveryAttempt, WebhookSender

SECRET = "whsec_loopback"
FAST = RetrySchedule(max_attempts=4, initial_delay=timedelta(milliseconds=10), max_delay=timedelta(milliseconds=50))


@dataclass
class Receiver:
    """Answers with the scripted status codes in order (then 200) and records what it got."""

    url: str
    script: list[int] = field(default_factory=list)
    received: list[dict] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            try:
                verify_signature(body, self.headers.get("Chargewatch-Signature"), SECRET, now=int(time.time()))
                valid = True
            except SignatureError:
                valid = False
            state.received.append({"headers": dict(self.headers), "body": body, "valid": valid})
            code = 401 if not valid else (state.script.pop(0) if state.script else 200)
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/chargewatch"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def alert() -> AlertDue:
    at = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    incident = open_incident(
        kind=IncidentKind.CONNECTOR_ERROR,
        severity=Severity.CRITICAL,
        charger_id="CP1",
        connector_id=1,
        code="GroundFailure",
        first_seen=at,
        opened_at=at,
        evidence=Evidence(at, "StatusNotification", {"errorCode": "GroundFailure"}),
        outage=True,
    )
    return AlertDue(incident, at + timedelta(minutes=1))


async def test_signed_alert_is_delivered_and_verifies_at_the_receiver(receiver: Receiver) -> None:
    async with WebhookSender(SECRET, schedule=FAST) as sender:
        delivery = await sender.send_event(receiver.url, alert(), "d-1", guidance_for("GroundFailure"))
    assert delivery.delivered
    [request] = receiver.received
    assert request["valid"]
    assert request["headers"]["Chargewatch-Event"] == "incident.alert"
    assert json.loads(request["body"])["incident"]["code"] == "GroundFailure"


async def test_failed_first_attempt_is_retried_with_the_same_delivery_id(receiver: Receiver) -> None:
    receiver.script = [503]
    async with WebhookSender(SECRET, schedule=FAST) as sender:
        delivery = await sender.send_event(receiver.url, alert(), "d-2")
    assert [a.status_code for a in delivery.attempts] == [503, 200]
    assert [a.attempt for a in delivery.attempts] == [1, 2]
    assert delivery.delivered
    assert {r["headers"]["Chargewatch-Delivery"] for r in receiver.received} == {"d-2"}


async def test_client_error_is_not_retried(receiver: Receiver) -> None:
    receiver.script = [410]
    async with WebhookSender(SECRET, schedule=FAST) as sender:
        delivery = await sender.send_event(receiver.url, alert(), "d-3")
    assert [a.status_code for a in delivery.attempts] == [410]
    assert not delivery.delivered


async def test_wrong_secret_is_refused_by_the_receiver(receiver: Receiver) -> None:
    async with WebhookSender("not-the-secret", schedule=FAST) as sender:
        delivery = await sender.send_event(receiver.url, alert(), "d-4")
    assert [a.status_code for a in delivery.attempts] == [401]
    assert receiver.received[0]["valid"] is False


async def test_gives_up_after_the_last_attempt_and_records_every_one(receiver: Receiver) -> None:
    receiver.script = [500, 502, 503, 504]
    recorded: list[DeliveryAttempt] = []
    async with WebhookSender(SECRET, schedule=FAST, on_attempt=recorded.append) as sender:
        delivery = await sender.send_event(receiver.url, alert(), "d-5")
    assert not delivery.delivered
    assert [a.status_code for a in recorded] == [500, 502, 503, 504]
    assert all(a.duration_s >= 0 and a.url == receiver.url for a in recorded)


async def test_unreachable_receiver_is_recorded_as_an_error() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    schedule = RetrySchedule(max_attempts=2, initial_delay=timedelta(milliseconds=10))
    async with WebhookSender(SECRET, schedule=schedule) as sender:
        delivery = await sender.send_event(f"http://127.0.0.1:{port}/", alert(), "d-6")
    assert [a.status_code for a in delivery.attempts] == [None, None]
    assert delivery.attempts[0].error and "ConnectError" in delivery.attempts[0].error
