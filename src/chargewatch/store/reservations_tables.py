"""Tables of reservations (their own migration branch, ``reservations``): one row per reservation an operator (or a
roaming partner) asked a charger for, with every answer the charger gave and what became of it.

``id`` is the OCPP ``reservationId`` the charger is told (an integer both versions carry); a session that used the
reservation is ``transaction_id`` (and names it in ``sessions.reservation_id``, as the charger said it).
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, String
from sqlalchemy import Table as _Table

from .schema import metadata
from .types import UtcDateTime

reservations = _Table(
    "reservations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # the OCPP reservationId (32-bit)
    Column("charger_id", String(64), ForeignKey("chargers.id", ondelete="CASCADE"), nullable=False),
    Column("connector_id", Integer, nullable=False),  # 0: any connector (2.0.1: no evseId)
    Column("id_tag", String(36), nullable=False),
    Column("parent_id_tag", String(36)),  # 1.6 parentIdTag, 2.0.1 groupIdToken
    Column("expires_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),  # requested | accepted | rejected | cancelled | expired | used
    # How it was refused: the charger's answer (Faulted, Occupied, Rejected, Unavailable), or Offline / Invalid / an
    # error code when the charger never took it.
    Column("rejection", String(64)),
    Column("requested_by", String(64)),
    # The requester's own id for it (an OCPI eMSP's reservation_id): a new request with the same one replaces it.
    Column("external_id", String(64)),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("answered_at", UtcDateTime),
    Column("ended_at", UtcDateTime),
    Column("ended_by", String(16)),  # operator | charger | expiry | session
    Column("transaction_id", BigInteger),  # the session that used it
    # Every exchange about it, in order: our calls with the charger's answers, the charger's own reports.
    Column("answers", JSON, nullable=False, default=list),
    # Sessions started by another id tag on the reserved connector while it was held (the charger should refuse).
    Column("other_starts", JSON, nullable=False, default=list),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "charger_id", "status"),
    Index(None, "status", "expires_at"),
    Index(None, "requested_by", "external_id"),
)
