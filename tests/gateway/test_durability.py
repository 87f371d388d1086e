"""Ack after commit: what a charger was told is stored survives SIGKILL, restarts and database outages."""

import asyncio
import signal
import socket
import subprocess
import sys
import time

import psycopg
import pytest
from sqlalchemy import create_engine, select

from chargewatch.sim.client import ChargePointConnection, OcppError
from chargewatch.store import schema
from chargewatch.store.database import normalise_url
from helpers import boot, free_port, meter, ts


class ServerProcess:
    """`chargewatch serve` as a real process, so it can be killed with SIGKILL."""

    def __init__(self, db_url: str):
        self.db_url = db_url
        self.ocpp_port = free_port()
        self.http_port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chargewatch.cli", "serve", "--db", self.db_url, "--accept-unknown",
             "--ocpp-port", str(self.ocpp_port), "--http-port", str(self.http_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.ocpp_port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(self.process.stderr.read().decode()) from None
                time.sleep(0.1)
        raise TimeoutError("server did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.ocpp_port}/ocpp"


@pytest.fixture
def server_process(db_url):
    proc = ServerProcess(db_url)
    proc.start()
    yield proc
    if proc.process and proc.process.poll() is None:
        proc.process.terminate()
        proc.process.wait(10)


async def _charger_load(url: str, charger_id: str, acked: list, stop: asyncio.Event) -> None:
    cp = await ChargePointConnection.open(url, charger_id)
    start = await cp.call("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0, "timestamp": ts(0)})
    tx = start["transactionId"]
    acked.append((charger_id, "start", tx))
    minute = 0
    try:
        while not stop.is_set():
            minute += 1
            await cp.call("MeterValues", {"connectorId": 1, "transactionId": tx,
                                          "meterValue": meter(minute * 100, minute)})
            acked.append((charger_id, "meter", minute))
    except (ConnectionError, OcppError, Exception):
        return


async def test_sigkill_mid_load_loses_no_acknowledged_message(server_process, db_url):
    acked: list = []
    stop = asyncio.Event()
    tasks = [asyncio.create_task(_charger_load(server_process.url, f"CP-K{i}", acked, stop)) for i in range(20)]
    while sum(1 for a in acked if a[1] == "meter") < 400:
        await asyncio.sleep(0.05)
    server_process.kill()  # mid-load, no warning
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)

    engine = create_engine(normalise_url(db_url))
    m = schema.meter_readings
    with engine.connect() as connection:
        stored = {(r.charger_id, int(r.value) // 100) for r in connection.execute(select(m.c.charger_id, m.c.value))}
        sessions = {r.charger_id: r.transaction_id for r in connection.execute(select(schema.sessions))}
    engine.dispose()
    acked_meters = {(c, n) for c, kind, n in acked if kind == "meter"}
    assert acked_meters <= stored, f"{len(acked_meters - stored)} acknowledged readings lost"
    assert {c: tx for c, kind, tx in acked if kind == "start"}.items() <= sessions.items()


async def test_session_continues_after_a_server_restart(server_process, db_url):
    cp = await ChargePointConnection.open(server_process.url, "CP-RESTART")
    await cp.call("BootNotification", boot())
    tx = (await cp.call("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 1_000,
                                             "timestamp": ts(0)}))["transactionId"]
    await cp.call("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": meter(3_000, 10)})
    server_process.kill()
    await cp.close()
    server_process.start()
    cp = await ChargePointConnection.open(server_process.url, "CP-RESTART")
    await cp.call("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": meter(6_000, 20)})
    await cp.call("StopTransaction", {"transactionId": tx, "meterStop": 8_000, "timestamp": ts(30)})
    await cp.close()
    engine = create_engine(normalise_url(db_url))
    with engine.connect() as connection:
        row = connection.execute(select(schema.sessions).where(schema.sessions.c.transaction_id == tx)).one()
    engine.dispose()
    # No meter anomaly across the restart; "T" is not in the directory (a refused start) and no power is sent.
    assert (row.status, row.energy_wh, sorted(row.flags)) == ("completed", 7_000, ["power_estimated", "start_refused"])


async def test_database_outage_is_answered_with_internal_error_never_a_false_ack(pg_url):
    from chargewatch.runtime import Chargewatch
    from conftest import make_options

    app = Chargewatch(make_options(pg_url, accept_unknown=True))
    await app.start()
    name = pg_url.rsplit("/", 1)[1]
    admin = pg_url.rsplit("/", 1)[0] + "/postgres"
    cp = await ChargePointConnection.open(f"ws://127.0.0.1:{app.ocpp_port}/ocpp", "CP-DBDOWN")
    try:
        tx = (await cp.call("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0,
                                                 "timestamp": ts(0)}))["transactionId"]
        with psycopg.connect(admin, autocommit=True) as conn:  # the database goes away
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        with pytest.raises(OcppError) as caught:
            await cp.call("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": meter(500, 5)})
        assert caught.value.code == "InternalError"
        with psycopg.connect(admin, autocommit=True) as conn:  # and comes back
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await cp.call("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": meter(500, 5)})
        with app.engine.connect() as connection:
            session = connection.execute(select(schema.sessions).where(schema.sessions.c.transaction_id == tx)).one()
        assert session.energy_wh == 500
    finally:
        await cp.close()
        await app.stop()




async def test_database_outage_never_closes_the_connection_and_reconnects_get_in(pg_url):
    """Issue 10 item 6: the calls that need a lookup first (StartTransaction's start key, a session no longer in
    memory) are answered InternalError like the rest; a known charger reconnecting mid-outage is let in."""
    from chargewatch.runtime import Chargewatch
    from conftest import make_options

    app = Chargewatch(make_options(pg_url, accept_unknown=True))
    await app.start()
    name = pg_url.rsplit("/", 1)[1]
    admin = pg_url.rsplit("/", 1)[0] + "/postgres"
    url = f"ws://127.0.0.1:{app.ocpp_port}/ocpp"
    cp = await ChargePointConnection.open(url, "CP-OUTAGE")
    try:
        await cp.call("BootNotification", boot())
        tx = (await cp.call("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0,
                                                 "timestamp": ts(0)}))["transactionId"]
        stop = {"transactionId": tx, "meterStop": 900, "timestamp": ts(10)}
        await cp.call("StopTransaction", stop)  # the session leaves memory
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        calls = [
            ("StartTransaction", {"connectorId": 2, "idTag": "T", "meterStart": 0, "timestamp": ts(20)}),
            ("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": meter(800, 9)}),
            ("StopTransaction", stop),
        ]
        for action, payload in calls:
            with pytest.raises(OcppError) as caught:
                await cp.call(action, payload)
            assert caught.value.code == "InternalError", action
        await cp.close()
        cp = await ChargePointConnection.open(url, "CP-OUTAGE")  # a reconnect during the outage: not 503
        with pytest.raises(OcppError) as caught:
            await cp.call("StopTransaction", stop)
        assert caught.value.code == "InternalError"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        assert await cp.call("StopTransaction", stop) == {}
        started = await cp.call("StartTransaction", calls[0][1])
        with app.engine.connect() as connection:
            session = connection.execute(select(schema.sessions).where(
                schema.sessions.c.transaction_id == started["transactionId"])).one()
        assert (session.connector_id, session.status) == (2, "active")
    finally:
        await cp.close()
        await app.stop()
