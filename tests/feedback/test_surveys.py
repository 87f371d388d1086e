from datetime import UTC, datetime, timedelta

import pytest

from chargewatch.feedback.errors import FeedbackValidationError, SurveyDefinitionError
from chargewatch.feedback.surveys import (
    DEFAULT_SURVEY,
    QuestionKind,
    Survey,
    Target,
    TargetKind,
    parse_survey,
    survey_for_session,
    validate_answers,
)

from .conftest import build_facts


def definition(**overrides):
    raw = {
        "id": "winter",
        "name": "Winter check",
        "languages": ["en", "de"],
        "questions": [
            {"id": "cold", "kind": "rating", "prompt": {"en": "Cold ok?", "de": "Kälte ok?"}, "required": True},
            {
                "id": "issues",
                "kind": "multi_choice",
                "prompt": {"en": "What went wrong?", "de": "Was lief schief?"},
                "options": [
                    {"id": "ice", "label": {"en": "Ice", "de": "Eis"}},
                    {"id": "snow", "label": {"en": "Snow", "de": "Schnee"}},
                ],
            },
            {"id": "note", "kind": "text", "prompt": {"en": "Note", "de": "Notiz"}, "max_length": 10},
        ],
    }
    raw.update(overrides)
    return raw


def survey(survey_id, target=Target(), active_from=None, active_until=None):
    return Survey(survey_id, survey_id, ("en",), DEFAULT_SURVEY.questions, target, active_from, active_until)


def test_valid_definition_parses():
    parsed = parse_survey(definition(active_from="2026-12-01T00:00:00+01:00"))
    assert [q.kind for q in parsed.questions] == [QuestionKind.RATING, QuestionKind.MULTI_CHOICE, QuestionKind.TEXT]
    assert parsed.active_from == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)


def test_definition_errors_carry_field_paths():
    raw = definition()
    raw["questions"][1]["options"][1]["label"] = {"en": "Snow"}
    raw["questions"][2]["max_length"] = 0
    raw["target"] = {"kind": "station_group", "charger_ids": []}
    with pytest.raises(SurveyDefinitionError) as caught:
        parse_survey(raw)
    assert [error.field for error in caught.value.errors] == [
        "questions[1].options[1].label.de",
        "questions[2].max_length",
        "target.charger_ids",
    ]


def test_choice_question_needs_two_options():
    raw = definition()
    raw["questions"][1]["options"] = raw["questions"][1]["options"][:1]
    with pytest.raises(SurveyDefinitionError, match=r"questions\[1\].options"):
        parse_survey(raw)


def test_duplicate_question_ids_are_rejected():
    raw = definition()
    raw["questions"][2]["id"] = "cold"
    with pytest.raises(SurveyDefinitionError, match=r"questions\[2\].id: duplicates"):
        parse_survey(raw)


def test_active_until_must_follow_active_from():
    raw = definition(active_from="2026-12-01T00:00:00Z", active_until="2026-11-01T00:00:00Z")
    with pytest.raises(SurveyDefinitionError, match="active_until"):
        parse_survey(raw)


def test_default_survey_asks_the_four_core_questions_in_english_and_german():
    assert [q.id for q in DEFAULT_SURVEY.questions] == ["charging_speed", "ease_of_use", "availability", "overall"]
    assert DEFAULT_SURVEY.languages == ("en", "de")
    assert DEFAULT_SURVEY.question("overall").prompt_in("de").startswith("Wie zufrieden")


def test_no_matching_survey_falls_back_to_default(now):
    other_station = survey("group", Target(TargetKind.STATION_GROUP, frozenset({"CP-9"})))
    assert survey_for_session([other_station], build_facts("S-1"), now=now) is DEFAULT_SURVEY


def test_station_group_beats_all_sessions(now):
    everyone = survey("everyone")
    group = survey("group", Target(TargetKind.STATION_GROUP, frozenset({"CP-1", "CP-2"})))
    assert survey_for_session([everyone, group], build_facts("S-1"), now=now) is group


def test_smaller_station_group_wins(now):
    large = survey("large", Target(TargetKind.STATION_GROUP, frozenset({"CP-1", "CP-2", "CP-3"})))
    small = survey("small", Target(TargetKind.STATION_GROUP, frozenset({"CP-1"})))
    assert survey_for_session([large, small], build_facts("S-1"), now=now) is small


def test_incident_survey_wins_for_sessions_with_that_incident(now):
    group = survey("group", Target(TargetKind.STATION_GROUP, frozenset({"CP-1"})))
    incident = survey("incident", Target(TargetKind.INCIDENT, incident_codes=frozenset({"EVCommunicationError"})))
    with_incident = build_facts("S-1", incident_codes=frozenset({"EVCommunicationError"}))
    other_incident = build_facts("S-2", incident_codes=frozenset({"GroundFailure"}))
    assert survey_for_session([group, incident], with_incident, now=now) is incident
    assert survey_for_session([group, incident], other_incident, now=now) is group


def test_inactive_surveys_are_not_chosen(now):
    expired = survey("expired", active_until=now - timedelta(days=1))
    future = survey("future", active_from=now + timedelta(days=1))
    assert survey_for_session([expired, future], build_facts("S-1"), now=now) is DEFAULT_SURVEY


def test_equal_specificity_prefers_the_newest_survey(now):
    old = survey("b-old", active_from=now - timedelta(days=30))
    new = survey("a-new", active_from=now - timedelta(days=1))
    assert survey_for_session([old, new], build_facts("S-1"), now=now) is new


def test_answers_are_cleaned_and_ordered():
    parsed = parse_survey(definition())
    answers = validate_answers(parsed, {"cold": 4, "issues": ["snow", "ice"], "note": "  brr "})
    assert answers == {"cold": 4, "issues": ("ice", "snow"), "note": "brr"}


def test_required_question_must_be_answered():
    with pytest.raises(FeedbackValidationError) as caught:
        validate_answers(parse_survey(definition()), {"issues": []})
    assert caught.value.as_dicts() == [{"field": "answers.cold", "reason": "is required"}]


def test_text_answer_over_max_length_is_rejected():
    with pytest.raises(FeedbackValidationError, match="answers.note: must be at most 10"):
        validate_answers(parse_survey(definition()), {"cold": 3, "note": "x" * 11})


def test_core_question_cannot_be_answered_inside_answers():
    with pytest.raises(FeedbackValidationError, match="top-level field 'overall'"):
        validate_answers(DEFAULT_SURVEY, {"overall": 5})
