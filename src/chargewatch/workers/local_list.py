"""The local authorization list in the running server: pushing it, keeping it in step with the id tags, conflicts.

A charger holds a list once an operator pushed one to it (API, CLI, dashboard) and it accepted. From then on:
- every ``interval`` seconds the list the id tags make now is compared with what each such charger connected here
  confirmed; a difference (a tag added, blocked, its expiry changed or passed) is pushed (``domain.local_list.plan``:
  a Differential, or a Full list when the charger's version is unknown or most of the list changed). A push that
  failed for a given list is not repeated until the list changes again, the charger reconnects or an operator asks;
- when it boots, its GetLocalListVersion is compared with the version it confirmed: a mismatch is a conflict, resolved
  by a Full list; otherwise what changed while it was away goes as a Differential;
- a LocalListConflict status (OCPP 1.6 StatusNotification errorCode) and a VersionMismatch answer are recorded as the
  charger's conflict and resolved by sending a Full list; a NotSupported answer is recorded and stops the pushes.
The charger's adapter renders every message (``Adapter.render_local_list``) and reads its answers.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import settings
from ..domain import local_list as ll
from ..domain.events import BusEvent, ChargerBooted, ChargerConnected, ChargerDisconnected, ConnectorStatus
from ..gateway.transport import CommandResult
from ..ocpp import versions
from ..ocpp.adapter import Adapter
from ..store import local_list as store

if TYPE_CHECKING:
    from ..runtime import Chargewatch

log = logging.getLogger(__name__)

# CALLERROR codes that say the charger does not do local lists (the `ocpp` library swaps the two: accept both).
_UNSUPPORTED_CODES = frozenset({"NotSupported", "NotImplemented"})
CONFLICT_CODE = "LocalListConflict"
# A push that ended so is tried again for the same list (nothing was refused); any other answer waits for a change.
_RETRIED = frozenset({"Accepted", "offline", "timeout", "pending"})


@dataclass
class LocalListSettings:
    interval: float = 10.0  # seconds between comparisons of the id tags with what the chargers hold
    boot_delay: float = 2.0  # after a boot is accepted, before its list version is asked (the boot answer first)
    timeout: float = 30.0

    @classmethod
    def from_env(cls) -> LocalListSettings:
        return cls(interval=settings.number(os.environ, "CHARGEWATCH_LOCAL_LIST_INTERVAL", 10.0, above=True),
                   boot_delay=settings.number(os.environ, "CHARGEWATCH_LOCAL_LIST_BOOT_DELAY", 2.0))


class LocalListRefused(ValueError):
    """Nothing was sent: the list does not fit the charger (the message says why)."""


class LocalListWorker:
    def __init__(self, cw: Chargewatch, settings: LocalListSettings):
        self.gateway = cw.gateway
        self.engine = cw.engine
        self.settings = settings
        self._locks: dict[str, asyncio.Lock] = {}
        self._task: asyncio.Task[None] | None = None
        self._spawned: set[asyncio.Task[Any]] = set()
        # The connection on which each charger's list version was checked (or a list accepted): until then a
        # charger that reconnected may hold anything, so its version is asked before anything is sent.
        self._verified: dict[str, object] = {}
        self._connected_at: dict[str, float] = {}

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._spawned) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)

    def on_event(self, event: BusEvent) -> None:
        if isinstance(event, ConnectorStatus) and event.error_code == CONFLICT_CODE:
            reason = f"{CONFLICT_CODE} on connector {event.connector_id}" + (f": {event.info}" if event.info else "")
            self._spawn(self._guarded(self.resolve_conflict(event.charger_id, reason)))
        elif isinstance(event, ChargerBooted):
            self._spawn(self._guarded(self._after_boot(event.charger_id)))
        elif isinstance(event, ChargerConnected):
            self._connected_at[event.charger_id] = asyncio.get_running_loop().time()
        elif isinstance(event, ChargerDisconnected):
            self._verified.pop(event.charger_id, None)

    async def _guarded(self, coroutine: Any) -> None:
        try:
            await coroutine
        except Exception:  # noqa: BLE001 - one charger's failure must not stop the worker
            log.exception("local list work failed")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.interval)
            try:
                await self.sync_all()
            except Exception:  # noqa: BLE001 - the next round tries again (database down, …)
                log.exception("local list sync failed")

    # ------------------------------------------------------------------ reading

    def _db(self, function: Any, *args: Any) -> Any:
        return asyncio.to_thread(self._run, function, *args)

    def _run(self, function: Any, *args: Any) -> Any:
        with self.engine.begin() as connection:
            return function(connection, *args)

    async def charger_exists(self, charger_id: str) -> bool:
        return bool(await self._db(store.charger_exists, charger_id))

    async def overview(self, charger_id: str) -> dict[str, Any]:
        """The charger's list state with its latest updates and whether it holds what the id tags make now."""
        state, updates, tags = await asyncio.gather(self._db(store.state, charger_id),
                                                    self._db(store.updates, charger_id),
                                                    self._db(store.id_tags))
        wanted = ll.wanted_entries(tags, self.gateway.now())
        wanted_hash = ll.entries_hash(wanted)
        out = {key: value for key, value in (state or {}).items() if key not in ("entries", "charger_id")}
        held = (state or {}).get("entries_hash")
        out.update(charger_id=charger_id, holds_list=bool(state and state.get("version_confirmed") is not None),
                   wanted_count=len(wanted), wanted_hash=wanted_hash, in_sync=held == wanted_hash,
                   conflict_open=bool(state and state.get("conflict_at") and not state.get("conflict_resolved_at")),
                   entries=(state or {}).get("entries") or [], updates=updates)
        return out

    # ------------------------------------------------------------------ the charger's words

    async def _adapter(self, charger_id: str) -> Adapter:
        link = self.gateway.links.get(charger_id)
        if link is not None:
            return link.adapter
        return versions.adapter_for(await self._db(store.ocpp_version, charger_id))

    async def _ask(self, charger_id: str, adapter: Adapter,
                   intent: ll.LocalListIntent) -> tuple[CommandResult, ll.LocalListReply | None]:
        rendered = adapter.render_local_list(intent)
        try:
            result = await self.gateway.call(charger_id, rendered.action, rendered.payload, self.settings.timeout)
        except ValueError as exc:  # the payload does not fit the charger's schema
            return CommandResult("error", error={"code": "NotSent", "description": str(exc)}), None
        reply = None
        if result.status == "answered" and result.response is not None:
            reply = adapter.read_local_list(intent, result.response)
        elif result.status == "error" and (result.error or {}).get("code") in _UNSUPPORTED_CODES:
            reply = ll.LocalListReply(status=ll.UpdateStatus.NOT_SUPPORTED, supported=False)
        return result, reply

    async def _limits(self, charger_id: str, adapter: Adapter, state: dict[str, Any]) -> ll.Limits:
        """The charger's limits, asked once (1.6 GetConfiguration, 2.0.1 GetVariables) and remembered."""
        if state.get("limits_at") is None:
            result, reply = await self._ask(charger_id, adapter, ll.LocalListLimitsQuery())
            capacity = await self._db(store.reported_capacity, charger_id)
            if reply is not None:
                values = {"max_entries": reply.max_entries if reply.max_entries is not None else capacity,
                          "per_message": reply.per_message, "enabled": reply.enabled, "limits_at": self.gateway.now()}
                await self._db(store.save_state, charger_id, values, self.gateway.now())
                state.update(values)
            elif capacity is not None:
                state["max_entries"] = capacity
        return ll.Limits(state.get("max_entries"), state.get("per_message"))

    # ------------------------------------------------------------------ pushing

    def _lock(self, charger_id: str) -> asyncio.Lock:
        return self._locks.setdefault(charger_id, asyncio.Lock())

    async def push(self, charger_id: str, *, full: bool = False, reason: str = "operator") -> dict[str, Any]:
        """Bring the charger's list to what the id tags make now; the outcome says what was sent and answered.
        Raises :class:`LocalListRefused` (nothing sent) when the list is longer than the charger holds."""
        async with self._lock(charger_id):
            return await self._push(charger_id, full=full, reason=reason)

    async def _push(self, charger_id: str, *, full: bool, reason: str) -> dict[str, Any]:
        now = self.gateway.now()
        if charger_id not in self.gateway.links and await asyncio.to_thread(
                self.gateway.relay.owner_node, charger_id) is None:
            return {"charger_id": charger_id, "status": "offline", "updates": []}
        adapter = await self._adapter(charger_id)
        state = await self._db(store.state, charger_id) or {}
        wanted = ll.wanted_entries(await self._db(store.id_tags), now)
        wanted_hash = ll.entries_hash(wanted)
        limits = await self._limits(charger_id, adapter, state)
        held = ll.entries_from_json(state.get("entries"))
        confirmed = state.get("version_confirmed")
        last_version = max(state.get("version_sent") or 0, state.get("version_reported") or 0, confirmed or 0)
        try:
            updates = ll.plan(held, confirmed, wanted, limits, last_version=last_version, full=full)
        except ll.ListTooLong as exc:
            await self._db(store.save_state, charger_id, {
                "last_status": "TooLong", "last_error": str(exc), "target_hash": wanted_hash,
                "last_attempt_at": now}, now)
            raise LocalListRefused(str(exc)) from None
        outcome: dict[str, Any] = {"charger_id": charger_id, "status": "up_to_date", "updates": [],
                                   "version": confirmed}
        if not updates:
            return outcome
        values: dict[str, Any] = {"target_hash": wanted_hash, "last_attempt_at": now, "last_error": None}
        retry_full = False
        for update in updates:
            values["version_sent"] = max(update.version, state.get("version_sent") or 0)
            row = {"charger_id": charger_id, "version": update.version, "update_type": update.update_type.value,
                   "entries_count": len(update.entries), "reason": reason, "status": "pending", "sent_at": now}
            update_id = await self._db(store.record_update, row)
            result, reply = await self._ask(charger_id, adapter, update)
            status = reply.status.value if reply is not None and reply.status is not None else result.status
            answer = result.response if result.response is not None else result.error
            await self._db(store.finish_update, update_id, status, answer, self.gateway.now())
            outcome["updates"].append({"version": update.version, "update_type": update.update_type.value,
                                       "entries": len(update.entries), "status": status})
            values.update(last_update_type=update.update_type.value, last_status=status, last_answer=answer)
            if status == ll.UpdateStatus.ACCEPTED:
                if charger_id in self.gateway.links:
                    self._verified[charger_id] = self.gateway.links[charger_id]
                held = ll.apply(held, update)
                values.update(version_confirmed=update.version, entries=ll.entries_to_json(held),
                              entries_hash=ll.entries_hash(held), entries_count=len(held), supported=True)
                if update.update_type is ll.UpdateType.FULL:
                    values["last_full_at"] = self.gateway.now()
                continue
            if reply is not None and reply.supported is False:
                values["supported"] = False
            elif status == ll.UpdateStatus.VERSION_MISMATCH:
                values.update(conflict_at=self.gateway.now(), conflict_reason=(
                    f"VersionMismatch answering the Differential to version {update.version}"),
                    conflict_resolved_at=None)
                retry_full = not full
            elif status == ll.UpdateStatus.FAILED and update.update_type is ll.UpdateType.DIFFERENTIAL:
                retry_full = not full  # a Differential the charger could not apply: start it afresh
            if status != ll.UpdateStatus.ACCEPTED and result.status == "error":
                values["last_error"] = str((result.error or {}).get("description") or "")
            break
        else:
            conflict_open = state.get("conflict_at") or values.get("conflict_at")
            if any(u.update_type is ll.UpdateType.FULL for u in updates) and conflict_open:
                values["conflict_resolved_at"] = self.gateway.now()
        await self._db(store.save_state, charger_id, values, self.gateway.now())
        outcome.update(status=values["last_status"], version=values.get("version_confirmed", confirmed))
        if retry_full:
            again = await self._push(charger_id, full=True, reason=f"{reason}: {values['last_status']}")
            again["updates"] = outcome["updates"] + again["updates"]
            return again
        return outcome

    async def query_version(self, charger_id: str) -> dict[str, Any]:
        """GetLocalListVersion: recorded, and compared with the version the charger confirmed."""
        async with self._lock(charger_id):
            return await self._query_version(charger_id)

    async def _query_version(self, charger_id: str) -> dict[str, Any]:
        adapter = await self._adapter(charger_id)
        result, reply = await self._ask(charger_id, adapter, ll.LocalListVersionQuery())
        state = await self._db(store.state, charger_id) or {}
        confirmed = state.get("version_confirmed")
        out: dict[str, Any] = {"charger_id": charger_id, "status": result.status, "version_confirmed": confirmed,
                               "version_reported": None, "supported": None, "matches": None}
        if reply is None:
            out["error"] = result.error
            return out
        now = self.gateway.now()
        values: dict[str, Any] = {"version_reported_at": now}
        if reply.supported is False:
            values["supported"] = False
        if reply.version is not None:
            values["version_reported"] = reply.version
        await self._db(store.save_state, charger_id, values, now)
        matches = None if confirmed is None or reply.version is None else reply.version == confirmed
        out.update(version_reported=reply.version, supported=reply.supported, matches=matches)
        return out

    async def resolve_conflict(self, charger_id: str, reason: str) -> dict[str, Any]:
        """Record the conflict the charger reported and, when it holds a list we sent, send it a Full list. A
        charger that holds none of ours (a list from another system, or an unknown charger) is only recorded: the
        operator decides whether chargewatch takes its list over (the page's "Push full list")."""
        async with self._lock(charger_id):
            state = await self._db(store.state, charger_id)
            await self._note_conflict(charger_id, reason)
            if not state or state.get("version_confirmed") is None or state.get("supported") is False:
                return {"charger_id": charger_id, "status": "Recorded", "updates": []}
            return await self._push_or_refusal(charger_id, full=True, reason="conflict")

    async def _note_conflict(self, charger_id: str, reason: str) -> None:
        now = self.gateway.now()
        await self._db(store.save_state, charger_id, {"conflict_at": now, "conflict_reason": reason[:255],
                                                      "conflict_resolved_at": None}, now)

    async def _push_or_refusal(self, charger_id: str, *, full: bool, reason: str) -> dict[str, Any]:
        try:
            return await self._push(charger_id, full=full, reason=reason)
        except LocalListRefused as exc:  # recorded on the charger's list state
            return {"charger_id": charger_id, "status": "TooLong", "error": str(exc), "updates": []}

    async def reconcile(self, charger_id: str, reason: str) -> None:
        """Bring a charger that holds a list in step: on a new connection its version is checked first (a mismatch
        is a conflict, resolved by a Full list), then what changed is sent."""
        async with self._lock(charger_id):
            link = self.gateway.links.get(charger_id)
            if link is None:
                return
            if self._verified.get(charger_id) is not link:
                version = await self._query_version(charger_id)
                if version["status"] != "answered" or version["supported"] is False:
                    return
                self._verified[charger_id] = link
                if version["matches"] is False:
                    await self._note_conflict(charger_id, (
                        f"the charger reports list version {version['version_reported']}, "
                        f"it confirmed {version['version_confirmed']}"))
                    await self._push_or_refusal(charger_id, full=True, reason="version_mismatch")
                    return
            await self._push_or_refusal(charger_id, full=False, reason=reason)

    async def _after_boot(self, charger_id: str) -> None:
        state = await self._db(store.state, charger_id)
        if not state or state.get("version_confirmed") is None or state.get("supported") is False:
            return
        await asyncio.sleep(self.settings.boot_delay)  # the boot's answer goes out first
        await self.reconcile(charger_id, "reconnect")

    async def sync_all(self) -> None:
        """Every charger connected here that holds a list: checked once per connection, then sent what changed."""
        states = await self._db(store.states)
        wanted_hash = ll.entries_hash(ll.wanted_entries(await self._db(store.id_tags), self.gateway.now()))
        loop = asyncio.get_running_loop()
        for state in states:
            charger_id = state["charger_id"]
            link = self.gateway.links.get(charger_id)
            if link is None or state.get("version_confirmed") is None or state.get("supported") is False:
                continue
            if self._verified.get(charger_id) is not link:
                if loop.time() - self._connected_at.get(charger_id, 0.0) >= self.settings.boot_delay:
                    await self.reconcile(charger_id, "reconnect")
                continue
            if state.get("entries_hash") == wanted_hash or (
                    state.get("target_hash") == wanted_hash and state.get("last_status") not in _RETRIED):
                continue
            await self.reconcile(charger_id, "tags_changed")


def install(cw: Chargewatch, settings: LocalListSettings | None = None) -> None:
    """Wire the local list into ``cw``: bus listener, the sync loop, API routes."""
    from ..api.local_list import create_router

    worker = LocalListWorker(cw, settings or LocalListSettings.from_env())
    cw.bus.listen(worker.on_event)
    cw.app.include_router(create_router(worker))
    cw.app.state.local_list = worker
    cw.on_start(worker.start)
    cw.on_stop(worker.stop)
