"""Driver feedback: what drivers say about a charging session, and what operators learn from it.

Pure domain logic (no I/O, no clock). Modules, each one idea:
`submission` (validate a driver's feedback, edit policy),
`surveys` (operator-defined questions and targeting), `facts` (session telemetry kept with the
feedback), `analytics` (CSAT, NPS, trends, drop alerts, CSV export), `topics` (comment themes),
`insights` (ratings versus telemetry), `priorities` (which station to fix first).
"""

from chargewatch.feedback.errors import (
    FeedbackValidationError,
    FieldError,
    FieldValidationError,
    SurveyDefinitionError,
    TopicDefinitionError,
)
from chargewatch.feedback.facts import FactFlag, FactThresholds, SessionFacts
from chargewatch.feedback.records import FeedbackRecord
from chargewatch.feedback.submission import (
    Aspect,
    Contact,
    EditDecision,
    EditPolicy,
    Feedback,
    Submission,
    SubmissionAction,
    can_edit,
    parse_submission,
)
from chargewatch.feedback.surveys import DEFAULT_SURVEY, Question, Survey, parse_survey, survey_for_session

__all__ = [
    "DEFAULT_SURVEY",
    "Aspect",
    "Contact",
    "EditDecision",
    "EditPolicy",
    "FactFlag",
    "FactThresholds",
    "Feedback",
    "FeedbackRecord",
    "FeedbackValidationError",
    "FieldError",
    "FieldValidationError",
    "Question",
    "SessionFacts",
    "Submission",
    "SubmissionAction",
    "Survey",
    "SurveyDefinitionError",
    "TopicDefinitionError",
    "can_edit",
    "parse_submission",
    "parse_survey",
    "survey_for_session",
]
