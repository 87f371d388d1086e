"""A library charge point (1.6 or 2.0.1, tests/peers/chargers.py) that keeps the local authorization list it is sent
the way a real charger does: a Full update replaces it, a Differential applies its entries (one without
idTagInfo/idTokenInfo removes the card) and is answered VersionMismatch when its version is not above the list's own
(OCPP 1.6 §6.45 / 2.0.1 D01); GetLocalListVersion answers the version held; its limits answer GetConfiguration
(LocalAuthListMaxLength, SendLocalListMaxLength) or GetVariables (LocalAuthListCtrlr). A charger without a local list
answers NotSupported (1.6) or has no route for the actions (2.0.1: the library's CALLERROR)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ocpp.v16 import call_result as result16
from ocpp.v201 import call_result as result201

from peers.chargers import LibraryCharger


@dataclass
class ListKeepingCharger(LibraryCharger):
    supports_list: bool = True
    max_entries: int = 100
    per_message: int = 50
    list_version: int = 0
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)  # id tag → its info, as on the wire
    updates: list[dict[str, Any]] = field(default_factory=list)  # every SendLocalList payload, as on the wire

    async def connect(self) -> None:
        await super().connect()
        routes = {"SendLocalList": self._send_local_list, "GetLocalListVersion": self._get_version,
                  "GetConfiguration": self._get_configuration, "GetVariables": self._get_variables}
        for action, handler in routes.items():
            if not self.supports_list and self.v201 and action != "GetVariables":
                self._cp.route_map.pop(action, None)
                continue
            self._cp.route_map[action] = {"_on_action": handler, "_skip_schema_validation": False}

    def _last(self, action: str) -> dict[str, Any]:
        return next(payload for name, payload in reversed(self.received) if name == action)

    def _send_local_list(self, **_: Any) -> Any:
        payload = self._last("SendLocalList")
        self.updates.append(payload)
        if not self.supports_list:
            return result16.SendLocalList(status="NotSupported")
        version = payload["versionNumber" if self.v201 else "listVersion"]
        status = self._apply(payload, version)
        return (result201 if self.v201 else result16).SendLocalList(status=status)

    def _apply(self, payload: dict[str, Any], version: int) -> str:
        entries = payload.get("localAuthorizationList") or []
        if len(entries) > self.per_message:
            return "Failed"
        if payload["updateType"] == "Differential" and version <= self.list_version:
            return "VersionMismatch"
        cards = {} if payload["updateType"] == "Full" else dict(self.cards)
        for entry in entries:
            tag = entry["idToken"]["idToken"] if self.v201 else entry["idTag"]
            info = entry.get("idTokenInfo" if self.v201 else "idTagInfo")
            if info is None:
                cards.pop(tag, None)
            else:
                cards[tag] = info
        if len(cards) > self.max_entries:
            return "Failed"
        self.cards, self.list_version = cards, version
        return "Accepted"

    def _get_version(self, **_: Any) -> Any:
        if self.v201:
            return result201.GetLocalListVersion(version_number=self.list_version)
        return result16.GetLocalListVersion(list_version=self.list_version if self.supports_list else -1)

    def _get_configuration(self, **payload: Any) -> Any:
        known = {"LocalAuthListEnabled": "true" if self.supports_list else "false",
                 "LocalAuthListMaxLength": str(self.max_entries), "SendLocalListMaxLength": str(self.per_message)}
        asked = payload.get("key") or list(known)
        return result16.GetConfiguration(
            configuration_key=[{"key": key, "readonly": True, "value": known[key]} for key in asked if key in known],
            unknown_key=[key for key in asked if key not in known] or None)

    def _get_variables(self, **payload: Any) -> Any:
        known = {"Enabled": "true" if self.supports_list else "false", "ItemsPerMessage": str(self.per_message)}
        results = []
        for item in payload["get_variable_data"]:
            name = item["variable"]["name"]
            if item["component"]["name"] == "LocalAuthListCtrlr" and name in known and self.supports_list:
                results.append({"attribute_status": "Accepted", "attribute_value": known[name],
                                "component": item["component"], "variable": item["variable"]})
            else:
                results.append({"attribute_status": "UnknownComponent", "component": item["component"],
                                "variable": item["variable"]})
        return result201.GetVariables(get_variable_result=results)

    def list_updates(self) -> list[tuple[str, int, int]]:
        """(updateType, version, entries) of every SendLocalList received."""
        key = "versionNumber" if self.v201 else "listVersion"
        return [(u["updateType"], u[key], len(u.get("localAuthorizationList") or [])) for u in self.updates]
