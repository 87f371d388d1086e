"""In-process publish/subscribe of domain events (live dashboard, fault detection, alerting).

Publishing never blocks the OCPP path: a subscriber that falls behind loses its oldest events and is told
so with a ``lagged`` event, the way a live view should degrade.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    kind: str  # session.started | session.updated | session.stopped | connector.status | charger.connected …
    data: dict[str, Any] = field(default_factory=dict)


# Per-message housekeeping events: for in-process listeners, too chatty for live streams.
QUIET_KINDS = frozenset({"charger.seen"})


class EventBus:
    def __init__(self, queue_size: int = 1000):
        self._queues: set[asyncio.Queue[Event]] = set()
        self._listeners: list[Callable[[Event], None]] = []
        self._queue_size = queue_size

    def publish(self, event: Event) -> None:
        for listener in self._listeners:
            listener(event)
        if event.kind in QUIET_KINDS:
            return
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()
                queue.put_nowait(Event("lagged"))
            queue.put_nowait(event)

    def listen(self, listener: Callable[[Event], None]) -> None:
        """Synchronous listener called for every event (keep it quick)."""
        self._listeners.append(listener)

    def subscribe(self) -> asyncio.Queue[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        self._queues.discard(queue)
