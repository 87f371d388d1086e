"""OCPP-J message framing (OCPP-J 1.6 §4): CALL, CALLRESULT and CALLERROR arrays.

Pure functions over text: the WebSocket server hands us a frame, we hand back a parsed message or a
:class:`FrameError` that already knows which CALLERROR the peer deserves.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

CALL = 2
CALLRESULT = 3
CALLERROR = 4

# Message id used in a CALLERROR when the offending frame's own id cannot be read (OCPP 2.0.1 §4.2.3
# codifies "-1"; 1.6 is silent, and peers accept it).
UNKNOWN_MESSAGE_ID = "-1"
MAX_MESSAGE_ID_LENGTH = 36
# The deepest OCPP payload (a charging profile's schedule periods) is six levels down; anything far deeper is
# an attack on the parsers and serialisers behind us, refused before it reaches them.
MAX_DEPTH = 32
# What a column and a peer can hold: signed 64-bit integers (PostgreSQL BIGINT, SQLite INTEGER).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class ErrorCode:
    """CALLERROR codes with the OCPP 1.6 spellings (FormationViolation, OccurenceConstraintViolation)."""

    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"
    SECURITY_ERROR = "SecurityError"
    FORMATION_VIOLATION = "FormationViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    OCCURENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
    GENERIC_ERROR = "GenericError"


# Peers use either spelling; normalise what we receive so the rest of the code sees one vocabulary.
_PEER_SPELLINGS = {
    "FormatViolation": ErrorCode.FORMATION_VIOLATION,
    "OccurrenceConstraintViolation": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
}


@dataclass(frozen=True, slots=True)
class Call:
    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallResult:
    message_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallError:
    message_id: str
    error_code: str
    description: str
    details: dict[str, Any]


Message = Call | CallResult | CallError


class FrameError(Exception):
    """A frame we cannot accept; ``reply`` is the CALLERROR the sender should get."""

    def __init__(self, message_id: str, error_code: str, description: str, details: dict[str, Any] | None = None):
        super().__init__(f"{error_code}: {description}")
        self.message_id = message_id
        self.error_code = error_code
        self.description = description
        self.details = details or {}

    @property
    def reply(self) -> CallError:
        return CallError(self.message_id, self.error_code, self.description, self.details)


class _Unusual(Exception):
    """A number :func:`check_values` might refuse: the frame takes the full check."""


def _int64(digits: str) -> int:
    if len(digits) > 18:  # 19 digits may be past 64 bits
        raise _Unusual
    return int(digits)


def _finite(digits: str) -> float:
    value = float(digits)
    if value != value or value in (float("inf"), float("-inf")):
        raise _Unusual
    return value


def _constant(name: str) -> float:
    raise _Unusual  # NaN, Infinity, -Infinity


def _loads_plain(text: str | bytes) -> tuple[Any, bool]:
    """Decode ``text`` if nothing in it can fail :func:`check_values` (the common case): returns (frame, True),
    else (None, False) and the caller decodes and checks it the full way.

    A NUL or lone surrogate can only be in a decoded string if the text has one or a ``\\u`` escape (JSON forbids
    a raw NUL; an ASCII text has no surrogate), a number is only out of range if the decoder's number hooks see
    it, and nesting is never deeper than the text has brackets. So a plain ASCII frame with no escape and few
    brackets skips the walk over every value, which costs more than decoding the frame."""
    if (not isinstance(text, str) or not text.isascii() or "\\u" in text or "\x00" in text
            or text.count("[") + text.count("{") >= MAX_DEPTH):
        return None, False
    try:
        return json.loads(text, parse_int=_int64, parse_float=_finite, parse_constant=_constant), True
    except Exception:  # noqa: BLE001 - _Unusual, or not JSON: the full way says which
        return None, False


def _loads(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FrameError(
            UNKNOWN_MESSAGE_ID, ErrorCode.FORMATION_VIOLATION, f"frame is not valid JSON: {exc}"
        ) from None
    except RecursionError:
        raise FrameError(
            UNKNOWN_MESSAGE_ID, ErrorCode.FORMATION_VIOLATION, f"frame is nested deeper than {MAX_DEPTH} levels"
        ) from None


def parse(text: str | bytes) -> Message:
    """Decode one OCPP-J frame, raising :class:`FrameError` with the right CALLERROR code."""
    frame, plain = _loads_plain(text)
    if not plain:
        frame = _loads(text)
    if not isinstance(frame, list) or len(frame) < 3:
        raise FrameError(
            UNKNOWN_MESSAGE_ID, ErrorCode.FORMATION_VIOLATION, "frame must be a JSON array [type, id, ...]"
        )
    message_type, message_id = frame[0], frame[1]
    if (not isinstance(message_id, str) or not message_id or len(message_id) > MAX_MESSAGE_ID_LENGTH
            or _unsendable(message_id)):
        raise FrameError(
            UNKNOWN_MESSAGE_ID,
            ErrorCode.FORMATION_VIOLATION,
            f"message id must be a non-empty string of at most {MAX_MESSAGE_ID_LENGTH} printable characters",
        )
    if message_type == CALL:
        if len(frame) != 4 or not isinstance(frame[2], str) or _unsendable(frame[2]):
            raise FrameError(message_id, ErrorCode.FORMATION_VIOLATION, "CALL must be [2, id, action, payload]")
        if not isinstance(frame[3], dict):
            raise FrameError(message_id, ErrorCode.FORMATION_VIOLATION, "CALL payload must be a JSON object")
        if not plain:
            check_values(message_id, frame[3])
        return Call(message_id, frame[2], frame[3])
    if message_type == CALLRESULT:
        if len(frame) != 3 or not isinstance(frame[2], dict):
            raise FrameError(message_id, ErrorCode.FORMATION_VIOLATION, "CALLRESULT must be [3, id, payload]")
        if not plain:
            check_values(message_id, frame[2])
        return CallResult(message_id, frame[2])
    if message_type == CALLERROR:
        if len(frame) not in (4, 5) or not isinstance(frame[2], str):
            raise FrameError(
                message_id, ErrorCode.FORMATION_VIOLATION, "CALLERROR must be [4, id, code, description, details]"
            )
        details = frame[4] if len(frame) == 5 and isinstance(frame[4], dict) else {}
        check_values(message_id, [frame[2], frame[3], details])
        code = _PEER_SPELLINGS.get(frame[2], frame[2])
        return CallError(message_id, code, str(frame[3]), details)
    raise FrameError(message_id, ErrorCode.FORMATION_VIOLATION, f"unknown message type {message_type!r}")


# NUL (no PostgreSQL text holds it) and lone UTF-16 surrogates (no UTF-8 encoder writes them).
_UNSENDABLE = re.compile("[\x00\ud800-\udfff]")


def _unsendable(text: str) -> bool:
    return _UNSENDABLE.search(text) is not None


def check_values(message_id: str, value: Any) -> None:
    """Refuse what no store or peer can hold, naming the field: NUL characters and lone surrogates in any
    key or string, integers beyond 64 bits, nesting past :data:`MAX_DEPTH`.

    JSON allows all of these (``"\\u0000"``, ``"\\ud800"``, ``1e400``-digit integers); the schemas do not
    forbid them, so without this they would pass validation and fail in the database or on the way out.
    """
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack:
        path, item, depth = stack.pop()
        if isinstance(item, str):
            if _unsendable(item):
                raise FrameError(message_id, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
                                 f"{path or '(payload)'}: NUL characters and lone surrogates are not allowed",
                                 {"field": path})
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if not INT64_MIN <= item <= INT64_MAX:
                raise FrameError(message_id, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
                                 f"{path or '(payload)'}: integer out of the 64-bit range", {"field": path})
        elif isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):  # 1e400 parses as inf
                raise FrameError(message_id, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
                                 f"{path or '(payload)'}: number out of range", {"field": path})
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise FrameError(message_id, ErrorCode.FORMATION_VIOLATION,
                                 f"frame is nested deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    if _unsendable(key):
                        raise FrameError(message_id, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
                                         "field names must not contain NUL characters or lone surrogates",
                                         {"field": path})
                    stack.append((f"{path}.{key}" if path else key, child, depth + 1))
            else:
                stack.extend((f"{path}[{i}]", child, depth + 1) for i, child in enumerate(item))


def serialize(message: Message) -> str:
    """Encode a message as compact OCPP-J text."""
    if isinstance(message, Call):
        frame: list[Any] = [CALL, message.message_id, message.action, message.payload]
    elif isinstance(message, CallResult):
        frame = [CALLRESULT, message.message_id, message.payload]
    else:
        frame = [CALLERROR, message.message_id, message.error_code, message.description, message.details]
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)
