"""OCPP 2.0.1 Tariff & Cost (use case I05): while a 2.0.1 transaction runs, the CSMS sends CostUpdated with the running
cost incl. VAT, computed by the engine that gives the live cost and bills the session; the answer to an Updated
TransactionEvent carries no totalCost (2.0.1: "SHALL only be sent when charging has ended"); a session no tariff
applies to gets no CostUpdated. The station is the `ocpp` library's 2.0.1 ChargePoint over a real WebSocket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import ROUND_HALF_UP, Decimal

import httpx
import pytest
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call_result

from billing_live.live_billing import ensure_tariff, register_berlin_charger, wait_for_bill
from chargewatch.runtime import Chargewatch
from conftest import make_options
from gateway.v201_peer import boot, energy, station, transaction_event
from helpers import http_url, ocpp_url

INTERVAL = 0.3  # seconds between CostUpdated rounds in these tests (default 60)


class CostStation(ChargePoint):
    """Shows the running cost the CSMS sends (and remembers it)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.costs: asyncio.Queue[tuple[str, float]] = asyncio.Queue()

    @on("CostUpdated")
    def on_cost_updated(self, total_cost, transaction_id, **kwargs):
        self.costs.put_nowait((transaction_id, total_cost))
        return call_result.CostUpdated()


@pytest.fixture
async def cost_server(db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Chargewatch]:
    monkeypatch.setenv("CHARGEWATCH_COST_UPDATE_SECONDS", str(INTERVAL))
    app = Chargewatch(make_options(db_url, accept_unknown=True, command_timeout=5.0))
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


async def _next_cost(cp: CostStation, other_than: float | None = None) -> tuple[str, float]:
    """The next CostUpdated (with another total than ``other_than``: a round may fall between two events)."""
    async def wait() -> tuple[str, float]:
        while True:
            reference, total = await cp.costs.get()
            if total != other_than:
                return reference, total

    return await asyncio.wait_for(wait(), timeout=15)


def _to_cent(value: str) -> float:
    return float(Decimal(value).quantize(Decimal("0.01"), ROUND_HALF_UP))


async def test_a_running_201_transaction_gets_cost_updated_with_the_live_cost_and_the_ended_answer_the_invoice(
        cost_server):
    async with httpx.AsyncClient(base_url=http_url(cost_server), timeout=10) as api:
        await ensure_tariff(api)
        await register_berlin_charger(api, "COST-201")
        await api.put("/api/v1/id-tags/RFID-1", json={"id_tag": "RFID-1", "status": "Accepted"})
        async with station(ocpp_url(cost_server), "COST-201", cls=CostStation) as cp:
            await boot(cp)
            await cp.call(transaction_event("Started", 0, 0, "tx-cost-1", trigger="Authorized", id_token="RFID-1",
                                            charging_state="Charging",
                                            meter=[energy(2000.0, 0, "Transaction.Begin")]))
            updated = await cp.call(transaction_event("Updated", 1, 15, "tx-cost-1", charging_state="Charging",
                                                      meter=[energy(2002.5, 15, power_w=10_000)]))
            assert updated.total_cost is None  # 2.0.1: totalCost only once charging has ended
            tx = (await api.get("/api/v1/chargers/COST-201/transactions/tx-cost-1")).json()["transaction_id"]
            reference, first = await _next_cost(cp, other_than=0.0)  # (0.00 before the first kWh is the truth too)
            live = (await api.get(f"/api/v1/sessions/{tx}/cost")).json()
            assert live["status"] == "running"
            assert (reference, first) == ("tx-cost-1", _to_cent(live["total_cost"]["incl_vat"]))
            assert first == 0.89  # 2.5 kWh × 0.30 EUR by day + 19 % VAT

            await cp.call(transaction_event("Updated", 2, 30, "tx-cost-1", charging_state="Charging",
                                            meter=[energy(2005.0, 30, power_w=10_000)]))
            _, second = await _next_cost(cp, other_than=first)
            assert second == 1.79  # 5 kWh: the running cost follows the meter
            ended = await cp.call(transaction_event("Ended", 3, 30, "tx-cost-1", trigger="EVCommunicationLost",
                                                    stopped_reason="EVDisconnected",
                                                    meter=[energy(2005.0, 30, "Transaction.End")]))
        bill = await wait_for_bill(api, tx)
    assert ended.total_cost == float(bill["invoice"]["total_gross"]) == second


async def test_a_201_session_no_tariff_applies_to_gets_no_cost_updated(cost_server):
    async with httpx.AsyncClient(base_url=http_url(cost_server), timeout=10) as api:
        await ensure_tariff(api)
        await register_berlin_charger(api, "COST-PRICED")  # the tariff is this charger's only: no default
        await api.put("/api/v1/id-tags/RFID-2", json={"id_tag": "RFID-2", "status": "Accepted"})
        assert (await api.post("/api/v1/chargers", json={"id": "COST-FREE"})).status_code == 201
        async with station(ocpp_url(cost_server), "COST-PRICED", cls=CostStation) as priced, \
                station(ocpp_url(cost_server), "COST-FREE", cls=CostStation) as unpriced:
            for cp, reference in ((priced, "tx-priced"), (unpriced, "tx-free")):
                await boot(cp)
                await cp.call(transaction_event("Started", 0, 0, reference, trigger="Authorized", id_token="RFID-2",
                                                charging_state="Charging",
                                                meter=[energy(2000.0, 0, "Transaction.Begin")]))
                await cp.call(transaction_event("Updated", 1, 15, reference, charging_state="Charging",
                                                meter=[energy(2002.5, 15, power_w=10_000)]))
            _, first = await _next_cost(priced, other_than=0.0)
            await priced.call(transaction_event("Updated", 2, 30, "tx-priced", charging_state="Charging",
                                                meter=[energy(2005.0, 30, power_w=10_000)]))
            await _next_cost(priced, other_than=first)  # at least one whole round saw both sessions running
            assert unpriced.costs.empty()
