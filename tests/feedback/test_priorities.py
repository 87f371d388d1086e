from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chargewatch.feedback.priorities import StationOperations, rank_stations

WEEK = 7 * 24 * 3600


def operations(station_id, sessions=100, price="10.00", incidents=0, downtime=0, faults=None, currency="EUR"):
    return StationOperations(station_id, sessions, Decimal(price), currency, WEEK, incidents, downtime, faults or {})


def test_unhappy_unreliable_station_ranks_first(make_record):
    records = [make_record(1, "Kabel zu kurz", station_id="BAD") for _ in range(20)]
    records += [make_record(5, station_id="GOOD") for _ in range(20)]
    ranking = rank_stations(
        records,
        [
            operations("GOOD"),
            operations(
                "BAD", incidents=12, downtime=WEEK // 10, faults={"GroundFailure": 3, "EVCommunicationError": 9}
            ),
        ],
    )
    first = ranking[0]
    assert [p.station_id for p in ranking] == ["BAD", "GOOD"]
    assert [p.rank for p in ranking] == [1, 2]
    assert (first.top_topic, first.top_fault) == ("cable_too_short", "EVCommunicationError")


def test_score_components_are_exposed_and_sum_with_weights(make_record):
    records = [make_record(1, station_id="A") for _ in range(10)] + [make_record(5, station_id="B")]
    [first, second] = rank_stations(records, [operations("A", incidents=5, downtime=WEEK // 2), operations("B")])
    components = first.components
    assert components.reliability == pytest.approx(0.5 * 0.5 + 0.5 * 1.0)
    assert components.revenue == 1.0
    assert first.score == pytest.approx(0.4 * components.rating + 0.3 * components.reliability + 0.3)
    # B's single 5-star rating is shrunk towards the network's 10/11 dissatisfied: not "nothing at risk".
    assert second.components.revenue == pytest.approx(((10 * 10 / 11) / 11) / ((10 + 10 * 10 / 11) / 20), abs=1e-4)


def test_revenue_at_risk_is_sessions_times_price_times_dissatisfied_share(make_record):
    records = [make_record(rating, station_id="A") for rating in (1, 2, 4, 5)]
    [priority] = rank_stations(records, [operations("A", sessions=200, price="12.50")])
    assert priority.dissatisfied_share == Decimal("0.5")
    assert priority.revenue_at_risk == Decimal("1250.00")
    assert priority.currency == "EUR"


def test_few_bad_ratings_do_not_outrank_many_poor_ones(make_record):
    records = [make_record(1, station_id="TWO-ONE-STARS") for _ in range(2)]
    records += [make_record(2, station_id="MANY-TWO-STARS") for _ in range(100)]
    records += [make_record(5, station_id="REST") for _ in range(100)]
    ranking = rank_stations(records, [])
    by_id = {p.station_id: p for p in ranking}
    assert by_id["MANY-TWO-STARS"].components.rating > by_id["TWO-ONE-STARS"].components.rating


def test_mixed_currencies_are_refused(make_record):
    with pytest.raises(ValueError, match="currencies"):
        rank_stations([], [operations("A"), operations("B", currency="CHF")])


station_ids = st.sampled_from(["A", "B", "C", "D"])
rated = st.lists(st.tuples(station_ids, st.integers(1, 5)), max_size=40)
ops = st.lists(
    st.builds(
        operations,
        station_ids,
        sessions=st.integers(0, 500),
        price=st.sampled_from(["0.00", "7.50", "20.00"]),
        incidents=st.integers(0, 30),
        downtime=st.integers(0, WEEK),
    ),
    max_size=4,
    unique_by=lambda o: o.station_id,
)


# make_record only hands out fresh session ids, so sharing it across examples is safe.
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rated, ops, st.randoms(use_true_random=False))
def test_ranking_does_not_depend_on_input_order(make_record, ratings, station_ops, rnd):
    records = [make_record(rating, station_id=station) for station, rating in ratings]
    shuffled_records, shuffled_ops = records[:], station_ops[:]
    rnd.shuffle(shuffled_records)
    rnd.shuffle(shuffled_ops)
    assert rank_stations(records, station_ops) == rank_stations(shuffled_records, shuffled_ops)


# make_record only hands out fresh session ids, so sharing it across examples is safe.
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rated, ops)
def test_scores_and_components_stay_between_zero_and_one(make_record, ratings, station_ops):
    records = [make_record(rating, station_id=station) for station, rating in ratings]
    for priority in rank_stations(records, station_ops):
        parts = priority.components
        assert 0 <= priority.score <= 1
        assert all(0 <= value <= 1 for value in (parts.rating, parts.reliability, parts.revenue))


def test_one_one_star_rating_does_not_put_as_much_revenue_at_risk_as_two_hundred_two_star_ones(make_record):
    records = [make_record(1, station_id="ONE")]
    records += [make_record(2, station_id="MANY") for _ in range(200)]
    records += [make_record(5, station_id="HAPPY") for _ in range(200)]
    ops = [operations(station, sessions=100, price="10.00") for station in ("ONE", "MANY", "HAPPY")]
    by_id = {p.station_id: p for p in rank_stations(records, ops)}
    # Unshrunk, both would be 100 sessions x 10 EUR x 100 % = 1,000 EUR.
    assert by_id["MANY"].revenue_at_risk == Decimal("976.25")  # (200 + 10 * 201/401) / 210 of 1,000
    assert by_id["ONE"].revenue_at_risk == Decimal("546.59")  # (1 + 10 * 201/401) / 11 of 1,000
