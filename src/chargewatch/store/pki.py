"""Queries of charger certificates and signing requests (tables in ``pki_tables``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from ..pki.certificates import CertificateHash
from .pki_tables import certificate_requests, charger_certificates

c, r = charger_certificates, certificate_requests


def _hash_matches(h: CertificateHash) -> list[Any]:
    return [c.c.hash_algorithm == h.hash_algorithm, c.c.issuer_name_hash == h.issuer_name_hash,
            c.c.issuer_key_hash == h.issuer_key_hash, c.c.serial_number == h.serial_number]


def put_certificate(connection: Connection, charger_id: str, certificate_type: str, h: CertificateHash, *,
                    source: str, now: datetime, installed: bool = False, reported: bool = False,
                    subject: str | None = None, not_after: datetime | None = None,
                    certificate: str | None = None) -> int:
    """Record that the charger holds this certificate (again); returns the row id."""
    values: dict[str, Any] = {"certificate_type": certificate_type, "deleted_at": None, "updated_at": now}
    if installed:
        values["installed_at"] = now
    if reported:
        values["reported_at"] = now
    for name, value in (("subject", subject), ("not_after", not_after), ("certificate", certificate)):
        if value is not None:
            values[name] = value
    found = connection.execute(select(c.c.id, c.c.source).where(c.c.charger_id == charger_id,
                                                                *_hash_matches(h))).first()
    if found is not None:
        if source != "reported":  # what we installed or signed stays known as such when the charger lists it
            values["source"] = source
        connection.execute(update(c).where(c.c.id == found.id).values(**values))
        return int(found.id)
    row = {"charger_id": charger_id, "hash_algorithm": h.hash_algorithm, "issuer_name_hash": h.issuer_name_hash,
           "issuer_key_hash": h.issuer_key_hash, "serial_number": h.serial_number, "source": source, **values}
    return int(connection.execute(insert(c).values(**row).returning(c.c.id)).scalar_one())


def mark_deleted(connection: Connection, charger_id: str, h: CertificateHash, now: datetime) -> int:
    """The charger no longer holds this certificate; returns how many rows that changed."""
    result = connection.execute(update(c).where(c.c.charger_id == charger_id, c.c.deleted_at.is_(None),
                                                *_hash_matches(h)).values(deleted_at=now, updated_at=now))
    return int(result.rowcount or 0)


def reconcile(connection: Connection, charger_id: str, listing: dict[str, list[CertificateHash]],
              now: datetime) -> None:
    """A charger's list of installed certificates per type: listed ones are present, others of the type gone."""
    for certificate_type, hashes in listing.items():
        keep = set()
        for h in hashes:
            keep.add(put_certificate(connection, charger_id, certificate_type, h, source="reported", now=now,
                                     reported=True))
        gone = select(c.c.id).where(c.c.charger_id == charger_id, c.c.certificate_type == certificate_type,
                                    c.c.deleted_at.is_(None))
        stale = [row.id for row in connection.execute(gone) if row.id not in keep]
        if stale:
            connection.execute(update(c).where(c.c.id.in_(stale)).values(deleted_at=now, updated_at=now))


def certificates(connection: Connection, charger_id: str, include_deleted: bool = False) -> list[dict[str, Any]]:
    query = select(c).where(c.c.charger_id == charger_id)
    if not include_deleted:
        query = query.where(c.c.deleted_at.is_(None))
    rows = connection.execute(query.order_by(c.c.certificate_type, c.c.id)).all()
    return [dict(row._mapping) for row in rows]


def certificate(connection: Connection, charger_id: str, certificate_id: int) -> dict[str, Any] | None:
    row = connection.execute(select(c).where(c.c.charger_id == charger_id, c.c.id == certificate_id)).first()
    return dict(row._mapping) if row is not None else None


def add_request(connection: Connection, row: dict[str, Any]) -> tuple[int, bool]:
    """Record a signing request once per CALL (charger, message id): (its id, whether it is new)."""
    found = connection.execute(select(r.c.id).where(r.c.charger_id == row["charger_id"],
                                                    r.c.message_id == row["message_id"])).first()
    if found is not None:
        return int(found.id), False
    return int(connection.execute(insert(r).values(**row).returning(r.c.id)).scalar_one()), True


def update_request(connection: Connection, request_id: int, **values: Any) -> None:
    connection.execute(update(r).where(r.c.id == request_id).values(**values))


def requests(connection: Connection, charger_id: str, limit: int = 20) -> list[dict[str, Any]]:
    rows = connection.execute(select(r).where(r.c.charger_id == charger_id)
                              .order_by(r.c.received_at.desc(), r.c.id.desc()).limit(limit)).all()
    return [dict(row._mapping) for row in rows]


def hashes_of(rows: Iterable[dict[str, Any]]) -> list[CertificateHash]:
    return [CertificateHash(row["hash_algorithm"], row["issuer_name_hash"], row["issuer_key_hash"],
                            row["serial_number"]) for row in rows]
