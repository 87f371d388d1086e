"""Reservation rules and their rendering, as plain values: the request checks, what an answer makes of a
reservation, ReserveNow in each version's words, and a 2.0.1 station's ReservationStatusUpdate as a neutral change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chargewatch.domain.model import ChargerState, ReservationStatusReported
from chargewatch.domain.reservations import (
    ReservationError,
    ReservationRequest,
    ReservationStatus,
    after_reserve_answer,
    check_request,
    reserve_now_command,
    tag_matches,
)
from chargewatch.ocpp.adapter import CallRejected, Environment
from chargewatch.ocpp.v16 import ADAPTER as V16
from chargewatch.ocpp.v201 import ADAPTER as V201

NOW = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)


def _request(**changes: object) -> ReservationRequest:
    fields: dict[str, object] = {"charger_id": "CP-1", "connector_id": 1, "id_tag": "TAG-1",
                                 "expires_at": NOW + timedelta(minutes=30)}
    fields.update(changes)
    return ReservationRequest(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(("changes", "field"), [
    ({"expires_at": NOW}, "expiry"),
    ({"expires_at": NOW - timedelta(seconds=1)}, "expiry"),
    ({"connector_id": 3}, "connector_id"),
    ({"connector_id": -1}, "connector_id"),
    ({"id_tag": " "}, "id_tag"),
    ({"id_tag": "T" * 21}, "id_tag"),
    ({"parent_id_tag": "P" * 21}, "parent_id_tag"),
])
def test_a_request_the_charger_cannot_take_names_the_field(changes: dict[str, object], field: str):
    with pytest.raises(ReservationError) as refused:
        check_request(_request(**changes), NOW, [1, 2])
    assert refused.value.field == field and refused.value.status == 422


def test_any_connector_and_unknown_topologies_are_accepted():
    check_request(_request(connector_id=0), NOW, [1, 2])
    check_request(_request(connector_id=7), NOW, [])  # nothing reported yet: the charger decides
    check_request(_request(id_tag="T" * 36), NOW, [1], id_tag_length=36)


@pytest.mark.parametrize(("answer", "expected"), [
    ("Accepted", (ReservationStatus.ACCEPTED, None)),
    ("Occupied", (ReservationStatus.REJECTED, "Occupied")),
    ("Faulted", (ReservationStatus.REJECTED, "Faulted")),
    ("Unavailable", (ReservationStatus.REJECTED, "Unavailable")),
    ("Rejected", (ReservationStatus.REJECTED, "Rejected")),
])
def test_the_answer_decides_the_status(answer: str, expected: tuple[ReservationStatus, str | None]):
    assert after_reserve_answer(answer) == expected


def test_tags_match_case_insensitively_or_by_group():
    assert tag_matches("ABC", None, "abc", None)
    assert tag_matches("ABC", "GROUP", "XYZ", "group")
    assert not tag_matches("ABC", None, "XYZ", "GROUP")


def test_reserve_now_is_one_intent_rendered_for_each_version():
    action, payload = reserve_now_command(42, _request(connector_id=0, parent_id_tag="GROUP"))
    state = ChargerState("CP-1")
    v16 = V16.render(action, payload, state)
    assert (v16.action, v16.payload) == ("ReserveNow", {"connectorId": 0, "expiryDate": "2026-12-02T17:30:00.000Z",
                                                        "idTag": "TAG-1", "reservationId": 42,
                                                        "parentIdTag": "GROUP"})
    v201 = V201.render(action, payload, state)
    assert (v201.action, v201.mapped_from) == ("ReserveNow", "ReserveNow")
    assert v201.payload == {"id": 42, "expiryDateTime": "2026-12-02T17:30:00.000Z",  # any EVSE: no evseId
                            "idToken": {"idToken": "TAG-1", "type": "Central"},
                            "groupIdToken": {"idToken": "GROUP", "type": "Central"}}
    _, on_evse = reserve_now_command(43, _request(connector_id=2))
    assert V201.render("ReserveNow", on_evse, state).payload["evseId"] == 2
    for adapter in (V16, V201):
        assert adapter.render("CancelReservation", {"reservationId": 42}, state).payload == {"reservationId": 42}


def _env() -> Environment:
    return Environment(now=NOW, id_tag_info=lambda tag: {"status": "Accepted"}, allocate_transaction_id=lambda: 1)


def test_a_station_ending_a_reservation_is_a_neutral_change():
    outcome = V201.handle("ReservationStatusUpdate", {"reservationId": 42, "reservationUpdateStatus": "Removed"},
                          ChargerState("CP-1"), _env())
    assert outcome.reply == {}
    assert outcome.changes == [ReservationStatusReported(42, "cancelled", "Removed", NOW)]
    with pytest.raises(CallRejected) as refused:
        V201.handle("ReservationStatusUpdate", {"reservationId": 42, "reservationUpdateStatus": "Gone"},
                    ChargerState("CP-1"), _env())
    assert (refused.value.error_code, refused.value.details) == ("PropertyConstraintViolation",
                                                                 {"field": "reservationUpdateStatus"})
