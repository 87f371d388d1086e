"""The unit every analysis works on: one session's feedback with the telemetry facts beside it.

It deliberately has no place for `Contact`: anything built from records (exports, dashboards,
insights) cannot leak contact data because it never has it.
"""

from __future__ import annotations

from dataclasses import dataclass

from chargewatch.feedback.facts import SessionFacts
from chargewatch.feedback.submission import Feedback


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    feedback: Feedback
    facts: SessionFacts

    def __post_init__(self) -> None:
        if self.feedback.session_id != self.facts.session_id:
            raise ValueError("feedback and facts must describe the same session")

    @property
    def station_id(self) -> str:
        return self.facts.station_id

    @property
    def overall(self) -> int:
        return self.feedback.overall
