"""The OCPP versions chargewatch speaks: one adapter per WebSocket subprotocol, in order of preference."""

from __future__ import annotations

from . import v16, v201
from .adapter import Adapter

ADAPTERS: dict[str, Adapter] = {v16.VERSION: v16.ADAPTER, v201.VERSION: v201.ADAPTER}
DEFAULT = v16.ADAPTER  # a charger that offers no subprotocol at all (or a log row from before 2.0.1 support)


def adapter_for(subprotocol: str | None) -> Adapter:
    return ADAPTERS.get(subprotocol or "", DEFAULT)
