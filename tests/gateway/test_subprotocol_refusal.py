"""Issue 14 bug 3: a charger offering only a subprotocol we do not speak (or none) gets the WebSocket upgrade
refused with an HTTP error naming what we speak, not a 101 followed by close 1002. Raw HTTP frames on loopback."""

from __future__ import annotations

import asyncio

import pytest

from chargewatch.runtime import Chargewatch

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's sample nonce


async def upgrade(app: Chargewatch, charger_id: str, protocol_line: str | None) -> bytes:
    """Send the upgrade request as a charger writes it and read the server's whole answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", app.ocpp_port)
    request = (f"GET /ocpp/{charger_id} HTTP/1.1\r\nHost: 127.0.0.1:{app.ocpp_port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
               + (f"Sec-WebSocket-Protocol: {protocol_line}\r\n" if protocol_line is not None else "") + "\r\n")
    writer.write(request.encode())
    await writer.drain()
    try:
        if protocol_line is not None and "ocpp1.6" in protocol_line:
            return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)  # 101: the socket stays open
        return await asyncio.wait_for(reader.read(), 5)  # a refusal: the server closes after its body
    finally:
        writer.close()


@pytest.mark.parametrize("offer", ["ocpp0.1", "ocpp0.1, ocpp2.1", None])
async def test_an_unsupported_or_missing_subprotocol_gets_400_before_any_upgrade(server, offer):
    answer = await upgrade(server, "CP-OLD", offer)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request"), answer
    assert b"101" not in head.split(b"\r\n")[0] and b"Sec-WebSocket-Accept" not in head
    text = body.decode()
    assert "unsupported OCPP version" in text and "ocpp1.6, ocpp2.0.1" in text, text
    assert ("ocpp0.1" if offer else "no subprotocol") in text


async def test_a_supported_offer_among_unknown_ones_is_upgraded(server):
    answer = await upgrade(server, "CP-MIXED", "ocpp0.1, ocpp1.6")
    assert answer.startswith(b"HTTP/1.1 101 Switching Protocols"), answer
    assert b"Sec-WebSocket-Protocol: ocpp1.6" in answer
