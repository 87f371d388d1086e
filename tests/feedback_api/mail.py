"""A real SMTP server on loopback (aiosmtpd) that keeps what chargewatch sends, for the e-mail tests."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage, Message

import httpx
import pytest
from aiosmtpd.controller import Controller

from chargewatch.runtime import Chargewatch

from .conftest import start_options


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[attr-defined]
        return "250 Message accepted for delivery"

    def parsed(self, index: int) -> EmailMessage:
        found = self.messages[index]
        assert isinstance(found, EmailMessage)
        return found


@pytest.fixture(name="mailbox")
def mailbox_fixture() -> Iterator[tuple[Mailbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def use_mail(monkeypatch: pytest.MonkeyPatch, relay_port: int, *, support: bool = True, **settings: str) -> None:
    """chargewatch's environment for e-mail: the relay on loopback, and support by e-mail (reply address and the
    SMTP receiver on a free port) unless ``support`` is False; ``settings`` are more CHARGEWATCH_* values."""
    monkeypatch.setenv("CHARGEWATCH_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CHARGEWATCH_SMTP_PORT", str(relay_port))
    if support:
        monkeypatch.setenv("CHARGEWATCH_SUPPORT_ADDRESS", "support@operator.example")
        monkeypatch.setenv("CHARGEWATCH_SUPPORT_SMTP_PORT", "0")
    for name, value in settings.items():
        monkeypatch.setenv(f"CHARGEWATCH_{name}", value)


@asynccontextmanager
async def running(db_url: str) -> AsyncIterator[Chargewatch]:
    app = Chargewatch(start_options(db_url))
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


async def priced_charger(api: httpx.AsyncClient, charger_id: str, tariff_id: str, id_tag: str = "TAG-1") -> None:
    """A registered charger under a flat 0.30 EUR/kWh + 19 % VAT tariff, and the driver's card accepted, so that
    its sessions are invoiced (a refused start would wait for billing review)."""
    tariff = {"country_code": "DE", "party_id": "CWS", "id": tariff_id, "currency": "EUR",
              "elements": [{"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 19.0, "step_size": 1}]}]}
    assert (await api.post("/api/v1/tariffs", json=tariff)).status_code in (200, 201)
    assert (await api.post("/api/v1/chargers", json={"id": charger_id})).status_code in (200, 201)
    assert (await api.put("/api/v1/tariff-assignments",
                          json={"tariff_id": tariff_id, "charger_id": charger_id})).status_code == 200
    assert (await api.put(f"/api/v1/id-tags/{id_tag}", json={"id_tag": id_tag})).status_code == 200
