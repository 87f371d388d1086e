from chargewatch.feedback.insights import InsightRule, compare_facts, insights

EV_COMM = frozenset({"EVCommunicationError"})


def population(make_record, incident_ratings, clean_ratings):
    records = [make_record(rating, incident_codes=EV_COMM) for rating in incident_ratings]
    records += [make_record(rating) for rating in clean_ratings]
    return records


def test_large_enough_difference_yields_a_plain_language_insight(make_record):
    records = population(make_record, [3] * 21 + [2] * 2, [5] * 100 + [4] * 210)
    found = {insight.flag: insight for insight in insights(records)}
    assert found["incident:EVCommunicationError"].text == (
        "Sessions with EVCommunicationError incidents are rated 1.4 points lower on average "
        "(2.9 vs 4.3; CSAT 0% vs 100%; n=23 vs 310)."
    )


def test_no_insight_below_the_minimum_sample_size(make_record):
    records = population(make_record, [1] * 5, [5] * 300)
    assert insights(records, InsightRule(min_with=20)) == []


def test_no_insight_when_ratings_barely_differ(make_record):
    records = population(make_record, [4] * 30, [4] * 100 + [5] * 10)
    assert insights(records) == []


def test_comparison_counts_and_means_per_flag(make_record):
    records = [make_record(1, stop_reason="PowerLoss"), make_record(2, stop_reason="EmergencyStop")]
    records += [make_record(4), make_record(5)]
    comparison = next(c for c in compare_facts(records) if c.flag == "aborted")
    assert (comparison.with_flag.count, comparison.without_flag.count) == (2, 2)
    assert comparison.mean_difference == -3.0
    assert comparison.csat_difference_points == -100.0


def test_slow_sessions_are_compared_too(make_record):
    records = [make_record(2, avg_power_w=10_000) for _ in range(25)] + [make_record(5) for _ in range(25)]
    [insight] = insights(records)
    assert insight.flag == "slow"
    assert insight.text.startswith("Slow sessions (under half the connector's rated power) are rated 3.0 points lower")
