"""The one rule for instants in this package: aware, normalised to UTC.

Naive datetimes are refused rather than guessed, because a wrong guess silently shifts a session
into another ISO week or edit window.
"""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: datetime, name: str) -> datetime:
    """Return `value` in UTC; raise ValueError naming `name` if it is naive or not a datetime."""
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def parse_utc(text: str) -> datetime:
    """Parse an ISO 8601 instant that carries an offset (``Z`` allowed); raise ValueError otherwise."""
    parsed = datetime.fromisoformat(text)
    return as_utc(parsed, "timestamp")
