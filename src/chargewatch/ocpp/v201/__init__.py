"""OCPP 2.0.1 adapter: the station's messages in (``core``), operator commands out (``commands``).

Same contract as the 1.6 adapter (``chargewatch.ocpp.adapter.Adapter``): the gateway picks it when a
charger negotiates the ``ocpp2.0.1`` subprotocol, and everything it returns is the neutral model.
"""

from __future__ import annotations

from typing import Any

from ...domain.firmware import FirmwareUpdate, LogRequest
from ...domain.local_list import LocalListIntent, LocalListReply
from ...domain.model import ChargerState, Outcome, RemedyIntent
from ..adapter import Environment, Lookup, NeedSession, NeedStartKey, RenderedCommand
from ..framing import ErrorCode
from . import commands, core, faults, firmware, local_list

VERSION = core.VERSION

# The 2.0.1 spellings of codes 1.6 spells differently (OCPP-J 2.0.1 §4.3).
_SPELLING = {ErrorCode.FORMATION_VIOLATION: "FormatViolation",
             ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION: "OccurrenceConstraintViolation"}


class V201Adapter:
    version = VERSION

    def lookups(self, action: str, payload: dict[str, Any], state: ChargerState) -> list[Lookup]:
        core.validate(action, payload)  # raises CallRejected: a refused call needs no lookup, a lookup no bad value
        if action != "TransactionEvent":
            return []
        key = (payload.get("transactionInfo") or {}).get("transactionId")
        if not isinstance(key, str):
            return []
        if key not in state.start_keys:
            return [NeedStartKey(key), NeedSession(start_key=key)]
        if state.session(state.start_keys[key]) is None:
            return [NeedSession(transaction_id=state.start_keys[key])]
        return []

    def handle(self, action: str, payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
        return core.handle(action, payload, state, env)

    def spell(self, error_code: str) -> str:
        return _SPELLING.get(error_code, error_code)

    def render(self, action: str, payload: dict[str, Any], state: ChargerState) -> RenderedCommand:
        return commands.render(action, payload, state)

    def render_remedy(self, intent: RemedyIntent) -> RenderedCommand:
        action, payload = commands.render_remedy(intent)
        return RenderedCommand(action, commands.render(action, payload, ChargerState("")).payload,
                               intent.action.value)

    def render_local_list(self, intent: LocalListIntent) -> RenderedCommand:
        action, payload = local_list.render(intent)
        return RenderedCommand(action, commands.render(action, payload, ChargerState("")).payload)

    def read_local_list(self, intent: LocalListIntent, response: dict[str, Any]) -> LocalListReply:
        return local_list.read(intent, response)

    def render_maintenance(self, intent: FirmwareUpdate | LogRequest) -> RenderedCommand:
        action, payload = (firmware.render_firmware(intent) if isinstance(intent, FirmwareUpdate)
                           else firmware.render_log(intent))
        return RenderedCommand(action, commands.render(action, payload, ChargerState("")).payload,
                               type(intent).__name__)

    def allowed_after(self, connector_id: int, status: str) -> frozenset[str] | None:
        return faults.allowed_after(connector_id, status)


ADAPTER = V201Adapter()
