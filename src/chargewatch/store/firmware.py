"""Firmware campaigns and log uploads in the store: one function per question or write (tables in
``firmware_tables``; the rules of progress in ``domain.firmware``).

A charger's progress report is applied in the same transaction that stores it (``writes`` calls
:func:`record_status`), so what the charger was acknowledged is what the campaign shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from ..domain.firmware import Phase, advance, after_boot, log_state, summarise
from .firmware_tables import firmware_campaigns, firmware_status_events, firmware_targets, log_requests, log_uploads

_ACTIVE = [phase.value for phase in Phase if not phase.finished]
# Phases that wait on the charger (a pending target waits on us: the charger is offline).
_WAITING = [phase.value for phase in Phase if not phase.finished and phase is not Phase.PENDING]
FIRMWARE_KINDS = frozenset({"firmware", "signed_firmware"})


# ---------------------------------------------------------------- campaigns


def create_campaign(connection: Connection, values: dict[str, Any], charger_ids: Iterable[str], now: datetime) -> int:
    campaign_id = connection.execute(insert(firmware_campaigns).values(**values, created_at=now)
                                     .returning(firmware_campaigns.c.id)).scalar_one()
    connection.execute(insert(firmware_targets), [
        {"campaign_id": campaign_id, "charger_id": charger_id, "phase": Phase.PENDING.value, "attempts": 0,
         "confirmed": False, "updated_at": now} for charger_id in dict.fromkeys(charger_ids)])
    return int(campaign_id)


def _summary(targets: list[dict[str, Any]]) -> dict[str, Any]:
    summary = summarise((Phase(t["phase"]), bool(t["confirmed"])) for t in targets)
    return {**{name: getattr(summary, name) for name in summary.__dataclass_fields__}, "finished": summary.finished}


def campaign(connection: Connection, campaign_id: int) -> dict[str, Any] | None:
    """A campaign with its targets (by charger) and its progress summary."""
    row = connection.execute(select(firmware_campaigns).where(firmware_campaigns.c.id == campaign_id)).first()
    if row is None:
        return None
    t = firmware_targets
    targets = [dict(r._mapping) for r in connection.execute(
        select(t).where(t.c.campaign_id == campaign_id).order_by(t.c.charger_id))]
    return {**dict(row._mapping), "targets": targets, "summary": _summary(targets)}


def campaigns(connection: Connection, limit: int = 50) -> list[dict[str, Any]]:
    """The latest campaigns with their summaries (newest first)."""
    c, t = firmware_campaigns, firmware_targets
    rows = [dict(r._mapping) for r in connection.execute(select(c).order_by(c.c.id.desc()).limit(limit))]
    ids = [row["id"] for row in rows]
    by_campaign: dict[int, list[dict[str, Any]]] = {}
    if ids:
        for target in connection.execute(select(t.c.campaign_id, t.c.phase, t.c.confirmed)
                                         .where(t.c.campaign_id.in_(ids))):
            by_campaign.setdefault(target.campaign_id, []).append(dict(target._mapping))
    return [{**row, "summary": _summary(by_campaign.get(row["id"], []))} for row in rows]


def charger_firmware(connection: Connection, charger_id: str, limit: int = 20) -> dict[str, Any]:
    """A charger's part in campaigns (newest first) and its latest progress reports."""
    t, e = firmware_targets, firmware_status_events
    targets = [dict(r._mapping) for r in connection.execute(
        select(t).where(t.c.charger_id == charger_id).order_by(t.c.id.desc()).limit(limit))]
    statuses = [dict(r._mapping) for r in connection.execute(
        select(e).where(e.c.charger_id == charger_id).order_by(e.c.id.desc()).limit(limit))]
    return {"targets": targets, "statuses": statuses}


