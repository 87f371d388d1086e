"""Prometheus metrics of the gateway (exposed at /metrics)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ..ocpp import v16
from ..ocpp.v201 import commands as v201_commands
from ..ocpp.v201 import core as v201_core

# Label values come from chargers; only actions of the protocol become labels, anything else is "unknown", so a
# charger inventing 20,000 action names cannot grow /metrics (each label set is a time series kept forever).
KNOWN_ACTIONS = (v16.CHARGER_ACTIONS | v16.CENTRAL_ACTIONS | {"DataTransfer"} | v201_core.HANDLED
                 | v201_commands.CSMS_ACTIONS)


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None, known_actions: Iterable[str] = KNOWN_ACTIONS):
        self.registry = registry or CollectorRegistry()
        self.known_actions = frozenset(known_actions)
        self.connected = Gauge("chargewatch_connected_chargers", "Chargers with an open OCPP connection",
                               registry=self.registry)
        self.messages = Counter("chargewatch_ocpp_messages", "OCPP messages by action and direction",
                                ["action", "direction"], registry=self.registry)
        self.call_errors = Counter("chargewatch_ocpp_call_errors", "CALLERRORs sent, by error code",
                                   ["code"], registry=self.registry)
        self.commit_seconds = Histogram(
            "chargewatch_commit_seconds", "Duration of one group commit",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5), registry=self.registry,
        )
        self.batch_size = Histogram(
            "chargewatch_commit_batch_size", "Messages per group commit",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000), registry=self.registry,
        )
        self.quarantined = Counter("chargewatch_worker_quarantined", "Items a background worker set aside because "
                                   "the store refused them (the others went on), by worker",
                                   ["worker"], registry=self.registry)
        self.rejected_handshakes = Counter("chargewatch_rejected_handshakes", "Refused WebSocket handshakes",
                                           ["reason"], registry=self.registry)

    def action_label(self, action: str) -> str:
        return action if action in self.known_actions else "unknown"

    def on_commit(self, size: int, seconds: float) -> None:
        self.commit_seconds.observe(seconds)
        self.batch_size.observe(size)
