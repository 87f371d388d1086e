"""A driver's feedback on one charging session: validation of what they send, and when they may
change it.

Contact data is split off into `Contact` at the boundary: it is personal data, stored apart from the
feedback and deletable on request, while the feedback itself stays for analytics.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from chargewatch.feedback.errors import FeedbackValidationError, FieldError
from chargewatch.feedback.freetext import clean_free_text
from chargewatch.feedback.surveys import DEFAULT_SURVEY, RATING_MAX, RATING_MIN, Answer, Survey, check_answers
from chargewatch.feedback.timestamps import as_utc

MAX_COMMENT_LENGTH = 2000
MAX_EMAIL_LENGTH = 254
RECOMMEND_MIN, RECOMMEND_MAX = 0, 10

# Deliberately permissive (RFC 5322 dot-atom local part, LDH domain labels): rejecting a real address
# costs a lost contact, accepting an odd one costs a bounced mail.
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_TOP_LEVEL = re.compile(r"^([A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$")


class Aspect(StrEnum):
    """Optional 1-5 ratings of one part of the experience, next to the required overall rating."""

    CHARGING_SPEED = "charging_speed"
    EASE_OF_USE = "ease_of_use"  # the charger itself: screen, app, card reader
    AVAILABILITY = "availability"  # could the driver charge when they arrived
    PRICE_TRANSPARENCY = "price_transparency"


@dataclass(frozen=True, slots=True)
class Contact:
    """How to reach the driver back; stored separately from `Feedback` so it can be deleted alone."""

    email: str


@dataclass(frozen=True, slots=True)
class Feedback:
    """A validated feedback for one session. Ratings are 1-5, `would_recommend` 0-10 (NPS scale)."""

    session_id: str
    overall: int
    submitted_at: datetime
    charging_speed: int | None = None
    ease_of_use: int | None = None
    availability: int | None = None
    price_transparency: int | None = None
    comment: str = ""
    would_recommend: int | None = None
    survey_id: str | None = None
    answers: Mapping[str, Answer] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "submitted_at", as_utc(self.submitted_at, "submitted_at"))

    def aspect(self, aspect: Aspect) -> int | None:
        rating: int | None = getattr(self, aspect.value)
        return rating


@dataclass(frozen=True, slots=True)
class Submission:
    """What `parse_submission` returns: the feedback, and the contact to store apart (if any)."""

    feedback: Feedback
    contact: Contact | None


_KNOWN_FIELDS = frozenset({"overall", *Aspect, "comment", "would_recommend", "contact", "answers", "survey_id"})


def parse_submission(
    raw: Mapping[str, object],
    *,
    session_id: str,
    submitted_at: datetime,
    survey: Survey = DEFAULT_SURVEY,
) -> Submission:
    """Validate a driver's JSON payload for one session; raise `FeedbackValidationError` listing every
    problem, e.g. ``{"field": "overall", "reason": "must be an integer from 1 to 5"}``.

    Payload: ``overall`` (required), ``charging_speed``, ``ease_of_use``, ``availability``,
    ``price_transparency`` (1-5), ``comment`` (string, at most 2000 characters after stripping),
    ``would_recommend`` (0-10), ``contact`` (``{"email": ...}``), ``answers`` (non-core survey
    questions, by id) and ``survey_id`` (if sent, must be the survey's id: a stale form is refused).
    Unknown fields are errors so that a client bug cannot silently lose data.
    """
    if not isinstance(raw, Mapping):
        raise FeedbackValidationError([FieldError("$", "must be a JSON object")])
    errors = [FieldError(str(key), "is not a known field") for key in raw if key not in _KNOWN_FIELDS]

    overall = _rating(raw.get("overall"), "overall", RATING_MIN, RATING_MAX, errors)
    if overall is None and not any(error.field == "overall" for error in errors):
        errors.append(FieldError("overall", "is required"))
    charging_speed, ease_of_use, availability, price_transparency = (
        _rating(raw.get(aspect), aspect.value, RATING_MIN, RATING_MAX, errors) for aspect in Aspect
    )
    would_recommend = _rating(raw.get("would_recommend"), "would_recommend", RECOMMEND_MIN, RECOMMEND_MAX, errors)

    comment = ""
    if raw.get("comment") is not None:
        try:
            comment = clean_free_text(raw["comment"], MAX_COMMENT_LENGTH)
        except ValueError as error:
            errors.append(FieldError("comment", str(error)))

    contact = _contact(raw.get("contact"), errors)
    answers, answer_errors = check_answers(survey, raw.get("answers"))
    errors.extend(answer_errors)
    if raw.get("survey_id") is not None and raw.get("survey_id") != survey.id:
        errors.append(FieldError("survey_id", "the survey has changed; reload the form"))

    if errors or overall is None:
        raise FeedbackValidationError(errors)
    feedback = Feedback(
        session_id=session_id,
        overall=overall,
        submitted_at=submitted_at,
        comment=comment,
        would_recommend=would_recommend,
        survey_id=survey.id,
        answers=answers,
        charging_speed=charging_speed,
        ease_of_use=ease_of_use,
        availability=availability,
        price_transparency=price_transparency,
    )
    return Submission(feedback, contact)


def _rating(value: object, name: str, low: int, high: int, errors: list[FieldError]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors.append(FieldError(name, f"must be an integer from {low} to {high}"))
        return None
    return value


def _contact(value: object, errors: list[FieldError]) -> Contact | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        errors.append(FieldError("contact", 'must be an object like {"email": "..."}'))
        return None
    for key in value:
        if key != "email":
            errors.append(FieldError(f"contact.{key}", "is not a known field"))
    email = value.get("email")
    if email is None:
        errors.append(FieldError("contact.email", "is required when contact is given"))
        return None
    try:
        return Contact(normalise_email(email))
    except ValueError as error:
        errors.append(FieldError("contact.email", str(error)))
        return None


def normalise_email(value: object) -> str:
    """Return the address stripped, with its domain lower-cased and IDNA-encoded; raise ValueError."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    email = value.strip()
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain or len(email) > MAX_EMAIL_LENGTH:
        raise ValueError("must be a valid email address")
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError as error:
        raise ValueError("must be a valid email address") from error
    labels = ascii_domain.split(".")
    if (
        len(local) > 64
        or not _LOCAL_PART.match(local)
        or len(labels) < 2
        or not all(_DOMAIN_LABEL.match(label) for label in labels)
        or not _TOP_LEVEL.match(labels[-1])
    ):
        raise ValueError("must be a valid email address")
    return f"{local}@{ascii_domain}"


def can_edit(submitted_at: datetime, now: datetime, window: timedelta) -> bool:
    """True while less than `window` has passed since the first submission (end exclusive)."""
    return as_utc(now, "now") - as_utc(submitted_at, "submitted_at") < window


class SubmissionAction(StrEnum):
    CREATE = "create"
    REPLACE = "replace"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class EditDecision:
    action: SubmissionAction
    reason: str


@dataclass(frozen=True, slots=True)
class EditPolicy:
    """One feedback per session: the first submission creates it, later ones replace it while the
    edit window (counted from the first submission) is open, and are refused after.

    The store enforces uniqueness (one row per session id) and asks `decide` what to do; a replaced
    feedback keeps the original `submitted_at` so the window cannot be extended by editing.
    New feedback is accepted only within `collect_window` of the session's end, so tokens in old
    receipts stop being an open door.
    """

    edit_window: timedelta = timedelta(hours=48)
    collect_window: timedelta = timedelta(days=30)

    def decide(
        self,
        *,
        now: datetime,
        existing_submitted_at: datetime | None,
        session_ended_at: datetime | None = None,
    ) -> EditDecision:
        if existing_submitted_at is not None:
            if can_edit(existing_submitted_at, now, self.edit_window):
                return EditDecision(SubmissionAction.REPLACE, "within the edit window")
            return EditDecision(SubmissionAction.REJECT, "the edit window has closed")
        if session_ended_at is not None and not can_edit(session_ended_at, now, self.collect_window):
            return EditDecision(SubmissionAction.REJECT, "feedback for this session is no longer collected")
        return EditDecision(SubmissionAction.CREATE, "first feedback for this session")
