"""Simulated drivers for the demo: after a session ends, some of them rate it through the public
feedback API, the way a driver following the receipt's link would.

One station in ten is "troubled" (short cable, slow charging): its drivers rate lower and say so, so
the feedback analytics of a demo have something real to find.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import httpx

from ..domain.events import BusEvent, SessionStopped
from ..gateway.events import EventBus
from ..sessions.links import session_token

log = logging.getLogger(__name__)

_HAPPY = ["Quick and easy, thanks!", "Worked first time.", "Schnell geladen, alles gut.", "", "Great location."]
_TROUBLED = ["Cable too short to reach my charge port.", "Das Kabel ist zu kurz.", "The cable is too short again",
             "Charging was very slow.", "Kabel zu kurz, musste umparken."]


class SimulatedDrivers:
    def __init__(self, api_base: str, secret: bytes, *, share: float = 0.6, delay: float = 2.0,
                 rng: random.Random | None = None):
        self._api = api_base.rstrip("/")
        self._secret = secret
        self._share = share
        self._delay = delay
        self._rng = rng or random.Random(7)
        self._tasks: set[asyncio.Task[None]] = set()

    def attach(self, bus: EventBus) -> None:
        bus.listen(self._on_event)

    def _on_event(self, event: BusEvent) -> None:
        if not isinstance(event, SessionStopped) or self._rng.random() > self._share:
            return
        task = asyncio.get_running_loop().create_task(self._rate(event.transaction_id, event.charger_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _opinion(self, charger_id: str) -> dict[str, Any]:
        troubled = charger_id.endswith(("0003", "0013"))
        rng = self._rng
        overall = rng.choice([1, 2, 2, 3, 4]) if troubled else rng.choice([3, 4, 5, 5, 5])
        return {
            "overall": overall,
            "charging_speed": max(1, min(5, overall + rng.choice([-1, 0, 0, 1]))),
            "ease_of_use": max(1, min(5, overall + rng.choice([0, 0, 1]))),
            "availability": rng.choice([4, 5]),
            "would_recommend": max(0, min(10, overall * 2 + rng.choice([-1, 0, 0]))),
            "comment": rng.choice(_TROUBLED if troubled else _HAPPY),
        }

    async def _rate(self, transaction_id: int, charger_id: str) -> None:
        await asyncio.sleep(self._delay)
        token = session_token(self._secret, transaction_id)
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.put(f"{self._api}/api/v1/feedback/{token}",
                                            json=self._opinion(charger_id))
            if response.status_code >= 400:
                log.debug("demo feedback refused: %s %s", response.status_code, response.text[:200])
        except httpx.HTTPError as exc:
            log.debug("demo feedback not sent: %s", exc)
