"""JSON-schema validation of OCPP payloads, mapped onto the CALLERROR codes of OCPP-J 1.6 §4.2.3.

The official schemas ship with the `ocpp` package; we compile them once with fastjsonschema (generated
code, an order of magnitude faster than interpretive validators) because every inbound frame passes here.
"""

from __future__ import annotations

import copy
import json
import re
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


def _directory(version: str) -> Any:
    package = {"ocpp1.6": "ocpp.v16", "ocpp2.0.1": "ocpp.v201"}[version]
    return resources.files(package).joinpath("schemas")


@cache
def _names(version: str) -> frozenset[str]:
    """The schemas a version has; a name outside it is answered without touching (or growing) any cache."""
    return frozenset(entry.name.removesuffix(".json") for entry in _directory(version).iterdir()
                     if entry.name.endswith(".json"))


def _load(version: str, name: str) -> dict[str, Any] | None:
    if name not in _names(version):
        return None
    return json.loads(_directory(version).joinpath(f"{name}.json").read_text(encoding="utf-8"))


def validator(version: str, name: str, strict: bool = False) -> Validator | None:
    """Compiled validator for ``name`` (e.g. ``MeterValues`` or ``MeterValuesResponse``), or None if unknown.

    Names come from chargers: only real schema names reach the cache, so invented actions cannot grow it.
    """
    if name not in _names(version):
        return None
    return _compiled(version, name, strict)


@cache
def _compiled(version: str, name: str, strict: bool) -> Validator | None:
    schema = _load(version, name)
    if schema is None:
        return None
    schema = copy.deepcopy(schema)
    schema.pop("$schema", None)  # fastjsonschema picks draft-04 semantics without the URI lookup
    schema.pop("$id", None)  # the 1.6 security extension's schemas have one: it would rename the generated function
    if not strict:
        schema = _relax(schema)
    return _compile_draft04(schema)


# fastjsonschema lets 1.0 and 1e308 pass as "integer" (the draft-06 reading: a number with no fractional part).
# OCPP's schemas are draft-04, whose "integer" is "a JSON number without a fraction or exponent part" — the
# reading of the `ocpp` library and of jsonschema's Draft4Validator, and what a database integer column needs.
# After json.loads that is exactly Python's int, so the float allowance is cut out of the generated check.
_FLOAT_AS_INTEGER = re.compile(r" and not \(isinstance\((\w+), float\) and \1\.is_integer\(\)\)")


def _compile_draft04(schema: dict[str, Any]) -> Validator:
    code, count = _FLOAT_AS_INTEGER.subn("", fastjsonschema.compile_to_code(schema))
    if count == 0 and '"integer"' in json.dumps(schema):
        raise RuntimeError("fastjsonschema's integer check changed; update _FLOAT_AS_INTEGER")
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - fastjsonschema's own generated validator, as fastjsonschema.compile does
    validate: Validator = namespace["validate"]
    return validate


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
