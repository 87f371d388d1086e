"""Replaying a log that holds a 2.0.1 station beside a 1.6 charger rebuilds the same sessions and readings."""

from __future__ import annotations

from sqlalchemy import select

from chargewatch.gateway.replay import replay
from chargewatch.store import schema
from gateway.v201_peer import boot, charge, send_device_model, station
from helpers import boot as boot_16
from helpers import connect, meter, ocpp_url, ts
from store.test_replay import snapshot


async def test_replaying_a_log_with_a_201_station_rebuilds_the_same_sessions(server):
    cp16 = await connect(server, "RP-16")
    await cp16.call("BootNotification", boot_16())
    tx = (await cp16.call("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 10_000,
                                               "timestamp": ts(0)}))["transactionId"]
    await cp16.call("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": meter(12_000, 10, 11_000)})
    await cp16.close()
    async with station(ocpp_url(server), "RP-201") as cp:
        await boot(cp)
        await charge(cp, "RP-TX-1", skip_seq=3)
        await charge(cp, "RP-TX-2", start_kwh=2011.0, start_minutes=90)
        await send_device_model(cp, request_id=4)
    live = snapshot(server.engine)
    device_model = _device_model(server.engine)
    assert len(device_model[0]) == 9 and len(device_model[1]) == 5
    assert len(live[0]) == 3

    first = replay(server.engine)
    assert snapshot(server.engine) == live
    replay(server.engine)
    assert snapshot(server.engine) == live
    assert _device_model(server.engine) == device_model
    assert first.sessions == 3


def _device_model(engine) -> tuple[list, list, list]:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return tuple([tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key.columns))]
                     for table in (schema.device_variables, schema.evse_connectors, schema.device_reports))
