"""One session, one price: what the session page, the live cost, the driver page, the invoice and the CDR say.

Driven over a real WebSocket on SQLite and PostgreSQL. The half-cent tariff below makes per-line
rounding and rounding the total disagree (1.925 + 1.375 EUR: lines 1.93 + 1.38 = 3.31, total 3.30), which
is how a session page once said 5.86 EUR and its invoice 5.87 EUR. Each test runs with a 1.6 charger and a 2.0.1
station (``ocpp_version``) and expects the same amounts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from billing_live.live_billing import (
    at,
    charge_evening,
    evening_charger,
    register_berlin_charger,
    wait_for_bill,
)
from peers.chargers import versions
from web.conftest import ADMIN, add_operators, logged_in

# 0.35 EUR/kWh 07:00-22:00 local, 0.25 EUR/kWh at night, 19 % VAT; parking 2.40 EUR/h in 1-minute steps.
HALF_CENT: dict[str, Any] = {
    "country_code": "DE", "party_id": "CWA", "id": "HALF-CENT", "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.35, "vat": 19.0, "step_size": 1}],
         "restrictions": {"start_time": "07:00", "end_time": "22:00"}},
        {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 19.0, "step_size": 1},
                              {"type": "PARKING_TIME", "price": 2.40, "vat": 19.0, "step_size": 60}]},
    ],
}


@versions()
async def test_session_page_live_cost_driver_page_invoice_and_cdr_show_the_same_amount(server, api, ocpp_version):
    assert (await api.post("/api/v1/tariffs", json=HALF_CENT)).status_code == 201
    await register_berlin_charger(api, "ONE-1", "HALF-CENT")
    cp = await evening_charger(server, "ONE-1", ocpp_version)
    tx = await charge_evening(cp)  # 5.5 kWh before 22:00, 5.5 kWh after, last reading 22:30
    running = (await api.get(f"/api/v1/sessions/{tx}/cost")).json()
    await cp.stop(tx, "EVDisconnected", id_tag="TAG-BER", at=at(750))
    await cp.close()
    bill = await wait_for_bill(api, tx)
    invoice = bill["invoice"]
    cdr = (await api.get(f"/api/v1/cdrs/{invoice['cdr_id']}")).json()
    billed = (await api.get(f"/api/v1/sessions/{tx}/cost")).json()
    driver_path = (await api.get(f"/api/v1/sessions/{tx}")).json()["driver_path"]
    driver_page = (await api.get(driver_path)).text
    add_operators(server)  # from here on the operator pages and API need a login
    operator = await logged_in(server, ADMIN)
    try:
        session_page = (await operator.get(f"/sessions/{tx}")).text
    finally:
        await operator.aclose()

    assert running["status"] == "running" and running["total_cost"] == {"excl_vat": "3.3000", "incl_vat": "3.9270"}
    assert cdr["total_cost"] == {"excl_vat": 3.3, "incl_vat": 3.927}
    assert billed["total_cost"] == running["total_cost"]
    assert (invoice["total_net"], invoice["total_vat"], invoice["total_gross"]) == ("3.30", "0.63", "3.93")
    assert sum(Decimal(line["net"]) for line in invoice["lines"]) == Decimal("3.30")
    assert 'id="session-cost">3.93 EUR<' in session_page
    assert 'id="live-cost">€3.93<' in driver_page


@versions()
async def test_no_parking_is_billed_for_a_session_without_idle_time(server, api, ocpp_version):
    assert (await api.post("/api/v1/tariffs", json=HALF_CENT)).status_code == 201
    await register_berlin_charger(api, "ONE-2", "HALF-CENT")
    cp = await evening_charger(server, "ONE-2", ocpp_version)
    tx = await charge_evening(cp)
    # The register lags the last minute but the charger measures 11 kW: charging, as the session page counts it.
    await cp.meter(1, tx, 11_000, register_wh=cp.register_wh, at=at(751))
    cp.register_wh += 10
    await cp.stop(tx, "EVDisconnected", id_tag="TAG-BER", at=at(752))
    await cp.close()
    invoice = (await wait_for_bill(api, tx))["invoice"]
    session = (await api.get(f"/api/v1/sessions/{tx}")).json()
    cdr = (await api.get(f"/api/v1/cdrs/{invoice['cdr_id']}")).json()
    assert session["idle_seconds"] == 0
    assert cdr["total_parking_time"] == 0 and cdr["total_parking_cost"]["excl_vat"] == 0
    assert [line["description"] for line in invoice["lines"] if line["description"] == "Parking time"] == []


def _tariff(price: str, valid_from: datetime) -> dict[str, Any]:
    return {"country_code": "DE", "party_id": "CWA", "id": "NEVI-FIXED", "currency": "EUR",
            "start_date_time": valid_from.isoformat().replace("+00:00", "Z"),
            "elements": [{"price_components": [{"type": "ENERGY", "price": float(price), "vat": 19.0,
                                                "step_size": 1}]}]}


@versions()
async def test_a_tariff_changed_mid_session_bills_the_price_in_force_at_the_start(server, api, ocpp_version):
    """23 CFR 680.116(a): the price shown before the start is fixed for the session."""
    now = datetime.now(UTC).replace(microsecond=0)
    start, change, stop = now - timedelta(minutes=30), now - timedelta(minutes=15), now - timedelta(minutes=1)
    assert (await api.post("/api/v1/tariffs", json=_tariff("0.30", now - timedelta(days=1)))).status_code == 201
    await register_berlin_charger(api, "NEVI-1", "NEVI-FIXED")
    cp = await evening_charger(server, "NEVI-1", ocpp_version, register_wh=0)
    tx = await cp.start(1, "TAG-NEVI", at=start, statuses=False, authorize=False)
    new = await api.put("/api/v1/tariffs/NEVI-FIXED", json=_tariff("0.90", change))
    assert new.status_code == 200 and new.json()["current_version"] == 2
    for minutes, register, power_w in ((20, 5_000, 15_000), (29, 10_000, 33_000)):
        await cp.meter(1, tx, power_w, register_wh=register, at=start + timedelta(minutes=minutes))
    live = (await api.get(f"/api/v1/sessions/{tx}/cost")).json()
    await cp.stop(tx, "Local", id_tag="TAG-NEVI", at=stop)
    await cp.close()
    bill = await wait_for_bill(api, tx)
    assert (bill["tariff_id"], bill["tariff_version"]) == ("NEVI-FIXED", 1)
    assert live["tariff_version"] == 1 and live["total_cost"]["excl_vat"] == "3.0000"  # 10 kWh x 0.30
    assert bill["invoice"]["total_net"] == "3.00"
    cdr = (await api.get(f"/api/v1/cdrs/{bill['invoice']['cdr_id']}")).json()
    assert cdr["tariffs"][0]["elements"][0]["price_components"][0]["price"] == 0.3
