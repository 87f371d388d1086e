"""The local authorization list over real WebSockets, for an OCPP 1.6 charger and a 2.0.1 station (the `ocpp`
library's charge points keeping the list they are sent, tests/locallist/peers.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from ocpp.v201 import call as call201
from sqlalchemy import delete

from chargewatch import cli
from chargewatch.runtime import Chargewatch
from chargewatch.store import registry, schema
from chargewatch.workers.local_list import LocalListSettings
from conftest import _pg_database, make_options
from faults_live.live import api, eventually
from helpers import ocpp_url
from locallist.peers import ListKeepingCharger

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                 ) -> AsyncIterator[Chargewatch]:
    """One chargewatch per engine for the module, comparing the id tags with the chargers' lists five times a
    second; each test has chargers of its own and starts from no id tags (``no_tags``)."""
    if request.param == "sqlite":
        databases: Iterator[str] = iter([f"sqlite:///{tmp_path_factory.mktemp('locallist')}/chargewatch.db"])
    else:
        databases = _pg_database(request.getfixturevalue("pg_admin"))
    app = Chargewatch(make_options(next(databases), accept_unknown=True, command_timeout=5.0))
    app.app.state.local_list.settings = LocalListSettings(interval=0.2, boot_delay=0.2, timeout=5.0)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()
        next(databases, None)


@pytest_asyncio.fixture(loop_scope="module")
async def no_tags(server: Chargewatch) -> Chargewatch:
    with server.engine.begin() as connection:
        connection.execute(delete(schema.id_tags))
    server.gateway.id_tags.refresh()
    return server


async def put_tag(app: Chargewatch, tag: str, status: str = "Accepted", **fields: Any) -> None:
    response = await api(app).put(f"/api/v1/id-tags/{tag}", json={"id_tag": tag, "status": status, **fields})
    assert response.status_code == 200, response.text


async def charger(app: Chargewatch, charger_id: str, version: str, **kwargs: Any) -> ListKeepingCharger:
    cp = ListKeepingCharger(ocpp_url(app), charger_id, version=version, **kwargs)
    await cp.connect()
    await cp.boot()
    return cp


async def push(app: Chargewatch, charger_id: str, full: bool = False) -> httpx.Response:
    return await api(app).post(f"/api/v1/chargers/{charger_id}/local-list/push", json={"full": full})


async def local_list(app: Chargewatch, charger_id: str) -> dict[str, Any]:
    response = await api(app).get(f"/api/v1/chargers/{charger_id}/local-list")
    assert response.status_code == 200, response.text
    return dict(response.json())


def statuses(cp: ListKeepingCharger) -> dict[str, str]:
    return {tag: info["status"] for tag, info in cp.cards.items()}


async def test_a_full_push_leaves_the_charger_holding_exactly_our_tags(no_tags, ocpp_version):
    server = no_tags
    await put_tag(server, "CARD-A", expiry_date="2030-01-01T00:00:00Z")
    await put_tag(server, "CARD-B", "Blocked")
    await put_tag(server, "FLEET-1")
    await put_tag(server, "CARD-C", parent_id_tag="FLEET-1")
    cp = await charger(server, f"LL-FULL-{ocpp_version}", ocpp_version)
    try:
        response = await push(server, f"LL-FULL-{ocpp_version}")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "Accepted"
        assert cp.list_updates() == [("Full", 1, 4)]
        assert statuses(cp) == {"CARD-A": "Accepted", "CARD-B": "Blocked", "FLEET-1": "Accepted",
                                "CARD-C": "Accepted"}
        if cp.v201:
            assert cp.cards["CARD-A"]["cacheExpiryDateTime"].startswith("2030-01-01T00:00:00")
            assert cp.cards["CARD-C"]["groupIdToken"] == {"idToken": "FLEET-1", "type": "Central"}
            assert {e["idToken"]["type"] for e in cp.updates[0]["localAuthorizationList"]} == {"ISO14443"}
        else:
            assert cp.cards["CARD-A"]["expiryDate"].startswith("2030-01-01T00:00:00")
            assert cp.cards["CARD-C"]["parentIdTag"] == "FLEET-1"
        state = await local_list(server, f"LL-FULL-{ocpp_version}")
        assert (state["holds_list"], state["in_sync"], state["version_sent"], state["version_confirmed"],
                state["entries_count"]) == (True, True, 1, 1, 4)
        version = (await api(server).post(f"/api/v1/chargers/LL-FULL-{ocpp_version}/local-list/version")).json()
        assert (version["version_reported"], version["matches"]) == (cp.list_version, True)
        assert (await push(server, f"LL-FULL-{ocpp_version}")).json()["status"] == "up_to_date"
        assert len(cp.updates) == 1, "a charger holding the list is not sent it again"
    finally:
        await cp.close()


async def test_adding_or_blocking_a_tag_sends_a_differential_with_the_next_version(no_tags, ocpp_version):
    server = no_tags
    for tag in ("CARD-A", "CARD-B", "CARD-C"):
        await put_tag(server, tag)
    cp = await charger(server, f"LL-DIFF-{ocpp_version}", ocpp_version)
    try:
        assert (await push(server, f"LL-DIFF-{ocpp_version}")).json()["status"] == "Accepted"
        await put_tag(server, "CARD-NEW")
        await eventually(lambda: asyncio.sleep(0, len(cp.updates) == 2))
        assert cp.list_updates()[1] == ("Differential", 2, 1)
        assert "CARD-NEW" in cp.cards
        await put_tag(server, "CARD-A", "Blocked")
        await eventually(lambda: asyncio.sleep(0, len(cp.updates) == 3))
        assert cp.list_updates()[2] == ("Differential", 3, 1)
        assert statuses(cp) == {"CARD-A": "Blocked", "CARD-B": "Accepted", "CARD-C": "Accepted",
                                "CARD-NEW": "Accepted"}
        state = await eventually(lambda: _in_sync(server, f"LL-DIFF-{ocpp_version}"))
        assert state["version_confirmed"] == cp.list_version == 3
        assert [u["reason"] for u in state["updates"]] == ["tags_changed", "tags_changed", "operator"]
    finally:
        await cp.close()


async def _in_sync(app: Chargewatch, charger_id: str) -> dict[str, Any] | None:
    state = await local_list(app, charger_id)
    return state if state["in_sync"] else None


async def test_a_version_mismatch_is_a_conflict_resolved_by_a_full_list(no_tags, ocpp_version):
    server = no_tags
    for tag in ("CARD-A", "CARD-B", "CARD-C"):
        await put_tag(server, tag)
    cp = await charger(server, f"LL-MISMATCH-{ocpp_version}", ocpp_version)
    try:
        assert (await push(server, f"LL-MISMATCH-{ocpp_version}")).json()["status"] == "Accepted"
        cp.list_version, cp.cards = 50, {"STRANGER": {"status": "Accepted"}}  # another system's list replaced ours
        await put_tag(server, "CARD-D")
        await eventually(lambda: asyncio.sleep(0, len(cp.updates) == 3))
        assert cp.list_updates() == [("Full", 1, 3), ("Differential", 2, 1), ("Full", 3, 4)]
        assert set(cp.cards) == {"CARD-A", "CARD-B", "CARD-C", "CARD-D"}
        state = await eventually(lambda: _resolved(server, f"LL-MISMATCH-{ocpp_version}"))
        assert [u["status"] for u in state["updates"]] == ["Accepted", "VersionMismatch", "Accepted"]
        assert "VersionMismatch" in state["conflict_reason"]
        assert state["conflict_resolved_at"] is not None and not state["conflict_open"]
        assert (state["version_confirmed"], state["in_sync"]) == (3, True)
    finally:
        await cp.close()


async def _resolved(app: Chargewatch, charger_id: str) -> dict[str, Any] | None:
    state = await local_list(app, charger_id)
    return state if state["conflict_resolved_at"] else None


async def test_a_charger_without_a_local_list_is_recorded_and_left_alone(no_tags, ocpp_version):
    server = no_tags
    await put_tag(server, "CARD-A")
    cp = await charger(server, f"LL-NONE-{ocpp_version}", ocpp_version, supports_list=False)
    try:
        response = await push(server, f"LL-NONE-{ocpp_version}")
        assert response.json()["status"] == "NotSupported", response.text
        state = await local_list(server, f"LL-NONE-{ocpp_version}")
        assert (state["supported"], state["holds_list"], state["last_status"]) == (False, False, "NotSupported")
        await put_tag(server, "CARD-B")
        await asyncio.sleep(1.0)  # five sync rounds
        assert [name for name, _ in cp.received].count("SendLocalList") == 1
    finally:
        await cp.close()


async def test_a_list_is_split_to_the_message_limit_and_refused_beyond_the_capacity(no_tags, ocpp_version):
    server = no_tags
    for n in range(5):
        await put_tag(server, f"CARD-{n}")
    cp = await charger(server, f"LL-SPLIT-{ocpp_version}", ocpp_version, per_message=2, max_entries=6)
    try:
        if cp.v201:  # a station tells its list capacity in its device model (LocalAuthListCtrlr.Entries maxLimit)
            await cp.send(call201.NotifyReport(request_id=1, generated_at=datetime.now(UTC).isoformat(), seq_no=0,
                                               tbc=False, report_data=[{
                                                   "component": {"name": "LocalAuthListCtrlr"},
                                                   "variable": {"name": "Entries"},
                                                   "variable_attribute": [{"type": "Actual", "value": "0",
                                                                           "mutability": "ReadOnly"}],
                                                   "variable_characteristics": {"data_type": "integer",
                                                                                "max_limit": 6,
                                                                                "supports_monitoring": False}}]))
        assert (await push(server, f"LL-SPLIT-{ocpp_version}")).json()["status"] == "Accepted"
        assert cp.list_updates() == [("Full", 1, 2), ("Differential", 2, 2), ("Differential", 3, 1)]
        assert set(cp.cards) == {f"CARD-{n}" for n in range(5)}
        state = await local_list(server, f"LL-SPLIT-{ocpp_version}")
        assert (state["max_entries"], state["per_message"], state["version_confirmed"]) == (6, 2, 3)
        with server.engine.begin() as connection:  # two tags at once: seven, one more than the charger holds
            for tag in ("CARD-5", "CARD-6"):
                registry.put_id_tag(connection, {"id_tag": tag, "status": "Accepted"})
        response = await push(server, f"LL-SPLIT-{ocpp_version}", full=True)
        assert response.status_code == 409
        assert "7 id tags exceed the charger's local list capacity of 6" in response.json()["detail"]
        state = await local_list(server, f"LL-SPLIT-{ocpp_version}")
        assert state["last_status"] == "TooLong" and "capacity of 6" in state["last_error"]
        assert len(cp.list_updates()) == 3 and len(cp.cards) == 5, "nothing is sent that the charger cannot hold"
    finally:
        await cp.close()


async def test_a_charger_back_from_offline_gets_what_changed_after_its_version_is_checked(no_tags, ocpp_version):
    server = no_tags
    for tag in ("CARD-A", "CARD-B", "CARD-C"):
        await put_tag(server, tag)
    cp = await charger(server, f"LL-BACK-{ocpp_version}", ocpp_version)
    assert (await push(server, f"LL-BACK-{ocpp_version}")).json()["status"] == "Accepted"
    await cp.close()
    await put_tag(server, "CARD-D")
    back = ListKeepingCharger(ocpp_url(server), f"LL-BACK-{ocpp_version}", version=ocpp_version, cards=dict(cp.cards),
                              list_version=cp.list_version)
    await back.connect()
    try:
        await back.boot()
        await eventually(lambda: asyncio.sleep(0, len(back.updates) == 1))
        assert back.list_updates() == [("Differential", 2, 1)]
        assert [name for name, _ in back.received if "LocalList" in name][:2] == ["GetLocalListVersion",
                                                                                 "SendLocalList"]
        assert set(back.cards) == {"CARD-A", "CARD-B", "CARD-C", "CARD-D"}
        state = await eventually(lambda: _in_sync(server, f"LL-BACK-{ocpp_version}"))
        assert (state["version_reported"], state["version_confirmed"], state["in_sync"]) == (1, 2, True)
    finally:
        await back.close()


async def test_the_cli_pushes_the_list_and_shows_what_the_charger_holds(no_tags, ocpp_version, capsys):
    server = no_tags
    await put_tag(server, "CARD-A")
    await put_tag(server, "CARD-B", "Blocked")
    cp = await charger(server, f"LL-CLI-{ocpp_version}", ocpp_version)
    base = f"http://127.0.0.1:{server.http_port}"
    try:
        assert await asyncio.to_thread(cli.main, ["local-list", "push", cp.charger_id, "--full", "--api", base]) == 0
        assert '"status": "Accepted"' in capsys.readouterr().out
        assert cp.list_updates() == [("Full", 1, 2)]
        assert await asyncio.to_thread(cli.main, ["local-list", "show", cp.charger_id, "--api", base]) == 0
        shown = capsys.readouterr().out
        assert f"charger {cp.charger_id}: version sent 1, confirmed 1" in shown and "in step" in shown
        assert "  CARD-B\tBlocked" in shown
    finally:
        await cp.close()
