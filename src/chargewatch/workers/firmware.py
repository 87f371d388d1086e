"""Firmware campaigns and log uploads in the running server.

A campaign is stored with one pending target per charger; each target is sent (rendered by the charger's adapter:
1.6 UpdateFirmware or SignedUpdateFirmware, 2.0.1 UpdateFirmware with the target id as requestId) as soon as its
charger is connected to this node and booted, else when it comes back. The charger's progress reports are applied
to the target in the transaction that stores them (``store.writes``); this worker turns what ends an update into
bus events: a failure status, a refusal, a boot with another version than expected, or no progress within the
campaign's timeout (checked every ``tick_seconds``) is ``firmware.failed``, which the fault worker makes an incident
of; an Installed report is ``firmware.installed``, which resolves it.

A log request (GetDiagnostics / GetLog) names an upload URL of chargewatch itself, ``{public}/upload/{token}/``,
whose unguessable token (only its SHA-256 is stored) is the charger's credential for ``upload_ttl``; the file it
PUTs or POSTs (multipart) there is kept in the database with its SHA-256 (``api.uploads``).

Configuration: ``CHARGEWATCH_PUBLIC_URL`` (the address chargers reach this server at; else the bound HTTP address),
``CHARGEWATCH_UPLOAD_MAX_BYTES`` (50 MiB), ``CHARGEWATCH_UPLOAD_TTL_HOURS`` (24).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select

from .. import settings
from ..api.firmware import create_router
from ..api.uploads import create_upload_router
from ..domain import events
from ..domain.firmware import FAILURE_STATUSES, FirmwareUpdate, LogRequest, LogType, answer_refuses
from ..store import firmware as store
from ..store import schema

if TYPE_CHECKING:
    from ..runtime import Chargewatch

log = logging.getLogger(__name__)
T = TypeVar("T")


class FirmwareError(ValueError):
    """A request the operator must correct (HTTP 422), naming the field at fault."""

    def __init__(self, field: str, reason: str, status: int = 422):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.status = status


class UploadRefused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class FirmwareSettings:
    tick_seconds: float = 5.0
    upload_max_bytes: int = 50 * 1024 * 1024
    upload_ttl: timedelta = timedelta(hours=24)
    public_url: str | None = None
    command_timeout: float = 30.0
    max_unanswered: int = 3  # sends without an answer before a charger's update has failed

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> FirmwareSettings:
        env = os.environ if env is None else env
        max_bytes = settings.integer(env, "CHARGEWATCH_UPLOAD_MAX_BYTES", 50 * 1024 * 1024, above=True)
        ttl = settings.number(env, "CHARGEWATCH_UPLOAD_TTL_HOURS", 24.0, above=True)
        return cls(upload_max_bytes=max_bytes, upload_ttl=timedelta(hours=ttl),
                   public_url=(env.get("CHARGEWATCH_PUBLIC_URL") or "").rstrip("/") or None)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class FirmwareWorker:
    def __init__(self, cw: Chargewatch, settings: FirmwareSettings):
        self.cw = cw
        self.settings = settings
        self.engine = cw.engine
        self.gateway = cw.gateway
        self.bus = cw.bus
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def now(self) -> datetime:
        return self.gateway.now()

    async def _db(self, work: Callable[..., T], *args: Any) -> T:
        def run() -> T:
            with self.engine.begin() as connection:
                return work(connection, *args)

        return await asyncio.to_thread(run)

    async def read(self, query: Callable[..., T], *args: Any) -> T:
        """Run one of ``store.firmware``'s queries (for the API)."""
        return await self._db(query, *args)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("firmware task failed", exc_info=task.exception())

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.tick_seconds)
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - the next tick tries again
                log.exception("firmware tick failed")

    async def tick(self) -> None:
        """Time out updates without progress; send pending ones to chargers that are connected here."""
        now = self.now()
        for target in await self._db(store.time_out, now):
            self.bus.publish(events.FirmwareUpdateFailed(target["charger_id"], target["reason"], target["id"],
                                                         target["campaign_id"], now))
        waiting = await self._db(lambda connection: store.active_chargers(connection))
        await self.dispatch(waiting & set(self.gateway.links))

    # ------------------------------------------------------------------ bus

    def on_event(self, event: events.BusEvent) -> None:
        """Bus listener (on the OCPP path: memory only, the rest in tasks)."""
        if isinstance(event, events.FirmwareStatusReported) and event.report in store.FIRMWARE_KINDS:
            if event.status in FAILURE_STATUSES:
                self.bus.publish(events.FirmwareUpdateFailed(event.charger_id, event.status, event.request_id, None,
                                                             event.at, event.evidence))
            elif event.status == "Installed":
                self.bus.publish(events.FirmwareUpdateInstalled(event.charger_id, event.request_id, event.at))
        elif isinstance(event, events.ChargerBooted):
            self._spawn(self._booted(event))

    async def _booted(self, event: events.ChargerBooted) -> None:
        payload = event.evidence.payload
        station = payload.get("chargingStation")
        version = (station.get("firmwareVersion") if isinstance(station, dict) else payload.get("firmwareVersion"))
        for target in await self._db(store.record_boot, event.charger_id, version, event.at):
            self.bus.publish(events.FirmwareUpdateFailed(event.charger_id, target["reason"], target["id"],
                                                         target["campaign_id"], event.at, event.evidence))
        await self.dispatch({event.charger_id})

    # ------------------------------------------------------------------ campaigns

    async def start_campaign(self, body: dict[str, Any], by: str | None) -> dict[str, Any]:
        charger_ids = list(body.pop("charger_ids", None) or [])
        site_id = body.pop("site_id", None)
        if bool(charger_ids) == bool(site_id):
            raise FirmwareError("charger_ids", "give either charger_ids or site_id")
        if (body.get("signing_certificate") is None) != (body.get("signature") is None):
            raise FirmwareError("signature", "a signed firmware needs both signing_certificate and signature")
        now = self.now()

        def create(connection: Any) -> int:
            c = schema.chargers
            if site_id:
                found = list(connection.execute(select(c.c.id).where(c.c.site_id == site_id).order_by(c.c.id))
                             .scalars())
                if not found:
                    raise FirmwareError("site_id", f"no charger belongs to site {site_id!r}")
            else:
                found = set(connection.execute(select(c.c.id).where(c.c.id.in_(charger_ids))).scalars())
                unknown = [x for x in charger_ids if x not in found]
                if unknown:
                    raise FirmwareError("charger_ids", f"unknown chargers: {', '.join(unknown[:10])}")
                found = charger_ids
            return store.create_campaign(connection, {**body, "created_by": by}, found, now)

        campaign_id = await self._db(create)
        campaign = await self._db(store.campaign, campaign_id)
        assert campaign is not None
        await self.dispatch({t["charger_id"] for t in campaign["targets"]} & set(self.gateway.links))
        return await self.campaign(campaign_id)

    async def campaign(self, campaign_id: int) -> dict[str, Any]:
        found = await self._db(store.campaign, campaign_id)
        if found is None:
            raise FirmwareError("campaign_id", f"campaign {campaign_id} not found", 404)
        return found

    async def dispatch(self, charger_ids: set[str]) -> None:
        """Send the pending updates of these chargers (each charger's one after the other)."""
        if not charger_ids:
            return
        targets = await self._db(store.pending_targets, sorted(charger_ids))
        by_charger: dict[str, list[dict[str, Any]]] = {}
        for target in targets:
            by_charger.setdefault(target["charger_id"], []).append(target)
        await asyncio.gather(*(self._send_all(items) for items in by_charger.values()))

    async def _send_all(self, targets: list[dict[str, Any]]) -> None:
        for target in targets:
            await self._send(target)

    async def _send(self, target: dict[str, Any]) -> None:
        charger_id = target["charger_id"]
        link = self.gateway.links.get(charger_id)
        if link is None:
            return
        now = self.now()
        intent = FirmwareUpdate(request_id=target["id"], location=target["location"],
                                retrieve_at=target["retrieve_at"], install_at=target["install_at"],
                                signing_certificate=target["signing_certificate"], signature=target["signature"],
                                retries=target["retries"], retry_interval=target["retry_interval"])
        try:
            rendered = link.adapter.render_maintenance(intent)
        except ValueError as exc:
            if await self._db(store.claim, target["id"], now):
                await self._db(store.record_answer, target["id"], None, "NotExpressible", False, now, None)
                self.bus.publish(events.FirmwareUpdateFailed(charger_id, "NotExpressible", target["id"],
                                                             target["campaign_id"], now))
            log.warning("firmware update for %s cannot be rendered: %s", charger_id, exc)
            return
        if not await self._db(store.claim, target["id"], now):
            return  # sent already (a tick and a boot raced)
        result = await self.gateway.call(charger_id, rendered.action, rendered.payload, self.settings.command_timeout)
        refusal = answer_refuses(result.response) if result.status == "answered" else None
        if result.status == "error":
            refusal = str((result.error or {}).get("code") or "CallError")[:64]
        unsent = result.status in ("offline", "timeout")
        now = self.now()
        # A charger that went offline gets it again when back; one that never answers, a few times only.
        limit = self.settings.max_unanswered if result.status == "timeout" else None
        refusal = await self._db(store.record_answer, target["id"], rendered.action, refusal, unsent, now, limit)
        if refusal is not None:
            self.bus.publish(events.FirmwareUpdateFailed(charger_id, refusal, target["id"], target["campaign_id"],
                                                         now))

    # ------------------------------------------------------------------ log uploads

    def _public_base(self) -> str:
        return self.settings.public_url or self.cw.http_base

    async def request_log(self, charger_id: str, body: dict[str, Any], by: str | None) -> dict[str, Any]:
        """Ask the charger for a log upload to this server; returns the request with the charger's answer."""
        link = self.gateway.links.get(charger_id)
        exists = await self._db(lambda connection: connection.execute(
            select(schema.chargers.c.id).where(schema.chargers.c.id == charger_id)).first() is not None)
        if not exists:
            raise FirmwareError("charger_id", f"charger {charger_id!r} not found", 404)
        if link is None:
            raise FirmwareError("charger_id", f"charger {charger_id!r} is not connected", 409)
        token = secrets.token_urlsafe(32)
        now = self.now()
        log_type = LogType(body.get("log_type") or LogType.DIAGNOSTICS)
        request_id = await self._db(store.create_log_request, {
            "charger_id": charger_id, "log_type": log_type.value, "token_sha256": token_hash(token),
            "oldest": body.get("oldest"), "latest": body.get("latest"), "requested_by": by,
            "expires_at": now + self.settings.upload_ttl}, now)
        location = f"{self._public_base()}/upload/{token}/"
        intent = LogRequest(request_id=request_id, location=location, log_type=log_type, oldest=body.get("oldest"),
                            latest=body.get("latest"), retries=body.get("retries"),
                            retry_interval=body.get("retry_interval"), use_get_log=bool(body.get("use_get_log")))
        try:
            rendered = link.adapter.render_maintenance(intent)
        except ValueError as exc:
            await self._db(store.record_log_answer, request_id, "failed", None, None, now)
            raise FirmwareError("log_type", str(exc)) from None
        result = await self.gateway.call(charger_id, rendered.action, rendered.payload, self.settings.command_timeout)
        response = result.response or {}
        if result.status != "answered":
            state = "unsent" if result.status in ("offline", "timeout") else "failed"
        elif rendered.action == "GetDiagnostics":  # Core: an answer without fileName means nothing to upload
            state = "accepted" if response.get("fileName") else "nothing"
        else:
            state = "accepted" if response.get("status") == "Accepted" else "rejected"
        file_name = response.get("fileName") or response.get("filename")
        await self._db(store.record_log_answer, request_id, state, rendered.action,
                       str(file_name)[:255] if file_name else None, self.now())
        logs = await self._db(store.charger_logs, charger_id, 50)
        found = next(item for item in logs if item["id"] == request_id)
        return {**found, "location": location, "command_status": result.status, "response": result.response,
                "error": result.error}

    async def receive_upload(self, token: str, file_name: str, content_type: str | None,
                             content: bytes) -> dict[str, Any]:
        """Store a file a charger uploaded with its request's token; UploadRefused(403) for a token that is not
        (or no longer) valid."""
        now = self.now()
        digest = hashlib.sha256(content).hexdigest()

        def add(connection: Any) -> dict[str, Any]:
            request = store.log_request_by_token(connection, token_hash(token))
            if request is None or request["expires_at"] <= now:
                raise UploadRefused(403, "this upload address is not valid (wrong or expired token)")
            name = (file_name or request.get("file_name") or f"{request['charger_id']}-log-{request['id']}")[:255]
            upload_id = store.add_upload(connection, request, name, content_type, content, digest, now)
            return {"id": upload_id, "request_id": request["id"], "charger_id": request["charger_id"],
                    "file_name": name, "size": len(content), "sha256": digest}

        return await self._db(add)

    async def check_token(self, token: str) -> None:
        now = self.now()
        request = await self._db(store.log_request_by_token, token_hash(token))
        if request is None or request["expires_at"] <= now:
            raise UploadRefused(403, "this upload address is not valid (wrong or expired token)")


def install(cw: Chargewatch, settings: FirmwareSettings | None = None) -> None:
    """Wire firmware campaigns and log uploads into ``cw``: listener, background loop, API and upload routes."""
    worker = FirmwareWorker(cw, settings or FirmwareSettings.from_env())
    cw.bus.listen(worker.on_event)
    cw.app.include_router(create_router(worker))
    cw.app.include_router(create_upload_router(worker))
    cw.app.state.firmware = worker
    cw.on_start(worker.start)
    cw.on_stop(worker.stop)
