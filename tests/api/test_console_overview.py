"""The overview's database reads on SQLite and PostgreSQL: fleet power over the day from a real charger's meter
values, revenue from the aggregate however many invoices, "today" as the operator's day (issue 15 items 2, 3, 9)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy import insert

from chargewatch.api import console
from chargewatch.runtime import Chargewatch
from chargewatch.sim.charger import DEMO_ID_TAGS
from chargewatch.sim.client import ChargePointConnection
from chargewatch.store.billing_tables import invoices
from chargewatch.store.registry import put_id_tag
from web.conftest import ADMIN, add_operators, logged_in


def iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


async def test_fleet_power_revenue_and_today_on_the_overview(server: Chargewatch) -> None:
    add_operators(server)
    with server.engine.begin() as connection:
        put_id_tag(connection, {"id_tag": DEMO_ID_TAGS[0], "status": "Accepted", "expiry_date": None,
                                "parent_id_tag": None, "description": "driver"})
    now = datetime.now(UTC).replace(microsecond=0)
    base = f"http://127.0.0.1:{server.http_port}"
    async with httpx.AsyncClient(base_url=base, auth=ADMIN, timeout=10) as api:
        made = await api.post("/api/v1/chargers", json={"id": "CP-BER", "timezone": "Europe/Berlin"})
        assert made.status_code == 201, made.text
    charger = await ChargePointConnection.open(f"ws://127.0.0.1:{server.ocpp_port}/ocpp", "CP-BER")
    try:
        await charger.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        started = await charger.call("StartTransaction", {
            "connectorId": 1, "idTag": DEMO_ID_TAGS[0], "meterStart": 0, "timestamp": iso(now - timedelta(minutes=40))})
        tx = started["transactionId"]
        phases = [{"value": "3667", "measurand": "Power.Active.Import", "unit": "W", "phase": p}
                  for p in ("L1", "L2", "L3")]
        await charger.call("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [
            {"timestamp": iso(now - timedelta(minutes=33)), "sampledValue": [
                {"value": "1000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}, *phases]}]})
        await charger.call("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [
            {"timestamp": iso(now - timedelta(minutes=12)), "sampledValue": [
                {"value": "5000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": "7.4", "measurand": "Power.Active.Import", "unit": "kW"}]}]})
    finally:
        await charger.close()

    since = now - timedelta(hours=1)
    points = console.fleet_power(server.engine, since, now)
    assert len(points) == 13 and points[0]["x"] == int(since.timestamp() * 1000)
    by_minute = {round((p["x"] / 1000 - since.timestamp()) / 60): p["y"] for p in points}
    assert by_minute[25] == 0 and by_minute[30] == 11.0 and by_minute[40] == 11.0  # phases summed, then held
    assert by_minute[45] == 0, "18 minutes without a reading: held no longer than 15"
    assert by_minute[50] == 7.4 and by_minute[60] == 7.4, by_minute  # kW read as W, the later reading
    assert max(p["y"] for p in console.fleet_power(server.engine, now - timedelta(minutes=2), now)) == 7.4

    # 600 invoices today (the API pages stop at 500): the overview shows their exact total.
    rows, expected = [], Decimal(0)
    for n in range(600):
        gross = Decimal(100 + (n * 37) % 9_000) / 100
        expected += gross
        rows.append({"number": f"T-{n:04d}", "operator_id": "T", "sequence": n + 1, "kind": "invoice",
                     "transaction_id": 10_000 + n, "charger_id": "CP-BER", "credit_note_for": None, "cdr_id": f"C{n}",
                     "currency": "EUR", "total_net": gross, "total_vat": Decimal(0), "total_gross": gross,
                     "meter_verification": "VALID", "reason": None, "issued_at": now - timedelta(seconds=n),
                     "body": "{}"})
    with server.engine.begin() as connection:
        connection.execute(insert(invoices), rows)
    client = await logged_in(server, ADMIN)
    try:
        client.cookies.set("cw_myzone", "Europe/Berlin")
        html = (await client.get("/")).text
    finally:
        await client.aclose()
    revenue = re.search(r'data-kpi="revenue"[^>]*>([^<]+)<', html)
    assert revenue and revenue.group(1) == f"{expected:.2f} EUR", revenue
    assert "600 invoices since 00:00 Europe/Berlin" in html
    midnight = console.clock_of({"cw_myzone": "Europe/Berlin"}, {}, "en").midnight(now)
    assert f"today = since {midnight.astimezone(console.ZoneInfo('Europe/Berlin')):%Y-%m-%d} 00:00:00 CE" in html
    assert 'id="fleet-power-points"' in html and "11.0" in html
