"""The local authorization list in OCPP 1.6 words (Local Auth List Management profile).

SendLocalList {listVersion, updateType, localAuthorizationList: [{idTag, idTagInfo{status, expiryDate?,
parentIdTag?}}]} (a Differential entry without idTagInfo removes the card), GetLocalListVersion ({listVersion}: -1
means the charger has no local list), and the configuration keys LocalAuthListMaxLength / SendLocalListMaxLength.
"""

from __future__ import annotations

from typing import Any

from ...domain.local_list import (
    ListEntry,
    LocalListIntent,
    LocalListLimitsQuery,
    LocalListReply,
    LocalListUpdate,
    LocalListVersionQuery,
    UpdateStatus,
)
from ...timeutil import format_timestamp
from ..shapes import int_or_none

LIMIT_KEYS = ("LocalAuthListEnabled", "LocalAuthListMaxLength", "SendLocalListMaxLength")


def _entry(entry: ListEntry) -> dict[str, Any]:
    if entry.status is None:
        return {"idTag": entry.id_tag}
    info: dict[str, Any] = {"status": entry.status}
    if entry.expiry is not None:
        info["expiryDate"] = format_timestamp(entry.expiry)
    if entry.group:
        info["parentIdTag"] = entry.group
    return {"idTag": entry.id_tag, "idTagInfo": info}


def render(intent: LocalListIntent) -> tuple[str, dict[str, Any]]:
    if isinstance(intent, LocalListUpdate):
        payload: dict[str, Any] = {"listVersion": intent.version, "updateType": intent.update_type.value}
        if intent.entries:
            payload["localAuthorizationList"] = [_entry(entry) for entry in intent.entries]
        return "SendLocalList", payload
    if isinstance(intent, LocalListVersionQuery):
        return "GetLocalListVersion", {}
    return "GetConfiguration", {"key": list(LIMIT_KEYS)}


def read(intent: LocalListIntent, response: dict[str, Any]) -> LocalListReply:
    if isinstance(intent, LocalListUpdate):
        try:
            status = UpdateStatus(str(response.get("status")))
        except ValueError:
            status = UpdateStatus.FAILED
        return LocalListReply(status=status, supported=status is not UpdateStatus.NOT_SUPPORTED)
    if isinstance(intent, LocalListVersionQuery):
        version = int_or_none(response.get("listVersion"))
        if version is None or version < 0:
            return LocalListReply(supported=False)
        return LocalListReply(version=version, supported=True)
    assert isinstance(intent, LocalListLimitsQuery)
    values = {str(item.get("key")): item.get("value") for item in response.get("configurationKey") or ()
              if isinstance(item, dict)}
    enabled = values.get("LocalAuthListEnabled")
    return LocalListReply(enabled=None if enabled is None else str(enabled).strip().lower() == "true",
                          max_entries=int_or_none(values.get("LocalAuthListMaxLength")),
                          per_message=int_or_none(values.get("SendLocalListMaxLength")))
