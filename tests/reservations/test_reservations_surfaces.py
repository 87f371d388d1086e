"""The other ways in: `chargewatch reservations add/list/cancel` against a running server, the charger page (its
Reserved connector, the reservations list, the reserve form), and a replay of the raw log that changes nothing."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime

import httpx

from chargewatch.api.auth import SESSION_COOKIE, put_operator
from chargewatch.cli import main
from chargewatch.gateway.replay import replay
from faults_live.live import eventually
from helpers import http_url, ocpp_url
from reservations.peer import ReservingCharger


async def _charger(server, charger_id: str, version: str) -> ReservingCharger:  # type: ignore[no-untyped-def]
    cp = ReservingCharger(ocpp_url(server), charger_id, version)
    await cp.connect()
    await cp.boot(connectors=2)
    return cp


def _cli(capsys, *argv: str) -> tuple[int, object]:  # type: ignore[no-untyped-def]
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)


async def test_the_cli_reserves_lists_and_cancels(server, capsys):
    cp = await _charger(server, "RES-CLI", "ocpp1.6")
    api = ["--api", http_url(server)]
    code, made = await asyncio.to_thread(_cli, capsys, "reservations", "add", "RES-CLI", "--connector", "2",
                                         "--id-tag", "CLI-TAG", "--minutes", "15", *api)
    assert code == 0 and made["status"] == "accepted" and made["connector_id"] == 2  # type: ignore[index]
    code, listed = await asyncio.to_thread(_cli, capsys, "reservations", "list", "--charger", "RES-CLI", "--active",
                                           *api)
    assert code == 0 and [r["id"] for r in listed["items"]] == [made["id"]]  # type: ignore[index]
    code, cancelled = await asyncio.to_thread(_cli, capsys, "reservations", "cancel", str(made["id"]),  # type: ignore[index]
                                              *api)
    assert code == 0 and cancelled["status"] == "cancelled"  # type: ignore[index]
    code, refused = await asyncio.to_thread(_cli, capsys, "reservations", "add", "RES-CLI", "--id-tag", "CLI-TAG",
                                            "--expiry", "2020-01-01T00:00:00Z", *api)
    assert code == 1 and refused["status"] == 422 and refused["errors"][0]["field"] == "expiry"  # type: ignore[index]
    cp.reserve_answer = "Occupied"
    code, occupied = await asyncio.to_thread(_cli, capsys, "reservations", "add", "RES-CLI", "--id-tag", "CLI-TAG",
                                             *api)
    assert code == 1 and occupied["rejection"] == "Occupied"  # type: ignore[index]
    await cp.close()


async def test_the_charger_page_shows_the_reserved_connector_and_reserves_from_its_form(server, ocpp_version):
    cp = await _charger(server, "RES-WEB", ocpp_version)
    with server.engine.begin() as connection:
        operator = put_operator(connection, "dana", "dana-long-password", "admin", datetime.now(UTC))
    cookie, session = server.app.state.operator_auth.open_session(operator)
    async with httpx.AsyncClient(base_url=http_url(server), timeout=20, cookies={SESSION_COOKIE: cookie},
                                 follow_redirects=False) as web:
        posted = await web.post("/stations/RES-WEB/reservations", data={
            "connector_id": "1", "id_tag": "WEB-TAG", "minutes": "20", "csrf_token": session.csrf_token})
        assert posted.status_code == 303, posted.text
        reservation_id = int(re.search(r"reservation=(\d+)", posted.headers["location"]).group(1))  # type: ignore[union-attr]

        async def reserved_page() -> str:
            page = (await web.get("/stations/RES-WEB")).text
            return page if '<span class="chip Reserved">Reserved</span>' in page else ""

        page = await eventually(reserved_page)
        section = page[page.index('id="station-reservations"'):]
        assert f'<tr data-reservation="{reservation_id}">' in section and "WEB-TAG" in section
        assert '<span class="chip accepted">accepted</span>' in section
        assert f'data-api="POST /api/v1/reservations/{reservation_id}/cancel"' in section

        bad = await web.post("/stations/RES-WEB/reservations", data={
            "connector_id": "9", "id_tag": "WEB-TAG", "minutes": "20", "csrf_token": session.csrf_token})
        assert bad.status_code == 303 and "reservation_error=" in bad.headers["location"]
        shown = (await web.get(bad.headers["location"].split("#")[0])).text
        assert "Not reserved: connector_id: charger RES-WEB has no connector 9" in shown
        forged = await web.post("/stations/RES-WEB/reservations", data={"id_tag": "X", "csrf_token": "forged"})
        assert forged.status_code == 403
    await cp.close()


async def test_starts_on_reserved_connectors_are_settled_in_the_commit_and_a_replay_changes_nothing(
        server, ocpp_version):
    cp = await _charger(server, "RES-RPL", ocpp_version)
    async with httpx.AsyncClient(base_url=http_url(server), timeout=20) as http:
        async def reserve(connector: int) -> int:
            made = await http.post("/api/v1/reservations", json={
                "charger_id": "RES-RPL", "connector_id": connector, "id_tag": "RPL-TAG",
                "expiry": "2099-01-01T00:00:00Z"})
            return int(made.json()["id"])

        async def reservation(reservation_id: int) -> dict:  # type: ignore[type-arg]
            return dict((await http.get(f"/api/v1/reservations/{reservation_id}")).json())

        used, held = await reserve(1), await reserve(2)
        session_id = await cp.start_reserved(1, "RPL-TAG", used)
        # Another tag starts on the reserved connector 2 (the charger should have refused): seen, not used.
        intruder = await cp.start_reserved(2, "OTHER-TAG", None)
        seen = await reservation(held)
        assert seen["status"] == "accepted"
        assert [(s["transaction_id"], s["id_tag"]) for s in seen["other_starts"]] == [(intruder, "OTHER-TAG")]
        # The reserving tag starts without naming its any-connector reservation (a firmware that forgets
        # reservationId): the one it fits is used.
        anywhere = await reserve(0)
        await cp.stop(session_id, id_tag="RPL-TAG")
        own = await cp.start_reserved(1, "rpl-tag", None)
        matched = await reservation(anywhere)
        assert (matched["status"], matched["transaction_id"]) == ("used", own)
        assert "matched by id tag" in matched["answers"][-1]["how"]
        if ocpp_version == "ocpp2.0.1":
            removed = await reserve(0)
            await cp.report_reservation(removed, "Removed")
        before = (await http.get("/api/v1/reservations", params={"charger_id": "RES-RPL"})).json()["items"]
        await asyncio.to_thread(replay, server.engine)
        await asyncio.to_thread(replay, server.engine)
        after = (await http.get("/api/v1/reservations", params={"charger_id": "RES-RPL"})).json()["items"]
    assert [(r["status"], r["transaction_id"], len(r["answers"]), len(r["other_starts"])) for r in after] == [
        (r["status"], r["transaction_id"], len(r["answers"]), len(r["other_starts"])) for r in before]
    assert {r["id"]: (r["status"], r["transaction_id"]) for r in after}[used] == ("used", session_id)
    assert {r["id"]: len(r["other_starts"]) for r in after}[held] == 1
    await cp.close()
