"""Seeded OCPP 1.6 frame fuzzer: schema-derived payloads, mutated values, mutated text.

Independent of the server's parser: payloads are generated from the official JSON schemas (shipped with the `ocpp`
package) and whether a frame must be answered is decided with the standard library's json, not chargewatch code.
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass
from importlib import resources
from typing import Any

CHARGER_ACTIONS = (
    "Authorize", "BootNotification", "DataTransfer", "DiagnosticsStatusNotification", "FirmwareStatusNotification",
    "Heartbeat", "MeterValues", "StartTransaction", "StatusNotification", "StopTransaction",
)
CENTRAL_ACTIONS = ("Reset", "RemoteStartTransaction", "GetConfiguration", "TriggerMessage")

# Values the issue found and their relatives: types, ranges, encodings and shapes a store or encoder chokes on.
NASTY: tuple[Any, ...] = (
    None, True, False, 0, -1, 1.0, 1.5, 1e308, -1e308, 10**20, 2**63, 2**63 - 1, -(2**63) - 1, 2**31, 2**32,
    "", " ", "\ud800", "\udfff", "A\x00B", "\x00", "\x1b[31m", "é", "😀", "x" * 300, "x" * 5000,
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-02-30T00:00:00Z", "not-a-date",
    "9e999999", "-9e999999", "NaN", "Infinity", "1e20", "0x10", "-0", [], {}, [[[[[]]]]], {"a": {"b": {"c": 1}}},
    [1, "a", None], ["\ud800"], {"\ud800": 1}, {"\x00": 1},
)
TEXT_NOISE = ("[", "]", "{", "}", '"', ",", ":", "\\", "\x00", "\x01", "\x7f", "é", "😀", "1", "-", "e", " ", "null")


@dataclass(frozen=True)
class Frame:
    text: str | bytes
    must_answer: bool  # any frame that is not a well-formed CALLRESULT/CALLERROR gets an answer


def _schema(action: str) -> dict[str, Any]:
    path = resources.files("ocpp.v16").joinpath("schemas", f"{action}.json")
    return json.loads(path.read_text(encoding="utf-8"))


_SCHEMAS = {action: _schema(action) for action in CHARGER_ACTIONS}


def _instance(schema: dict[str, Any], rng: random.Random, depth: int = 0) -> Any:
    """A value valid for ``schema`` (the draft-04 subset OCPP 1.6 uses)."""
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        result = {}
        required = set(schema.get("required", ()))
        for name, sub in schema.get("properties", {}).items():
            if name in required or rng.random() < 0.5:
                result[name] = _instance(sub, rng, depth + 1)
        return result
    if kind == "array":
        count = max(schema.get("minItems", 0), rng.randint(0, 3))
        return [_instance(schema.get("items", {}), rng, depth + 1) for _ in range(count)]
    if kind == "string":
        if schema.get("format") == "date-time":
            return f"2026-11-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z"
        length = rng.randint(1, min(schema.get("maxLength", 20), 20))
        return "".join(rng.choices("ABCDEF0123456789-", k=length))
    if kind == "integer":
        return rng.randint(0, 5000)
    if kind == "number":
        return round(rng.uniform(0, 100), 1)
    if kind == "boolean":
        return rng.random() < 0.5
    return None


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _mutate(payload: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Replace, drop or add one value somewhere in the payload."""
    paths = [p for p in _paths(payload) if p]
    choice = rng.random()
    if not paths or choice < 0.15:
        payload[rng.choice(("extra", "\ud800", "\x00", "x" * 100, "connectorId"))] = copy.deepcopy(rng.choice(NASTY))
        return payload
    path = rng.choice(paths)
    parent: Any = payload
    for step in path[:-1]:
        parent = parent[step]
    if choice < 0.3:
        if isinstance(parent, dict):
            del parent[path[-1]]
        return payload
    if choice < 0.35:
        nested: Any = 1
        for _ in range(rng.choice((20, 40, 200))):
            nested = [nested]
        parent[path[-1]] = nested
        return payload
    parent[path[-1]] = copy.deepcopy(rng.choice(NASTY))
    return payload


def _message_id(rng: random.Random, serial: str) -> Any:
    if rng.random() < 0.9:
        return serial
    return rng.choice(("", "x" * 37, 17, None, "\ud800", "a\x00", ["1"], "😀" * 10))


def _call(rng: random.Random, serial: str) -> list[Any]:
    roll = rng.random()
    if roll < 0.05:
        action: Any = rng.choice(CENTRAL_ACTIONS)
        return [2, _message_id(rng, serial), action, {"type": "Soft"}]
    if roll < 0.1:
        action = rng.choice(("Invented" + str(rng.randint(0, 10**6)), "A" * rng.choice((65, 200, 5000)), "", 7))
        return [2, _message_id(rng, serial), action, {}]
    action = rng.choice(CHARGER_ACTIONS)
    payload = _instance(_SCHEMAS[action], rng)
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        payload = _mutate(payload, rng)
    return [2, _message_id(rng, serial), action, payload]


def _must_answer(text: str | bytes) -> bool:
    """The independent oracle: everything but a well-formed CALLRESULT/CALLERROR is answered."""
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        return True
    if isinstance(frame, list) and len(frame) >= 3 and frame[0] in (3, 4) and not isinstance(frame[0], bool):
        return False  # may be a valid answer (not replied to) or malformed (FormationViolation): either is fine
    return True


def _text_mutation(text: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.25 and len(text) > 1:
        return text[: rng.randint(0, len(text) - 1)]
    position = rng.randint(0, len(text))
    if roll < 0.5:
        return text[:position] + rng.choice(TEXT_NOISE) + text[position:]
    if roll < 0.7 and len(text) > 2:
        return text[:position] + text[position + 1:]
    if roll < 0.85:
        return rng.choice(("[", "{", '"')) * rng.choice((50, 5_000, 100_000)) + text
    return text.replace("[2,", f"[{rng.choice((3, 4, 5, -1, 2.0, 'true', 'null'))},", 1)


def frames(seed: int, count: int) -> list[Frame]:
    """``count`` frames for one connection; the same seed gives the same frames."""
    rng = random.Random(seed)
    result = []
    for serial in range(count):
        roll = rng.random()
        if roll < 0.55:
            text: str | bytes = json.dumps(_call(rng, f"{seed}-{serial}"), separators=(",", ":"))
        elif roll < 0.85:
            base = json.dumps(_call(rng, f"{seed}-{serial}"), separators=(",", ":"))
            text = _text_mutation(base, rng)
        elif roll < 0.93:
            text = json.dumps(rng.choice((
                [3, f"unknown-{serial}", {"status": "Accepted"}], [4, f"unknown-{serial}", "GenericError", "x", {}],
                [4, "\ud800", "\x00", None], [3, "1"], [4, "1", 5, "x", "not-a-dict"], [3, "1", {"a": "\ud800"}],
            )))
        else:
            text = rng.randbytes(rng.randint(1, 64))  # a binary frame, mostly not UTF-8
        result.append(Frame(text, _must_answer(text)))
    return result
