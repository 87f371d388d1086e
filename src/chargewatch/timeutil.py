"""Timestamps: always timezone-aware UTC inside chargewatch."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_timestamp(text: str) -> datetime:
    """Parse an OCPP/ISO-8601 timestamp; a charger that omits the offset is taken to mean UTC."""
    value = datetime.fromisoformat(text.strip().replace(" ", "T"))
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """RFC 3339 with a Z suffix and millisecond precision, as OCPP peers expect."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
