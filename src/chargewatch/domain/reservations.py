"""Reservations in neutral words: what an operator (or later an OCPI eMSP's RESERVE_NOW) asks of a charger, the
rules a request must meet, and what the charger's answers make of it. No I/O, no clock: ``now`` is passed in.

A reservation holds one connector (0: any connector of the charger; OCPP 1.6 "connector 0", OCPP 2.0.1 a
ReserveNow without ``evseId``) for one id tag (or its parent/group) until it expires. Its id is the OCPP
``reservationId`` (allocated by the store). The command is said once, in the 1.6 words the command path speaks
(:func:`reserve_now_command`); each version's adapter renders it (2.0.1: ReserveNow ``id``/``expiryDateTime``/
``idToken``/``evseId``/``groupIdToken``). Its life::

    requested ─Accepted→ accepted ─start naming it→ used
        │                    ├─CancelReservation→ cancelled  (also: the station reports Removed)
        │                    └─expiry passes────→ expired    (also: the station reports Expired)
        └─Faulted/Occupied/Rejected/Unavailable, or not sent→ rejected
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..timeutil import format_timestamp


class ReservationStatus(StrEnum):
    REQUESTED = "requested"  # sent; no answer yet (or none came: the charger may hold it)
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # the charger refused it (``rejection`` says how) or it could not be sent
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    USED = "used"  # a session started with it


# A reservation that may still hold its connector.
ACTIVE = frozenset({ReservationStatus.REQUESTED, ReservationStatus.ACCEPTED})
# The ReserveNow answers other than Accepted (1.6 ReservationStatus, 2.0.1 ReserveNowStatusEnumType: the same).
CHARGER_REJECTIONS = ("Faulted", "Occupied", "Rejected", "Unavailable")
# What a 2.0.1 ReservationStatusUpdate reports → the reservation's status.
REPORTED_STATUS = {"Expired": ReservationStatus.EXPIRED, "Removed": ReservationStatus.CANCELLED}
# The id tag lengths the versions carry (1.6 IdToken CiString20; 2.0.1 IdTokenType.idToken 36).
ID_TAG_LENGTH = {"ocpp1.6": 20, "ocpp2.0.1": 36}
INT32_MAX = 2**31 - 1


class ReservationError(ValueError):
    """A request that cannot be honoured; ``status`` is the HTTP status it is answered with."""

    status = 422

    def __init__(self, field: str | None, reason: str):
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


class UnknownCharger(ReservationError):
    status = 404


class UnknownReservation(ReservationError):
    status = 404


class NotActive(ReservationError):
    """The reservation is over (or the charger cannot be reached to end it)."""

    status = 409


@dataclass(frozen=True)
class ReservationRequest:
    charger_id: str
    connector_id: int  # 0: any connector of the charger
    id_tag: str
    expires_at: datetime
    parent_id_tag: str | None = None  # 1.6 parentIdTag, 2.0.1 groupIdToken: any tag of the group may use it
    requested_by: str | None = None  # an operator's name, "cli", "ocpi:<party>", ...
    # The requester's own id for it (OCPI ReserveNow.reservation_id): asking again with the same id (and requester)
    # replaces the reservation while it holds the connector, as OCPP ReserveNow with a known reservationId does.
    external_id: str | None = None


def check_request(request: ReservationRequest, now: datetime, connectors: Collection[int], *,
                  id_tag_length: int = 20) -> None:
    """Raise :class:`ReservationError` naming the field unless the charger could be asked for this reservation.

    ``connectors``: the connector numbers the charger has reported (empty: none yet, any number is taken)."""
    if request.expires_at.tzinfo is None:
        raise ReservationError("expiry", "needs a time zone offset")
    if request.expires_at <= now:
        raise ReservationError("expiry", f"must be in the future (now is {format_timestamp(now)})")
    if not 0 <= request.connector_id <= INT32_MAX:
        raise ReservationError("connector_id", "must be 0 (any connector) or a connector number")
    known = sorted(c for c in connectors if c > 0)
    if request.connector_id and known and request.connector_id not in known:
        raise ReservationError("connector_id", f"charger {request.charger_id} has no connector {request.connector_id}"
                                               f" (it has {', '.join(map(str, known))}; 0 reserves any)")
    if request.external_id is not None and not 1 <= len(request.external_id) <= 64:
        raise ReservationError("external_id", "1 to 64 characters")
    for field, tag in (("id_tag", request.id_tag), ("parent_id_tag", request.parent_id_tag)):
        if tag is None:
            continue
        if not tag.strip():
            raise ReservationError(field, "must not be empty")
        if len(tag) > id_tag_length:
            raise ReservationError(field, f"at most {id_tag_length} characters for this charger")


def reserve_now_command(reservation_id: int, request: ReservationRequest) -> tuple[str, dict[str, Any]]:
    """The ReserveNow command in the command path's (1.6) words; the charger's adapter renders it."""
    payload: dict[str, Any] = {"connectorId": request.connector_id, "expiryDate": format_timestamp(request.expires_at),
                               "idTag": request.id_tag, "reservationId": reservation_id}
    if request.parent_id_tag:
        payload["parentIdTag"] = request.parent_id_tag
    return "ReserveNow", payload


def cancel_command(reservation_id: int) -> tuple[str, dict[str, Any]]:
    """CancelReservation: the same payload in 1.6 and 2.0.1."""
    return "CancelReservation", {"reservationId": reservation_id}


def after_reserve_answer(answer: str) -> tuple[ReservationStatus, str | None]:
    """The status (and rejection) a ReserveNow answer gives the reservation."""
    if answer == "Accepted":
        return ReservationStatus.ACCEPTED, None
    return ReservationStatus.REJECTED, answer if answer in CHARGER_REJECTIONS else f"Rejected ({answer})"


def tag_matches(reservation_tag: str, reservation_parent: str | None, id_tag: str, parent: str | None) -> bool:
    """Whether a start by ``id_tag`` (with ``parent``) may use the reservation: the same tag, or the same group
    (id tags compare case-insensitively: 1.6 IdToken is a CiString)."""
    if id_tag.casefold() == reservation_tag.casefold():
        return True
    return bool(reservation_parent and parent and reservation_parent.casefold() == parent.casefold())