def pending_targets(connection: Connection, charger_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Targets not sent yet of these (connected) chargers, with their campaign's firmware."""
    ids = list(charger_ids)
    if not ids:
        return []
    t, c = firmware_targets, firmware_campaigns
    query = (select(t.c.id, t.c.charger_id, t.c.campaign_id, c.c.location, c.c.retrieve_at, c.c.install_at,
                    c.c.signing_certificate, c.c.signature, c.c.retries, c.c.retry_interval)
             .join(c, c.c.id == t.c.campaign_id)
             .where(t.c.phase == Phase.PENDING.value, t.c.charger_id.in_(ids)).order_by(t.c.id))
    return [dict(r._mapping) for r in connection.execute(query)]


def claim(connection: Connection, target_id: int, now: datetime) -> bool:
    """Mark a pending target as sent (before the request goes out, so progress reported right after the answer
    is not overwritten); False when another sender took it first."""
    t = firmware_targets
    claimed = connection.execute(update(t).where(t.c.id == target_id, t.c.phase == Phase.PENDING.value).values(
        phase=Phase.SENT.value, attempts=t.c.attempts + 1, sent_at=now, updated_at=now))
    return claimed.rowcount == 1


def record_answer(connection: Connection, target_id: int, sent_action: str | None, refusal: str | None,
                  unsent: bool, now: datetime, max_attempts: int | None = None) -> str | None:
    """The charger's answer to the update: refused (failed), not delivered (pending again: it is sent again when
    the charger is back; after ``max_attempts`` unanswered sends it has failed), or taken (it stays where its
    progress reports have moved it). Returns the failure reason, if it failed."""
    t = firmware_targets
    connection.execute(update(t).where(t.c.id == target_id).values(sent_action=sent_action))
    if refusal is None and unsent and max_attempts is not None:
        attempts = connection.execute(select(t.c.attempts).where(t.c.id == target_id)).scalar_one()
        if attempts >= max_attempts:
            refusal = "Unanswered"
    if refusal is not None or unsent:
        values: dict[str, Any] = ({"phase": Phase.FAILED.value, "reason": refusal} if refusal is not None
                                  else {"phase": Phase.PENDING.value})
        done = connection.execute(update(t).where(t.c.id == target_id, t.c.phase == Phase.SENT.value)
                                  .values(**values, updated_at=now))
        if done.rowcount != 1:
            return None
    return refusal


def _status_target(connection: Connection, charger_id: str, request_id: int | None) -> Any:
    t = firmware_targets
    query = select(t).where(t.c.charger_id == charger_id)
    if request_id is not None:
        query = query.where(t.c.id == request_id)
    else:  # 1.6 Core names no request: the charger's latest update under way
        query = query.where(t.c.phase.in_(_WAITING)).order_by(t.c.id.desc()).limit(1)
    return connection.execute(query).first()


def record_status(connection: Connection, charger_id: str, kind: str, status: str, request_id: int | None,
                  now: datetime) -> None:
    """Apply one progress report (firmware or log upload) and keep it."""
    target_id = None
    if kind in FIRMWARE_KINDS:
        target = _status_target(connection, charger_id, request_id)
        if target is not None:
            target_id = target.id
            phase = advance(Phase(target.phase), status)
            values: dict[str, Any] = {"last_status": status, "updated_at": now, "phase": phase.value}
            if phase is Phase.FAILED and target.phase != Phase.FAILED.value:
                values["reason"] = status
            connection.execute(update(firmware_targets).where(firmware_targets.c.id == target.id).values(**values))
    else:
        request = _log_request_for_status(connection, charger_id, kind, request_id)
        if request is not None:
            target_id = request.id
            connection.execute(update(log_requests).where(log_requests.c.id == request.id).values(
                last_status=status, state=log_state(request.state, status), updated_at=now))
    connection.execute(insert(firmware_status_events).values(
        charger_id=charger_id, kind=kind, status=status, request_id=request_id, target_id=target_id,
        received_at=now))


def record_boot(connection: Connection, charger_id: str, version: str | None,
                now: datetime) -> list[dict[str, Any]]:
    """A boot of a charger with an install under way: confirm it, or fail it (another version). Returns the
    targets it failed."""
    t, c = firmware_targets, firmware_campaigns
    rows = connection.execute(select(t.c.id, t.c.phase, t.c.campaign_id, c.c.expected_version)
                              .join(c, c.c.id == t.c.campaign_id)
                              .where(t.c.charger_id == charger_id, t.c.confirmed.is_(False),
                                     t.c.phase.in_([Phase.INSTALLING.value, Phase.INSTALLED.value]))).all()
    failed = []
    for row in rows:
        phase, reason = after_boot(Phase(row.phase), version, row.expected_version)
        values: dict[str, Any] = {"phase": phase.value, "booted_version": version, "updated_at": now,
                                  "confirmed": phase is Phase.INSTALLED}
        if reason is not None:
            values["reason"] = reason
            failed.append({"id": row.id, "campaign_id": row.campaign_id, "reason": reason})
        connection.execute(update(t).where(t.c.id == row.id).values(**values))
    return failed


def time_out(connection: Connection, now: datetime) -> list[dict[str, Any]]:
    """Fail the targets whose charger reported no progress within their campaign's timeout; returns them."""
    t, c = firmware_targets, firmware_campaigns
    rows = connection.execute(select(t.c.id, t.c.charger_id, t.c.campaign_id, t.c.phase, t.c.updated_at,
                                     c.c.timeout_seconds)
                              .join(c, c.c.id == t.c.campaign_id).where(t.c.phase.in_(_WAITING))).all()
    failed = []
    for row in rows:
        if now - row.updated_at < timedelta(seconds=row.timeout_seconds):
            continue
        done = connection.execute(update(t).where(t.c.id == row.id, t.c.phase == row.phase).values(
            phase=Phase.FAILED.value, reason=f"Timeout({row.phase})", updated_at=now))
        if done.rowcount == 1:
            failed.append({"id": row.id, "charger_id": row.charger_id, "campaign_id": row.campaign_id,
                           "reason": f"Timeout({row.phase})"})
    return failed


def active_chargers(connection: Connection) -> set[str]:
    """Chargers with an update not sent yet."""
    t = firmware_targets
    return set(connection.execute(select(t.c.charger_id).where(t.c.phase == Phase.PENDING.value).distinct())
               .scalars())


# ---------------------------------------------------------------- log requests and uploads


def create_log_request(connection: Connection, values: dict[str, Any], now: datetime) -> int:
    return int(connection.execute(insert(log_requests).values(**values, state="requested", requested_at=now,
                                                             updated_at=now).returning(log_requests.c.id)).scalar_one())


def record_log_answer(connection: Connection, request_id: int, state: str, sent_action: str | None,
                      file_name: str | None, now: datetime) -> None:
    r = log_requests
    connection.execute(update(r).where(r.c.id == request_id, r.c.state == "requested").values(
        state=state, sent_action=sent_action, file_name=file_name, updated_at=now))


def _log_request_for_status(connection: Connection, charger_id: str, kind: str, request_id: int | None) -> Any:
    r = log_requests
    query = select(r).where(r.c.charger_id == charger_id)
    if request_id is not None:
        query = query.where(r.c.id == request_id)
    else:  # DiagnosticsStatusNotification names no request: the latest GetDiagnostics
        query = query.where(r.c.sent_action == "GetDiagnostics").order_by(r.c.id.desc()).limit(1)
    return connection.execute(query).first()


def log_request_by_token(connection: Connection, token_sha256: str) -> dict[str, Any] | None:
    row = connection.execute(select(log_requests).where(log_requests.c.token_sha256 == token_sha256)).first()
    return None if row is None else dict(row._mapping)


def add_upload(connection: Connection, request: dict[str, Any], file_name: str, content_type: str | None,
               content: bytes, sha256: str, now: datetime) -> int:
    upload_id = connection.execute(insert(log_uploads).values(
        request_id=request["id"], charger_id=request["charger_id"], file_name=file_name, content_type=content_type,
        size=len(content), sha256=sha256, content=content, received_at=now).returning(log_uploads.c.id)).scalar_one()
    connection.execute(update(log_requests).where(log_requests.c.id == request["id"]).values(
        state="received", updated_at=now))
    return int(upload_id)


_UPLOAD_FIELDS = [log_uploads.c[name] for name in ("id", "request_id", "charger_id", "file_name", "content_type",
                                                     "size", "sha256", "received_at")]


def charger_logs(connection: Connection, charger_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """A charger's log requests (newest first), each with the files received for it (never the token)."""
    r = log_requests
    requests = [{k: v for k, v in r_._mapping.items() if k != "token_sha256"} for r_ in connection.execute(
        select(r).where(r.c.charger_id == charger_id).order_by(r.c.id.desc()).limit(limit))]
    ids = [request["id"] for request in requests]
    files: dict[int, list[dict[str, Any]]] = {}
    if ids:
        for row in connection.execute(select(*_UPLOAD_FIELDS).where(log_uploads.c.request_id.in_(ids))
                                      .order_by(log_uploads.c.id)):
            files.setdefault(row.request_id, []).append(dict(row._mapping))
    return [{**request, "uploads": files.get(request["id"], [])} for request in requests]


def upload(connection: Connection, upload_id: int) -> dict[str, Any] | None:
    row = connection.execute(select(log_uploads).where(log_uploads.c.id == upload_id)).first()
    return None if row is None else dict(row._mapping)


def upload_count(connection: Connection, request_id: int) -> int:
    return int(connection.execute(select(func.count()).select_from(log_uploads)
                                  .where(log_uploads.c.request_id == request_id)).scalar_one())
