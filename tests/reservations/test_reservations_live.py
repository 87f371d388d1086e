"""Reservations against a running server, with the `ocpp` library charge point of either version answering like a
real charger (tests/reservations/peer.py), on SQLite and PostgreSQL: reserve → Reserved → a start naming it uses
it; cancellation; expiry; the charger's refusals recorded; a start by another tag on a reserved connector seen;
bad requests refused in the API's one problem shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from chargewatch.domain import events
from chargewatch.runtime import Chargewatch
from faults_live.live import eventually
from helpers import http_url, ocpp_url
from reservations.peer import ReservingCharger

TAG = "RES-TAG-1"


def _in(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def _received(cp: ReservingCharger, action: str) -> list[dict[str, Any]]:
    return [payload for sent, payload in cp.received if sent == action]


class Recorder:
    """The reservation events the server published, in order."""

    def __init__(self, app: Chargewatch):
        self.seen: list[events.ReservationEvent] = []
        app.bus.listen(lambda event: self.seen.append(event) if isinstance(event, events.ReservationEvent) else None)

    def of(self, kind: type[events.ReservationEvent]) -> list[Any]:
        return [event for event in self.seen if isinstance(event, kind)]


async def _charger(server: Chargewatch, charger_id: str, version: str, connectors: int = 2) -> ReservingCharger:
    cp = ReservingCharger(ocpp_url(server), charger_id, version)
    await cp.connect()
    await cp.boot(connectors=connectors)
    return cp


async def _reserve(http: httpx.AsyncClient, charger_id: str, connector: int = 1, minutes: float = 10,
                   **extra: Any) -> httpx.Response:
    return await http.post("/api/v1/reservations", json={"charger_id": charger_id, "connector_id": connector,
                                                          "id_tag": TAG, "expiry": _in(minutes), **extra})


async def _status(http: httpx.AsyncClient, charger_id: str, connector: int) -> str | None:
    rows = (await http.get("/api/v1/connectors", params={"charger_id": charger_id})).json()["items"]
    return next((row["status"] for row in rows if row["connector_id"] == connector), None)


def _problem(response: httpx.Response, status: int, field: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert set(body) == {"status", "title", "detail", "errors"} and body["status"] == status
    assert [e["field"] for e in body["errors"]] == ([field] if field else [])
    return dict(body)


async def test_a_reservation_is_accepted_shown_reserved_and_used_by_the_start_naming_it(server, ocpp_version):
    recorder = Recorder(server)
    cp = await _charger(server, "RES-1", ocpp_version)
    async with httpx.AsyncClient(base_url=http_url(server), timeout=20) as http:
        registered = await http.put(f"/api/v1/id-tags/{TAG}", json={"id_tag": TAG, "status": "Accepted",
                                                                    "parent_id_tag": "RES-GROUP"})
        assert registered.status_code == 200, registered.text
        response = await _reserve(http, "RES-1", parent_id_tag="RES-GROUP")
        assert response.status_code == 201, response.text
        reservation = response.json()
        assert (reservation["status"], reservation["rejection"], reservation["connector_id"]) == ("accepted", None, 1)
        # The charger got ReserveNow in its version's words, with the id we allocated.
        [sent] = _received(cp, "ReserveNow")
        if ocpp_version == "ocpp1.6":
            assert sent == {"connectorId": 1, "expiryDate": sent["expiryDate"], "idTag": TAG,
                            "reservationId": reservation["id"], "parentIdTag": "RES-GROUP"}
        else:
            assert sent == {"id": reservation["id"], "expiryDateTime": sent["expiryDateTime"], "evseId": 1,
                            "idToken": {"idToken": TAG, "type": "Central"},
                            "groupIdToken": {"idToken": "RES-GROUP", "type": "Central"}}
        assert [(a["sent_action"], a["status"]) for a in reservation["answers"]] == [("ReserveNow", "Accepted")]

        # The charger reports the connector Reserved: a status like any other, no incident.
        assert await eventually(lambda: _is(_status(http, "RES-1", 1), "Reserved"))
        incidents = (await http.get("/api/v1/incidents", params={"charger_id": "RES-1", "status": "active"})).json()
        assert incidents["items"] == []

        # The driver starts naming the reservation: it is used, linked both ways.
        session_id = await cp.start_reserved(1, TAG, reservation["id"])
        used = (await http.get(f"/api/v1/reservations/{reservation['id']}")).json()
        assert (used["status"], used["transaction_id"], used["ended_by"]) == ("used", session_id, "session")
        session = (await http.get(f"/api/v1/sessions/{session_id}")).json()
        assert session["reservation_id"] == reservation["id"]
        assert (await http.get("/api/v1/reservations", params={"charger_id": "RES-1", "active": "true"})).json()[
            "items"] == []
        # Available → Reserved → Preparing → Charging is the spec's path: still no incident.
        after = (await http.get("/api/v1/incidents", params={"charger_id": "RES-1", "status": "active"})).json()
        assert after["items"] == []
    answered = recorder.of(events.ReservationAnswered)
    assert [(e.reservation_id, e.status) for e in answered] == [(reservation["id"], "accepted")]
    assert [(e.reservation_id, e.transaction_id) for e in recorder.of(events.ReservationUsed)] == [
        (reservation["id"], session_id)]
    assert answered[0].to_json()["status"] == "accepted" and answered[0].kind == "reservation.answered"
    await cp.close()


async def _is(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def test_a_reservation_ends_cancelled_by_the_operator_or_expired_once(server, ocpp_version):
    recorder = Recorder(server)
    cp = await _charger(server, "RES-2", ocpp_version)
    async with httpx.AsyncClient(base_url=http_url(server), timeout=20) as http:
        reservation = (await _reserve(http, "RES-2", connector=2, external_id="EMSP-R1")).json()
        # Asked again under the requester's own id (OCPI reservation_id): the same reservation, replaced at the
        # charger by ReserveNow with the same reservationId.
        replaced = (await _reserve(http, "RES-2", connector=2, minutes=20, external_id="EMSP-R1")).json()
        assert (replaced["id"], replaced["status"], replaced["external_id"]) == (reservation["id"], "accepted",
                                                                                 "EMSP-R1")
        assert datetime.fromisoformat(replaced["expires_at"]) > datetime.fromisoformat(reservation["expires_at"])
        key = "id" if ocpp_version == "ocpp2.0.1" else "reservationId"
        assert [p[key] for p in _received(cp, "ReserveNow")] == [reservation["id"]] * 2
        assert await eventually(lambda: _is(_status(http, "RES-2", 2), "Reserved"))
        response = await http.post(f"/api/v1/reservations/{reservation['id']}/cancel")
        assert response.status_code == 200, response.text
        cancelled = response.json()
        assert (cancelled["status"], cancelled["ended_by"]) == ("cancelled", "operator")
        assert _received(cp, "CancelReservation") == [{"reservationId": reservation["id"]}]
        assert [(a["action"], a.get("status")) for a in cancelled["answers"]] == [
            ("ReserveNow", "Accepted"), ("ReserveNow", "Accepted"), ("CancelReservation", "Accepted")]
        assert await eventually(lambda: _is(_status(http, "RES-2", 2), "Available"))
        again = await http.post(f"/api/v1/reservations/{reservation['id']}/cancel")
        assert "cancelled" in _problem(again, 409, "reservation_id")["detail"]
        _problem(await http.post("/api/v1/reservations/999999/cancel"), 404, "reservation_id")

        # One that runs out: expired once, by the sweep or by the next read, whichever comes first.
        short = (await _reserve(http, "RES-2", minutes=1.5 / 60)).json()
        assert short["status"] == "accepted"

        async def expired() -> bool:
            found = (await http.get(f"/api/v1/reservations/{short['id']}")).json()
            return bool(found["status"] == "expired")

        assert await eventually(expired, timeout=10)
        found = (await http.get(f"/api/v1/reservations/{short['id']}")).json()
        assert (found["ended_by"], found["ended_at"]) == ("expiry", found["expires_at"])
        # Nothing left to cancel: the charger is not asked.
        _problem(await http.post(f"/api/v1/reservations/{short['id']}/cancel"), 409, "reservation_id")
        assert _received(cp, "CancelReservation") == [{"reservationId": reservation["id"]}]
    assert [(e.reservation_id, e.by) for e in recorder.of(events.ReservationCancelled)] == [
        (reservation["id"], "operator")]
    assert [(e.reservation_id, e.by) for e in recorder.of(events.ReservationExpired)] == [(short["id"], "expiry")]
    assert recorder.of(events.ReservationExpired)[0].to_json()["by"] == "expiry"
    await cp.close()



@pytest.mark.parametrize("ocpp_version", ["ocpp2.0.1"])
async def test_a_station_ends_reservations_itself_by_reservation_status_update(server, ocpp_version):
    recorder = Recorder(server)
    cp = await _charger(server, "RES-4", ocpp_version)
    async with httpx.AsyncClient(base_url=http_url(server), timeout=20) as http:
        first = (await _reserve(http, "RES-4", connector=1)).json()
        second = (await _reserve(http, "RES-4", connector=0)).json()
        assert _received(cp, "ReserveNow")[1].keys() == {"id", "expiryDateTime", "idToken"}  # any EVSE: no evseId
        await cp.report_reservation(first["id"], "Expired")
        await cp.report_reservation(second["id"], "Removed")
        ended = [(await http.get(f"/api/v1/reservations/{r['id']}")).json() for r in (first, second)]
        assert [(r["status"], r["ended_by"], r["answers"][-1]["status"]) for r in ended] == [
            ("expired", "charger", "Expired"), ("cancelled", "charger", "Removed")]
    assert [(type(e), e.reservation_id, e.by) for e in recorder.seen if not isinstance(e, events.ReservationAnswered)
            ] == [(events.ReservationExpired, first["id"], "charger"),
                  (events.ReservationCancelled, second["id"], "charger")]
    await cp.close()


async def _gone(server: Chargewatch, charger_id: str) -> bool:
    return charger_id not in server.gateway.links


async def test_bad_requests_are_problems_and_the_chargers_refusals_are_recorded(server, ocpp_version):
    cp = await _charger(server, "RES-7", ocpp_version, connectors=2)
    async with httpx.AsyncClient(base_url=http_url(server), timeout=20) as http:
        past = await _reserve(http, "RES-7", minutes=-5)
        assert "future" in _problem(past, 422, "expiry")["detail"]
        _problem(await _reserve(http, "NO-SUCH-CHARGER"), 404, "charger_id")
        assert "has no connector 3" in _problem(await _reserve(http, "RES-7", connector=3), 422, "connector_id")[
            "detail"]
        _problem(await _reserve(http, "RES-7", connector=-1), 422, "connector_id")
        naive = await http.post("/api/v1/reservations", json={"charger_id": "RES-7", "id_tag": TAG,
                                                              "expiry": "2030-01-01T10:00:00"})
        _problem(naive, 422, "expiry")
        long_tag = await http.post("/api/v1/reservations", json={"charger_id": "RES-7", "connector_id": 2,
                                                                 "id_tag": "T" * 21, "expiry": _in(10)})
        if ocpp_version == "ocpp1.6":
            assert "20 characters" in _problem(long_tag, 422, "id_tag")["detail"]
        else:  # 2.0.1 idToken holds 36
            assert long_tag.status_code == 201 and long_tag.json()["status"] == "accepted"
        _problem(await http.get("/api/v1/reservations/0"), 422, "reservation_id")
        _problem(await http.get("/api/v1/reservations/424242"), 404, None)
        stored = (await http.get("/api/v1/reservations", params={"charger_id": "RES-7"})).json()["items"]
        assert len(stored) == (0 if ocpp_version == "ocpp1.6" else 1)  # nothing refused was stored or sent
        assert len(_received(cp, "ReserveNow")) == len(stored)

        # Requests the charger refuses are stored with its answer; one it never got, as Offline.
        for answer in ("Occupied", "Faulted", "Unavailable", "Rejected"):
            cp.reserve_answer = answer
            response = await _reserve(http, "RES-7")
            assert response.status_code == 201, response.text
            refused = response.json()
            assert (refused["status"], refused["rejection"]) == ("rejected", answer)
            assert refused["answers"][-1]["response"] == {"status": answer}
        assert await _status(http, "RES-7", 1) == "Available"  # a refused reservation reserves nothing
        await cp.close()
        await eventually(lambda: _gone(server, "RES-7"))
        offline = (await _reserve(http, "RES-7")).json()
        assert (offline["status"], offline["rejection"]) == ("rejected", "Offline")
        listed = (await http.get("/api/v1/reservations", params={"charger_id": "RES-7", "status": "rejected"})).json()
        assert [r["rejection"] for r in listed["items"]] == [
            "Offline", "Rejected", "Unavailable", "Faulted", "Occupied"]


