"""A 2.0.1 station's session is billed exactly like the same session from a 1.6 charger (both engines), and the
Ended event's answer carries the invoice's total as totalCost."""

from __future__ import annotations

from billing_live.live_billing import (
    METER_START_WH,
    ensure_tariff,
    idle_and_stop,
    register_berlin_charger,
    start_evening_session,
    wait_for_bill,
)
from gateway.v201_peer import boot, energy, station, transaction_event
from helpers import connect, ocpp_url


async def _evening_session_201(cp, reference: str) -> float | None:
    """The 1.6 helpers' session in 2.0.1 words: 21:30–22:30 Berlin at 11 kW, parked until 23:00 (kWh × 10^3)."""
    await boot(cp)
    register = METER_START_WH / 1000
    await cp.call(transaction_event("Started", 0, 690, reference, trigger="Authorized", id_token="TAG-BER",
                                    charging_state="Charging", meter=[energy(register, 690, "Transaction.Begin")]))
    seq = 0
    for minutes in (705, 720, 735, 750):
        seq += 1
        register = round(register + 2.75, 3)
        await cp.call(transaction_event("Updated", seq, minutes, reference, charging_state="Charging",
                                        meter=[energy(register, minutes, power_w=11_000)]))
    for minutes in (765, 780):
        seq += 1
        await cp.call(transaction_event("Updated", seq, minutes, reference, charging_state="SuspendedEV",
                                        meter=[energy(register, minutes, power_w=0)]))
    ended = await cp.call(transaction_event("Ended", seq + 1, 780, reference, trigger="EVCommunicationLost",
                                            stopped_reason="EVDisconnected",
                                            meter=[energy(register, 780, "Transaction.End")]))
    return ended.total_cost


async def test_a_201_session_gets_the_same_invoice_as_the_same_session_from_a_16_charger(server, api):
    await ensure_tariff(api)
    await register_berlin_charger(api, "BILL-16")
    await register_berlin_charger(api, "BILL-201")
    cp16 = await connect(server, "BILL-16")
    try:
        tx16 = await start_evening_session(cp16)
        await idle_and_stop(cp16, tx16)
    finally:
        await cp16.close()
    async with station(ocpp_url(server), "BILL-201") as cp201:
        total_cost = await _evening_session_201(cp201, "4f1c2d7e-201")
    sessions = (await api.get("/api/v1/sessions", params={"charger_id": "BILL-201"})).json()["items"]
    assert [s["transaction_ref"] for s in sessions] == ["4f1c2d7e-201"]
    tx201 = sessions[0]["transaction_id"]

    bill16 = await wait_for_bill(api, tx16)
    bill201 = await wait_for_bill(api, tx201)
    invoice16, invoice201 = bill16["invoice"], bill201["invoice"]
    assert total_cost == float(invoice201["total_gross"])  # the station showed the driver the invoiced total
    assert invoice201["lines"] == invoice16["lines"]
    assert (invoice201["total_net"], invoice201["total_vat"], invoice201["total_gross"]) == (
        invoice16["total_net"], invoice16["total_vat"], invoice16["total_gross"]) == ("3.95", "0.75", "4.70")
    assert invoice201["session"]["energy_kwh"] == "11"
    assert invoice201["session"]["start"] == invoice16["session"]["start"] == "2026-11-02T21:30:00+01:00"
    cdr = (await api.get(f"/api/v1/cdrs/{invoice201['cdr_id']}")).json()
    assert cdr["total_energy"] == 11
