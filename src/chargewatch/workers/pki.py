"""Charger certificates in the running server: signing requests signed by the operator's CA, and the chargers'
answers about their certificates recorded.

- A SignCertificate answered Accepted (``CertificateSigningRequested`` on the bus) is signed with the CA of
  ``pki.authority`` (configured by ``CHARGEWATCH_CA_DIR`` or ``CHARGEWATCH_CA_CERT``/``_KEY``) and the chain goes
  to the charger in CertificateSigned; a rejected one is recorded with its reason. Every step is in
  ``certificate_requests`` (rejected → signed → delivered | refused | not_delivered; failed if the CA could not
  sign). The signed certificate the charger accepted becomes one of its certificates.
- The charger's answers to InstallCertificate, DeleteCertificate and GetInstalledCertificateIds update
  ``charger_certificates``, whether the command came from the certificate API (``api.pki``), which records them
  as it gets them, or from the generic command API (heard on the bus as ``CommandAnswered``).

A request accepted but not yet signed when the server stops stays ``accepted``: the charger asks again (the
whitepaper's retry of SignCertificate), or the operator renews it from the charger page.
"""

from __future__ import annotations

import asyncio
import logging
import os
from contextvars import ContextVar
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, insert

from ..api.app import _finish_command
from ..domain.events import BusEvent, CertificateSigningRequested, CommandAnswered
from ..gateway.transport import CommandResult, Gateway
from ..ocpp.pki import CERTIFICATE_ACTIONS
from ..pki import answers
from ..pki.authority import Authority, AuthorityConfig, AuthorityError
from ..pki.certificates import CertificateError, chain_hash_data, hash_data
from ..store import pki as store
from ..store import schema

if TYPE_CHECKING:
    from ..runtime import Chargewatch

log = logging.getLogger(__name__)

# Set while a command is sent by code that records the charger's answer itself (the bus listener then skips it).
_RECORDING: ContextVar[bool] = ContextVar("pki_recording", default=False)
MAX_QUEUE = 10_000


