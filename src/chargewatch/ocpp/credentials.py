"""The charger's HTTP Basic auth password (security profiles 1 and 2) inside OCPP commands, sans-IO.

A CSMS changes it with 1.6 ChangeConfiguration ``AuthorizationKey`` (OCPP 1.6 security whitepaper: the value is
the hex encoding of the password, 16..20 bytes) or 2.0.1 SetVariables ``SecurityCtrlr.BasicAuthPassword`` (the
password as it is, 16..40 characters). Here: which passwords a command sets (:func:`new_passwords`), whether the
charger's answer accepted it (:func:`accepted`), and the same command and answer with the secret replaced by
:data:`REDACTED` for every place that keeps them (raw log, commands table, API answers, bus, logs).
"""

from __future__ import annotations

import secrets
import string
from typing import Any

REDACTED = "***"

_KEY_16 = "authorizationkey"
_COMPONENT, _VARIABLE = "securityctrlr", "basicauthpassword"
# A 1.6 key naming the 2.0.1 variable in the command API's words (rendered as SetVariables for a 2.0.1 station).
_KEYS = frozenset({_KEY_16, f"{_COMPONENT}.{_VARIABLE}"})
_ACCEPTED = frozenset({"Accepted", "RebootRequired"})  # RebootRequired: the charger uses it after its reboot
# Letters and digits only: every charger accepts them in a Basic auth header and in its configuration tools.
_ALPHABET = string.ascii_letters + string.digits
PASSWORD_LENGTH = 20  # 20 bytes (the 1.6 maximum) of 62 symbols each: ~119 bits


def generate_password() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(PASSWORD_LENGTH))


def authorization_key(password: str) -> str:
    """The 1.6 ``AuthorizationKey`` value for ``password`` (its hex encoding, as the whitepaper wants)."""
    return password.encode().hex().upper()


def _is_key(item: Any) -> bool:
    return isinstance(item, dict) and str(item.get("key", "")).lower() in _KEYS


def _is_variable(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    component = (item.get("component") or {}).get("name") if isinstance(item.get("component"), dict) else None
    variable = (item.get("variable") or {}).get("name") if isinstance(item.get("variable"), dict) else None
    return (str(component).lower(), str(variable).lower()) == (_COMPONENT, _VARIABLE)


def new_passwords(action: str, payload: dict[str, Any]) -> list[str]:
    """The passwords the charger may use after this command, most likely first; empty when it sets none.

    A 1.6 AuthorizationKey that is hex for UTF-8 text means that text (the whitepaper); chargers that take the
    value literally exist too, so the value itself is the second candidate."""
    if action == "ChangeConfiguration" and _is_key(payload):
        value = str(payload.get("value", ""))
        if str(payload.get("key", "")).lower() != _KEY_16:
            return [value]
        try:
            decoded = bytes.fromhex(value).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return [value]
        printable = decoded and all(ch.isprintable() for ch in decoded)
        return [decoded, value] if printable and decoded != value else [value]
    if action == "SetVariables":
        return [str(item.get("attributeValue", "")) for item in payload.get("setVariableData") or ()
                if _is_variable(item) and item.get("attributeType", "Actual") == "Actual"][:1]
    return []


def accepted(action: str, response: dict[str, Any] | None) -> bool:
    """Whether the charger's answer to a password-setting command says it took the new password."""
    if not isinstance(response, dict):
        return False
    if action == "ChangeConfiguration":
        return response.get("status") in _ACCEPTED
    if action == "SetVariables":
        return any(_is_variable(item) and item.get("attributeStatus") in _ACCEPTED
                   for item in response.get("setVariableResult") or ())
    return False


def carries_secret(action: str, payload: dict[str, Any]) -> bool:
    return redact_call(action, payload) is not payload


def redact_call(action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The command without the password (the same object when it carries none)."""
    if action == "ChangeConfiguration" and _is_key(payload) and "value" in payload:
        return {**payload, "value": REDACTED}
    if action == "SetVariables" and any(_is_variable(item) for item in payload.get("setVariableData") or ()):
        return {**payload, "setVariableData": [
            {**item, "attributeValue": REDACTED} if _is_variable(item) else item
            for item in payload["setVariableData"]]}
    return payload


def redact_answer(action: str | None, response: dict[str, Any] | None) -> dict[str, Any] | None:
    """A charger's answer without the password: the key is write-only, but a charger that reports it anyway
    (GetConfiguration, GetVariables) must not leave it in the log. The same object when it carries none."""
    if not isinstance(response, dict):
        return response
    if action == "GetConfiguration" and any(_is_key(item) for item in response.get("configurationKey") or ()):
        return {**response, "configurationKey": [
            {**item, "value": REDACTED} if _is_key(item) and "value" in item else item
            for item in response["configurationKey"]]}
    if action == "GetVariables" and any(_is_variable(item) for item in response.get("getVariableResult") or ()):
        return {**response, "getVariableResult": [
            {**item, "attributeValue": REDACTED} if _is_variable(item) and "attributeValue" in item else item
            for item in response["getVariableResult"]]}
    return response
