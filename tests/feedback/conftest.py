"""Builders for feedback records: plain values, no I/O."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import pytest

from chargewatch.feedback.facts import SessionFacts
from chargewatch.feedback.records import FeedbackRecord
from chargewatch.feedback.submission import Feedback

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    return NOW


def build_facts(session_id: str, **overrides: Any) -> SessionFacts:
    values: dict[str, Any] = {
        "session_id": session_id,
        "charger_id": "CP-1",
        "connector_id": 1,
        "station_id": "ST-1",
        "started_at": NOW - timedelta(days=1),
        "energy_wh": 30_000,
        "avg_power_w": 45_000,
        "peak_power_w": 50_000,
        "connector_rating_w": 50_000,
        "idle_seconds": 0,
        "price": Decimal("15.90"),
        "currency": "EUR",
        "stop_reason": "Local",
    }
    values.update(overrides)
    values.setdefault("ended_at", values["started_at"] + timedelta(minutes=40))
    return SessionFacts(**values)


RecordFactory = Callable[..., FeedbackRecord]


@pytest.fixture
def make_record() -> RecordFactory:
    """make_record(overall, comment="", would_recommend=None, **facts_overrides) -> FeedbackRecord."""
    ids = count(1)

    def make(overall: int, comment: str = "", would_recommend: int | None = None, **facts: Any) -> FeedbackRecord:
        session_id = facts.pop("session_id", f"S-{next(ids)}")
        built = build_facts(session_id, **facts)
        feedback = Feedback(
            session_id=session_id,
            overall=overall,
            submitted_at=built.started_at + timedelta(hours=2),
            comment=comment,
            would_recommend=would_recommend,
        )
        return FeedbackRecord(feedback, built)

    return make
