"""A session whose billing keeps failing is retried with backoff, then quarantined (issue 10 item 4): held in the
review queue with the error, logged once, counted in /metrics; the other sessions go on being billed and a restart
does not retry it. The bad row: a charger registered in US/Pacific-New, a zone tzdata dropped in 2020b, so the
API that checks zones today let it in when it existed and the server's zoneinfo no longer knows it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import update

from billing_live.live_billing import (
    accept_driver_cards,
    ensure_tariff,
    idle_and_stop,
    register_berlin_charger,
    start_evening_session,
    wait_for_bill,
)
from chargewatch.runtime import Chargewatch
from chargewatch.store import billing as billing_store
from chargewatch.store import schema
from conftest import make_options
from helpers import connect, http_url

BILLING_LOG = "chargewatch.workers.billing"
REMOVED_ZONE = "US/Pacific-New"


async def started(db_url: str) -> Chargewatch:
    app = Chargewatch(make_options(db_url, accept_unknown=True, command_timeout=5.0))
    await app.start()
    accept_driver_cards(app)
    return app


@pytest.fixture
async def app(db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Chargewatch]:
    monkeypatch.setenv("CHARGEWATCH_BILLING_RETRY_SECONDS", "0.2,0.4")
    server = await started(db_url)
    try:
        yield server
    finally:
        await server.stop()


async def session_on(app: Chargewatch, charger_id: str) -> int:
    cp = await connect(app, charger_id)
    try:
        tx = await start_evening_session(cp)
        await idle_and_stop(cp, tx)
    finally:
        await cp.close()
    return tx


def quarantined_total(metrics: str) -> float:
    for line in metrics.splitlines():
        if line.startswith('chargewatch_worker_quarantined_total{worker="billing"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_a_session_that_cannot_be_billed_is_quarantined_once_and_the_others_are_billed(
        app: Chargewatch, db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=BILLING_LOG)
    async with httpx.AsyncClient(base_url=http_url(app), timeout=10) as api:
        await ensure_tariff(api)
        await register_berlin_charger(api, "BER-GOOD")
        await register_berlin_charger(api, "BER-TYPO")
        # The exact input: the charger row's zone is one the server's tzdata no longer has; pricing cannot split
        # periods in it (zoneinfo.ZoneInfoNotFoundError), so every session of this charger fails to bill.
        with app.engine.begin() as connection:
            connection.execute(update(schema.chargers).where(schema.chargers.c.id == "BER-TYPO")
                               .values(timezone=REMOVED_ZONE))

        bad = await session_on(app, "BER-TYPO")
        held = await wait_for_bill(api, bad, timeout=20)
        assert held["status"] == "needs_review"
        assert held["reason"].startswith("billing failed: ZoneInfoNotFoundError")
        assert REMOVED_ZONE in held["reason"]
        reviews = (await api.get("/api/v1/reviews")).json()
        assert [item["transaction_id"] for item in reviews] == [bad]
        assert quarantined_total((await api.get("/metrics")).text) == 1.0

        good = await session_on(app, "BER-GOOD")  # the others go on being billed
        bill = await wait_for_bill(api, good)
        assert bill["status"] == "issued" and bill["invoice_number"]

    records = [r for r in caplog.records if r.name == BILLING_LOG and str(bad) in r.getMessage()]
    errors = [r for r in records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert f"session {bad}" in errors[0].getMessage() and "ZoneInfoNotFoundError" in errors[0].getMessage()
    retries = [r for r in records if r.levelno == logging.INFO and "retry" in r.getMessage()]
    assert len(retries) == 2  # one try and two retries (0.2 s, 0.4 s), then the quarantine: no hot loop

    # A restart does not pick it up again: it has its bill row (the review), so catch-up leaves it alone.
    with app.engine.connect() as connection:
        assert bad not in billing_store.unbilled_sessions(connection)
    caplog.clear()
    await app.stop()
    again = await started(db_url)
    try:
        await asyncio.sleep(1.0)  # longer than both retry delays: a retried session would have logged by now
        assert not [r for r in caplog.records if r.name == BILLING_LOG and str(bad) in r.getMessage()]
        async with httpx.AsyncClient(base_url=http_url(again), timeout=10) as api:
            assert (await api.get(f"/api/v1/sessions/{bad}/invoice")).json()["status"] == "needs_review"
    finally:
        await again.stop()
        await app.start()  # the fixture stops it
