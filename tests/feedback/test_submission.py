from datetime import timedelta

import pytest

from chargewatch.feedback.errors import FeedbackValidationError
from chargewatch.feedback.submission import (
    Contact,
    EditPolicy,
    SubmissionAction,
    can_edit,
    parse_submission,
)
from chargewatch.feedback.surveys import parse_survey


def parse(raw, now, **kwargs):
    return parse_submission(raw, session_id="S-1", submitted_at=now, **kwargs)


def errors_of(raw, now, **kwargs):
    with pytest.raises(FeedbackValidationError) as caught:
        parse(raw, now, **kwargs)
    return caught.value.as_dicts()


def test_minimal_submission_needs_only_overall(now):
    submission = parse({"overall": 4}, now)
    assert submission.feedback.overall == 4
    assert submission.feedback.comment == ""
    assert submission.contact is None


def test_full_submission_keeps_every_field(now):
    submission = parse(
        {
            "overall": 2,
            "charging_speed": 1,
            "ease_of_use": 3,
            "availability": 5,
            "price_transparency": 2,
            "comment": "  Kabel zu kurz  ",
            "would_recommend": 4,
            "contact": {"email": "driver@Example.COM"},
        },
        now,
    )
    feedback = submission.feedback
    assert (feedback.charging_speed, feedback.ease_of_use, feedback.availability) == (1, 3, 5)
    assert feedback.price_transparency == 2
    assert feedback.comment == "Kabel zu kurz"
    assert feedback.would_recommend == 4
    assert submission.contact == Contact("driver@example.com")


def test_rating_seven_is_rejected_with_field_and_reason(now):
    assert errors_of({"overall": 7}, now) == [{"field": "overall", "reason": "must be an integer from 1 to 5"}]


def test_missing_overall_is_required(now):
    assert errors_of({"comment": "ok"}, now) == [{"field": "overall", "reason": "is required"}]


@pytest.mark.parametrize("value", [True, 4.0, "4", 0])
def test_overall_must_be_a_plain_integer(now, value):
    assert errors_of({"overall": value}, now)[0]["field"] == "overall"


def test_aspect_out_of_range_names_the_aspect(now):
    assert errors_of({"overall": 3, "availability": 6}, now) == [
        {"field": "availability", "reason": "must be an integer from 1 to 5"}
    ]


def test_would_recommend_accepts_zero_to_ten_only(now):
    assert parse({"overall": 3, "would_recommend": 0}, now).feedback.would_recommend == 0
    assert errors_of({"overall": 3, "would_recommend": 11}, now)[0]["field"] == "would_recommend"


def test_oversized_comment_is_rejected(now):
    errors = errors_of({"overall": 3, "comment": "x" * 2001}, now)
    assert errors == [{"field": "comment", "reason": "must be at most 2000 characters (got 2001)"}]


def test_comment_length_is_counted_after_stripping(now):
    assert len(parse({"overall": 3, "comment": " " * 50 + "x" * 2000 + "\n"}, now).feedback.comment) == 2000


def test_comment_with_control_character_is_rejected(now):
    assert errors_of({"overall": 3, "comment": "bad\x1b[31m"}, now) == [
        {"field": "comment", "reason": "must not contain control characters"}
    ]


def test_comment_keeps_newlines_and_unifies_line_ends(now):
    assert parse({"overall": 3, "comment": "a\r\nb"}, now).feedback.comment == "a\nb"


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "a b@example.com", "a@-example.com", "a..b@example.com"])
def test_bad_email_is_rejected(now, email):
    assert errors_of({"overall": 3, "contact": {"email": email}}, now) == [
        {"field": "contact.email", "reason": "must be a valid email address"}
    ]


def test_internationalised_email_domain_is_stored_as_punycode(now):
    contact = parse({"overall": 3, "contact": {"email": "max@müller.de"}}, now).contact
    assert contact == Contact("max@xn--mller-kva.de")


def test_unknown_field_is_an_error_not_silently_dropped(now):
    assert errors_of({"overall": 3, "rating": 5}, now) == [{"field": "rating", "reason": "is not a known field"}]


def test_all_errors_are_reported_at_once(now):
    errors = errors_of({"overall": 7, "comment": 5, "contact": {"email": "x"}}, now)
    assert [error["field"] for error in errors] == ["overall", "comment", "contact.email"]


def test_answers_are_validated_against_the_survey(now):
    survey = parse_survey(
        {
            "id": "s1",
            "name": "Extra",
            "languages": ["en"],
            "questions": [
                {
                    "id": "roof",
                    "kind": "single_choice",
                    "prompt": {"en": "Roof?"},
                    "required": True,
                    "options": [{"id": "yes", "label": {"en": "Yes"}}, {"id": "no", "label": {"en": "No"}}],
                },
            ],
        }
    )
    assert parse({"overall": 3, "answers": {"roof": "no"}}, now, survey=survey).feedback.answers == {"roof": "no"}
    assert errors_of({"overall": 3, "answers": {"roof": "maybe"}}, now, survey=survey) == [
        {"field": "answers.roof", "reason": "must be one of: yes, no"}
    ]


def test_stale_survey_id_is_refused(now):
    assert errors_of({"overall": 3, "survey_id": "old"}, now)[0]["field"] == "survey_id"


def test_can_edit_inside_window_only(now):
    window = timedelta(hours=48)
    assert can_edit(now - timedelta(hours=47), now, window)
    assert not can_edit(now - timedelta(hours=48), now, window)


def test_edit_policy_creates_the_first_feedback(now):
    decision = EditPolicy().decide(now=now, existing_submitted_at=None, session_ended_at=now - timedelta(hours=1))
    assert decision.action is SubmissionAction.CREATE


def test_edit_policy_replaces_within_window_and_rejects_after(now):
    policy = EditPolicy(edit_window=timedelta(hours=24))
    inside = policy.decide(now=now, existing_submitted_at=now - timedelta(hours=23))
    after = policy.decide(now=now, existing_submitted_at=now - timedelta(hours=25))
    assert inside.action is SubmissionAction.REPLACE
    assert after.action is SubmissionAction.REJECT


def test_edit_policy_stops_collecting_long_after_the_session(now):
    decision = EditPolicy().decide(now=now, existing_submitted_at=None, session_ended_at=now - timedelta(days=31))
    assert decision.action is SubmissionAction.REJECT


def test_naive_submitted_at_is_refused():
    from datetime import datetime

    with pytest.raises(ValueError, match="timezone-aware"):
        parse_submission({"overall": 3}, session_id="S", submitted_at=datetime(2026, 11, 25))