class PkiWorker:
    def __init__(self, engine: Engine, gateway: Gateway, authority: Authority, command_timeout: float = 30.0):
        self.engine = engine
        self.gateway = gateway
        self.authority = authority
        self.command_timeout = command_timeout
        self._queue: asyncio.Queue[BusEvent] = asyncio.Queue(MAX_QUEUE)
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pki-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def listen(self, event: BusEvent) -> None:
        """Bus listener (synchronous, quick): queue what this worker acts on."""
        wanted = isinstance(event, CertificateSigningRequested) or (
            isinstance(event, CommandAnswered) and event.action in CERTIFICATE_ACTIONS
            and event.status == "answered" and not _RECORDING.get())
        if not wanted:
            return
        try:
            self._queue.put_nowait(event)
            self._idle.clear()
        except asyncio.QueueFull:
            log.warning("pki worker queue full; %s dropped", type(event).__name__)

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until every queued event is handled (tests; the page after a renew)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                if isinstance(event, CertificateSigningRequested):
                    await self._signing_request(event)
                elif isinstance(event, CommandAnswered) and event.response is not None:
                    await asyncio.to_thread(self.record_answer, event.charger_id, event.action, event.payload,
                                            event.response, event.at)
            except Exception:  # noqa: BLE001 - one bad event must not stop the worker
                log.exception("pki worker: %s of %s failed", type(event).__name__,
                              getattr(event, "charger_id", "?"))
            finally:
                if self._queue.empty():
                    self._idle.set()

    # ------------------------------------------------------------------ signing

    async def _signing_request(self, event: CertificateSigningRequested) -> None:
        row = {"charger_id": event.charger_id, "message_id": event.evidence.message_id[:64],
               "certificate_type": event.certificate_type, "csr": event.csr,
               "subject": (event.subject or "")[:512] or None, "received_at": event.at,
               "status": "accepted" if event.accepted else "rejected",
               "reason": (event.reason or "")[:512] or None}

        def add() -> tuple[int, bool]:
            with self.engine.begin() as connection:
                return store.add_request(connection, row)

        request_id, new = await asyncio.to_thread(add)
        if not new or not event.accepted:
            if not event.accepted:
                log.info("certificate request of %s rejected: %s", event.charger_id, event.reason)
            return
        try:
            loaded = await asyncio.to_thread(self.authority.load)
            leaf, chain = loaded.sign(event.csr, self.gateway.now(), self.authority.config.days)
        except (AuthorityError, CertificateError, ValueError) as exc:
            log.warning("cannot sign the certificate request of %s: %s", event.charger_id, exc)
            await asyncio.to_thread(self._update, request_id, status="failed", reason=str(exc)[:512])
            return
        serial = format(leaf.serial_number, "x")
        await asyncio.to_thread(self._update, request_id, status="signed", serial_number=serial,
                                certificate_chain=chain, not_after=leaf.not_valid_after_utc)
        payload = {"certificateChain": chain, "certificateType": event.certificate_type}
        try:
            _, result = await self.command(event.charger_id, "CertificateSigned", payload, requested_by="pki")
        except ValueError as exc:  # the charger's version cannot carry it (a V2G certificate to a 1.6 charger)
            await asyncio.to_thread(self._update, request_id, status="failed", reason=str(exc)[:512])
            return
        now = self.gateway.now()
        if result.status != "answered" or result.response is None:
            reason = (result.error or {}).get("description") or result.status
            await asyncio.to_thread(self._update, request_id, status="not_delivered", reason=str(reason)[:512])
            return
        accepted = result.response.get("status") == "Accepted"
        await asyncio.to_thread(self._update, request_id, status="delivered" if accepted else "refused",
                                delivered_at=now, reason=None if accepted else "the charger rejected the certificate")
        if accepted:
            h = hash_data(leaf, loaded.certificate)

            def keep() -> None:
                with self.engine.begin() as connection:
                    store.put_certificate(connection, event.charger_id, event.certificate_type, h, source="signed",
                                          now=now, installed=True, subject=leaf.subject.rfc4514_string()[:512],
                                          not_after=leaf.not_valid_after_utc, certificate=chain)

            await asyncio.to_thread(keep)

    def _update(self, request_id: int, **values: Any) -> None:
        with self.engine.begin() as connection:
            store.update_request(connection, request_id, **values)

    # ------------------------------------------------------------------ commands and their answers

    async def command(self, charger_id: str, action: str, payload: dict[str, Any], *, timeout: float | None = None,
                      requested_by: str | None = None) -> tuple[int, CommandResult]:
        """Send a certificate command (recorded in ``commands`` like the command API's) and record what the
        charger answered; ValueError when the charger's OCPP version cannot express it."""
        cmd = schema.commands
        now = self.gateway.now()

        def record() -> int:
            with self.engine.begin() as connection:
                return int(connection.execute(insert(cmd).values(
                    charger_id=charger_id, action=action, payload=payload, status="pending", requested_at=now,
                    requested_by=requested_by).returning(cmd.c.id)).scalar_one())

        command_id = await asyncio.to_thread(record)
        token = _RECORDING.set(True)
        try:
            result = await self.gateway.call(charger_id, action, payload, timeout or self.command_timeout)
        except ValueError as exc:
            await asyncio.to_thread(_finish_command, self.engine, command_id, "error", {"reason": str(exc)},
                                    self.gateway.now())
            raise
        finally:
            _RECORDING.reset(token)
        await asyncio.to_thread(_finish_command, self.engine, command_id, result.status,
                                result.response if result.response is not None else result.error, self.gateway.now())
        if result.status == "answered" and result.response is not None and action != "CertificateSigned":
            await asyncio.to_thread(self.record_answer, charger_id, action, payload, result.response,
                                    self.gateway.now())
        return command_id, result

    def record_answer(self, charger_id: str, action: str, payload: dict[str, Any], response: dict[str, Any],
                      now: datetime) -> None:
        """What the charger's answer to a certificate command says about the certificates it holds."""
        try:
            with self.engine.begin() as connection:
                if action == "GetInstalledCertificateIds":
                    store.reconcile(connection, charger_id, answers.listed(payload, response), now)
                elif action == "DeleteCertificate":
                    gone = answers.deleted(payload, response)
                    if gone is not None:
                        store.mark_deleted(connection, charger_id, gone, now)
                elif action == "InstallCertificate" and response.get("status") == "Accepted":
                    h, leaf = chain_hash_data(str(payload.get("certificate", "")))
                    store.put_certificate(
                        connection, charger_id, answers.neutral_type(str(payload.get("certificateType"))), h,
                        source="installed", now=now, installed=True, subject=leaf.subject.rfc4514_string()[:512],
                        not_after=leaf.not_valid_after_utc, certificate=str(payload["certificate"]))
        except CertificateError as exc:
            log.warning("answer of %s to %s not recorded: %s", charger_id, action, exc)


def install(cw: Chargewatch) -> None:
    from ..api.pki import pki_router

    worker = PkiWorker(cw.engine, cw.gateway, Authority(AuthorityConfig.from_env(os.environ)),
                       cw.options.gateway.command_timeout)
    cw.gateway.ingest.can_sign_certificates = worker.authority.available
    cw.bus.listen(worker.listen)
    cw.app.state.pki = worker
    cw.app.include_router(pki_router(cw.engine, worker))
    cw.on_start(worker.start)
    cw.on_stop(worker.stop)
