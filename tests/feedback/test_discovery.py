from datetime import timedelta

import pytest
from tests.feedback.conftest import NOW

from chargewatch.feedback.discovery import discover_clusters, recurring_themes, topic_id_for

ROOF = ["Kein Dach, bei Regen nass geworden", "Bitte ein Dach, es regnet ständig rein",
        "Dach fehlt, im Regen laden nervt"]


def _week(make_record, comments, week, station="ST-1"):
    start = NOW - timedelta(weeks=week, hours=3)
    return [make_record(2, comment, started_at=start + timedelta(minutes=i), station_id=station)
            for i, comment in enumerate(comments)]


def test_untagged_comments_sharing_a_word_form_a_cluster_with_examples(make_record):
    records = _week(make_record, [*ROOF, "Cable too short", "Toller Ausblick"], 0)
    clusters = discover_clusters(records)
    assert [(c.key, c.size) for c in clusters] == [("dach", 3)]
    assert clusters[0].examples == tuple(ROOF)


def test_comments_with_a_known_topic_are_not_clustered(make_record):
    records = _week(make_record, ["Kabel zu kurz", "Kabel viel zu kurz", "das Kabel ist zu kurz"], 0)
    assert discover_clusters(records) == []


def test_clusters_are_per_station_and_week(make_record):
    records = [*_week(make_record, ROOF[:2], 0), *_week(make_record, ROOF[2:], 1),
               *_week(make_record, ROOF[:1], 0, "ST-2")]
    assert discover_clusters(records) == []


def test_a_cluster_in_two_weeks_is_a_recurring_theme(make_record):
    records = _week(make_record, ROOF, 1) + _week(make_record, ["Kein Dach über der Säule", "Dach wäre schön",
                                                              "Wieder kein Dach"], 0)
    themes = recurring_themes(discover_clusters(records))
    assert [(t.key, t.comments, len(t.weeks)) for t in themes] == [("dach", 6, 2)]


def test_a_one_week_cluster_is_no_recurring_theme(make_record):
    assert recurring_themes(discover_clusters(_week(make_record, ROOF, 0))) == []


def test_tiny_clusters_are_refused():
    with pytest.raises(ValueError, match="min_size"):
        discover_clusters([], min_size=1)


def test_topic_id_from_a_two_word_key():
    assert topic_id_for("kein dach") == "kein_dach"
