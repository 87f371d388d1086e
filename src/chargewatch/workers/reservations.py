"""Reservations in the running server: the service that asks chargers (``ReservationService``), the expiry sweep,
and the routes (API ``/api/v1/reservations``, the charger page's form).

:meth:`ReservationService.reserve_now` is the one way to reserve: the operator API, the CLI (through the API), the
dashboard form and, later, OCPI ``RESERVE_NOW`` (``cw.app.state.reservations``) all call it. It checks the request
against what is known of the charger, stores it (the store allocates the OCPP reservationId), sends ReserveNow in
the command path's words (the charger's adapter renders 1.6 or 2.0.1), and records the charger's answer. What the
charger itself says later (a start naming the reservation, a 2.0.1 ReservationStatusUpdate) is stored by the OCPP
write path (``store.reservations``). Expiry is evaluated lazily on every read and swept every
``CHARGEWATCH_RESERVATION_SWEEP_SECONDS`` (10); each expiry and cancellation is published on the bus.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, insert, update

from ..domain import events
from ..domain.reservations import (
    ACTIVE,
    ID_TAG_LENGTH,
    NotActive,
    ReservationError,
    ReservationRequest,
    ReservationStatus,
    UnknownCharger,
    UnknownReservation,
    after_reserve_answer,
    cancel_command,
    check_request,
    reserve_now_command,
)
from ..gateway.events import EventBus
from ..gateway.transport import CommandResult, Gateway
from ..store import reads, schema
from ..store import reservations as store

if TYPE_CHECKING:
    from ..runtime import Chargewatch

log = logging.getLogger(__name__)

DEFAULT_SWEEP_SECONDS = 10.0


class ChargerUnreachable(ReservationError):
    """The charger could not be asked (offline, no answer, or a CALLERROR): nothing changed at the charger."""

    def __init__(self, status: int, reason: str):
        super().__init__(None, reason)
        self.status = status


class ReservationService:
    def __init__(self, engine: Engine, gateway: Gateway, bus: EventBus, *, timeout: float = 30.0):
        self.engine = engine
        self.gateway = gateway
        self.bus = bus
        self.timeout = timeout

    # ------------------------------------------------------------------ asking the charger

    async def reserve_now(self, request: ReservationRequest, *, timeout: float | None = None) -> dict[str, Any]:
        """Reserve (raises :class:`ReservationError` for a request that cannot be made); the stored reservation
        with the charger's answer: ``accepted``, ``rejected`` (``rejection`` says how, Offline when it was not
        sent) or still ``requested`` when no answer came in time.

        This is what OCPI ``RESERVE_NOW`` calls: ``requested_by`` names the party ("ocpi:DE*ABC") and
        ``external_id`` its reservation_id; the same again, while the reservation holds, replaces it (same OCPP
        reservationId, new expiry or tag), as both OCPI and OCPP ReserveNow define."""
        now = self.gateway.now()

        def prepare() -> int:
            with self.engine.begin() as connection:
                charger = reads.charger(connection, request.charger_id)
                if charger is None:
                    raise UnknownCharger("charger_id", f"no charger {request.charger_id!r} is registered")
                version = charger.get("ocpp_version") or "ocpp1.6"
                check_request(request, now, store.connectors_of(connection, request.charger_id),
                              id_tag_length=ID_TAG_LENGTH.get(version, 20))
                previous = store.replaced(connection, request, now)
                if previous is not None and previous["charger_id"] != request.charger_id:
                    raise NotActive("external_id", f"reservation {previous['id']} under this id is on charger "
                                                   f"{previous['charger_id']}: cancel it first")
                return int(previous["id"]) if previous is not None else store.create(connection, request, now)

        reservation_id = await asyncio.to_thread(prepare)
        action, payload = reserve_now_command(reservation_id, request)
        result, refusal = await self._call(request.charger_id, action, payload, timeout, request.requested_by)
        answered = self.gateway.now()
        values: dict[str, Any] = {}
        if result.status == "answered":
            status, rejection = after_reserve_answer(str((result.response or {}).get("status")))
            values = {"status": status.value, "rejection": rejection, "answered_at": answered}
        elif result.status != "timeout":  # never taken by the charger: offline, a CALLERROR, or not expressible
            code = (result.error or {}).get("code") if result.status == "error" else None
            rejection = "Invalid" if refusal else ("Offline" if result.status == "offline" else str(code or "Error"))
            values = {"status": ReservationStatus.REJECTED.value, "rejection": rejection, "answered_at": answered,
                      "ended_at": answered, "ended_by": "charger" if result.status == "error" else None}
        stored = await asyncio.to_thread(self._record, reservation_id, _entry(action, result, answered, refusal),
                                         values)
        if values:
            self.bus.publish(events.ReservationAnswered(request.charger_id, reservation_id, request.connector_id,
                                                        answered, "charger", stored["status"], stored["rejection"]))
        if refusal:
            raise ReservationError("reservation", refusal)
        return stored

    async def cancel(self, reservation_id: int, *, requested_by: str | None = None,
                     timeout: float | None = None) -> dict[str, Any]:
        """CancelReservation. Accepted, and Rejected too (the charger holds no such reservation: OCPP 1.6 §5.1,
        2.0.1 H02), end it as cancelled; an unreachable charger raises :class:`ChargerUnreachable` and the
        reservation stays as it was (the charger may still hold it)."""
        await self.sweep()
        current = await asyncio.to_thread(self.get, reservation_id)
        if current is None:
            raise UnknownReservation("reservation_id", f"no reservation {reservation_id}")
        if current["status"] not in ACTIVE:
            raise NotActive("reservation_id", f"reservation {reservation_id} is {current['status']}: nothing to cancel")
        action, payload = cancel_command(reservation_id)
        result, refusal = await self._call(current["charger_id"], action, payload, timeout, requested_by)
        now = self.gateway.now()
        entry = {**_entry(action, result, now, refusal), "by": requested_by}
        answer = (result.response or {}).get("status") if result.status == "answered" else None
        values: dict[str, Any] = {}
        if answer is not None:
            values = {"status": ReservationStatus.CANCELLED.value, "ended_at": now, "ended_by": "operator"}
        stored = await asyncio.to_thread(self._record, reservation_id, entry, values)
        if answer is None:
            reason = refusal or {"offline": f"charger {current['charger_id']} is offline",
                                 "timeout": f"charger {current['charger_id']} did not answer in time"}.get(
                result.status, f"charger {current['charger_id']} answered {(result.error or {}).get('code')}")
            raise ChargerUnreachable(409 if result.status == "offline" else 504 if result.status == "timeout"
                                     else 502, f"{reason}: the reservation stays {current['status']}")
        if stored["status"] == ReservationStatus.CANCELLED.value:
            self.bus.publish(events.ReservationCancelled(stored["charger_id"], reservation_id, stored["connector_id"],
                                                         now, "operator"))
        return stored

    async def _call(self, charger_id: str, action: str, payload: dict[str, Any], timeout: float | None,
                    requested_by: str | None) -> tuple[CommandResult, str | None]:
        """Send one command (kept in the command log like the command API's); the result and, when the charger's
        adapter could not express it, why."""
        now = self.gateway.now()
        cmd = schema.commands

        def begin() -> int:
            with self.engine.begin() as connection:
                return int(connection.execute(insert(cmd).values(
                    charger_id=charger_id, action=action, payload=payload, status="pending",
                    requested_by=requested_by, requested_at=now).returning(cmd.c.id)).scalar_one())

        command_id = await asyncio.to_thread(begin)
        refusal = None
        try:
            result = await self.gateway.call(charger_id, action, payload, timeout or self.timeout)
        except ValueError as exc:
            refusal = str(exc)
            result = CommandResult("error", error={"code": "Invalid", "description": refusal})

        def finish() -> None:
            with self.engine.begin() as connection:
                connection.execute(update(cmd).where(cmd.c.id == command_id).values(
                    status=result.status, response=result.response if result.response is not None else result.error,
                    completed_at=self.gateway.now()))

        await asyncio.to_thread(finish)
        return result, refusal

    def _record(self, reservation_id: int, entry: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        with self.engine.begin() as connection:
            stored = store.record(connection, reservation_id, entry, self.gateway.now(), only_if_active=True, **values)
        assert stored is not None
        return stored

    # ------------------------------------------------------------------ reading, expiry

    def get(self, reservation_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            return store.get(connection, reservation_id)

    def listed(self, **filters: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return store.listed(connection, **filters)

    async def sweep(self) -> list[dict[str, Any]]:
        """Expire what is due now and publish each expiry once (also run before every read: lazy evaluation)."""
        now = self.gateway.now()

        def expire() -> list[dict[str, Any]]:
            with self.engine.begin() as connection:
                return store.expire_due(connection, now)

        expired = await asyncio.to_thread(expire)
        for row in expired:
            self.bus.publish(events.ReservationExpired(row["charger_id"], row["id"], row["connector_id"],
                                                       row["expires_at"], "expiry"))
        return expired

    async def run_sweeps(self, interval: float) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # noqa: BLE001 - keep sweeping when the database blips
                log.warning("reservation expiry sweep failed", exc_info=True)
            await asyncio.sleep(interval)


def _entry(action: str, result: CommandResult, at: datetime, refusal: str | None) -> dict[str, Any]:
    """One exchange with the charger as the reservation keeps it."""
    entry: dict[str, Any] = {"action": action, "sent_action": result.sent_action or action, "at": at.isoformat(),
                             "result": result.status}
    if result.response is not None:
        entry["response"] = result.response
        entry["status"] = result.response.get("status")
    if result.error is not None:
        entry["error"] = result.error
    if refusal:
        entry["refusal"] = refusal
    return entry


def sweep_seconds(env: dict[str, str] | os._Environ[str]) -> float:
    raw = env.get("CHARGEWATCH_RESERVATION_SWEEP_SECONDS")
    try:
        value = float(raw) if raw else DEFAULT_SWEEP_SECONDS
    except ValueError:
        log.warning("CHARGEWATCH_RESERVATION_SWEEP_SECONDS=%r is not a number: using %s", raw, DEFAULT_SWEEP_SECONDS)
        return DEFAULT_SWEEP_SECONDS
    return value if value > 0 else DEFAULT_SWEEP_SECONDS


def install(cw: Chargewatch) -> None:
    from ..api.reservations import reservation_pages, reservations_router

    service = ReservationService(cw.engine, cw.gateway, cw.bus, timeout=cw.options.gateway.command_timeout)
    cw.app.state.reservations = service  # what OCPI RESERVE_NOW will call
    cw.app.include_router(reservations_router(service))
    cw.app.include_router(reservation_pages(service))
    interval = sweep_seconds(os.environ)
    task: asyncio.Task[None] | None = None

    async def start() -> None:
        nonlocal task
        task = asyncio.get_running_loop().create_task(service.run_sweeps(interval), name="reservation-expiry")

    async def stop() -> None:
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    cw.on_start(start)
    cw.on_stop(stop)
