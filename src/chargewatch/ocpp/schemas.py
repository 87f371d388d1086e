"""JSON-schema validation of OCPP payloads, mapped onto the CALLERROR codes of OCPP-J 1.6 §4.2.3.

The official schemas ship with the `ocpp` package; we compile them once with fastjsonschema (generated
code, an order of magnitude faster than interpretive validators) because every inbound frame passes here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema

from .framing import ErrorCode

Validator = Callable[[dict[str, Any]], Any]

# Which CALLERROR a failed schema keyword deserves.
_RULE_TO_ERROR = {
    "required": ErrorCode.PROTOCOL_ERROR,  # "Payload for Action is incomplete"
    "type": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "minItems": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "maxItems": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
}


class SchemaViolation(Exception):
    def __init__(self, error_code: str, description: str, field: str):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.field = field


def _relax(schema: Any) -> Any:
    """Drop ``additionalProperties: false``: extra vendor fields are common and harmless."""
    if isinstance(schema, dict):
        return {k: _relax(v) for k, v in schema.items() if not (k == "additionalProperties" and v is False)}
    if isinstance(schema, list):
        return [_relax(v) for v in schema]
    return schema


@cache
def _load(version: str, name: str) -> dict[str, Any] | None:
    package = {"ocpp1.6": "ocpp.v16", "ocpp2.0.1": "ocpp.v201"}[version]
    path = resources.files(package).joinpath("schemas", f"{name}.json")
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def validator(version: str, name: str, strict: bool = False) -> Validator | None:
    """Compiled validator for ``name`` (e.g. ``MeterValues`` or ``MeterValuesResponse``), or None if unknown."""
    schema = _load(version, name)
    if schema is None:
        return None
    schema = copy.deepcopy(schema)
    schema.pop("$schema", None)  # fastjsonschema picks draft-04 semantics without the URI lookup
    if not strict:
        schema = _relax(schema)
    return fastjsonschema.compile(schema)


def validate(version: str, name: str, payload: dict[str, Any], strict: bool = False) -> None:
    """Raise :class:`SchemaViolation` naming the offending field if ``payload`` breaks the schema."""
    check = validator(version, name, strict)
    if check is None:
        return
    try:
        check(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        name = exc.name or "data"
        field = name.removeprefix("data").lstrip(".") or "(payload)"
        code = _RULE_TO_ERROR.get(exc.rule or "", ErrorCode.PROPERTY_CONSTRAINT_VIOLATION)
        raise SchemaViolation(code, f"{field}: {exc.message.removeprefix(name).strip()}", field) from None
