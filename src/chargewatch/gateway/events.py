"""In-process publish/subscribe of the bus events (``chargewatch.domain.events``): live views, fault detection,
billing, alerting.

Publishing never blocks the OCPP path: a subscriber that falls behind loses its oldest events and is told
so with a :class:`Lagged` event, the way a live view should degrade (a full queue never raises into the
publisher: that would be the OCPP path, after a commit and before the reply). Quiet events (per-message
housekeeping) reach the in-process listeners only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..domain.events import BusEvent, Lagged


class EventBus:
    def __init__(self, queue_size: int = 1000):
        self._queues: set[asyncio.Queue[BusEvent]] = set()
        self._listeners: list[Callable[[BusEvent], None]] = []
        self._queue_size = max(2, queue_size)

    def publish(self, event: BusEvent) -> None:
        for listener in self._listeners:
            listener(event)
        if event.quiet:
            return
        for queue in self._queues:
            if queue.full():  # the oldest two make room for the notice and this event
                queue.get_nowait()
                queue.get_nowait()
                queue.put_nowait(Lagged())
            queue.put_nowait(event)

    def listen(self, listener: Callable[[BusEvent], None]) -> None:
        """Synchronous listener called for every event (keep it quick)."""
        self._listeners.append(listener)

    def subscribe(self) -> asyncio.Queue[BusEvent]:
        queue: asyncio.Queue[BusEvent] = asyncio.Queue(self._queue_size)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[BusEvent]) -> None:
        self._queues.discard(queue)
