"""`chargewatch replay` of a log holding every meter shape rebuilds exactly the sessions of the live run."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from chargewatch.cli import main
from chargewatch.store import schema
from helpers import connect
from sessions_live.live import add_shape_tags, sessions_of
from sessions_live.shapes import SHAPES, drive


def stored(engine):  # type: ignore[no-untyped-def]
    s, m = schema.sessions, schema.meter_readings
    with engine.connect() as connection:
        sessions = [{k: v for k, v in r._mapping.items() if k != "updated_at"}  # when the row was written
                    for r in connection.execute(select(s).order_by(s.c.transaction_id))]
        readings = [{k: v for k, v in r._mapping.items() if k != "id"}
                    for r in connection.execute(select(m).order_by(m.c.charger_id, m.c.timestamp, m.c.measurand,
                                                                   m.c.location, m.c.phase))]
    return sessions, readings


async def test_replay_of_every_meter_shape_yields_the_live_sessions(server, db_url, capsys):
    add_shape_tags(server)
    for shape in SHAPES:
        cp = await connect(server, shape.charger_id)
        await drive(shape, cp.call)
        await cp.close()
    live = stored(server.engine)
    api_live = {shape.name: await sessions_of(server, shape.charger_id) for shape in SHAPES}
    assert len(live[0]) == sum(len(shape.sessions) for shape in SHAPES)

    assert await asyncio.to_thread(main, ["replay", "--db", db_url]) == 0
    assert "replayed" in capsys.readouterr().out
    assert stored(server.engine) == live
    assert {shape.name: await sessions_of(server, shape.charger_id) for shape in SHAPES} == api_live
