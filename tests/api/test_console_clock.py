"""The console's clock and derived figures, without a server (issue 15 items 3 and 9)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from chargewatch.api import console
from chargewatch.api.console import CLOCK, Clock, clock_of, fleet_scores, fleet_uptime, valid_zone, when

ZONES = {"CP-BER": "Europe/Berlin", "CP-NYC": "America/New_York", "CP-BER2": "Europe/Berlin"}
AT = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)


def _shown(clock: Clock, value: datetime, station: str | None = None) -> str:
    token = CLOCK.set(clock)
    try:
        return when(value, station)
    finally:
        CLOCK.reset(token)


def test_a_time_is_shown_in_its_stations_zone_with_the_zone_named() -> None:
    clock = clock_of({}, ZONES, "en")
    assert _shown(clock, AT, "CP-BER") == "2026-12-02 18:00:00 CET"
    assert _shown(clock, AT, "CP-NYC") == "2026-12-02 12:00:00 EST"
    assert _shown(clock, AT) == "2026-12-02 18:00:00 CET", "no station: the fleet's most common zone"
    assert _shown(clock_of({}, ZONES, "de"), AT, "CP-BER") == "02.12.2026, 18:00:00 MEZ"
    assert _shown(clock_of({}, ZONES, "en", page_zone="America/New_York"), AT) == "2026-12-02 12:00:00 EST"
    assert _shown(clock_of({}, {}, "en"), "2026-12-02T17:00:00Z") == "2026-12-02 17:00:00 UTC"  # type: ignore[arg-type]


def test_the_operator_switches_to_their_own_zone_and_today_is_their_day() -> None:
    mine = clock_of({"cw_myzone": "Asia%2FKolkata", "cw_tz": "mine"}, ZONES, "en")
    assert (mine.mode, mine.mine) == ("mine", "Asia/Kolkata")
    assert _shown(mine, AT, "CP-BER") == "2026-12-02 22:30:00 IST"
    assert mine.midnight(AT) == datetime(2026, 12, 1, 18, 30, tzinfo=UTC)  # 00:00 IST
    station = clock_of({"cw_myzone": "Asia/Kolkata"}, ZONES, "en")
    assert station.mode == "station" and _shown(station, AT, "CP-BER").endswith("CET")
    assert station.midnight(AT) == mine.midnight(AT), "today is the operator's day in either display mode"
    assert "your time zone (Asia/Kolkata)" in mine.label


def test_a_bad_zone_cookie_is_ignored() -> None:
    for bad in ("../../etc/passwd", "Mars/Olympus", "", "x" * 100):
        clock = clock_of({"cw_myzone": bad, "cw_tz": "mine"}, ZONES, "en")
        assert (clock.mode, clock.mine) == ("station", None)
    assert valid_zone("Europe/Berlin") == "Europe/Berlin" and valid_zone(None) is None


def test_midnight_on_the_day_daylight_saving_time_starts() -> None:
    berlin = clock_of({"cw_myzone": "Europe/Berlin"}, {}, "en")
    assert berlin.midnight(datetime(2026, 3, 29, 12, 0, tzinfo=UTC)) == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert berlin.midnight(datetime(2026, 3, 28, 22, 59, tzinfo=UTC)) == datetime(2026, 3, 27, 23, 0, tzinfo=UTC)
    assert berlin.month_start(AT) == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)


def test_small_samples_are_counted_not_turned_into_percentages() -> None:
    one = {"feedback_count": 1, "satisfied": 0, "nps_count": 1, "promoters": 0, "detractors": 1, "mean_overall": 2.0}
    scores = fleet_scores([one])
    assert (scores["ratings"], scores["csat"], scores["nps"]) == (1, None, None)
    many = [{**one, "feedback_count": 4, "satisfied": 3, "nps_count": 4, "promoters": 2, "detractors": 1,
             "mean_overall": 4.0}, one]
    pooled = fleet_scores(many)
    assert pooled["csat"] == 60.0 and pooled["nps"] == 0.0  # 3 of 5 satisfied; (2 promoters − 2 detractors) / 5
    assert pooled["mean"] == (4.0 * 4 + 2.0) / 5


def test_fleet_uptime_pools_minutes_and_names_the_worst_ports() -> None:
    def port(charger: str, total: str, outage: str, excluded: str, percent: str) -> dict[str, object]:
        return {"charger_id": charger, "connector_id": 1, "month": {
            "total_minutes": total, "outage_minutes": outage, "excluded_minutes": excluded, "uptime_percent": percent}}

    ports = [port("A", "1000", "0", "0", "100"), port("B", "1000", "100", "20", "92"),
             port("C", "1000", "10", "0", "99")]
    up = fleet_uptime(ports)
    assert up is not None
    assert up["percent"] == Decimal(2910) / Decimal(3000) * 100
    assert [p["charger_id"] for p in up["worst"]] == ["B", "C", "A"]
    assert [p["charger_id"] for p in up["low"]] == ["B"]
    assert fleet_uptime([]) is None
    assert console.plural(1, "rating") == "1 rating" and console.plural(0, "rating") == "0 ratings"
