"""A minimal OCPP-J charger connection at the asyncio Protocol level, for load generation.

The load generator must cost less CPU per message than the servers it measures, on a 2-core machine
where both share the cores. A full WebSocket client library does as much work per frame as the server
(it is the same code); this one only prepends a pre-computed frame header to pre-formatted text and
scans the answer's header. Frames carry the all-zero masking key, which servers unmask like any other
(RFC 6455 wants an unpredictable key to defeat proxy cache poisoning, irrelevant on loopback).
"""

from __future__ import annotations

import asyncio
import base64
import os
import time

HANDSHAKE = (
    "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {subprotocol}\r\n\r\n"
)
_ZERO_MASK = b"\x00\x00\x00\x00"


def text_frame(payload: bytes) -> bytes:
    """A masked client text frame (FIN, opcode 1) with the zero key, so the payload goes out as is."""
    n = len(payload)
    if n < 126:
        header = bytes((0x81, 0x80 | n))
    elif n < 65536:
        header = bytes((0x81, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x81, 0x80 | 127)) + n.to_bytes(8, "big")
    return header + _ZERO_MASK + payload


class ChargerWire(asyncio.Protocol):
    """One charger: handshake, then one outstanding CALL at a time (``call`` returns the answer's bytes)."""

    def __init__(self, host: str, path: str, on_call: object = None, subprotocol: str = "ocpp1.6"):
        self._request = HANDSHAKE.format(path=path, host=host, subprotocol=subprotocol,
                                         key=base64.b64encode(os.urandom(16)).decode()).encode()
        self._buffer = bytearray()
        self._open = False
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self._waiter: asyncio.Future[bytes] | None = None
        self._loop = loop
        self.sent_at = 0.0
        self.latency = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self._request)  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        self._open = False
        for future in (self.opened, self._waiter):
            if future is not None and not future.done():
                future.set_exception(ConnectionError("connection lost"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if not self._open:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buffer[:end]).split(b"\r\n", 1)[0]
            del buffer[:end + 4]
            if self.opened.done():  # the caller gave up waiting (set-up deadline)
                self.transport.close()  # type: ignore[union-attr]
                return
            if b" 101 " not in status:
                self.opened.set_exception(ConnectionError(status.decode(errors="replace")))
                self.transport.close()  # type: ignore[union-attr]
                return
            self._open = True
            self.opened.set_result(None)
        while len(buffer) >= 2:
            opcode, length = buffer[0] & 0x0F, buffer[1] & 0x7F
            start = 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, start = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, start = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < start + length:
                return
            payload = bytes(buffer[start:start + length])
            del buffer[:start + length]
            if opcode == 1:
                self._on_text(payload)
            elif opcode == 9:  # ping → pong with the same payload
                self.transport.write(bytes((0x8A, 0x80 | len(payload))) + _ZERO_MASK + payload)  # type: ignore[union-attr]
            elif opcode == 8:
                self.transport.close()  # type: ignore[union-attr]

    def _on_text(self, payload: bytes) -> None:
        if payload.startswith(b"[2"):  # a CALL from the server: say NotImplemented, politely
            message_id = payload.split(b",", 2)[1]
            self.transport.write(text_frame(b'[4,' + message_id + b',"NotImplemented","",{}]'))  # type: ignore[union-attr]
            return
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self.latency = time.perf_counter() - self.sent_at
            waiter.set_result(payload)

    def call(self, frame: bytes) -> asyncio.Future[bytes]:
        """Send a pre-built frame; the future resolves with the answer (CALLRESULT or CALLERROR text)."""
        waiter = self._loop.create_future()
        self._waiter = waiter
        self.sent_at = time.perf_counter()
        self.transport.write(frame)  # type: ignore[union-attr]
        return waiter

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(bytes((0x88, 0x82)) + _ZERO_MASK + b"\x03\xe8")
            self.transport.close()


async def open_charger(host: str, port: int, charger_id: str, *, source: str | None = None,
                       timeout: float = 30, subprotocol: str = "ocpp1.6") -> ChargerWire:
    loop = asyncio.get_running_loop()
    _, wire = await loop.create_connection(
        lambda: ChargerWire(f"{host}:{port}", f"/ocpp/{charger_id}", subprotocol=subprotocol), host, port,
        local_addr=(source, 0) if source else None,
    )
    try:
        await asyncio.wait_for(wire.opened, timeout)
    except BaseException:
        wire.close()
        raise
    return wire


def raise_fd_limit(wanted: int = 65536) -> int:
    """Raise RLIMIT_NOFILE (the hard limit too when running as root); returns the soft limit in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for target in ((wanted, max(hard, wanted)), (min(wanted, hard), hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, target)
            return target[0]
        except (ValueError, OSError):
            continue
    return soft
