"""A scripted month of outages through a real charger (the `ocpp` library's 1.6 charge point or 2.0.1 station, on
SQLite and PostgreSQL), with the server's clock moved by the test: the uptime API and CSV match the NEVI formula
computed by hand."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from faults_live.live import api, eventually, fast_config, incidents
from helpers import ocpp_url
from peers.chargers import LibraryCharger, versions


class Clock:
    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at


def october(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=UTC)


def percent(minutes_total: int, outage: int, excluded: int) -> str:
    value = Decimal(minutes_total - (outage - excluded)) / Decimal(minutes_total) * 100
    return str(value.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))


@versions()
async def test_uptime_of_a_scripted_month_matches_the_hand_computation(db_url, ocpp_version, start_server):
    # A heartbeat interval of 40 days: the clock jumps days between steps without "silence".
    clock = Clock(october(1))
    app = await start_server(db_url, fast_config(), clock=clock, heartbeat_interval=40 * 86400)
    http = api(app)
    disconnected = asyncio.Event()
    app.bus.listen(lambda event: disconnected.set() if event.kind == "charger.disconnected" else None)
    cp = LibraryCharger(ocpp_url(app), "UP-1", ocpp_version, clock=clock)
    await cp.connect()
    await cp.boot(connectors=2)

    async def state(kind: str, status: str, count: int = 1) -> list[dict]:
        async def check():
            found = [i for i in await incidents(app, kind=kind) if i["status"] == status]
            return found if len(found) >= count else None

        return await eventually(check)

    # A: port 1 faulted 10:00-12:30 on 3 October (150 min).
    clock.at = october(3, 10)
    await cp.status(1, "Faulted", "GroundFailure")
    await state("connector_error", "open")
    clock.at = october(3, 12, 30)
    await cp.status(1, "Available")
    await state("connector_error", "resolved")

    # B: the charger drops off 08:00-09:00 on 10 October: both ports (60 min).
    clock.at = october(10, 8)
    await cp.close()
    await eventually(lambda: _async(disconnected.is_set()))  # fed to the detector at 08:00
    clock.at = october(10, 9)
    await state("charger_offline", "open")
    await cp.connect()
    await cp.heartbeat()
    clock.at = october(10, 9, 1)
    [offline] = await state("charger_offline", "resolved")
    assert offline["first_seen"].startswith("2026-10-10T08:00")
    assert offline["resolved_at"].startswith("2026-10-10T09:00")

    # C: port 2 out 00:00-04:00 on 20 October because the utility failed (240 min, excluded).
    clock.at = october(20)
    await cp.status(2, "Faulted", "UnderVoltage")
    clock.at = october(20, 4)
    await cp.status(2, "Available")
    [utility] = [i for i in await state("connector_error", "resolved", 2) if i["code"] == "UnderVoltage"]
    response = await http.put(f"/api/v1/incidents/{utility['number']}/exclusion", json={"reason": "utility_outage"})
    assert response.status_code == 200 and response.json()["exclusion_reason"] == "utility_outage"

    # D: port 1 faults at 23:00 on 31 October and is still out when the report is made (60 min in October).
    clock.at = october(31, 23)
    await cp.status(1, "Faulted", "OverVoltage")

    async def out_of_service() -> list[dict]:  # 2.0.1: the Faulted status after the NotifyEvent makes it an outage
        return [i for i in await incidents(app, status="open") if i["outage"]]

    await eventually(out_of_service)
    clock.at = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)

    month, year = 31 * 1440, 525_600
    expected = {
        1: {"month": (percent(month, 270, 0), "270.00", "0.00"), "year": percent(year, 270, 0)},
        2: {"month": (percent(month, 300, 240), "300.00", "240.00"), "year": percent(year, 300, 240)},
    }
    assert expected[1]["month"][0] == "99.395" and expected[2]["month"][0] == "99.866"

    report = (await http.get("/api/v1/uptime", params={"year": 2026, "month": 10})).json()
    ports = {p["connector_id"]: p for p in report["ports"] if p["charger_id"] == "UP-1"}
    assert sorted(ports) == [1, 2]
    for connector, figures in expected.items():
        got = ports[connector]
        assert (got["month"]["uptime_percent"], Decimal(got["month"]["outage_minutes"]),
                Decimal(got["month"]["excluded_minutes"])) == (
            figures["month"][0], Decimal(figures["month"][1]), Decimal(figures["month"][2]))
        assert Decimal(got["month"]["total_minutes"]) == month
        assert got["trailing_12_months"]["uptime_percent"] == figures["year"]
    assert Decimal(ports[2]["month"]["excluded_by_reason"]["utility_outage"]) == 240

    csv_response = await http.get("/api/v1/uptime.csv", params={"year": 2026, "month": 10, "charger_id": "UP-1"})
    assert csv_response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(csv_response.text)))
    monthly = {int(r["connector_id"]): r for r in rows if r["period"] == "2026-10"}
    assert monthly[1]["uptime_percent"] == "99.395" and monthly[1]["outage_minutes"] == "270.00"
    assert monthly[2]["uptime_percent"] == "99.866" and monthly[2]["excluded_utility_outage_minutes"] == "240.00"

    future = await http.get("/api/v1/uptime", params={"year": 2026, "month": 12})
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "month"
    assert (await http.get("/api/v1/uptime", params={"year": 2026, "month": 13})).status_code == 422
    await cp.close()


async def _async(value: bool) -> bool:
    return value
