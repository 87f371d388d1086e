"""Argument types of the `chargewatch` command: input is checked where it is parsed, so a bad value is a usage
error naming the argument (exit 2), never a traceback from deep inside a command. The limits are the store's."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from .store.registry import ID_TAG_LENGTH, RegistryError, check_charger_id


def charger_id(value: str) -> str:
    try:
        return check_charger_id(value)
    except RegistryError as error:
        raise argparse.ArgumentTypeError(error.reason) from None


def id_tag(value: str) -> str:
    if not 1 <= len(value) <= (ID_TAG_LENGTH or 20):
        raise argparse.ArgumentTypeError(f"1 to {ID_TAG_LENGTH} characters (OCPP 1.6 IdToken), got {len(value)}")
    return value


def instant(value: str) -> datetime:
    """An ISO 8601 date-time with an offset, or a date (midnight UTC): 2026-12-31, 2026-12-31T23:59:00+01:00."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date or ISO 8601 date-time, e.g. 2026-12-31 or 2026-12-31T23:59:00+01:00") from None
    if parsed.tzinfo is None:
        if len(value) > 10:  # a time without offset: whose 23:59?
            raise argparse.ArgumentTypeError(f"{value!r} needs a UTC offset, e.g. {value}Z or {value}+01:00")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def json_object(value: str) -> dict[str, Any]:
    try:
        parsed = json.loads(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not JSON ({error}); quote it for the shell, e.g. "
                                         "'{\"type\": \"Soft\"}'") from None
    if not isinstance(parsed, dict):
        raise argparse.ArgumentTypeError(f"a JSON object {{...}} is needed, got {type(parsed).__name__}")
    return parsed


def positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {number}")
    return number


def port(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535 (0: any free one), got {number}")
    return number


def year(value: str) -> int:
    if not (value.isdigit() and 2000 <= int(value) <= 9999):
        raise argparse.ArgumentTypeError(f"a year from 2000 to 9999, got {value!r}")
    return int(value)
