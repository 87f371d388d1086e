"""A charger that takes reservations, built on the `ocpp` library charge point (peers/chargers.py) of either version.

It answers ReserveNow and CancelReservation as a real charger does: with the answer the test sets (Accepted,
Occupied, Faulted, Unavailable, Rejected), and after accepting a reservation of one connector it reports that
connector Reserved (1.6 StatusNotification Reserved; 2.0.1 StatusNotification connectorStatus Reserved), after a
cancellation Available again. A start can name the reservation (1.6 StartTransaction.reservationId; 2.0.1
TransactionEvent Started reservationId), and a 2.0.1 station can report a reservation it ended itself
(ReservationStatusUpdate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from peers.chargers import LibraryCharger


@dataclass
class ReservingCharger(LibraryCharger):
    reserve_answer: str = "Accepted"
    cancel_answer: str = "Accepted"
    held: dict[int, int] = field(default_factory=dict)  # reservation id → connector (0: any) the charger holds

    async def connect(self) -> None:
        await super().connect()
        for action, answer, after in (("ReserveNow", self._reserve, self._after_reserve),
                                      ("CancelReservation", self._cancel, self._after_cancel)):
            self._cp.route_map[action] = {"_on_action": self._answering(action, answer),
                                          "_skip_schema_validation": False, "_after_action": after}

    def _answering(self, action: str, answer: Any) -> Any:
        result = getattr(result201 if self.v201 else result16, action)
        return lambda **payload: result(status=answer(payload))

    def _reserve(self, payload: dict[str, Any]) -> str:
        return self.reserve_answer

    def _cancel(self, payload: dict[str, Any]) -> str:
        return self.cancel_answer if payload["reservation_id"] in self.held else "Rejected"

    async def _after_reserve(self, **payload: Any) -> None:
        if self.reserve_answer != "Accepted":
            return
        reservation_id = payload["id"] if self.v201 else payload["reservation_id"]
        connector = (payload.get("evse_id") or 0) if self.v201 else payload["connector_id"]
        self.held[reservation_id] = connector
        if connector:
            await self.status(connector, "Reserved")

    async def _after_cancel(self, **payload: Any) -> None:
        connector = self.held.pop(payload["reservation_id"], None) if self.cancel_answer == "Accepted" else None
        if connector:
            await self.status(connector, "Available")

    async def start_reserved(self, connector: int, id_tag: str, reservation_id: int | None, *,
                             at: datetime | None = None) -> int:
        """Plug in on a reserved connector and start, naming the reservation (None: naming none); the session id."""
        self.held.pop(reservation_id or -1, None)
        await self.status(connector, "Preparing", at=at)
        if self.v201:
            reference = f"{self.charger_id}-{len(self.references) + 1:04d}"
            extra = {"reservation_id": reservation_id} if reservation_id is not None else {}
            reply = await self._event("Started", None, reference, "Authorized", at, charging_state="Charging",
                                      id_token={"id_token": id_tag, "type": "ISO14443"},
                                      evse={"id": connector, "connector_id": 1},
                                      meter_value=[self._register(at, "Transaction.Begin")], **extra)
            session_id = int(reply.custom_data["session_id"])
            self.references[session_id] = reference
            self._seq[session_id] = 0
        else:
            reply = await self.send(call16.StartTransaction(
                connector_id=connector, id_tag=id_tag, meter_start=self.register_wh, timestamp=self._now(at),
                reservation_id=reservation_id))
            session_id = int(reply.transaction_id)
        await self.status(connector, "Charging", at=at)
        return session_id

    async def report_reservation(self, reservation_id: int, status: str) -> None:
        """2.0.1 ReservationStatusUpdate (Expired | Removed): the station ended the reservation itself."""
        assert self.v201, "1.6 has no such message"
        self.held.pop(reservation_id, None)
        await self.send(call201.ReservationStatusUpdate(reservation_id=reservation_id,
                                                        reservation_update_status=status))
