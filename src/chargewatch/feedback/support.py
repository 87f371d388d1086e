"""Support: a conversation per charging session between its driver and the operator, and each site's
helpline (number, hours, languages) shown wherever a driver may be stuck.

Pure: messages and sites are validated here, response times are computed from plain values; the store
keeps them and the API moves them. A conversation is keyed by the session (its transaction id), so it is
linked to the session's incident and feedback through that id.

Response times, per station: *first response* is the time from the driver's first message to the
operator's first answer; *resolution* is from the driver's first message to the conversation being marked
resolved. Conversations still waiting count as 'waiting', never as a made-up time.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from chargewatch.feedback.errors import FieldError, FieldValidationError
from chargewatch.feedback.freetext import clean_free_text

MAX_MESSAGE_LENGTH = 2000
MAX_HOURS_LENGTH = 200


class Author(StrEnum):
    DRIVER = "driver"
    OPERATOR = "operator"


class ConversationStatus(StrEnum):
    WAITING = "waiting"  # the driver wrote last: the operator owes an answer
    ANSWERED = "answered"  # the operator wrote last
    RESOLVED = "resolved"


def parse_message(raw: Any) -> str:
    """The message text of a request body ``{"body": "…"}``: cleaned, 1..MAX_MESSAGE_LENGTH characters."""
    if not isinstance(raw, Mapping):
        raise FieldValidationError([FieldError("$", "must be a JSON object")])
    unknown = sorted(set(raw) - {"body"})
    if unknown:
        raise FieldValidationError([FieldError(name, "unknown field") for name in unknown])
    try:
        text = clean_free_text(raw.get("body"), MAX_MESSAGE_LENGTH)
    except ValueError as error:
        raise FieldValidationError([FieldError("body", str(error))]) from None
    if not text:
        raise FieldValidationError([FieldError("body", "must not be empty")])
    return text


def status_after(author: Author) -> ConversationStatus:
    """A new message reopens a resolved conversation: the driver's makes it waiting, the operator's answered."""
    return ConversationStatus.WAITING if author is Author.DRIVER else ConversationStatus.ANSWERED


# ---------------------------------------------------------------------------------------------- sites

_PHONE = re.compile(r"^\+?[0-9][0-9 ()/.-]{3,30}[0-9]$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_SITE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


@dataclass(frozen=True, slots=True)
class SiteSupport:
    """How a site's drivers reach a person: helpline number, support hours (as shown), languages spoken."""

    site_id: str
    helpline: str
    hours: str
    languages: tuple[str, ...] = ("en",)
    chat: bool = True  # the session page's support conversation is offered

    def to_record(self) -> dict[str, Any]:
        return {"site_id": self.site_id, "helpline": self.helpline, "hours": self.hours,
                "languages": list(self.languages), "chat": self.chat}


def valid_site_id(site_id: str) -> bool:
    return bool(_SITE_ID.match(site_id))


def parse_site_support(site_id: str, raw: Any) -> SiteSupport:
    """A site support record from ``{"helpline", "hours", "languages"?, "chat"?}``; every problem at once."""
    if not isinstance(raw, Mapping):
        raise FieldValidationError([FieldError("$", "must be a JSON object")])
    errors: list[FieldError] = []
    if not valid_site_id(site_id):
        errors.append(FieldError("site_id", "1-64 letters, digits or . _ : -"))
    errors += [FieldError(name, "unknown field") for name in sorted(set(raw) - {"helpline", "hours", "languages",
                                                                                 "chat", "site_id"})]
    if "site_id" in raw and raw["site_id"] != site_id:
        errors.append(FieldError("site_id", "must match the path"))
    helpline = raw.get("helpline")
    if not isinstance(helpline, str) or not _PHONE.match(helpline.strip()):
        errors.append(FieldError("helpline", "a phone number of digits, spaces and + ( ) / . -, e.g. +49 30 1234567"))
    hours = raw.get("hours")
    if not isinstance(hours, str) or not hours.strip():
        errors.append(FieldError("hours", "must be text, e.g. 'Mon-Fri 08:00-20:00, Sat 09:00-14:00'"))
    elif len(hours) > MAX_HOURS_LENGTH:
        errors.append(FieldError("hours", f"at most {MAX_HOURS_LENGTH} characters"))
    languages = raw.get("languages", ["en"])
    if (not isinstance(languages, list) or not languages or len(languages) > 20
            or not all(isinstance(code, str) and _LANGUAGE.match(code) for code in languages)):
        errors.append(FieldError("languages", "a list of ISO 639-1 codes, e.g. [\"de\", \"en\"]"))
    chat = raw.get("chat", True)
    if not isinstance(chat, bool):
        errors.append(FieldError("chat", "must be true or false"))
    if errors:
        raise FieldValidationError(errors)
    assert isinstance(helpline, str) and isinstance(hours, str) and isinstance(languages, list)
    return SiteSupport(site_id, helpline.strip(), hours.strip(), tuple(dict.fromkeys(languages)), bool(chat))


