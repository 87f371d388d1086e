"""Operator-defined surveys: what to ask, whom to ask, when, and how answers are checked.

A survey's questions come in four kinds (rating 1-5, single choice, multiple choice, free text).
The core ratings of every feedback (`CORE_FIELDS`) are top-level fields of a submission; a survey may
list them to choose their wording and order, and then they are rendered but answered at top level.
All other questions are answered in the submission's ``answers`` object, keyed by question id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from chargewatch.feedback.errors import FeedbackValidationError, FieldError, SurveyDefinitionError
from chargewatch.feedback.facts import SessionFacts
from chargewatch.feedback.freetext import clean_free_text
from chargewatch.feedback.timestamps import as_utc, parse_utc

Answer = int | str | tuple[str, ...]
LocalizedText = Mapping[str, str]

CORE_FIELDS: tuple[str, ...] = (
    "overall",
    "charging_speed",
    "ease_of_use",
    "availability",
    "price_transparency",
)
RATING_MIN, RATING_MAX = 1, 5
MAX_QUESTIONS = 30
MAX_OPTIONS = 20
MAX_TEXT_ANSWER = 2000
IDENTIFIER = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
LANGUAGE = re.compile(r"^[a-z]{2}$")


class QuestionKind(StrEnum):
    RATING = "rating"
    SINGLE_CHOICE = "single_choice"
    MULTI_CHOICE = "multi_choice"
    TEXT = "text"


class TargetKind(StrEnum):
    ALL_SESSIONS = "all_sessions"
    STATION_GROUP = "station_group"
    INCIDENT = "incident"


@dataclass(frozen=True, slots=True)
class Option:
    id: str
    label: LocalizedText


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    kind: QuestionKind
    prompt: LocalizedText
    options: tuple[Option, ...] = ()
    max_length: int | None = None
    required: bool = False

    @property
    def is_core(self) -> bool:
        """Core questions are answered by the submission's top-level field of the same name."""
        return self.id in CORE_FIELDS

    def prompt_in(self, language: str) -> str:
        """The prompt in `language`, falling back to English, then to any language defined."""
        return self.prompt.get(language) or self.prompt.get("en") or next(iter(self.prompt.values()))


@dataclass(frozen=True, slots=True)
class Target:
    """Which sessions a survey is for.

    A station group is a set of charger ids. An incident target matches sessions with any incident,
    or, when `incident_codes` is non-empty, with at least one of those codes.
    """

    kind: TargetKind = TargetKind.ALL_SESSIONS
    charger_ids: frozenset[str] = frozenset()
    incident_codes: frozenset[str] = frozenset()

    def matches(self, facts: SessionFacts) -> bool:
        if self.kind is TargetKind.STATION_GROUP:
            return facts.charger_id in self.charger_ids
        if self.kind is TargetKind.INCIDENT:
            if self.incident_codes:
                return bool(self.incident_codes & facts.incident_codes)
            return facts.had_incident
        return True

    def specificity(self) -> tuple[int, int]:
        """Higher sorts as more specific.

        Incident surveys beat station groups because they ask about the failure the driver just
        lived through; within a kind, naming codes beats 'any incident' and a smaller group beats a
        larger one.
        """
        if self.kind is TargetKind.INCIDENT:
            return (3 if self.incident_codes else 2, -len(self.incident_codes))
        if self.kind is TargetKind.STATION_GROUP:
            return (1, -len(self.charger_ids))
        return (0, 0)


@dataclass(frozen=True, slots=True)
class Survey:
    """A named list of questions, with the sessions it targets and the window in which it runs.

    `active_from` is inclusive, `active_until` exclusive; None means open-ended.
    """

    id: str
    name: str
    languages: tuple[str, ...]
    questions: tuple[Question, ...]
    target: Target = field(default_factory=Target)
    active_from: datetime | None = None
    active_until: datetime | None = None

    def is_active(self, now: datetime) -> bool:
        now = as_utc(now, "now")
        if self.active_from is not None and now < self.active_from:
            return False
        return self.active_until is None or now < self.active_until

    def question(self, question_id: str) -> Question | None:
        return next((question for question in self.questions if question.id == question_id), None)


