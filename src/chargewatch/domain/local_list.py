"""The local authorization list, in neutral words: what a charger should hold, and how to bring it there.

A charger that holds a list (OCPP 1.6 Local Auth List Management, 2.0.1 functional block D) decides on the cards in it
while offline. chargewatch builds the list from its id tags (the status as of now, the expiry, the parent id tag as the
group) and remembers per charger the entries the charger confirmed and their version. :func:`plan` turns "held" and
"wanted" into the updates to send: a Differential with just the changes, or a Full list when the charger's version is
unknown, a conflict is to be resolved, or the changes are most of the list; each split to the charger's per-message
limit (the first part Full, the rest Differential, each with its own increasing version), or refused when the list is
longer than the charger can hold. Each OCPP adapter renders a :class:`LocalListUpdate` and reads the answers
(``render_local_list`` / ``read_local_list``). Pure: time is passed in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

# More changed entries than this share of the wanted list: a Full list is the smaller, safer message.
FULL_LIST_SHARE = 0.5


class UpdateType(StrEnum):
    FULL = "Full"
    DIFFERENTIAL = "Differential"


class UpdateStatus(StrEnum):
    """A charger's answer to an update (1.6 UpdateStatus; 2.0.1 SendLocalListStatusEnumType lacks NotSupported)."""

    ACCEPTED = "Accepted"
    FAILED = "Failed"
    NOT_SUPPORTED = "NotSupported"
    VERSION_MISMATCH = "VersionMismatch"


@dataclass(frozen=True)
class ListEntry:
    """One card on the list; ``status`` None in a Differential update removes the card."""

    id_tag: str
    status: str | None
    expiry: datetime | None = None
    group: str | None = None  # the parent id tag (1.6 parentIdTag, 2.0.1 groupIdToken)

    def to_json(self) -> dict[str, Any]:
        return {"id_tag": self.id_tag, "status": self.status,
                "expiry": self.expiry.isoformat() if self.expiry else None, "group": self.group}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ListEntry:
        expiry = data.get("expiry")
        return cls(str(data["id_tag"]), data.get("status"), datetime.fromisoformat(expiry) if expiry else None,
                   data.get("group"))


Entries = dict[str, ListEntry]  # by id tag


@dataclass(frozen=True)
class LocalListUpdate:
    """One SendLocalList: the version the charger shall have once applied, Full or Differential, the entries."""

    version: int
    update_type: UpdateType
    entries: tuple[ListEntry, ...]

    def __post_init__(self) -> None:
        if self.version < 1:
            raise ValueError(f"a list version is at least 1, got {self.version}")
        if self.update_type is UpdateType.FULL and any(e.status is None for e in self.entries):
            raise ValueError("a Full list cannot remove entries")


@dataclass(frozen=True)
class LocalListVersionQuery:
    """GetLocalListVersion."""


@dataclass(frozen=True)
class LocalListLimitsQuery:
    """Ask the charger how many cards it holds and takes per message (1.6 configuration keys, 2.0.1 variables)."""


LocalListIntent = LocalListUpdate | LocalListVersionQuery | LocalListLimitsQuery


@dataclass(frozen=True)
class LocalListReply:
    """A charger's answer, read by its adapter: the update's status, the version it reports (None: it does not
    support a local list), or the limits it reported (None: not reported)."""

    status: UpdateStatus | None = None
    version: int | None = None
    supported: bool | None = None  # False: the answer says the charger has no local list
    enabled: bool | None = None  # the charger's own switch (1.6 LocalAuthListEnabled, 2.0.1 LocalAuthListCtrlr.Enabled)
    max_entries: int | None = None
    per_message: int | None = None


@dataclass(frozen=True)
class Limits:
    max_entries: int | None = None  # LocalAuthListMaxLength; 2.0.1 LocalAuthListCtrlr.Entries maxLimit
    per_message: int | None = None  # SendLocalListMaxLength; 2.0.1 LocalAuthListCtrlr.ItemsPerMessage


class ListTooLong(ValueError):
    """The wanted list is longer than the charger can hold: nothing is sent (a truncated list would refuse cards
    at random while offline)."""


def wanted_entries(tags: Iterable[Mapping[str, Any]], now: datetime) -> Entries:
    """The list chargewatch's id tags make as of ``now``: an Accepted tag past its expiry is Expired."""
    entries: Entries = {}
    for tag in tags:
        status = str(tag["status"])
        expiry = tag.get("expiry_date")
        if expiry is not None and expiry <= now and status == "Accepted":
            status = "Expired"
        entries[str(tag["id_tag"])] = ListEntry(str(tag["id_tag"]), status, expiry, tag.get("parent_id_tag") or None)
    return entries


def entries_hash(entries: Mapping[str, ListEntry]) -> str:
    """A fingerprint of a list's content (order-free)."""
    canonical = json.dumps([entries[key].to_json() for key in sorted(entries)], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def changes(held: Mapping[str, ListEntry], wanted: Mapping[str, ListEntry]) -> list[ListEntry]:
    """The Differential entries taking ``held`` to ``wanted``: new or changed cards, then removals."""
    changed = [entry for key, entry in sorted(wanted.items()) if held.get(key) != entry]
    removed = [ListEntry(key, None) for key in sorted(held) if key not in wanted]
    return changed + removed


def apply(held: Mapping[str, ListEntry] | None, update: LocalListUpdate) -> Entries:
    """The list a charger holds once it accepted ``update``."""
    result: Entries = {} if update.update_type is UpdateType.FULL or held is None else dict(held)
    for entry in update.entries:
        if entry.status is None:
            result.pop(entry.id_tag, None)
        else:
            result[entry.id_tag] = entry
    return result


def plan(held: Mapping[str, ListEntry] | None, held_version: int | None, wanted: Mapping[str, ListEntry],
         limits: Limits, *, last_version: int, full: bool = False) -> list[LocalListUpdate]:
    """The updates taking a charger from ``held`` (version ``held_version``; None: unknown) to ``wanted``; empty when
    it holds it already. Versions count on from ``last_version`` (the highest the charger was ever sent or reported).
    Raises :class:`ListTooLong` when the charger cannot hold ``wanted``."""
    if limits.max_entries is not None and len(wanted) > limits.max_entries:
        raise ListTooLong(f"{len(wanted)} id tags exceed the charger's local list capacity of {limits.max_entries} "
                          f"(LocalAuthListMaxLength / LocalAuthListCtrlr.Entries); nothing sent")
    if held is None or held_version is None:
        full = True
    version = max(last_version, held_version or 0)
    if not full:
        assert held is not None
        diff = changes(held, wanted)
        if not diff:
            return []
        if len(diff) > FULL_LIST_SHARE * max(len(wanted), 1):
            full = True
    entries = [wanted[key] for key in sorted(wanted)] if full else diff
    size = limits.per_message if limits.per_message and limits.per_message > 0 else max(len(entries), 1)
    parts = [entries[i:i + size] for i in range(0, len(entries), size)] or [[]]
    return [LocalListUpdate(version + n + 1, UpdateType.FULL if full and n == 0 else UpdateType.DIFFERENTIAL,
                            tuple(part)) for n, part in enumerate(parts)]


def entries_to_json(entries: Mapping[str, ListEntry]) -> list[dict[str, Any]]:
    return [entries[key].to_json() for key in sorted(entries)]


def entries_from_json(data: Iterable[Mapping[str, Any]] | None) -> Entries | None:
    if data is None:
        return None
    return {entry.id_tag: entry for entry in map(ListEntry.from_json, data)}
