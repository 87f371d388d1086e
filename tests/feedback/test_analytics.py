import csv
import io
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from chargewatch.feedback.analytics import (
    EXPORT_COLUMNS,
    DropRule,
    TrendStatus,
    csat_of,
    detect_csat_drop,
    detect_csat_drops_by_station,
    export_csv,
    export_rows,
    iso_week,
    nps_of,
    scores_by_connector,
    scores_by_station,
    weekly_trend,
)


def test_csat_of_a_hand_computed_set():
    csat = csat_of([5, 4, 4, 3, 2, 1, 5, 4, 3, 5])
    assert (csat.satisfied, csat.count, csat.percent) == (6, 10, 60.0)


def test_nps_of_a_hand_computed_set():
    nps = nps_of([10, 9, 9, 8, 7, 6, 10, 0, 10, 3])
    assert (nps.promoters, nps.passives, nps.detractors) == (5, 2, 3)
    assert nps.score == 20.0


def test_empty_groups_have_no_score_rather_than_zero():
    assert csat_of([]).percent is None
    assert nps_of([]).score is None


@given(st.lists(st.integers(1, 5)))
def test_csat_is_a_percentage_of_the_ratings(ratings):
    csat = csat_of(ratings)
    assert csat.count == len(ratings)
    assert csat.percent is None or 0 <= csat.percent <= 100


@given(st.lists(st.integers(0, 10)))
def test_nps_lies_between_minus_and_plus_hundred(scores):
    nps = nps_of(scores)
    assert nps.count == len(scores)
    assert nps.score is None or -100 <= nps.score <= 100


def test_scores_per_station_and_connector(make_record):
    records = [
        make_record(5, would_recommend=10),
        make_record(2, would_recommend=3, connector_id=2),
        make_record(4, station_id="ST-2", charger_id="CP-7"),
    ]
    stations = {scores.key: scores for scores in scores_by_station(records)}
    assert stations["ST-1"].csat.percent == 50.0
    assert stations["ST-1"].nps.score == 0.0
    assert stations["ST-2"].mean_overall == 4.0
    assert [scores.key for scores in scores_by_connector(records)] == ["CP-1/1", "CP-1/2", "CP-7/1"]


def test_iso_week_handles_the_year_boundary():
    assert iso_week(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-W01"
    assert iso_week(datetime(2027, 1, 1, tzinfo=UTC)) == "2026-W53"


def test_weekly_trend_is_chronological_and_skips_empty_weeks(make_record, now):
    records = [
        make_record(5, started_at=now - timedelta(weeks=3)),
        make_record(1, started_at=now),
        make_record(4, started_at=now - timedelta(weeks=3), station_id="ST-2"),
    ]
    trend = weekly_trend(records, station_id="ST-1")
    assert [(week.key, week.csat.percent) for week in trend] == [("2026-W45", 100.0), ("2026-W48", 0.0)]


def history(make_record, now, baseline, recent, station_id="ST-1"):
    """`baseline` and `recent` are lists of overall ratings placed in the baseline and recent windows."""
    records = [
        make_record(rating, station_id=station_id, started_at=now - timedelta(weeks=5, hours=index))
        for index, rating in enumerate(baseline)
    ]
    records += [
        make_record(rating, station_id=station_id, started_at=now - timedelta(days=1, hours=index))
        for index, rating in enumerate(recent)
    ]
    return records


ONE_CHECK = DropRule(persistence_checks=1, cusum_threshold=None)  # about one window pair: no persistence, no CUSUM


def test_significant_csat_drop_is_flagged(make_record, now):
    records = history(make_record, now, baseline=[5] * 80 + [2] * 20, recent=[5] * 20 + [2] * 20)
    check = detect_csat_drop(records, now=now, rule=ONE_CHECK)
    assert check.status is TrendStatus.SIGNIFICANT_DROP
    assert (check.baseline.percent, check.recent.percent) == (80.0, 50.0)
    assert check.z < -1.645


def test_unchanged_csat_is_stable(make_record, now):
    records = history(make_record, now, baseline=[5] * 80 + [2] * 20, recent=[5] * 32 + [2] * 8)
    assert detect_csat_drop(records, now=now, rule=ONE_CHECK).status is TrendStatus.STABLE


def test_drop_on_a_small_sample_is_not_flagged(make_record, now):
    records = history(make_record, now, baseline=[5] * 80 + [2] * 20, recent=[1] * 10)
    assert detect_csat_drop(records, now=now, rule=DropRule(min_sample=30)).status is TrendStatus.INSUFFICIENT_DATA


def test_drops_by_station_list_dropping_stations_first(make_record, now):
    records = history(make_record, now, [5] * 40, [5] * 40, station_id="ST-A")
    records += history(make_record, now, [5] * 40, [2] * 40, station_id="ST-B")
    checks = detect_csat_drops_by_station(records, now=now, rule=ONE_CHECK)
    assert [(check.key, check.status) for check in checks] == [
        ("ST-B", TrendStatus.SIGNIFICANT_DROP),
        ("ST-A", TrendStatus.STABLE),
    ]


def test_export_has_no_contact_columns(make_record):
    assert not any("mail" in column or "contact" in column for column in EXPORT_COLUMNS)
    row = export_rows([make_record(3, comment="ok")])[0]
    assert set(row) == set(EXPORT_COLUMNS)


def test_export_neutralises_spreadsheet_formulas(make_record):
    row = export_rows([make_record(1, comment='=HYPERLINK("http://evil")')])[0]
    assert row["comment"].startswith("'=")


def test_export_csv_round_trips_through_a_csv_reader(make_record):
    text = export_csv([make_record(2, comment='Kabel, zu "kurz"\nwirklich', incident_codes={"GroundFailure"})])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["comment"] == 'Kabel, zu "kurz"\nwirklich'
    assert rows[0]["price"] == "15.90"
    assert rows[0]["flags"] == "had_incident incident:GroundFailure"