def _rating(question_id: str, english: str, german: str, *, required: bool = False) -> Question:
    return Question(question_id, QuestionKind.RATING, {"en": english, "de": german}, required=required)


DEFAULT_SURVEY = Survey(
    id="default",
    name="Charging experience",
    languages=("en", "de"),
    questions=(
        _rating(
            "charging_speed",
            "How satisfied were you with the charging speed?",
            "Wie zufrieden waren Sie mit der Ladegeschwindigkeit?",
        ),
        _rating(
            "ease_of_use",
            "How easy was the charger (screen, app, card) to use?",
            "Wie einfach war die Bedienung der Ladesäule (Display, App, Karte)?",
        ),
        _rating(
            "availability",
            "Could you charge right away when you arrived?",
            "Konnten Sie bei Ihrer Ankunft sofort laden?",
        ),
        _rating(
            "overall",
            "Overall, how satisfied are you with this charging session?",
            "Wie zufrieden sind Sie insgesamt mit diesem Ladevorgang?",
            required=True,
        ),
    ),
)


def survey_for_session(surveys: Iterable[Survey], facts: SessionFacts, *, now: datetime) -> Survey:
    """The survey to show for a session: the most specific active survey whose target matches.

    Ties go to the most recently started survey, then to the smallest id, so the choice is stable.
    With no match the built-in `DEFAULT_SURVEY` is used.
    """
    candidates = [survey for survey in surveys if survey.is_active(now) and survey.target.matches(facts)]
    if not candidates:
        return DEFAULT_SURVEY
    never = datetime.min.replace(tzinfo=UTC)

    def preference(survey: Survey) -> tuple[tuple[int, int], datetime]:
        return survey.target.specificity(), survey.active_from or never

    best = max(preference(survey) for survey in candidates)
    return min((survey for survey in candidates if preference(survey) == best), key=lambda survey: survey.id)


def check_answers(survey: Survey, raw: object, path: str = "answers") -> tuple[dict[str, Answer], list[FieldError]]:
    """Validate answers to `survey`'s non-core questions; return the clean answers and every error.

    Empty answers (blank text, empty selection) count as unanswered; required questions must be
    answered. Answers to unknown or core questions are errors, so nothing is silently dropped.
    """
    errors: list[FieldError] = []
    answers: dict[str, Answer] = {}
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        return answers, [FieldError(path, "must be an object keyed by question id")]
    for key in raw:
        question = survey.question(key) if isinstance(key, str) else None
        if question is None:
            errors.append(FieldError(f"{path}.{key}", "is not a question of this survey"))
        elif question.is_core:
            errors.append(FieldError(f"{path}.{key}", f"must be given as the top-level field '{key}'"))
    for question in survey.questions:
        if question.is_core:
            continue
        answer_path = f"{path}.{question.id}"
        value = raw.get(question.id)
        try:
            answer = _answer(question, value)
        except ValueError as error:
            errors.append(FieldError(answer_path, str(error)))
            continue
        if answer is None:
            if question.required:
                errors.append(FieldError(answer_path, "is required"))
        else:
            answers[question.id] = answer
    return answers, errors


def validate_answers(survey: Survey, raw: object) -> dict[str, Answer]:
    """Like `check_answers`, but raise `FeedbackValidationError` if anything is wrong."""
    answers, errors = check_answers(survey, raw)
    if errors:
        raise FeedbackValidationError(errors)
    return answers


def _answer(question: Question, value: object) -> Answer | None:
    if value is None:
        return None
    option_ids = [option.id for option in question.options]
    if question.kind is QuestionKind.RATING:
        if isinstance(value, bool) or not isinstance(value, int) or not RATING_MIN <= value <= RATING_MAX:
            raise ValueError(f"must be an integer from {RATING_MIN} to {RATING_MAX}")
        return value
    if question.kind is QuestionKind.SINGLE_CHOICE:
        if not isinstance(value, str) or value not in option_ids:
            raise ValueError(f"must be one of: {', '.join(option_ids)}")
        return value
    if question.kind is QuestionKind.MULTI_CHOICE:
        if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
            raise ValueError("must be a list of option ids")
        unknown = [item for item in value if item not in option_ids]
        if unknown:
            raise ValueError(f"unknown options: {', '.join(unknown)}")
        if len(set(value)) != len(value):
            raise ValueError("must not repeat an option")
        return tuple(item for item in option_ids if item in value) or None
    text = clean_free_text(value, question.max_length or MAX_TEXT_ANSWER)
    return text or None


