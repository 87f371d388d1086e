"""The contract between the gateway and an OCPP version adapter (``ocpp.v16``, ``ocpp.v201``).

The h11 way: the adapter owns the protocol rules and says what it needs. Per inbound CALL the shell asks
:meth:`Adapter.lookups` which stored facts the call depends on (a session that is not in memory, the
session a re-sent start belongs to), fetches exactly those, then calls :meth:`Adapter.handle` with the
charger's state and an :class:`Environment`, and gets back an ``Outcome`` in the neutral model
(``chargewatch.domain.model``). Outbound, :meth:`Adapter.render` turns an operator's command into this
version's action and payload, and :meth:`Adapter.render_remedy` a neutral remedy intent of fault handling; fault
detection asks :meth:`Adapter.allowed_after` whether a status may follow another under this version's rules.
Framing (``ocpp.framing``) is shared by all versions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ..domain.firmware import FirmwareUpdate, LogRequest
from ..domain.local_list import LocalListIntent, LocalListReply
from ..domain.model import DEFAULT_HEARTBEAT_INTERVAL, ChargerBooted, ChargerState, Outcome, RemedyIntent
from ..sessions.machine import ChargingSession
from ..timeutil import format_timestamp


class CallRejected(Exception):
    """The call is answered with a CALLERROR instead of a CALLRESULT (codes in framing.ErrorCode spelling;
    each adapter spells them for its version when the reply is rendered)."""

    def __init__(self, error_code: str, description: str, details: dict[str, Any] | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.details = details or {}


class InvalidCommand(ValueError):
    """An operator command whose payload breaks the official schema; ``field`` names where (e.g. ``payload.type``)."""

    def __init__(self, description: str, field: str):
        super().__init__(description)
        path = "payload" if field.startswith("(") else f"payload.{field}"
        missing = _MISSING.search(description)  # a required property: name it, not the object holding it
        self.field = f"{path}.{missing.group(1)}" if missing else path


_MISSING = re.compile(r"must contain \['([^']+)'")


@dataclass(frozen=True)
class Environment:
    """Everything outside the charger's own state a handler may consult; supplied by the shell."""

    now: datetime
    # The authorization decision for a token, as {"status", "expiryDate"?, "parentIdTag"?}.
    id_tag_info: Callable[[str], dict[str, Any]]
    allocate_transaction_id: Callable[[], int]
    heartbeat_interval: int = DEFAULT_HEARTBEAT_INTERVAL
    fetched_session: ChargingSession | None = None  # a session not in memory (completed, or before restart)
    # Of the times a NeedStoredSampleTimes asked about, those whose readings are already stored (a re-send).
    stored_sample_times: frozenset[datetime] = frozenset()
    # Whether the operator's CA can sign a charger's certificate request now (else SignCertificate is Rejected).
    can_sign_certificates: bool = False


# ---------------------------------------------------------------- replies alike in every version


def accept_boot(info: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    """BootNotification accepted (its reply has one shape in 1.6 and 2.0.1); the charger adopts our interval."""
    state.heartbeat_interval = env.heartbeat_interval
    reply = {"status": "Accepted", "currentTime": format_timestamp(env.now), "interval": env.heartbeat_interval}
    return Outcome(reply, [ChargerBooted(info, env.now)])


def heartbeat(payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
    """Heartbeat: the reply is the current time, in every version."""
    return Outcome({"currentTime": format_timestamp(env.now)})


# ---------------------------------------------------------------- what the shell must fetch first


@dataclass(frozen=True)
class NeedStartKey:
    """Look up the session stored under this charger key (sessions.start_key) and put it in ``start_keys``."""

    key: str


@dataclass(frozen=True)
class NeedSession:
    """Fetch this session (by internal id, or by the charger's key) into ``Environment.fetched_session``."""

    transaction_id: int | None = None
    start_key: str | None = None


@dataclass(frozen=True)
class NeedStoredSampleTimes:
    """Say which of these sample times of the transaction already have stored readings (into
    ``Environment.stored_sample_times``): samples older than the session's last one may be a re-send."""

    transaction_id: int
    times: tuple[datetime, ...]


Lookup = NeedStartKey | NeedSession | NeedStoredSampleTimes


@dataclass(frozen=True)
class RenderedCommand:
    """An operator command in one version's words; ``mapped_from`` names the generic action it came from."""

    action: str
    payload: dict[str, Any]
    mapped_from: str | None = None


class Adapter(Protocol):
    """One OCPP version, behind the shell."""

    version: str  # the WebSocket subprotocol, e.g. "ocpp1.6"

    def lookups(self, action: str, payload: dict[str, Any], state: ChargerState) -> list[Lookup]:
        """The stored facts this CALL depends on that ``state`` does not hold (the shell fetches them)."""
        ...

    def handle(self, action: str, payload: dict[str, Any], state: ChargerState, env: Environment) -> Outcome:
        """Validate and handle one inbound CALL; raises :class:`CallRejected` for a CALLERROR reply."""
        ...

    def spell(self, error_code: str) -> str:
        """A CALLERROR code (framing.ErrorCode) as this version spells it."""
        ...

    def render(self, action: str, payload: dict[str, Any], state: ChargerState) -> RenderedCommand:
        """This version's CALL for an operator command (given in 1.6 or this version's words); ValueError if
        it cannot be expressed or its payload is invalid."""
        ...

    def render_remedy(self, intent: RemedyIntent) -> RenderedCommand:
        """This version's CALL for a remedy of fault handling (``mapped_from`` names the intent's action);
        ValueError if this version cannot say it."""
        ...

    def render_local_list(self, intent: LocalListIntent) -> RenderedCommand:
        """This version's CALL for a local authorization list intent (an update, a version or limits query)."""
        ...

    def read_local_list(self, intent: LocalListIntent, response: dict[str, Any]) -> LocalListReply:
        """The charger's answer to ``render_local_list(intent)``, in neutral words."""
        ...

    def render_maintenance(self, intent: FirmwareUpdate | LogRequest) -> RenderedCommand:
        """This version's CALL for a firmware update or a log upload (``mapped_from`` names the intent's type);
        ValueError if this version cannot say it."""
        ...

    def allowed_after(self, connector_id: int, status: str) -> frozenset[str] | None:
        """The (neutral) statuses a connector may report ``status`` after under this version's transition
        rules; empty: never on this connector; None: no rule for it."""
        ...
