"""Webhook delivery over HTTP with signed bodies and retries.

Every attempt is recorded (url, attempt number, status code or error, duration) because "did the
alert go out?" is the first question after a missed incident. The body is signed afresh on every
attempt (new timestamp) so a retry hours later still passes the receiver's replay tolerance; the
``Chargewatch-Delivery`` id stays the same so receivers can drop duplicates.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType

import httpx

from chargewatch.faults.alerts import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    RetrySchedule,
    encode_body,
    event_type,
    sign,
    webhook_payload,
)
from chargewatch.faults.catalog import Guidance
from chargewatch.faults.detection import IncidentEvent

# Worth another try: the receiver is overloaded, timed out or briefly broken.
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class DeliveryAttempt:
    url: str
    attempt: int
    at: datetime
    duration_s: float
    status_code: int | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class WebhookDelivery:
    delivery_id: str
    url: str
    attempts: tuple[DeliveryAttempt, ...]

    @property
    def delivered(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].succeeded


class WebhookSender:
    """Posts signed JSON to operator webhooks, retrying per :class:`RetrySchedule`."""

    def __init__(
        self,
        secret: str | bytes,
        *,
        schedule: RetrySchedule | None = None,
        client: httpx.AsyncClient | None = None,
        timeout_s: float = 10.0,
        on_attempt: Callable[[DeliveryAttempt], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._secret = secret
        self._schedule = schedule or RetrySchedule()
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)
        self._on_attempt = on_attempt
        self._sleep = sleep

    async def __aenter__(self) -> WebhookSender:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def send_event(
        self, url: str, event: IncidentEvent, delivery_id: str, guidance: Guidance | None = None
    ) -> WebhookDelivery:
        body = encode_body(webhook_payload(event, delivery_id, guidance))
        return await self.deliver(url, body, delivery_id, event_type(event))

    async def deliver(self, url: str, body: bytes, delivery_id: str, kind: str) -> WebhookDelivery:
        """Try until a 2xx, a non-retryable answer (other 4xx) or the last attempt."""
        attempts: list[DeliveryAttempt] = []
        for number in range(1, self._schedule.max_attempts + 1):
            delay = self._schedule.delay_before(number).total_seconds()
            if delay:
                await self._sleep(delay)
            attempt = await self._attempt(url, body, delivery_id, kind, number)
            attempts.append(attempt)
            if self._on_attempt is not None:
                self._on_attempt(attempt)
            if attempt.succeeded or (attempt.status_code is not None and attempt.status_code not in RETRYABLE_STATUS):
                break
        return WebhookDelivery(delivery_id=delivery_id, url=url, attempts=tuple(attempts))

    async def _attempt(self, url: str, body: bytes, delivery_id: str, kind: str, number: int) -> DeliveryAttempt:
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, self._secret, int(time.time())),
            DELIVERY_HEADER: delivery_id,
            EVENT_HEADER: kind,
        }
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as error:
            return DeliveryAttempt(
                url=url,
                attempt=number,
                at=started_at,
                duration_s=time.perf_counter() - started,
                error=f"{type(error).__name__}: {error}",
            )
        return DeliveryAttempt(
            url=url,
            attempt=number,
            at=started_at,
            duration_s=time.perf_counter() - started,
            status_code=response.status_code,
        )