def parse_survey(raw: Mapping[str, Any]) -> Survey:
    """Build a `Survey` from an operator's JSON definition; raise `SurveyDefinitionError` listing every
    problem with its path (``questions[1].options[0].label.de``).

    Example::

        {"id": "winter-2026", "name": "Winter check", "languages": ["en", "de"],
         "target": {"kind": "station_group", "charger_ids": ["CP-1", "CP-2"]},
         "active_from": "2026-12-01T00:00:00Z", "active_until": "2027-03-01T00:00:00Z",
         "questions": [{"id": "cold", "kind": "rating", "required": true,
                        "prompt": {"en": "Did the charger work in the cold?", "de": "..."}}]}
    """
    errors: list[FieldError] = []
    if not isinstance(raw, Mapping):
        raise SurveyDefinitionError([FieldError("$", "must be an object")])
    survey_id = raw.get("id")
    if not isinstance(survey_id, str) or not IDENTIFIER.match(survey_id):
        errors.append(FieldError("id", "must be 1-64 characters of a-z, 0-9, '_' or '-'"))
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        errors.append(FieldError("name", "must be a non-empty string of at most 200 characters"))
    languages = _languages(raw.get("languages"), errors)
    questions = _questions(raw.get("questions"), languages, errors)
    target = _target(raw.get("target"), errors)
    active_from = _instant(raw.get("active_from"), "active_from", errors)
    active_until = _instant(raw.get("active_until"), "active_until", errors)
    if active_from and active_until and active_until <= active_from:
        errors.append(FieldError("active_until", "must be after active_from"))
    if errors:
        raise SurveyDefinitionError(errors)
    return Survey(
        id=str(survey_id),
        name=str(name).strip(),
        languages=languages,
        questions=questions,
        target=target,
        active_from=active_from,
        active_until=active_until,
    )


def _languages(raw: object, errors: list[FieldError]) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        errors.append(FieldError("languages", "must be a non-empty list of ISO 639-1 codes"))
        return ()
    valid = []
    for index, language in enumerate(raw):
        if not isinstance(language, str) or not LANGUAGE.match(language):
            errors.append(FieldError(f"languages[{index}]", "must be a two-letter lower-case language code"))
        elif language in valid:
            errors.append(FieldError(f"languages[{index}]", "is listed twice"))
        else:
            valid.append(language)
    return tuple(valid)


def _localized(raw: object, path: str, languages: Sequence[str], errors: list[FieldError]) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        errors.append(FieldError(path, "must be an object of language code to text"))
        return {}
    text: dict[str, str] = {}
    for language in languages:
        value = raw.get(language)
        if not isinstance(value, str) or not value.strip():
            errors.append(FieldError(f"{path}.{language}", "is missing"))
        else:
            text[language] = value.strip()
    for language in raw:
        if language not in languages:
            errors.append(FieldError(f"{path}.{language}", "is not one of the survey's languages"))
    return text


def _questions(raw: object, languages: Sequence[str], errors: list[FieldError]) -> tuple[Question, ...]:
    if not isinstance(raw, list) or not raw:
        errors.append(FieldError("questions", "must be a non-empty list"))
        return ()
    if len(raw) > MAX_QUESTIONS:
        errors.append(FieldError("questions", f"must have at most {MAX_QUESTIONS} questions"))
    questions: list[Question] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        path = f"questions[{index}]"
        if not isinstance(item, Mapping):
            errors.append(FieldError(path, "must be an object"))
            continue
        question = _question(item, path, languages, errors)
        if question is None:
            continue
        if question.id in seen:
            errors.append(FieldError(f"{path}.id", f"duplicates question id '{question.id}'"))
        seen.add(question.id)
        questions.append(question)
    return tuple(questions)


