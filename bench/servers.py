"""The servers under test, each started in its own process by ``bench/run.py``.

    python bench/servers.py chargewatch --db URL     chargewatch as `chargewatch serve --accept-unknown` runs it
                            [--no-workers]           … without the domain workers (billing, faults, feedback, dashboard)
    python bench/servers.py baseline                 a central system as the `ocpp` library documents it
    python bench/servers.py baseline201              … the same for OCPP 2.0.1 (TransactionEvent), kept in memory
    python bench/servers.py ceiling                  bare WebSocket server: parse JSON, answer an empty CALLRESULT

Each writes ``{"ocpp_port": …, "http_port": …}`` to ``--ready-file`` once it listens (or prints it when no file
is given), and runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from wire import raise_fd_limit  # noqa: E402

HOST = "127.0.0.1"


READY_FILE: Path | None = None


def _ready(**ports: int) -> None:
    if READY_FILE is None:
        print(json.dumps(ports), flush=True)
        return
    partial = READY_FILE.with_suffix(".partial")
    partial.write_text(json.dumps(ports))
    partial.rename(READY_FILE)


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def chargewatch(db: str, workers: bool) -> None:
    import chargewatch.runtime
    from chargewatch.gateway.transport import GatewayConfig
    from chargewatch.runtime import Chargewatch, ServerOptions

    if not workers:  # the gateway, store and API alone: no billing, faults, feedback or dashboard listeners
        chargewatch.runtime.installers = list  # type: ignore[assignment]

    cw = Chargewatch(ServerOptions(db=db, host=HOST, ocpp_port=0, http_port=0,
                                   gateway=GatewayConfig(accept_unknown=True)))
    await cw.start()
    _ready(ocpp_port=cw.ocpp_port, http_port=cw.http_port)
    try:
        await _until_signal()
    finally:
        await cw.stop()


async def _serve_library(charge_point_class: type, subprotocol: str) -> None:
    """Serve ``charge_point_class`` (an `ocpp` library ChargePoint) on every connection, as its examples do."""
    import websockets

    async def on_connect(websocket):  # type: ignore[no-untyped-def]
        charge_point_id = websocket.request.path.strip("/").split("/")[-1]
        charge_point = charge_point_class(charge_point_id, websocket)
        try:
            await charge_point.start()
        except websockets.exceptions.ConnectionClosed:
            pass

    server = await websockets.serve(on_connect, HOST, 0, subprotocols=[subprotocol])
    _ready(ocpp_port=server.sockets[0].getsockname()[1])
    await _until_signal()
    server.close()


async def baseline() -> None:
    """Written the way the `ocpp` package's README and examples write a central system."""
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint as cp
    from ocpp.v16 import call_result
    from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus

    transaction_ids = itertools.count(1)
    stored: dict[str, list[object]] = {}

    def now() -> str:
        return datetime.now(UTC).isoformat()

    class ChargePoint(cp):
        @on(Action.boot_notification)
        def on_boot_notification(self, charge_point_vendor: str, charge_point_model: str, **kwargs: object):
            stored.setdefault(self.id, []).append(("boot", charge_point_vendor, charge_point_model, kwargs))
            return call_result.BootNotification(current_time=now(), interval=60, status=RegistrationStatus.accepted)

        @on(Action.heartbeat)
        def on_heartbeat(self):
            return call_result.Heartbeat(current_time=now())

        @on(Action.status_notification)
        def on_status_notification(self, connector_id: int, error_code: str, status: str, **kwargs: object):
            stored.setdefault(self.id, []).append(("status", connector_id, error_code, status, kwargs))
            return call_result.StatusNotification()

        @on(Action.start_transaction)
        def on_start_transaction(self, connector_id: int, id_tag: str, meter_start: int, timestamp: str,
                                 **kwargs: object):
            transaction_id = next(transaction_ids)
            stored.setdefault(self.id, []).append(("start", transaction_id, connector_id, id_tag, meter_start))
            return call_result.StartTransaction(transaction_id=transaction_id,
                                                id_tag_info={"status": AuthorizationStatus.accepted})

        @on(Action.meter_values)
        def on_meter_values(self, connector_id: int, meter_value: list[dict[str, object]], **kwargs: object):
            stored.setdefault(self.id, []).append(("meter", connector_id, meter_value, kwargs))
            return call_result.MeterValues()

    await _serve_library(ChargePoint, "ocpp1.6")


async def baseline201() -> None:
    """The 1.6 baseline in 2.0.1: the `ocpp` library's v201 ChargePoint as its examples write a central system,
    keeping what it receives in memory (nothing durable), answering TransactionEvent as a CSMS must."""
    from ocpp.routing import on
    from ocpp.v201 import ChargePoint as cp
    from ocpp.v201 import call_result

    stored: dict[str, list[object]] = {}

    def now() -> str:
        return datetime.now(UTC).isoformat()

    class ChargePoint(cp):
        @on("BootNotification")
        def on_boot_notification(self, charging_station: dict[str, object], reason: str, **kwargs: object):
            stored.setdefault(self.id, []).append(("boot", charging_station, reason, kwargs))
            return call_result.BootNotification(current_time=now(), interval=60, status="Accepted")

        @on("Heartbeat")
        def on_heartbeat(self):
            return call_result.Heartbeat(current_time=now())

        @on("StatusNotification")
        def on_status_notification(self, timestamp: str, connector_status: str, evse_id: int, connector_id: int,
                                   **kwargs: object):
            stored.setdefault(self.id, []).append(("status", evse_id, connector_id, connector_status, timestamp))
            return call_result.StatusNotification()

        @on("TransactionEvent")
        def on_transaction_event(self, event_type: str, timestamp: str, trigger_reason: str, seq_no: int,
                                 transaction_info: dict[str, object], **kwargs: object):
            stored.setdefault(self.id, []).append(("transaction", event_type, seq_no, transaction_info, kwargs))
            if kwargs.get("id_token"):
                return call_result.TransactionEvent(id_token_info={"status": "Accepted"})
            return call_result.TransactionEvent()

    await _serve_library(ChargePoint, "ocpp2.0.1")


async def ceiling() -> None:
    """The least a Python WebSocket server can do per CALL: decode it, answer [3, id, {}]."""
    from websockets.asyncio.server import serve

    async def handler(websocket):  # type: ignore[no-untyped-def]
        async for text in websocket:
            frame = json.loads(text)
            await websocket.send(json.dumps([3, frame[1], {}]))

    server = await serve(handler, HOST, 0, subprotocols=["ocpp1.6", "ocpp2.0.1"],  # type: ignore[list-item]
                         compression=None)
    _ready(ocpp_port=server.sockets[0].getsockname()[1])
    await _until_signal()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["chargewatch", "baseline", "baseline201", "ceiling"])
    parser.add_argument("--db")
    parser.add_argument("--no-workers", action="store_true", help="chargewatch without the domain workers")
    parser.add_argument("--ready-file", type=Path, help="where to write the ports once listening")
    args = parser.parse_args()
    global READY_FILE
    READY_FILE = args.ready_file
    raise_fd_limit(65536)
    if args.kind == "chargewatch":
        asyncio.run(chargewatch(args.db, workers=not args.no_workers))
    else:
        asyncio.run({"baseline": baseline, "baseline201": baseline201, "ceiling": ceiling}[args.kind]())


if __name__ == "__main__":
    main()