_STILL_STUCK: dict[str, tuple[str, str]] = {
    # (with chat, without chat)
    "en": ("Still stuck? Call {helpline} ({hours}) or chat with us on your session page.",
           "Still stuck? Call {helpline} ({hours})."),
    "de": ("Immer noch Probleme? Rufen Sie {helpline} an ({hours}) oder schreiben Sie uns auf Ihrer Ladeseite.",
           "Immer noch Probleme? Rufen Sie {helpline} an ({hours})."),
}


def still_stuck(site: SiteSupport | None, language: str = "en") -> str | None:
    """The closing line of every driver guidance text: 'Still stuck? Call … (hours) or chat …'; None without a
    support record (no number is better than an invented one)."""
    if site is None:
        return None
    with_chat, without_chat = _STILL_STUCK.get(language, _STILL_STUCK["en"])
    return (with_chat if site.chat else without_chat).format(helpline=site.helpline, hours=site.hours)


def screen_line(site: SiteSupport | None, language: str = "en") -> str | None:
    """The short form for a charger's display: 'Help: +49 30 1234567' (German: 'Hilfe: …')."""
    if site is None:
        return None
    return f"{'Hilfe' if language == 'de' else 'Help'}: {site.helpline}"


def screen_text_with_helpline(text: str, site: SiteSupport | None, limit: int, language: str = "en") -> str:
    """A charger-screen guidance text that ends with the site's helpline, within `limit` characters: the
    guidance is shortened (with '…') rather than the number, which is what a stuck driver needs most."""
    line = screen_line(site, language)
    if line is None or line in text:
        return text
    if len(text) + 1 + len(line) <= limit:
        return f"{text} {line}"
    room = limit - len(line) - 2
    return f"{text[:room].rstrip()}… {line}" if room > 0 else line[:limit]


# ---------------------------------------------------------------------------------------------- response times


@dataclass(frozen=True, slots=True)
class ConversationTimes:
    station_id: str
    opened_at: datetime  # the driver's first message
    first_response_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class ResponseTimes:
    """Per station: how many conversations, and first-response / resolution times in seconds."""

    station_id: str
    conversations: int
    waiting_for_first_response: int
    unresolved: int
    first_response_seconds: Sequence[float] = field(default_factory=tuple)
    resolution_seconds: Sequence[float] = field(default_factory=tuple)

    @property
    def median_first_response_seconds(self) -> float | None:
        return _median(self.first_response_seconds)

    @property
    def median_resolution_seconds(self) -> float | None:
        return _median(self.resolution_seconds)

    @property
    def max_first_response_seconds(self) -> float | None:
        return max(self.first_response_seconds, default=None)


def _median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def response_times(conversations: Iterable[ConversationTimes]) -> list[ResponseTimes]:
    """Response times per station, sorted by station id."""
    groups: dict[str, list[ConversationTimes]] = defaultdict(list)
    for conversation in conversations:
        groups[conversation.station_id].append(conversation)
    out = []
    for station in sorted(groups):
        chosen = groups[station]
        first = tuple((c.first_response_at - c.opened_at).total_seconds() for c in chosen
                      if c.first_response_at is not None)
        resolved = tuple((c.resolved_at - c.opened_at).total_seconds() for c in chosen if c.resolved_at is not None)
        out.append(ResponseTimes(station, len(chosen), len(chosen) - len(first), len(chosen) - len(resolved),
                                 first, resolved))
    return out
