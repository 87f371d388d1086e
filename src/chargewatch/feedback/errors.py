"""Validation errors that carry every problem at once, each tied to a field path.

A driver fixing a form, or an operator fixing a survey definition, should see all problems in one
round trip; the API turns `errors` into a 422 body as is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one input field, e.g. ``FieldError("overall", "must be an integer from 1 to 5")``."""

    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class FieldValidationError(ValueError):
    """Input was rejected; `errors` lists every field that is wrong, in input order."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        super().__init__("; ".join(str(error) for error in self.errors))

    def as_dicts(self) -> list[dict[str, str]]:
        return [error.as_dict() for error in self.errors]


class FeedbackValidationError(FieldValidationError):
    """A driver's feedback submission (or its survey answers) is invalid."""


class SurveyDefinitionError(FieldValidationError):
    """An operator-defined survey is invalid; fields are paths such as ``questions[2].options``."""


class TopicDefinitionError(FieldValidationError):
    """An operator-defined topic list is invalid; fields are paths such as ``[0].phrases[2]``."""
