"""Chargers that connect, have every card refused and leave do not pile up in the fault worker (issue 10 item 8):
through the real worker and database, their info-only failed starts expire with the reason, the repeated ones
(a fault) and the offline incidents stay open, the detector keeps no connector state of theirs, its saved state
names incidents by id and is not rewritten for evidence-only changes, and a restart resumes the same incidents."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import select

from chargewatch.faults.incidents import IncidentKind
from chargewatch.store.faults_tables import fault_detector_state
from faults_live.live import api, eventually, fast_config, incidents
from helpers import boot, connect

CHARGERS = 12  # the even ones have one card refused (info), the odd ones four (a fault: repeated failures)
GRACE = {"info_expiry": 1.5, "forget_after": 2.5, "requested_reboot_window": 2.0}


def saved_state(app) -> tuple[dict, object]:  # type: ignore[no-untyped-def]
    with app.engine.connect() as connection:
        row = connection.execute(select(fault_detector_state.c.state, fault_detector_state.c.saved_at)).one()
    return row.state, row.saved_at


async def refused_cards(app, charger_id: str, cards: int) -> None:  # type: ignore[no-untyped-def]
    cp = await connect(app, charger_id)
    try:
        await cp.call("BootNotification", boot())
        for i in range(cards):
            answer = await cp.call("Authorize", {"idTag": f"NOBODY-{charger_id[-2:]}-{i}"})
            assert answer["idTagInfo"]["status"] == "Invalid"
    finally:
        await cp.close()


async def test_departed_chargers_leave_bounded_state_and_no_open_info_incident(db_url, start_server):
    config = fast_config(state_save_seconds=60, detection={**fast_config()["detection"], **GRACE})
    app = await start_server(db_url, config)
    worker = app.app.state.faults
    ids = [f"LEFT-{i:02d}" for i in range(CHARGERS)]
    await asyncio.gather(*(refused_cards(app, cid, 1 if i % 2 == 0 else 4) for i, cid in enumerate(ids)))

    async def failed_starts(**params: object) -> list[dict]:
        return [i for i in await incidents(app, kind=IncidentKind.FAILED_START.value, **params)]

    async def settled() -> bool:
        state = worker.detector.to_dict(with_incidents=False)
        offline = await incidents(app, kind=IncidentKind.CHARGER_OFFLINE.value, status="open")
        return (len(await failed_starts(status="resolved")) == CHARGERS // 2 and len(offline) == CHARGERS
                and not [key for key in state["connectors"] if key.startswith("LEFT-")])

    await eventually(settled, timeout=20)
    resolved = await failed_starts(status="resolved")
    assert {item["charger_id"] for item in resolved} == set(ids[0::2]) and {i["severity"] for i in resolved} == {"info"}
    detail = (await api(app).get(f"/api/v1/incidents/{resolved[0]['number']}")).json()
    assert detail["resolution"]["source"] == "Expired"
    assert detail["resolution"]["data"]["reason"].endswith("since the last one and the charger has disconnected")
    still = await failed_starts(status="open")  # a fault is the operator's to close, never expired
    assert {item["charger_id"] for item in still} == set(ids[1::2]) and {i["severity"] for i in still} == {"fault"}

    state = worker.detector.to_dict(with_incidents=False)
    for cid in ids:
        charger = state["chargers"][cid]
        assert (charger["connected"], charger["disconnects"], charger["offline_spans"]) == (False, [], [])
    open_ids = {incident.id for incident in worker.detector.open_incidents}
    assert len(open_ids) == CHARGERS + CHARGERS // 2
    assert len(json.dumps(state)) < 500 * CHARGERS  # what a departed charger costs: its offline record

    # The saved state names the open incidents; evidence on an open one rewrites only that incident's row.
    saved, _ = saved_state(app)
    assert "open_incidents" not in saved and set(saved["open_incident_ids"]) == open_ids
    assert '"source":' not in json.dumps(saved)  # no incident evidence in it
    cp = await connect(app, "STAYS-1")
    await cp.call("BootNotification", boot())
    for i in range(9):
        if i == 4:  # its fault opened with the fourth card: the state naming it is saved with it
            [fault] = await eventually(lambda: failed_starts(status="open", charger_id="STAYS-1"))
            saved, saved_at = saved_state(app)
            assert saved_state(app)[0]["open_incident_ids"].count(fault["id"]) == 1
        assert (await cp.call("Authorize", {"idTag": f"NOBODY-{i}"}))["idTagInfo"]["status"] == "Invalid"

    async def nine() -> bool:
        return [i["occurrences"] for i in await failed_starts(status="open", charger_id="STAYS-1")] == [9]

    await eventually(nine)
    assert saved_state(app)[1] == saved_at  # five updates of one incident, no save of the fleet's state
    await cp.close()
    await eventually(lambda: incidents(app, kind=IncidentKind.CHARGER_OFFLINE.value, charger_id="STAYS-1"))

    # A restart resumes the same open incidents from their rows: none duplicated, none lost.
    open_ids = {incident.id for incident in worker.detector.open_incidents}
    before = sorted((i["number"], i["kind"]) for i in await incidents(app, status="open"))
    await app.stop()
    again = await start_server(db_url, config)
    assert {incident.id for incident in again.app.state.faults.detector.open_incidents} == open_ids
    await asyncio.sleep(0.5)  # several ticks of the fresh detector (0.1 s)
    assert sorted((i["number"], i["kind"]) for i in await incidents(again, status="open")) == before


async def test_a_connection_that_never_boots_leaves_no_fault_state(db_url, start_server):
    # --accept-unknown: a connection refusing cards without ever booting is not a charger. Before, its failed
    # starts were tracked (and a "silent charger" opened later) though its disconnect was never heard.
    app = await start_server(db_url, fast_config())
    worker = app.app.state.faults
    cp = await connect(app, "NEVER-BOOTS")
    for i in range(4):
        assert (await cp.call("Authorize", {"idTag": f"NOBODY-{i}"}))["idTagInfo"]["status"] == "Invalid"
    await cp.close()
    booted = await connect(app, "BOOTS-1")  # the same refusals from a charger are seen
    await booted.call("BootNotification", boot())
    for i in range(4):
        await booted.call("Authorize", {"idTag": f"NOBODY-{i}"})
    await eventually(lambda: incidents(app, kind=IncidentKind.FAILED_START.value, charger_id="BOOTS-1"))
    await booted.close()
    state = worker.detector.to_dict(with_incidents=False)
    assert "NEVER-BOOTS" not in state["chargers"]
    assert not [key for key in state["connectors"] if key.startswith("NEVER-BOOTS")]
    assert await incidents(app, charger_id="NEVER-BOOTS") == []
