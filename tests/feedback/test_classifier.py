"""The rule classifier on the labelled EN/DE set (tests/feedback/data/comments_eval.jsonl) and on the
issue's examples; `bench/feedback_classifier.py` prints the same figures next to the keyword matcher's."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chargewatch.feedback.classifier import RuleTopics, Sentiment
from chargewatch.feedback.evaluation import score
from chargewatch.feedback.facts import SessionFacts
from chargewatch.feedback.fault_reports import fault_report, reported_faults

DATA = Path(__file__).resolve().parent / "data" / "comments_eval.jsonl"
ROWS = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
RULES = RuleTopics()


def _scores(split):
    rows = [row for row in ROWS if row["split"] == split]
    return score(rows, lambda text: {t: s.value[:3] for t, s in RULES.analyse(text).sentiments().items()},
                 lambda text: bool(reported_faults(text, RULES)))


def test_evaluation_set_is_large_and_bilingual():
    assert len(ROWS) >= 300
    english = sum(row["lang"] in ("en", "mixed") for row in ROWS) / len(ROWS)
    assert 0.55 <= english <= 0.65
    assert sum(row["fault"] for row in ROWS) >= 60 and sum(row["negation"] for row in ROWS) >= 35


@pytest.mark.parametrize("split", ["dev", "held_out"])
def test_topics_reach_micro_f1_of_085(split):
    assert _scores(split).micro_f1 >= 0.85


@pytest.mark.parametrize("split", ["dev", "held_out"])
def test_negated_complaints_are_misread_in_at_most_5_percent(split):
    assert _scores(split).negation_error_rate <= 0.05


@pytest.mark.parametrize("split", ["dev", "held_out"])
def test_fault_reports_are_recognised_with_few_false_incidents(split):
    scores = _scores(split)
    assert scores.fault_recall >= 0.90
    assert scores.false_incident_rate <= 0.03


def test_negated_complaints_are_praise_not_complaints():
    analysis = RULES.analyse("Cable not too short, price not too high, speed not slow")
    assert analysis.complaints == frozenset()
    assert analysis.praised == {"cable_too_short", "price_too_high", "slow_charging"}


def test_negated_fault_word_reports_no_fault():
    assert reported_faults("Funktioniert einwandfrei, keine Störung wie letzte Woche", RULES) == ()


def test_broken_lighting_is_a_lighting_complaint_without_incident():
    assert RULES.topics_of("Beleuchtung kaputt seit Wochen") == {"lighting"}
    assert reported_faults("Beleuchtung kaputt seit Wochen", RULES) == ()


def test_charging_cutting_out_is_an_interrupted_session_fault():
    assert reported_faults("Charging keeps cutting out after a few minutes", RULES) == ("session_interrupted",)


def test_black_display_is_a_display_fault():
    assert reported_faults("Display completely black", RULES) == ("display_fault",)


def test_typos_are_tolerated():
    assert RULES.topics_of("Ladestation kaput") == {"broken"}
    assert RULES.topics_of("very sloww charging") == {"slow_charging"}
    assert RULES.topics_of("Beleutung defekt") == {"lighting"}
    assert RULES.topics_of("Sehr langsahm") == {"slow_charging"}


def test_mixed_language_comment_finds_both_topics():
    assert RULES.topics_of("Charger kaputt, app also not working") == {"broken", "app"}


def test_absent_amenity_is_a_complaint_and_present_one_praise():
    assert RULES.analyse("Keine Toilette, kein Café, nichts").sentiments() == {"amenities": Sentiment.COMPLAINT}
    assert RULES.analyse("Loved the lounge and the coffee").sentiments() == {"amenities": Sentiment.PRAISE}


def _facts(**changes):
    start = datetime(2026, 3, 2, 8, tzinfo=UTC)
    values = dict(session_id="7", charger_id="CP1", connector_id=1, station_id="S1", started_at=start,
                  ended_at=start + timedelta(minutes=40), energy_wh=30000, avg_power_w=45000, peak_power_w=48000,
                  connector_rating_w=150000)
    values.update(changes)
    return SessionFacts(**values)


def test_slow_complaint_on_a_derated_session_is_a_derating_fault():
    report = fault_report("Super slow today", _facts(), RULES)
    assert report.categories == ("derated_power",)
    assert "slow" in report.corroborated


def test_slow_complaint_on_a_full_power_session_is_no_fault():
    facts = _facts(avg_power_w=140000, peak_power_w=148000)
    assert not fault_report("Super slow today", facts, RULES).opens_incident


def test_derating_claim_contradicted_by_full_rated_power_opens_nothing():
    facts = _facts(avg_power_w=140000, peak_power_w=149000)
    assert not fault_report("Power dropped to 20 kW after 5 min", facts, RULES).opens_incident


def test_abort_stop_reason_corroborates_an_interruption_report():
    report = fault_report("Ladevorgang bricht ständig ab", _facts(stop_reason="EmergencyStop"), RULES)
    assert report.categories == ("session_interrupted",)
    assert report.corroborated == ("stop_reason:EmergencyStop",)


def test_billing_dispute_goes_to_billing_review_not_an_incident():
    report = fault_report("Zweimal abgebucht für eine Ladung!", _facts(), RULES)
    assert report.billing_dispute and not report.opens_incident


def test_glare_on_the_screen_is_no_fault():
    assert not fault_report("Screen is impossible to read in the sun, glare everywhere", _facts(), RULES).opens_incident


def test_fault_reports_understand_negation_without_a_classifier_given():
    assert reported_faults("Never had a problem, nothing broken") == ()
    assert reported_faults("Charger broken") == ("broken",)
