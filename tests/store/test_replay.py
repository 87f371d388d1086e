"""Derived state is rebuilt from the raw OCPP log, identically, however often it is replayed."""

from sqlalchemy import select

from chargewatch.gateway.replay import replay
from chargewatch.store import schema
from helpers import boot, connect, meter, ts


def snapshot(engine):
    with engine.connect() as connection:
        sessions = [tuple(r) for r in connection.execute(
            select(schema.sessions).order_by(schema.sessions.c.transaction_id))]
        readings = [tuple(r)[1:] for r in connection.execute(
            select(schema.meter_readings).order_by(schema.meter_readings.c.charger_id,
                                                   schema.meter_readings.c.timestamp,
                                                   schema.meter_readings.c.measurand))]
        connectors = [tuple(r) for r in connection.execute(
            select(schema.connectors).order_by(schema.connectors.c.charger_id, schema.connectors.c.connector_id))]
    drop_updated = [s[:-1] for s in sessions]  # updated_at is when the row was written
    return drop_updated, readings, connectors


async def test_replaying_the_raw_log_rebuilds_the_same_sessions(server):
    for charger in ("CP-R1", "CP-R2"):
        cp = await connect(server, charger)
        await cp.call("BootNotification", boot())
        await cp.call("StatusNotification", {"connectorId": 1, "status": "Charging", "errorCode": "NoError"})
        tx = (await cp.call("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 10_000,
                                                 "timestamp": ts(0)}))["transactionId"]
        await cp.call("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": meter(12_000, 10, 11_000)})
        await cp.call("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": meter(12_000, 20, 0)})
        await cp.call("StatusNotification", {"connectorId": 1, "status": "Faulted", "errorCode": "GroundFailure"})
        if charger == "CP-R1":
            await cp.call("StopTransaction", {"transactionId": tx, "meterStop": 0, "timestamp": ts(30)})
        await cp.close()
    live = snapshot(server.engine)
    assert len(live[0]) == 2

    first = replay(server.engine)
    assert snapshot(server.engine) == live
    replay(server.engine)
    assert snapshot(server.engine) == live
    assert first.sessions == 2
