"""Small things tests share: OCPP payload builders and a connected charge point."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from chargewatch.runtime import Chargewatch
from chargewatch.sim.client import ChargePointConnection

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def ts(minutes: float = 0) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def boot() -> dict[str, Any]:
    return {"chargePointVendor": "ACME", "chargePointModel": "AC-22"}


def meter(register_wh: int, minutes: float, power_w: int | None = None, unit: str = "Wh") -> list[dict[str, Any]]:
    sampled = [{"value": str(register_wh), "measurand": "Energy.Active.Import.Register", "unit": unit}]
    if power_w is not None:
        sampled.append({"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"})
    return [{"timestamp": ts(minutes), "sampledValue": sampled}]


def ocpp_url(app: Chargewatch) -> str:
    return f"ws://127.0.0.1:{app.ocpp_port}/ocpp"


def http_url(app: Chargewatch) -> str:
    return f"http://127.0.0.1:{app.http_port}"


async def connect(app: Chargewatch, charger_id: str, **kwargs: Any) -> ChargePointConnection:
    return await ChargePointConnection.open(ocpp_url(app), charger_id, **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
