"""The local authorization list in OCPP 2.0.1 words (functional block D, Local Authorization List Management).

SendLocalList {versionNumber, updateType, localAuthorizationList: [{idToken{idToken, type}, idTokenInfo{status,
cacheExpiryDateTime?, groupIdToken?}}]} (an entry without idTokenInfo removes the token; the list is left out when
empty: the schema wants at least one item), GetLocalListVersion ({versionNumber}), and the LocalAuthListCtrlr variables
Enabled and ItemsPerMessage (D01.FR.11; the list's capacity is the Entries variable's maxLimit, which only a device
model report carries). chargewatch's id tags carry no token type: a card is sent as ISO14443 (the RFID card a
station checks offline), a parent id tag as a Central group token, as the Authorize answers name it.
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
from ...timeutil import format_timestamp, parse_timestamp
from ..shapes import int_or_none

TOKEN_TYPE = "ISO14443"
GROUP_TOKEN_TYPE = "Central"
COMPONENT = "LocalAuthListCtrlr"
LIMIT_VARIABLES = ("Enabled", "ItemsPerMessage")


def _entry(entry: ListEntry) -> dict[str, Any]:
    data: dict[str, Any] = {"idToken": {"idToken": entry.id_tag, "type": TOKEN_TYPE}}
    if entry.status is not None:
        info: dict[str, Any] = {"status": entry.status}
        if entry.expiry is not None:
            info["cacheExpiryDateTime"] = format_timestamp(entry.expiry)
        if entry.group:
            info["groupIdToken"] = {"idToken": entry.group, "type": GROUP_TOKEN_TYPE}
        data["idTokenInfo"] = info
    return data


def render(intent: LocalListIntent) -> tuple[str, dict[str, Any]]:
    if isinstance(intent, LocalListUpdate):
        payload: dict[str, Any] = {"versionNumber": intent.version, "updateType": intent.update_type.value}
        if intent.entries:
            payload["localAuthorizationList"] = [_entry(entry) for entry in intent.entries]
        return "SendLocalList", payload
    if isinstance(intent, LocalListVersionQuery):
        return "GetLocalListVersion", {}
    return "GetVariables", {"getVariableData": [{"component": {"name": COMPONENT}, "variable": {"name": name}}
                                                for name in LIMIT_VARIABLES]}


def from_v16(payload: dict[str, Any]) -> dict[str, Any]:
    """A SendLocalList given in 1.6 words (the command API's vocabulary) as the 2.0.1 request."""
    entries = []
    for item in payload.get("localAuthorizationList") or ():
        info = item.get("idTagInfo") if isinstance(item, dict) else None
        expiry = (info or {}).get("expiryDate")
        entries.append(ListEntry(str(item.get("idTag", "")), info.get("status") if isinstance(info, dict) else None,
                                 parse_timestamp(expiry) if isinstance(expiry, str) else None,
                                 (info or {}).get("parentIdTag")))
    rendered: dict[str, Any] = {"versionNumber": payload.get("listVersion"), "updateType": payload.get("updateType")}
    if entries:
        rendered["localAuthorizationList"] = [_entry(entry) for entry in entries]
    return rendered


def read(intent: LocalListIntent, response: dict[str, Any]) -> LocalListReply:
    if isinstance(intent, LocalListUpdate):
        try:
            status = UpdateStatus(str(response.get("status")))
        except ValueError:
            status = UpdateStatus.FAILED
        return LocalListReply(status=status, supported=True)
    if isinstance(intent, LocalListVersionQuery):
        version = int_or_none(response.get("versionNumber"))
        return LocalListReply(version=version, supported=None if version is None else True)
    assert isinstance(intent, LocalListLimitsQuery)
    values = {}
    for result in response.get("getVariableResult") or ():
        if isinstance(result, dict) and (result.get("component") or {}).get("name") == COMPONENT \
                and result.get("attributeStatus") == "Accepted":
            values[(result.get("variable") or {}).get("name")] = result.get("attributeValue")
    enabled = values.get("Enabled")
    return LocalListReply(enabled=None if enabled is None else str(enabled).strip().lower() == "true",
                          per_message=int_or_none(values.get("ItemsPerMessage")))