def _question(raw: Mapping[str, Any], path: str, languages: Sequence[str], errors: list[FieldError]) -> Question | None:
    count = len(errors)
    question_id = raw.get("id")
    if not isinstance(question_id, str) or not IDENTIFIER.match(question_id):
        errors.append(FieldError(f"{path}.id", "must be 1-64 characters of a-z, 0-9, '_' or '-'"))
    try:
        kind = QuestionKind(str(raw.get("kind")))
    except ValueError:
        errors.append(FieldError(f"{path}.kind", f"must be one of: {', '.join(QuestionKind)}"))
        return None
    prompt = _localized(raw.get("prompt"), f"{path}.prompt", languages, errors)
    required = raw.get("required", False)
    if not isinstance(required, bool):
        errors.append(FieldError(f"{path}.required", "must be true or false"))
    if question_id in CORE_FIELDS and kind is not QuestionKind.RATING:
        errors.append(FieldError(f"{path}.kind", f"must be 'rating' for the core question '{question_id}'"))
    options = _options(raw.get("options"), kind, path, languages, errors)
    max_length = raw.get("max_length")
    if kind is QuestionKind.TEXT:
        if max_length is not None and (
            isinstance(max_length, bool) or not isinstance(max_length, int) or not 1 <= max_length <= MAX_TEXT_ANSWER
        ):
            errors.append(FieldError(f"{path}.max_length", f"must be an integer from 1 to {MAX_TEXT_ANSWER}"))
    elif max_length is not None:
        errors.append(FieldError(f"{path}.max_length", "is only allowed for text questions"))
    if len(errors) > count:
        return None
    return Question(str(question_id), kind, prompt, options, max_length, bool(required))


def _options(
    raw: object, kind: QuestionKind, path: str, languages: Sequence[str], errors: list[FieldError]
) -> tuple[Option, ...]:
    if kind not in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTI_CHOICE):
        if raw is not None:
            errors.append(FieldError(f"{path}.options", "are only allowed for choice questions"))
        return ()
    if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_OPTIONS:
        errors.append(FieldError(f"{path}.options", f"must be a list of 2 to {MAX_OPTIONS} options"))
        return ()
    options: list[Option] = []
    for index, item in enumerate(raw):
        option_path = f"{path}.options[{index}]"
        if not isinstance(item, Mapping):
            errors.append(FieldError(option_path, "must be an object"))
            continue
        option_id = item.get("id")
        if not isinstance(option_id, str) or not IDENTIFIER.match(option_id):
            errors.append(FieldError(f"{option_path}.id", "must be 1-64 characters of a-z, 0-9, '_' or '-'"))
            continue
        if any(option.id == option_id for option in options):
            errors.append(FieldError(f"{option_path}.id", f"duplicates option id '{option_id}'"))
        label = _localized(item.get("label"), f"{option_path}.label", languages, errors)
        options.append(Option(option_id, label))
    return tuple(options)


def _target(raw: object, errors: list[FieldError]) -> Target:
    if raw is None:
        return Target()
    if not isinstance(raw, Mapping):
        errors.append(FieldError("target", "must be an object"))
        return Target()
    try:
        kind = TargetKind(str(raw.get("kind")))
    except ValueError:
        errors.append(FieldError("target.kind", f"must be one of: {', '.join(TargetKind)}"))
        return Target()
    charger_ids = _string_set(raw.get("charger_ids"), "target.charger_ids", errors)
    incident_codes = _string_set(raw.get("incident_codes"), "target.incident_codes", errors)
    if kind is TargetKind.STATION_GROUP and not charger_ids:
        errors.append(FieldError("target.charger_ids", "must list at least one charger id"))
    if kind is not TargetKind.STATION_GROUP and charger_ids:
        errors.append(FieldError("target.charger_ids", "are only allowed for a station_group target"))
    if kind is not TargetKind.INCIDENT and incident_codes:
        errors.append(FieldError("target.incident_codes", "are only allowed for an incident target"))
    return Target(kind, charger_ids, incident_codes)


def _string_set(raw: object, path: str, errors: list[FieldError]) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list) or not all(isinstance(item, str) and item for item in raw):
        errors.append(FieldError(path, "must be a list of non-empty strings"))
        return frozenset()
    return frozenset(raw)


def _instant(raw: object, path: str, errors: list[FieldError]) -> datetime | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        errors.append(FieldError(path, "must be an ISO 8601 timestamp with offset"))
        return None
    try:
        return parse_utc(raw)
    except ValueError:
        errors.append(FieldError(path, "must be an ISO 8601 timestamp with offset"))
        return None
